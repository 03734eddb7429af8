"""Ballot-box start-up only (startup.py loads it for a ballot box and drops it after, so an
evaluator never has this code in RAM): the boot self-test of the beams, optics and lid, and the
BallotApp with its boot reports (docs/firmware.md, Ballot box)."""

import sys


def self_test(hal, conf):
    """Both beams of every slot clear, the optics calibrated and self-tested (beam_setup, loaded
    for it and dropped after; its result kept in conf["optics"] for ballot_app), the lid closed.
    The failing inputs: "beam1:blocked", "beam2:weak", "beam0:fault", "lid:open"."""
    import beam_setup
    from wire import BALLOT_SLOTS

    bad = []
    skip = []
    for i in range(len(BALLOT_SLOTS)):
        # 1: a receiver sees no light (the emitters at 50 % until calibrated)
        if hal.input("beam", i).value() or hal.input("confirm", i).value():
            bad.append("beam%d:blocked" % i)
            skip.append(i)
    duty, alarms = beam_setup.run(hal, conf, skip)
    del beam_setup
    sys.modules.pop("beam_setup")
    conf["optics"] = (duty, alarms)
    for i, a in alarms:
        bad.append("beam%d:%s" % (i, a[5:]))
    if hal.input("lid").value():
        bad.append("lid:open")
    return bad


def ballot_app(dev, hal, conf, tasks):
    """The BallotApp (its state, as ballot_app.py documents it); appends its tasks. Reports
    the boot: power_on (after a power-on or brown-out reset), lid_open, beam_blocked per slot,
    and the optics self-test's beam_fault / beam_weak (self_test ran it)."""
    from time import ticks_ms

    from ballot_app import BallotApp
    from ballot_box import TicketMemory
    from beam_count import BoxFill, Slot
    from wire import BALLOT_SLOTS, alarm

    app = BallotApp()
    app.dev = dev
    app.hal = hal
    app.conf = conf
    app.slots = []
    app.entry = []
    app.confirm = []
    app.tickets = []
    app.readers = []
    for i in range(len(BALLOT_SLOTS)):
        app.slots.append(
            Slot(
                i,
                conf.get("beam_min_ms", 10),
                conf.get("jam_ms", 8000),
                conf.get("rearm_ms", 80),
            )
        )
        app.entry.append(hal.input("beam", i))
        app.confirm.append(hal.input("confirm", i))
        app.tickets.append(TicketMemory(conf.get("ticket_window_ms", 3000)))
        app.readers.append(hal.reader(i))
    app.fill = BoxFill(conf.get("box_capacity", 0))
    app.lid_pin = hal.input("lid")
    app.lid = app._lid_raw = app.lid_pin.value()
    app._lid_at = app._blink = app._checked = ticks_ms()
    app.lid_ms = conf.get("lid_debounce_ms", 50)
    app.check_ms = conf.get("ir_check_s", 3600) * 1000
    app.duty, app.optics = conf.pop("optics", ([], []))
    app.fault = False
    if conf["hbx"]["rc"] in ("power_on", "brownout"):
        dev.emit(alarm, "power_on")
    if app.lid:
        dev.emit(alarm, "lid_open")
    for i in range(len(BALLOT_SLOTS)):
        if app.entry[i].value() or app.confirm[i].value():
            dev.emit(alarm, "beam_blocked", i)
    for i, a in app.optics:
        dev.emit(alarm, a, i)
        app.fault = app.fault or a == "beam_fault"
    hal.led("jam", app.fault)
    dev.state = "ok"
    tasks.append(app._sample())
    for i in range(len(app.readers)):
        if app.readers[i] is not None:
            tasks.append(app._read(i))
    return app
