"""Boot stage: chooses the application slot (A/B), runs probation and rollback (docs/firmware.md,
Updates). Never in a bundle: an application update cannot break it.

boot.json (root/boot.json, written as boot.json.new then renamed over: atomic on LittleFS/POSIX):
    {"v":1, "active":"a", "pending":null|"b", "tries":0, "crashes":0, "boots":0, "rb":"",
     "rb_from":"", "ft":"", "reset":"", "image_pending":null|"ota_1"}
plus "rbn" (a rollback not yet reported by the app) and, for full images, "image_version" (of
the image on probation) and "image_running" (of the confirmed one). Portable MicroPython and
CPython; main*.py and probation.py drop it from sys.modules after use (about 6.5 KB of heap).
"""

import json
import os
import sys

_DEFAULT = {
    "v": 1,
    "active": "a",
    "pending": None,
    "tries": 0,
    "crashes": 0,
    "boots": 0,
    "rb": "",
    "rb_from": "",
    "ft": "",
    "reset": "",
    "image_pending": None,
}


def _path(root, name):
    return root.rstrip("/") + "/" + name


def read(root):
    """boot.json as a dict; the defaults when it is missing or unreadable."""
    st = dict(_DEFAULT)
    try:
        with open(_path(root, "boot.json")) as f:
            got = json.load(f)
        if isinstance(got, dict) and got.get("v") == 1:
            st.update(got)
    except (OSError, ValueError):
        pass
    return st


def write(root, st):
    tmp = _path(root, "boot.json.new")
    with open(tmp, "w") as f:
        f.write(json.dumps(st))
    os.rename(tmp, _path(root, "boot.json"))


def version(root, slot):
    """The version in slot_<slot>/manifest.json, or None when the slot holds no valid bundle."""
    try:
        with open(_path(root, "slot_" + slot + "/manifest.json")) as f:
            v = json.load(f).get("version")
        return v if isinstance(v, str) else None
    except (OSError, ValueError, AttributeError):
        return None


def _other(slot):
    return "b" if slot == "a" else "a"


def _roll(st, ver, why):
    """Record an automatic rollback away from version ``ver``."""
    st["rb"] = why[:64]
    st["rb_from"] = ver
    st["rbn"] = True
    st["pending"] = None
    st["tries"] = 0
    st["crashes"] = 0


def _why(st):
    return "crash_loop: " + st["ft"] if st["crashes"] else "boot_failed"


def decide(root, st, max_boots):
    """Choose the slot for this boot and update ``st``: (slot, probation)."""
    p = st["pending"]
    if p is not None:
        v = version(root, p)
        if v is None:
            _roll(st, p, "boot_failed")
        else:
            st["tries"] += 1
            if st["tries"] <= max_boots:
                return p, True
            _roll(st, v, _why(st))
    a = st["active"]
    if st["crashes"] >= max_boots and version(root, _other(a)) is not None:
        _roll(st, version(root, a) or a, _why(st))
        st["active"] = a = _other(a)
    if version(root, a) is None:
        a = _other(a)
        if version(root, a) is None:
            return "src", False
        st["active"] = a
    return a, False


def _image(st):
    """Full-image mode (ESP32): probation while the running partition is the one set to boot;
    the bootloader's own rollback shows as a different running partition."""
    import esp32

    # RUNNING is an id constant; the stubs know partition labels only.
    run = esp32.Partition(esp32.Partition.RUNNING).info()[4]  # type: ignore[arg-type]
    if run == st["image_pending"]:
        st["tries"] += 1
        return run, True
    why = st["rb"] if st.get("rbn") else _why(st)  # rollback() already said why
    _roll(st, st.get("image_version") or st["image_pending"], why)
    st["image_pending"] = None
    return run, False


def _cause():
    try:
        import machine

        c = machine.reset_cause()
        for name in ("PWRON", "HARD", "WDT", "DEEPSLEEP", "SOFT"):
            if c == getattr(machine, name + "_RESET", None):
                return name.lower()
    except (ImportError, AttributeError):
        pass
    return "power_on"


