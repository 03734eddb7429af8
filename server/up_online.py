"""`hallrate up`: one live rating link (二维码评价) of the demo hall and its QR code as a PNG.

The demo gateway signs a link for every finished ticket ([online] in its hall.toml); the demo
feed passes the links of the gateway's push answers here. The first one is printed with the
path of its QR code, written from the gateway's ``GET /online/link.png?token=…`` into the data
directory (docs/online-rating.md; README, "Demo").
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import httpx

QR_FILE = "rating-link-qr.png"


def lobby_url(server_url: str, data_dir: Path, hall: str) -> str:
    """The demo hall's lobby screen (大屏) URL with its display key (docs/lobby.md): the key the
    server derives from the secret in the data directory and the policy's key generation."""
    from server.config import Settings
    from server.lobby.keys import display_key, lobby_path
    from server.policy import load_policy

    settings = Settings(data_dir=data_dir)
    generation = load_policy(settings.policy_file).lobby.key_generation
    return server_url + lobby_path(hall, display_key(settings, hall, generation))


def online_toml(server_url: str) -> list[str]:
    """The demo hall.toml's [online] table: links to the demo server."""
    return ["[online]", "enabled = true", f'base_url = "{server_url}"', ""]


class LinkAnnouncer:
    """Takes the feed's links (``offer``, any thread) and prints the first one, once."""

    def __init__(self, gateway_http: str, queue_token: str, data_dir: Path) -> None:
        self.gateway_http = gateway_http
        self.queue_token = queue_token
        self.path = data_dir / QR_FILE
        self._links: queue.Queue[str] = queue.Queue()
        self.announced: str | None = None

    def offer(self, ticket: str, ticket_day: str, url: str) -> None:
        if self.announced is None:
            self._links.put(url)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                url = self._links.get(timeout=0.5)
            except queue.Empty:
                continue
            token = url.rsplit("/r/", 1)[1]
            try:
                r = httpx.get(
                    f"{self.gateway_http}/online/link.png",
                    params={"token": token},
                    headers={"Authorization": f"Bearer {self.queue_token}"},
                    timeout=10,
                )
                r.raise_for_status()
            except httpx.HTTPError:
                continue  # the next link will do
            self.path.write_bytes(r.content)
            self.announced = url
            print(
                f"\n  rating link 评价链接  {url}\n  its QR code 二维码    {self.path}\n",
                flush=True,
            )
            return

    def start(self, stop: threading.Event) -> threading.Thread:
        t = threading.Thread(target=self.run, args=(stop,), name="demo-link", daemon=True)
        t.start()
        return t
