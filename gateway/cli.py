"""`hallrate gateway --config hall.toml` runs the gateway; `hallrate gateway status` shows it;
`hallrate gateway provision --out DIR` writes its hall's broker accounts (gateway/provision.py)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

import httpx

from gateway import logs
from gateway.config import ConfigError, GatewayConfig, load
from gateway.health.config import parse_health
from gateway.ota.config import firmware_config


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="hallrate gateway",
        description="Run the hall gateway, show its state, or provision its broker accounts.",
        epilog=(
            "commands: run (the default) starts the gateway (--config, --log-level); "
            "status shows devices, backlog, gaps and quarantine from the running gateway's "
            "/status, else from the journal (--config, --json); provision writes the Mosquitto "
            "password file, ACL, every account's credentials and the TLS certificates (hall CA, "
            "broker, one client certificate per account; --tls-host, --new-ca, "
            "--no-require-cert) into --out DIR, which must be "
            "outside git or git-ignored (docs/provisioning.md). Exit 2: a bad config or a "
            "refused provisioning."
        ),
    )
    parser.add_argument("command", nargs="?", choices=("run", "status", "provision"), default="run")
    parser.add_argument("--config", "-c", default="hall.toml", help="default %(default)s")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="run: log level, any case (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="status: print JSON, not a table")
    parser.add_argument(
        "--out", help="provision: directory for the password file, ACL and credentials"
    )
    parser.add_argument(
        "--tls-host",
        action="append",
        default=[],
        metavar="NAME",
        help="provision: another DNS name or IP of the broker for its TLS certificate (repeat)",
    )
    parser.add_argument(
        "--new-ca",
        action="store_true",
        help="provision: replace the hall CA and re-issue every certificate (see docs)",
    )
    parser.add_argument(
        "--no-require-cert",
        action="store_true",
        help="provision: TLS listener conf with require_certificate false (password only)",
    )
    parser.add_argument(
        "--inventory",
        help="provision: the factory inventory CSV; binds each device to its tested MAC",
    )
    args = parser.parse_args(argv)
    if args.command == "provision" and not args.out:
        parser.error("provision needs --out DIR (outside git)")
    try:
        cfg = load(args.config)
        firmware_config(cfg)  # [firmware] and [rollout] (gateway/ota/config.py)
        parse_health(cfg.raw)  # hall.toml [health] (gateway/health/config.py)
    except ConfigError as e:
        print(f"hallrate gateway: {e}", file=sys.stderr)
        return 2
    if args.command == "provision":
        return provision(
            cfg, args.out, args.tls_host, args.new_ca, not args.no_require_cert, args.inventory
        )
    if args.command == "status":
        return status(cfg, as_json=args.json)
    return run(cfg, args.log_level)


def run(cfg: GatewayConfig, level: str = "INFO") -> int:
    from gateway.app import Gateway

    logs.setup(level)
    gw = Gateway(cfg)

    def on_signal(signum: int, frame: Any) -> None:
        gw.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gw.start()
    gw.wait()
    gw.stop()
    return 0


def provision(
    cfg: GatewayConfig,
    out: str,
    tls_hosts: list[str] | None = None,
    new_ca: bool = False,
    require_cert: bool = True,
    inventory_file: str | None = None,
) -> int:
    """Write the hall's broker accounts and certificates into ``out``; refusals exit 2 and
    write nothing. With ``inventory_file`` (the factory's CSV) also ``out``/<hall>/inventory.json:
    each device's tested MAC (docs/provisioning.md, "Inventory")."""
    from pathlib import Path

    from gateway import inventory
    from gateway import provision as prov

    tls = prov.TlsOptions(tuple(tls_hosts or ()), new_ca, require_cert)
    try:
        inv = None
        if inventory_file:
            kinds = {d: dev.kind for d, dev in cfg.devices.items()}
            inv = inventory.provision_inventory(Path(inventory_file), cfg.hall, kinds)
        res = prov.provision(cfg, Path(out), tls)
    except (prov.ProvisionError, inventory.InventoryError) as e:
        print(f"hallrate gateway provision: {e}", file=sys.stderr)
        return 2
    print(prov.summary(res))
    if inv is not None:
        path = Path(out) / cfg.hall / "inventory.json"
        prov._write_private(path, inventory.to_json(inv))
        print(f"  inventory: {len(inv['bound'])} devices bound to their MAC in {path}")
        if inv["missing"]:
            print(f"  not in the inventory (no passing factory run): {', '.join(inv['missing'])}")
        if inv["unknown"]:
            print(f"  in the inventory but not in hall.toml: {', '.join(inv['unknown'])}")
    return 0


def status(cfg: GatewayConfig, as_json: bool = False) -> int:
    """Ask the running gateway's /status; if it is not running, read the journal directly."""
    data: dict[str, Any]
    try:
        r = httpx.get(f"http://{cfg.http_host}:{cfg.http_port}/status", timeout=3.0)
        r.raise_for_status()
        data = r.json()
        data["source"] = "running gateway"
    except (httpx.HTTPError, ValueError):
        from gateway.app import status_from_journal
        from gateway.journal import Journal

        if not cfg.journal_path.exists():
            print(f"hallrate gateway: no journal at {cfg.journal_path}", file=sys.stderr)
            return 1
        from gateway.ota.store import Store

        j = Journal(cfg.journal_path)
        try:
            data = status_from_journal(j, cfg)
            # the journal's roll-out, as /status shows it (without the running gateway's counters)
            rollout = Store(j).status(time.time(), cfg.device_offline_s)
            data["rollout"] = rollout or {"state": "none"}
        finally:
            j.close()
        data["source"] = f"journal {cfg.journal_path} (gateway not reachable)"
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(render_status(data))
    return 0


def render_status(data: dict[str, Any]) -> str:
    now = time.time()
    lines = [f"hall {data['hall']}  ({data.get('source', '')})", ""]
    cols = (
        "device",
        "kind",
        "window",
        "online",
        "fw",
        "slot",
        "reset",
        "boots",
        "heap",
        "lfb",
        "rssi",
        "outbox",
        "oldest",
        "self_test",
        "alarms",
        "last_seq",
        "last_seen",
    )
    rows = [cols]
    for d in data["devices"]:
        seen = d.get("last_seen")
        oldest = d.get("outbox_oldest_s")
        rows.append(
            (
                d["device"],
                d.get("kind") or "?",
                d.get("window") or "-",
                "yes" if d.get("online") else "no",
                (d.get("fw") or "-") + ("*" if d.get("probation") else ""),
                d.get("slot") or "-",
                d.get("reset_cause") or "-",
                _s(d.get("boots")),
                _s(d.get("heap")),
                _s(d.get("largest_free")),
                _s(d.get("rssi")),
                _s(d.get("outbox")),
                "-" if oldest is None else f"{oldest}s",
                d.get("self_test") or "-",
                ",".join(d.get("alarms") or []) or "-",
                _s(d.get("last_seq")),
                "-" if seen is None else f"{now - seen:.0f}s ago",
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(cols))]
    for r in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    for d in data["devices"]:
        if d.get("fatal"):
            lines.append(f"{d['device']}: last fatal error: {d['fatal']}")
    if any(d.get("probation") for d in data["devices"]):
        lines.append("(fw*: on probation, the update not confirmed yet)")
    c = data["counts"]
    lines += [
        "",
        f"journal: {c.get('device_events', 0)} device events, "
        f"{c.get('queue_events', 0)} queue events",
        f"backlog: {c.get('records_pending', 0)} records, {c.get('tickets_pending', 0)} tickets "
        f"pending; forwarded {c.get('records_forwarded', 0)}, "
        f"rejected {c.get('records_rejected', 0)}",
    ]
    if data.get("broker_connected") is not None:
        lines.append(
            f"broker connected: {data['broker_connected']}; forward failures in a row: "
            f"{data.get('forward_failures', 0)} {data.get('forward_last_error') or ''}"
        )
    lost = data.get("lost") or []
    if lost:
        lines.append(f"unclosable gaps: {len(lost)}")
        for g in lost:
            lines.append(
                f"  {g['device']} boot {g['boot']} seq {g['first']}..{g['last']} ({g['reason']})"
            )
    quarantined = data.get("quarantine") or []
    if c.get("quarantined") or quarantined:
        lines.append(
            f"quarantined events: {c.get('quarantined', len(quarantined))}"
            " (not attributed; votes forwarded flagged invalid)"
        )
        for q in quarantined:
            lines.append(f"  {q['kind']} {q['key']} at {q['stage']}: {q['error']}")
    rollout = data.get("rollout") or {}  # gateway/ota (docs/updates.md)
    if rollout.get("state", "none") != "none":
        why = f": {rollout['reason']}" if rollout.get("reason") else ""
        lines.append(f"roll-out {rollout['id']} of {rollout['release']}: {rollout['state']}{why}")
    return "\n".join(lines)


def _s(v: Any) -> str:
    return "-" if v is None else str(v)


if __name__ == "__main__":
    raise SystemExit(main())
