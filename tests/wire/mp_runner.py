"""Run wire_cases under MicroPython: `micropython mp_runner.py` in tests/wire."""

import sys

sys.path.insert(0, "../../firmware")
sys.path.insert(0, ".")

import wire_cases

failed = 0
ran = 0
for name, fn in wire_cases.all_cases():
    ran += 1
    try:
        fn()
        print("ok", name)
    except Exception as e:  # report every failure, then exit non-zero
        failed += 1
        print("FAIL", name, repr(e))
print("%d passed, %d failed" % (ran - failed, failed))
sys.exit(1 if failed else 0)
