"""`hallrate simulate`: a simulated hall through the real broker, gateway and server; `--check`
compares the server with the ground truth and exits non-zero on any difference."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from simulator import checker, faults, vote_audit
from simulator.online_citizens import DEFAULT_SHARE
from simulator.orchestrator import SimOptions, run
from simulator.phone_agent import browser_problem
from simulator.summary import render_summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hallrate simulate", description=__doc__)
    p.add_argument("--windows", type=int, default=30, help="windows (窗口) A01… (default 30)")
    p.add_argument("--tickets", type=int, default=5000, help="tickets (取号单) in the day")
    p.add_argument(
        "--speed", type=float, default=200.0, help="simulated seconds per real second (default 200)"
    )
    p.add_argument("--seed", type=int, default=7, help="seed: same seed, same hall, same day")
    p.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="the simulated day, YYYY-MM-DD (default: yesterday in the hall's time zone, so the "
        "next day's phone call-backs can be imported)",
    )
    p.add_argument(
        "--sms",
        choices=("live", "import"),
        default="live",
        help="live: texts through `hallrate sms send` and the local platform, citizens reply "
        "(default); import: the day's SMS replies as a CSV (`hallrate import`)",
    )
    p.add_argument(
        "--phone",
        choices=("browser", "api", "import"),
        default=None,
        help="browser: the next working day's call-back worklist, worked by scripted agents on "
        "the agent's page in headless Chromium, by keyboard (default with --sms live); api: the "
        "same calls through the HTTP API, no browser; import: call results as an XLSX "
        "(`hallrate import`; the default with --sms import)",
    )
    p.add_argument(
        "--phone-agents",
        type=int,
        default=2,
        metavar="N",
        help="call-back agents working the list in parallel (default 2, 1..8)",
    )
    p.add_argument(
        "--online-share",
        type=float,
        default=DEFAULT_SHARE,
        metavar="P",
        help="of the citizens who rate nothing on site and leave no phone, the share who rate "
        f"online through their link (0..1, default {DEFAULT_SHARE})",
    )
    p.add_argument("--faults", default="", help=f"all, or a comma list of: {', '.join(faults.ALL)}")
    p.add_argument(
        "--real-firmware",
        type=int,
        default=0,
        metavar="N",
        help="run the evaluators of the first N windows on the real firmware",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="compare the server with the ground truth; exit 1 on any difference",
    )
    p.add_argument("--ledger", type=Path, help="write the ground-truth ledger (JSON) here")
    p.add_argument("--workdir", type=Path, help="keep logs, journal and database here")
    p.add_argument("--broker", choices=("amqtt", "mosquitto"), default="amqtt")
    p.add_argument(
        "--mqtt-url",
        default=os.environ.get("HALLRATE_MQTT_URL") or None,
        help="use this external broker instead of an embedded one (default HALLRATE_MQTT_URL; "
        "broker-restart is then skipped)",
    )
    p.add_argument(
        "--queue",
        choices=("http", "serial"),
        default="http",
        help="queue-system adapter: HTTP push or serial lines over a socat pty pair",
    )
    p.add_argument("--ballot-boxes", type=int, default=None, help="default: one per 10 windows")
    p.add_argument("--database-url", help="server database (default: SQLite in the workdir)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulate"]:
        args_list = args_list[1:]
    args = build_parser().parse_args(args_list)
    try:
        chosen = faults.parse(args.faults)
    except ValueError as e:
        print(f"hallrate simulate: {e}", file=sys.stderr)
        return 2
    phone = args.phone or ("browser" if args.sms == "live" else "import")
    if phone != "import" and args.sms != "live":
        print(
            f"hallrate simulate: --phone {phone} needs --sms live (the citizens' phone numbers "
            "come with the live SMS channel's queue events)",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.online_share <= 1:
        print("hallrate simulate: --online-share must be 0..1", file=sys.stderr)
        return 2
    if not 1 <= args.phone_agents <= 8:
        print("hallrate simulate: --phone-agents must be 1..8", file=sys.stderr)
        return 2
    if phone == "browser" and (problem := browser_problem()):
        print(f"hallrate simulate: --phone browser: {problem}; or use --phone api", file=sys.stderr)
        return 2
    opts = SimOptions(
        windows=args.windows,
        tickets=args.tickets,
        speed=args.speed,
        seed=args.seed,
        day=args.date,
        faults=chosen,
        real_firmware=args.real_firmware,
        check=args.check,
        ledger=args.ledger,
        workdir=args.workdir,
        broker=args.broker,
        mqtt_url=args.mqtt_url,
        queue=args.queue,
        ballot_boxes=args.ballot_boxes or max(1, args.windows // 10),
        progress=not args.quiet,
        database_url=args.database_url,
        sms=args.sms,
        phone=phone,
        phone_agents=args.phone_agents,
        online_share=args.online_share,
    )
    res = run(opts)
    if args.json:
        print(
            json.dumps(
                {
                    "summary": res.summary,
                    "differences": [d.__dict__ for d in res.diffs],
                    "vote_differences": [d.__dict__ for d in res.vote_diffs],
                    "elapsed_s": res.elapsed_s,
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
    else:
        print("\nhallrate simulate: summary")
        print(render_summary(res))
        if args.check:
            print(checker.render(res.diffs))
            if res.diffs:
                print(vote_audit.render(res.vote_diffs, opts.spec().tz))
    return 1 if args.check and res.diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
