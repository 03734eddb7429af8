"""The `hallrate` command: one entry point that dispatches to each component's own CLI.

Each component owns its subcommand (`main(argv) -> int` in its own module); this file only
routes. Why the umbrella lives in server/: docs/adr/0001-layout.md.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# name -> (module with main(argv), one-line help, issue that builds it)
COMMANDS: dict[str, tuple[str, str, int]] = {
    "up": ("server.up", "run broker, server, gateway and a simulated hall on embedded defaults", 2),
    "server": ("server.serve", "run the HTTP API server (scores, ingest, admin)", 3),
    "gateway": ("gateway.cli", "run the hall gateway, show its status, provision its accounts", 4),
    "broker": ("gateway.embedded_broker", "run the embedded MQTT broker (amqtt)", 2),
    "simulate": ("simulator.cli", "simulate a hall through the real broker, gateway and server", 6),
    "firmware": ("gateway.firmware_tool", "build and deploy device firmware bundles", 5),
    "db": (
        "server.db_cli",
        "database migrations, purges and aggregate rebuilds: `hallrate db upgrade`",
        3,
    ),
    "import": ("server.import_cli", "import SMS / phone call-back results from CSV or XLSX", 3),
    "calendar": (
        "server.calendar_cli",
        "working-day overrides (holidays, 调休) from the State Council notice: load, show, check",
        14,
    ),
    "cases": (
        "server.cases.cli",
        "cases (差评 follow-up, 吐槽找茬, 办不成事): `tick` sets deadline flags and alerts",
        18,
    ),
    "callbacks": (
        "server.callbacks.cli",
        "phone call-backs (电话回访): draw, list, show and verify worklists; the draw worker",
        14,
    ),
    "online": (
        "server.online.cli",
        "online rating (二维码评价): `defaults` creates the system default ratings that are due",
        17,
    ),
    "alerts": (
        "server.alerts.cli",
        "alerts to the duty manager: deliver, list; webhook and SMS targets of a hall",
        18,
    ),
    "lobby": (
        "server.lobby.cli",
        "the lobby screen (大屏): `url --hall CODE` prints a hall's screen URL with its key",
        19,
    ),
    "report": (
        "server.reports.cli",
        "publications as PDF or XLSX: ranking, 差评 report, appraisal; `schedule` writes them",
        19,
    ),
    "export": (
        "server.export.cli",
        "export to provincial 好差评 platforms (GB/T 39046): profiles, validate, file, "
        "run, status, reconcile",
        20,
    ),
    "sms": (
        "server.sms.cli",
        "SMS channel: send due texts, outbox, reconcile, opt-outs; `platform`: local SMS platform",
        13,
    ),
}

# Subcommands owned by another module than their command's (`hallrate cases form|ledger`:
# server/cases/cli_forms.py, docs/cases.md "Forms and ledger"): (command, subcommand) -> module
# with main(argv), argv starting with the subcommand.
SUBCOMMANDS: dict[tuple[str, str], str] = {
    ("cases", "form"): "server.cases.cli_forms",
    ("cases", "ledger"): "server.cases.cli_forms",
    ("report", "schedule"): "server.reports.schedule",
}


def usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: hallrate <command> [options]",
        "",
        "Rating terminals, gateway and server for government service halls (政务服务大厅好差评).",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {helptext}" for name, (_, helptext, _) in COMMANDS.items()]
    lines += ["", "Run `hallrate <command> --help` for the options of a command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version"):
        from importlib.metadata import version

        print(f"hallrate {version('hallrate')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"hallrate: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, _, issue = COMMANDS[name]
    if rest and (name, rest[0]) in SUBCOMMANDS:
        module_name = SUBCOMMANDS[(name, rest[0])]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"hallrate {name}: not built yet (tracked in issue {issue}).", file=sys.stderr)
        return 2
    result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
