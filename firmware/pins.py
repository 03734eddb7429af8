"""Pin maps per board and device kind. GENERATED from hardware/pins/*.toml by
`hallrate firmware pins`: do not edit; tests/firmware/test_pins.py checks it.
"""

PINS = {
    "esp32": {
        "ballot_box": {
            "beams": [34, 35, 36],
            "ir_enable": 25,
            "leds": {"jam": 22, "status": 23},
            "lid": 39,
            "readers": [
                {"baud": 9600, "rx": 18, "slot": 0, "tx": 19, "uart": 1},
                {"baud": 9600, "rx": 16, "slot": 1, "tx": 17, "uart": 2},
            ],
        },
        "evaluator": {
            "buttons": [13, 14, 27, 26, 25],
            "display": {"scl": 22, "sda": 21},
            "leds": {"ask": 32, "staff": 4, "status": 23, "thanks": 33},
        },
    },
    "esp32s3": {
        "ballot_box": {
            "beams": [4, 5, 6],
            "ir_enable": 7,
            "leds": {"jam": 14, "status": 21},
            "lid": 15,
            "readers": [
                {"baud": 9600, "rx": 16, "slot": 0, "tx": 17, "uart": 0},
                {"baud": 9600, "rx": 18, "slot": 1, "tx": 8, "uart": 1},
                {"baud": 9600, "rx": 9, "slot": 2, "tx": 10, "uart": 2},
            ],
        },
        "evaluator": {
            "buttons": [4, 5, 6, 7, 15],
            "display": {"scl": 9, "sda": 8},
            "leds": {"ask": 16, "staff": 18, "status": 21, "thanks": 17},
        },
    },
}
