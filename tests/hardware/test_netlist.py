"""hardware/carrier/netlist_<kind>_<board>.csv against the pin maps, the chip rules and the BOM."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from gateway import firmware_tool as ft
from tests.support.procs import REPO

CARRIER = REPO / "hardware" / "carrier"
MAPS = ft.load_pin_maps()
CASES = [(b, k) for b in sorted(MAPS) for k in ft.DEVICE_KINDS]
REFERENCE_BOARD = "esp32s3"  # the BOMs describe the reference board's build


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ["ref", "part", "pin", "net"], path
    return rows


def _netlist(board: str, kind: str) -> list[dict[str, str]]:
    return _rows(CARRIER / f"netlist_{kind}_{board}.csv")


def _nets(rows: list[dict[str, str]]) -> dict[str, set[tuple[str, str]]]:
    nets: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in rows:
        nets[r["net"]].add((r["ref"], r["pin"]))
    return nets


def expected_gpio_nets(kind: str, m: dict[str, Any]) -> dict[str, int]:
    """Net name -> GPIO, from the pin map alone (the naming wiring.md documents)."""
    want: dict[str, int] = {}
    if kind == "evaluator":
        want |= {f"BTN{i}": n for i, n in enumerate(m["buttons"])}
        want |= {f"LED_{k.upper()}": n for k, n in m["leds"].items()}
        want |= {f"TFT_{k.upper()}": n for k, n in m["display"].items() if k != "driver"}
        want["BUZ"] = m["buzzer"]
    else:
        want |= {f"BEAM{i}": n for i, n in enumerate(m["beams"])}
        want |= {f"CONF{i}": n for i, n in enumerate(m["confirm"])}
        want |= {f"IR{i}": n for i, n in enumerate(m["ir"])}
        want |= {f"LED_{k.upper()}": n for k, n in m["leds"].items()}
        want["LID"] = m["lid"]
        for r in m["readers"]:
            want[f"RD{r['slot']}_RX"] = r["rx"]
            want[f"RD{r['slot']}_TX"] = r["tx"]
    return want


def _mcu_gpios(rows: list[dict[str, str]]) -> dict[int, str]:
    out = {}
    for r in rows:
        hit = re.fullmatch(r"IO(\d+)", r["pin"])
        if r["ref"] == "U1" and hit:
            n = int(hit.group(1))
            assert n not in out, f"IO{n} listed twice"
            out[n] = r["net"]
    return out


@pytest.mark.parametrize(("board", "kind"), CASES)
def test_every_gpio_of_the_map_is_on_its_net_and_no_other_gpio_is_wired(
    board: str, kind: str
) -> None:
    gpios = _mcu_gpios(_netlist(board, kind))
    want = expected_gpio_nets(kind, MAPS[board][kind])
    assert {net: n for n, net in gpios.items()} == want


@pytest.mark.parametrize(("board", "kind"), CASES)
def test_no_wired_gpio_is_forbidden_or_an_output_on_an_input_only_pin(
    board: str, kind: str
) -> None:
    rules = ft.CHIP_RULES[board]
    for n, net in _mcu_gpios(_netlist(board, kind)).items():
        assert n in rules["exists"], (net, n)
        assert n not in rules["forbidden"], (net, n, rules["forbidden"].get(n))
        if net.startswith(("BTN", "BEAM", "CONF", "LID")):
            assert n not in rules["no_sensing"], (net, n)
        if net.startswith(("LED", "IR", "TFT", "BUZ")) or net.endswith("_TX"):
            assert n not in rules["input_only"], (net, n)


@pytest.mark.parametrize(("board", "kind"), CASES)
def test_every_net_joins_two_pins_and_pins_are_unique(board: str, kind: str) -> None:
    rows = _netlist(board, kind)
    seen = set()
    for r in rows:
        key = (r["ref"], r["pin"])
        assert key not in seen, f"{key} on two nets"
        seen.add(key)
        assert r["part"].strip() and r["net"].strip()
    parts = defaultdict(set)
    for r in rows:
        parts[r["ref"]].add(r["part"])
    assert all(len(p) == 1 for p in parts.values()), "one part number per reference"
    lone = {net: pins for net, pins in _nets(rows).items() if len(pins) < 2}
    assert lone == {}, lone


def _between(nets: dict[str, set[tuple[str, str]]], a: str, b: str, ref_prefix: str) -> set[str]:
    """References with one pin on net a and another on net b."""
    on_a = {ref for ref, _ in nets.get(a, set()) if ref.startswith(ref_prefix)}
    on_b = {ref for ref, _ in nets.get(b, set()) if ref.startswith(ref_prefix)}
    return on_a & on_b


@pytest.mark.parametrize("board", sorted(MAPS))
def test_each_slot_has_its_own_driver_with_a_gate_pull_down_and_two_emitters_in_series(
    board: str,
) -> None:
    rows = _netlist(board, "ballot_box")
    nets = _nets(rows)
    part = {r["ref"]: r["part"] for r in rows}
    for s in range(len(MAPS[board]["ballot_box"]["beams"])):
        assert _between(nets, f"IR{s}", f"IR{s}_G", "R"), f"slot {s}: no gate resistor"
        assert _between(nets, f"IR{s}_G", "GND", "R"), f"slot {s}: no gate pull-down"
        fets = {ref for ref, pin in nets[f"IR{s}_G"] if part[ref] == "AO3400A" and pin == "G"}
        assert len(fets) == 1, f"slot {s}: one MOSFET per slot"
        (q,) = fets
        assert (q, "S") in nets["GND"] and (q, "D") in nets[f"IR{s}_K"]
        first = _between(nets, f"IR{s}_A", f"IR{s}_MID", "D")
        second = _between(nets, f"IR{s}_MID", f"IR{s}_K", "D")
        assert len(first) == len(second) == 1 and first != second, f"slot {s}: 2 in series"
        assert _between(nets, "+5V", f"IR{s}_A", "R"), f"slot {s}: no emitter resistor"
        for role in ("BEAM", "CONF"):
            rx = {ref for ref, pin in nets[f"{role}{s}_EXT"] if part[ref] == "TSSP4038SS1XB"}
            assert len(rx) == 1, f"slot {s}: one {role} receiver"
            assert _between(nets, "3V3", f"{role}{s}_EXT", "R"), "receiver pull-up"


@pytest.mark.parametrize("board", sorted(MAPS))
def test_every_public_button_line_has_an_esd_clamp_and_power_is_input_protected(
    board: str,
) -> None:
    rows = _netlist(board, "evaluator")
    nets = _nets(rows)
    part = {r["ref"]: r["part"] for r in rows}
    for i in range(len(MAPS[board]["evaluator"]["buttons"])):
        assert any(part[ref] == "SRV05-4" for ref, _ in nets[f"BTN{i}_EXT"]), f"BTN{i}: no TVS"
        assert _between(nets, f"BTN{i}_EXT", f"BTN{i}", "R"), f"BTN{i}: no series resistor"
    for kind in ft.DEVICE_KINDS:
        n = _nets(_netlist(board, kind))
        p = {r["ref"]: r["part"] for r in _netlist(board, kind)}
        jack = {ref for ref, _ in n["VIN"] if p[ref].startswith("DC-005")}
        assert jack, "power enters on the barrel jack"
        assert _between(n, "VIN", "+5V", "F"), "polyfuse between the jack and +5V"
        assert any(p[ref] == "SMBJ5.0A" for ref, _ in n["+5V"]), "input TVS"
        mcu_5v = {pin for ref, pin in n["5V_MCU"] if ref == "U1"}
        assert mcu_5v == {"5V"} and _between(n, "+5V", "5V_MCU", "D")


@pytest.mark.parametrize("kind", ft.DEVICE_KINDS)
def test_every_part_of_the_reference_netlist_is_in_the_bom_with_its_references(
    kind: str,
) -> None:
    rows = _netlist(REFERENCE_BOARD, kind)
    bom = _rows_bom(kind)
    by_ref = {}
    for r in bom:
        refs = r["refs"].split()
        if refs:
            assert int(r["quantity"]) == len(refs), r["manufacturer_part_number"]
        for ref in refs:
            assert ref not in by_ref, f"{ref} in two BOM rows"
            by_ref[ref] = r["manufacturer_part_number"]
    net_parts = {r["ref"]: r["part"] for r in rows}
    assert net_parts == by_ref


def _rows_bom(kind: str) -> list[dict[str, str]]:
    with (REPO / "hardware" / f"bom_{kind}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))
