"""The live SMS channel of `hallrate up` (docs/sms.md, README "make demo"): the local SMS
platform (`hallrate sms platform`, pushing replies to the server's callback route) and the
sender loop (`hallrate sms send --every N`, the real Alibaba Cloud SDK pointed at the platform).
The demo feed's citizens leave phones on the queue system and answer their texts through the
platform's POST /_sim/reply."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from server.up_process import free_port, wait_listening

# Texts right after the finish, at any hour: the demo shows replies within seconds.
DEMO_POLICY = '[sms]\nsend_mode = "after_finish"\nsend_after_minutes = 0\nquiet_hours = ""\n'
SEND_EVERY_S = 5


def sms_env(data: Path, secret: Callable[[Path, int], str]) -> dict[str, str]:
    """Server and sender settings: the phone key and callback token (kept in the data
    directory), and the demo's SMS policy unless HALLRATE_POLICY_FILE is set."""
    policy = data / "sms-policy.toml"
    if not policy.exists():
        policy.write_text(DEMO_POLICY)
    return {
        "HALLRATE_PHONE_KEY": secret(data / "phone-key", 32),
        "HALLRATE_SMS_CALLBACK_TOKEN": secret(data / "sms-callback-token", 24),
        "HALLRATE_POLICY_FILE": str(policy),
    }


def start_sms(
    server_url: str,
    env: dict[str, str],
    logs: Path,
    cwd: Path,
    spawn: Callable[[list[str], Path, dict[str, str], Path], subprocess.Popen[bytes]],
) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """Start the platform and the sender loop; returns the platform's host:port and the
    processes (the caller stops them)."""
    port = free_port()
    token = env["HALLRATE_SMS_CALLBACK_TOKEN"]
    callback = f"{server_url}/api/v1/sms/replies/local?token={token}"
    hallrate = [sys.executable, "-m", "server.cli"]
    platform = spawn(
        [*hallrate, "sms", "platform", "--port", str(port), "--aliyun-callback", callback],
        logs / "sms-platform.log",
        env,
        cwd,
    )
    wait_listening(port, platform, "the local SMS platform", logs)
    endpoint = f"127.0.0.1:{port}"
    sender_env = {**env, "HALLRATE_SMS_PROVIDER": "local", "HALLRATE_SMS_ENDPOINT": endpoint}
    sender = spawn(
        [*hallrate, "sms", "send", "--every", str(SEND_EVERY_S)],
        logs / "sms-sender.log",
        sender_env,
        cwd,
    )
    return endpoint, [platform, sender]
