"""Pin maps per board and device kind. GENERATED from hardware/pins/*.toml by
`hallrate firmware pins`: do not edit; tests/firmware/test_pins.py checks it.
"""

PINS = {
    "esp32": {
        "ballot_box": {
            "beams": [34, 35, 32],
            "confirm": [33, 13, 14],
            "ir": [25, 26, 27],
            "leds": {"jam": 22, "status": 23},
            "lid": 4,
            "readers": [
                {"baud": 9600, "rx": 18, "slot": 0, "tx": 19, "uart": 1},
                {"baud": 9600, "rx": 16, "slot": 1, "tx": 17, "uart": 2},
            ],
        },
        "evaluator": {
            "buttons": [13, 14, 27, 26, 25],
            "buzzer": 16,
            "display": {
                "bl": 17,
                "cs": 21,
                "dc": 22,
                "driver": "st7789",
                "mosi": 19,
                "sck": 18,
            },
            "leds": {"ask": 32, "staff": 4, "status": 23, "thanks": 33},
        },
    },
    "esp32s3": {
        "ballot_box": {
            "beams": [4, 5, 6],
            "confirm": [10, 11, 12],
            "ir": [7, 39, 40],
            "leds": {"jam": 14, "status": 21},
            "lid": 15,
            "readers": [
                {"baud": 9600, "rx": 18, "slot": 0, "tx": 8, "uart": 1},
                {"baud": 9600, "rx": 9, "slot": 1, "tx": 41, "uart": 2},
            ],
        },
        "evaluator": {
            "buttons": [4, 5, 6, 7, 15],
            "buzzer": 14,
            "display": {
                "bl": 13,
                "cs": 10,
                "dc": 9,
                "driver": "st7789",
                "mosi": 11,
                "rst": 8,
                "sck": 12,
            },
            "leds": {"ask": 16, "staff": 18, "status": 21, "thanks": 17},
        },
    },
}
