"""A tiny test runner for MicroPython (no pytest there): run.py FIRMWARE_DIR TMP_DIR MODULE...

Runs every test_* function of each module; prints one line per test; exits 1 on any failure.
Also runs under CPython, so the pure modules are checked on both interpreters.
"""

import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")

failed = 0
passed = 0
for name in sys.argv[3:]:
    mod = __import__(name)
    if hasattr(mod, "TMP"):
        setattr(mod, "TMP", sys.argv[2])  # noqa: B010
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_"):
            continue
        try:
            getattr(mod, attr)()
            passed += 1
            print("ok", name, attr)
        except Exception as e:
            failed += 1
            print("FAIL", name, attr, repr(e))
            sys.print_exception(e) if hasattr(sys, "print_exception") else None
print("passed", passed, "failed", failed)
sys.exit(1 if failed else 0)