def boot(root, conf):
    """Decide the slot, write boot.json, put root/slot_x first on sys.path and the boot stage's
    dir (the firmware source dir, when run from there) last; the info main*.py put in conf["fw"]."""
    st = read(root)
    st["boots"] += 1
    if st["image_pending"]:
        slot, prob = _image(st)
    else:
        slot, prob = decide(root, st, conf.get("ota_max_boots", 3))
    rc = st["reset"] or _cause()
    st["reset"] = ""
    rbn = st.get("rbn", False)
    write(root, st)
    ver = st.get("image_version") if prob else st.get("image_running")
    if slot in ("a", "b"):
        ver = version(root, slot)
        try:
            here = __file__.rsplit("/", 1)[0] if "/" in __file__ else ""
        except NameError:  # a frozen module may have no __file__
            here = ""
        for p in (here, "", "."):
            while p in sys.path:
                sys.path.remove(p)
        sys.path.insert(0, _path(root, "slot_" + slot))
        # Last, so `import loader` works again later; it holds the boot stage only.
        sys.path.append(here or "/")
    return {
        "version": ver or conf.get("version") or "",
        "slot": slot,
        "probation": prob,
        "rc": rc,
        "bc": st["boots"],
        "rb": st["rb"],
        "ft": st["ft"],
        "root": root,
        "rb_new": rbn,
        "crashes": st["crashes"],
    }


def start(conf):
    """main*.py's boot through the loader: conf["fw"], the boot line, the outbox path; then this
    module leaves sys.modules (about 6.5 KB of heap; later users import it again)."""
    root = conf["root"]
    conf["fw"] = boot(root, conf)
    print('{"ev": "boot", "fw": %s}' % json.dumps(conf["fw"]))
    if "outbox" not in conf:
        conf["outbox"] = root.rstrip("/") + "/outbox.bin"
    sys.modules.pop("loader", None)


def crashed(path, e):
    """The unix port's uncaught exception (config file ``path``): traceback to stderr, fatal()
    with a root, the {"ev": "fatal"} line, exit code 3 (its reset). main.py on a board resets
    instead."""
    sys.print_exception(e)  # type: ignore[attr-defined,unused-ignore]
    try:
        with open(path) as f:
            root = json.load(f).get("root")
    except (OSError, ValueError, AttributeError):
        root = None
    if root:
        fatal(root, repr(e))
    print(json.dumps({"ev": "fatal", "err": repr(e)}))
    sys.exit(3)


def reset(root, why, log):
    """The unix port's hal.reset(why): request_reset with a root, the {"ev": "reset"} line,
    exit code 3 (a board-mode driver starts the process again)."""
    if root:
        request_reset(root, why)
    log({"ev": "reset", "why": why})
    sys.exit(3)


def _change(root, **kv):
    st = read(root)
    st.update(kv)
    write(root, st)
    return st


def stage(root, slot, version=None):
    """Boot ``slot`` (installed and verified) on the next boot, on probation. A slot other than
    "a"/"b" is an OTA partition label (full image, set_boot by the caller): image_pending."""
    if slot in ("a", "b"):
        _change(root, pending=slot, tries=0, crashes=0)
    else:
        _change(root, image_pending=slot, image_version=version, tries=0, crashes=0)


def confirm(root):
    """The running update is healthy: make it the active slot (or the image valid)."""
    st = read(root)
    if st["image_pending"]:
        import esp32

        esp32.Partition.mark_app_valid_cancel_rollback()
        st["image_pending"] = None
        st["image_running"] = st.get("image_version")
    elif st["pending"] is not None:
        st["active"] = st["pending"]
    st["pending"] = None
    st["tries"] = st["crashes"] = 0
    st["rb"] = st["rb_from"] = ""
    st.pop("rbn", None)
    write(root, st)


def rollback(root, why):
    """Give up the update on probation (the caller resets next)."""
    st = read(root)
    p = st["pending"]
    _roll(st, (p and version(root, p)) or p or st.get("image_version") or "", why)
    write(root, st)


def told(root):
    """The app has queued its fw_rolled_back alarm: do not report this rollback again."""
    _change(root, rbn=False)


def fatal(root, text, why="crash"):
    """An uncaught exception (or the supervisor's stale task): remember it, count it, append it
    to fatal.log (capped at 2 KB); the next boot's reset cause is ``why``."""
    st = read(root)
    st["ft"] = text[:64]
    st["crashes"] += 1
    st["reset"] = why
    write(root, st)
    p = _path(root, "fatal.log")
    try:
        with open(p) as f:
            old = f.read()
    except OSError:
        old = ""
    old = (old + text[:200].replace("\n", " ") + "\n")[-2048:]
    with open(p + ".new", "w") as f:
        f.write(old[old.find("\n") + 1 :] if len(old) == 2048 else old)
    os.rename(p + ".new", p)


def healthy(root):
    """An end-to-end ack in this boot: the crash count starts again."""
    _change(root, crashes=0)


def request_reset(root, why):
    """Before a deliberate reset: the next boot reports ``why`` as its reset cause."""
    _change(root, reset=why)
