"""Start-up only: builds the device, its link and its app, and loads the outbox on flash
(Outbox.load: outbox_load.py).

app.run imports this module, calls build() and then drops it from sys.modules, so none of its
code is heap while the device runs (in a filesystem deploy every code object is RAM:
docs/benchmarks.md, Firmware). Nothing may keep a reference to a function of this module.
"""

import os
import struct

try:
    from micropython import const
except ImportError:  # CPython: connect_packet runs there too (the pure-module tests)
    const = int

_CONNECT = const(0x10)  # MQTT packet type


def connect_packet(client_id, keepalive, will=None, user=None, password=None):
    """The CONNECT packet (MqttLink.hello); ``will`` = (topic, payload, qos, retain)."""
    from mqtt_link import _str, _varlen  # the link's encoders

    flags = 0x02  # clean session: the outbox, not the broker, keeps what must not get lost
    payload = _str(client_id)
    if will:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
        payload += _str(will[0]) + _str(will[1])
    if user:
        flags |= 0x80
        payload += _str(user)
        if password:
            flags |= 0x40
            payload += _str(password)
    body = _str("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive) + payload
    return bytes((_CONNECT,)) + _varlen(len(body)) + body


def _size(path):
    """File size, or -1 when there is no such file."""
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def inputs(dev, name, pins, on_change, debounce_ms, active):
    """A buttons.DebouncedInputs over ``pins`` checking in as task ``name`` (its state, as
    buttons.py documents it)."""
    from buttons import DebouncedInputs, PressFilter

    d = DebouncedInputs()
    d.dev = dev
    d.name = name
    d.pins = pins
    d.on_change = on_change
    d.hints = bytearray(len(pins))
    f = d.filter = PressFilter(len(pins), debounce_ms, active)
    for i in range(len(pins)):
        f._raw[i] = f._stable[i] = pins[i].value()
        pins[i].irq(d._irq)
    return d


def evaluator_app(dev, hal, conf, tasks):
    """The EvaluatorApp (its state, as evaluator_app.py documents it) and its buttons."""
    from evaluator import Evaluator
    from evaluator_app import EvaluatorApp
    from wire import LEVELS

    app = EvaluatorApp()
    app.dev = dev
    ev = app.ev = Evaluator(
        conf.get("timeout_s", 30) * 1000,
        conf.get("thanks_ms", 3000),
        conf.get("misuse_ms", 10000),
        conf.get("levels") or LEVELS,
    )
    pins = []
    for i in range(conf.get("buttons", 5)):
        pins.append(hal.input("button", i))
    app.inputs = inputs(dev, "inputs", pins, app._on_change, conf.get("debounce_ms", 30), 0)
    dev.on_cfg = app._on_cfg
    dev.on_req = app._on_req
    panel = hal.panel() if conf.get("display") else None
    if panel is not None:  # the display's code is heap only on an evaluator that has one
        from display import Display

        dev.display = Display(panel, dev.cfg_path[: dev.cfg_path.rfind("/") + 1] + "scr_")
        dev.display.show(dev.screen)
    dev.state = ev.state
    app.presses = 0
    tasks.append(app.inputs.sample())
    tasks.append(app._ticker())
    return app


def self_test(hal, conf):
    """The boot self-test (hb "stt"): every button released, or the ballot box's
    (ballot_start.self_test). "ok", or the failing inputs by hal index, e.g. "button2:stuck
    beam1:blocked beam2:weak" (48 chars max)."""
    bad = []
    if conf["kind"] == "ballot_box":
        bad = __import__("ballot_start").self_test(hal, conf)
    else:
        for i in range(conf.get("buttons", 5)):
            if not hal.input("button", i).value():  # pull-up: 0 is pressed
                bad.append("button%d:stuck" % i)
    out = ""
    for b in bad:
        if len(out) + len(b) + 1 <= 48:
            out = (out + " " + b) if out else b
    return out or "ok"


def build(hal, conf):
    """The app of conf["kind"] with its Device as app.dev (the state app.Device documents), and
    the coroutines of all their tasks."""
    import binascii
    from time import ticks_ms

    import wire
    from app import _DOWN, _TEXTS, FW_VERSION, Device
    from mqtt_link import MqttLink, _str
    from outbox import Outbox
    from wire import WireError, decode

    dev = Device()
    dev.hal = hal
    dev.conf = conf
    dev.id = conf["device"]
    dev.hall = conf["hall"]
    dev.kind = conf["kind"]
    # Boot id: 8 hex chars from the hardware RNG, new on every boot (never configurable: a
    # reused boot id would make new events collide with old keys); seq restarts at 1.
    dev.boot = binascii.hexlify(os.urandom(4)).decode()
    dev.seq = 0
    dev.source = None  # of the wall clock: "ntp", "gateway", "host", "rtc" or None
    dev._gw_delta = None  # gateway time - local time, when the gateway set it
    lang = conf.get("lang", "zh")
    dev.lang = lang if lang in _TEXTS else "zh"
    dev.screen = "idle"
    dev.staff = None  # {"id": 工号, "name": ...} of the logged-in staff, from cfg
    path = conf.get("outbox", "outbox.bin")
    ob = dev.outbox = Outbox(
        path,
        conf.get("outbox_records", 5000),
        conf.get("outbox_bytes", 1048576),
        write=hal.outbox_write,
    )
    dev.hb_s = conf.get("heartbeat", 30)
    dev.resend_ms = conf.get("resend_ms", 10000)
    dev._resend_wait = dev.resend_ms  # doubles while no ack comes, back to resend_ms on one
    dev.cfg = None
    dev.cfg_path = conf.get("cfg_path") or path + ".cfg"
    dev.on_cfg = None  # the kind's app hooks
    dev.on_req = None
    dev.state = None  # a short state string for the heartbeat
    dev._kick = False  # something for the sender to do (see Device.sender)
    dev._resend_req = []
    dev._sent_rn = -1  # entries with rn <= this were published on this connection
    dev._max_sent_rn = -1
    dev._overflowing = False
    dev._up_ms = 0
    dev.beats = {}  # task -> ticks_ms of its last check-in (Device.beat)
    dev._up_last = ticks_ms()
    subs = b""  # the SUBSCRIBE payload: the device's downlinks, QoS 1 (bytes, not topic strings)
    base = dev.topic("cfg")[:-3]  # ota/blk are not wire kinds until wire_ota is loaded
    for ch in _DOWN:
        subs += _str(base + ch) + b"\x01"
    # The link (MqttLink's state).
    k = dev.link = MqttLink()
    k.hal = hal
    k.keepalive = conf.get("keepalive", 30)
    # The last will is the retained "offline" status.
    k.hello = connect_packet(
        dev.id,
        k.keepalive,
        (
            dev.topic("status"),
            wire.encode(wire.status(dev.id, dev.boot, "offline", dev.kind, FW_VERSION, dev.now())),
            1,
            True,
        ),
        conf.get("broker_user"),
        conf.get("broker_password"),
    )
    k.subscriptions = subs
    k.dev = dev
    k.up = False  # connected (a flag, no asyncio.Event: its module is heap of its own)
    k.connects = 0
    k._reader = None
    k._writer = None
    k._pid = 0
    k._acks = {}
    k._busy = False  # a send is in progress (see MqttLink._send)
    k._dead = False  # the connection is to be dropped (see MqttLink._serve)
    k._last_rx = 0
    k._err = None  # of the last connect attempt (see MqttLink.run)
    hal.on_wifi_down(k.drop)
    root = conf.get("root")
    if root and _size(root.rstrip("/") + "/ota.json") >= 0:
        conf["ota_resume"] = 1  # a download under way at the reset: Device.on_up resumes it
    if ob.load():  # a newer firmware wrote it: kept intact, merged back by one that reads it
        dev.emit(wire.alarm, "outbox_set_aside")
    stt = self_test(hal, conf)  # before the apps: their inputs start from these levels
    if stt != "ok":
        hal.log({"ev": "self_test", "stt": stt})
    # The heartbeat's fixed health fields (the heartbeat adds pr, lfb, oa; in conf: a Device
    # attribute more would grow its dict a step); conf["fw"] is the
    # boot stage's info (absent without a root). Empty or unknown ones are left out.
    fw = conf.get("fw") or {}
    hbx = conf["hbx"] = {
        "fw": fw.get("version") or FW_VERSION,
        "sl": fw.get("slot") or "src",
        "rc": fw.get("rc") or hal.reset_cause(),
        "stt": stt,
    }
    if fw.get("bc") is not None:
        hbx["bc"] = fw["bc"]
    for f in ("rb", "ft"):
        if fw.get(f):
            hbx[f] = fw[f][:64]
    tasks = [
        k.run(
            conf.get("broker_host", "127.0.0.1"),
            conf.get("broker_port", 1883),
            conf.get("backoff_base_ms", 500),
            conf.get("backoff_max_ms", 30000),
        ),
        dev.sender(),
        dev.heartbeat(),
        dev.supervise(
            conf.get("watchdog_ms", 30000),
            conf.get("stale_ms", 30000),
            # The ballot box's sampler checks in as "inputs" for the beams and the lid.
            tuple(
                ["link", "sender", "inputs"] + (["ticker"] if conf["kind"] == "evaluator" else [])
            ),
        ),
    ]
    if conf["kind"] == "ballot_box":
        app = __import__("ballot_start").ballot_app(dev, hal, conf, tasks)
        __import__("sys").modules.pop("ballot_start")  # loaded by self_test: start-up only
    else:
        app = evaluator_app(dev, hal, conf, tasks)
    try:
        with open(dev.cfg_path, "rb") as f:
            dev.apply_cfg(decode(f.read(), "cfg"), False)
    except (OSError, WireError):
        pass  # none yet: the gateway's retained cfg arrives on connect
    hal.log(
        {
            "ev": "ready",
            "boot": dev.boot,
            "depth": ob.depth(),
            "skipped": ob.skipped_bytes,
            "kind": dev.kind,
        }
    )
    if conf.get("root"):  # booted by loader.py: an update to confirm, a rollback to report
        # Its own task (the event loop runs: app.run awaits this), heap only until it is done.
        __import__("probation").run(dev)
    return app, tasks
