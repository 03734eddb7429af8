"""hardware/pins/*.toml is consistent and safe; firmware/pins.py is generated from it."""

from __future__ import annotations

import ast
import copy

import pytest

from gateway import firmware_tool as ft
from tests.support.procs import REPO

MAPS = ft.load_pin_maps()
CASES = [(b, k) for b in sorted(MAPS) for k in ft.DEVICE_KINDS]


def test_both_boards_are_described() -> None:
    assert set(MAPS) == {"esp32", "esp32s3"}


@pytest.mark.parametrize(("board", "kind"), CASES)
def test_no_conflicts_no_strapping_or_flash_pins(board: str, kind: str) -> None:
    assert ft.pin_problems(board, kind, MAPS[board][kind]) == []


@pytest.mark.parametrize(("board", "kind"), CASES)
def test_the_hal_finds_what_it_asks_for(board: str, kind: str) -> None:
    m = MAPS[board][kind]
    if kind == "evaluator":
        assert len(m["buttons"]) == 5
        assert {"ask", "thanks", "staff"} <= set(m["leds"])  # display.py drives these
    else:
        assert len(m["beams"]) == 3 and isinstance(m["lid"], int)
        assert all(0 <= r["slot"] < 3 for r in m["readers"])


@pytest.mark.parametrize(
    ("board", "pin", "why"),
    [
        ("esp32", 6, "SPI flash"),
        ("esp32", 12, "strapping"),
        ("esp32", 0, "strapping"),
        ("esp32s3", 45, "strapping"),
        ("esp32s3", 27, "flash/PSRAM"),
        ("esp32s3", 3, "strapping"),
    ],
)
def test_checker_rejects_forbidden_pins(board: str, pin: int, why: str) -> None:
    bad = copy.deepcopy(MAPS[board]["evaluator"])
    bad["buttons"][0] = pin
    assert any(why in p for p in ft.pin_problems(board, "evaluator", bad))


def test_checker_rejects_conflicts_and_outputs_on_input_only_pins() -> None:
    bad = copy.deepcopy(MAPS["esp32"]["ballot_box"])
    bad["leds"]["jam"] = bad["beams"][0]
    problems = ft.pin_problems("esp32", "ballot_box", bad)
    assert any("already used" in p for p in problems)
    assert any("input-only" in p for p in problems)


def test_generated_file_matches_the_toml() -> None:
    text = (REPO / "firmware" / "pins.py").read_text()
    assert text == ft.generate_pins(), "stale: run `hallrate firmware pins`"
    tree = ast.parse(text)
    pins = ast.literal_eval(tree.body[-1].value)  # type: ignore[attr-defined]
    for board, kind in CASES:
        assert pins[board][kind] == MAPS[board][kind]


def test_pins_check_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert ft.main(["pins", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ft.DEVICE_KINDS)
def test_bom_is_well_formed_and_matches_the_pin_map(kind: str) -> None:
    import csv

    rows = list(csv.DictReader((REPO / "hardware" / f"bom_{kind}.csv").open(encoding="utf-8")))
    assert rows and list(rows[0]) == [
        "part",
        "quantity",
        "manufacturer_part_number",
        "unit_price_cny",
        "price_date",
        "price_basis",
        "placement",
        "refs",
    ]
    for r in rows:
        assert int(r["quantity"]) > 0 and float(r["unit_price_cny"]) >= 0 and r["part"]
        assert r["manufacturer_part_number"].strip() and r["placement"].strip()
        assert r["price_date"] == "2026-12" and r["price_basis"] in {"est", "quote", "checked"}
    qty = {r["manufacturer_part_number"]: int(r["quantity"]) for r in rows}
    m = MAPS["esp32s3"][kind]
    if kind == "evaluator":
        assert qty["OBSC-24"] == len(m["buttons"])
        assert qty["SRV05-4"] * 4 >= len(m["buttons"])  # a TVS line per public button
        assert qty["HR-TFT24-ST7789V"] == 1 and m["display"]["driver"] == "st7789"
    else:
        # Per slot an entry and a confirm beam: two emitters (in series) and two receivers.
        assert qty["TSSP4038SS1XB"] == qty["TSAL6200"] == 2 * len(m["beams"])
        assert qty["TSSP4038SS1XB"] == len(m["beams"]) + len(m["confirm"])
        assert qty["AO3400A"] == len(m["ir"])  # one driver per slot
        assert qty["EM20-80"] == len(m["readers"])
    assert not any("WROVER" in r["part"] for r in rows)  # its PSRAM takes GPIO16/17


@pytest.mark.parametrize("role", ["beams", "confirm", "lid", "buttons"])
def test_checker_keeps_sensing_inputs_off_gpio36_and_39(role: str) -> None:
    kind = "evaluator" if role == "buttons" else "ballot_box"
    bad = copy.deepcopy(MAPS["esp32"][kind])
    if role == "lid":
        bad["lid"] = 39
    else:
        bad[role][0] = 36
    assert any("errata GPIO-3.11" in p for p in ft.pin_problems("esp32", kind, bad))


def test_checker_refuses_a_reader_on_uart0_while_the_repl_is_there() -> None:
    bad = copy.deepcopy(MAPS["esp32s3"]["ballot_box"])
    bad["readers"].append({"slot": 2, "uart": 0, "rx": 1, "tx": 2, "baud": 9600})
    assert MAPS["esp32s3"]["uart_repl"] is True  # every stock image
    assert any("UART0" in p for p in ft.pin_problems("esp32s3", "ballot_box", bad, True))
    # A build with the REPL on native USB alone says uart_repl = false: then UART0 is free.
    assert ft.pin_problems("esp32s3", "ballot_box", bad, False) == []
    # A plain ESP32 has no native USB: UART0 is always the REPL.
    bad32 = copy.deepcopy(MAPS["esp32"]["ballot_box"])
    bad32["readers"][1]["uart"] = 0
    assert any("UART0" in p for p in ft.pin_problems("esp32", "ballot_box", bad32, False))
