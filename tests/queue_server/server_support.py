"""A real queue server on 127.0.0.1 (random port) with a real SQLite hall, for the tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tests.queue_server.storage_support as support
from queue_server import protocol as P
from queue_server.client import HallClient
from queue_server.config import HallConfig, apply_catalog, parse_config
from queue_server.server import QueueServer
from queue_server.storage import Store

_example: tuple[str, dict[str, str]] | None = None


def example() -> tuple[str, dict[str, str]]:
    """The example hall's config text and its clear credentials (made once per process:
    hashing the passwords is slow)."""
    global _example
    if _example is None:
        from queue_server.example_config import example_config

        _example = example_config()
        support._cached_text = _example[0]  # so config_text() uses the same hashes
    return _example


def credential(name: str) -> str:
    return example()[1][name]


def hall_config(url: str, hall_id: str | None = None) -> HallConfig:
    """The example hall, open around the clock, on ``url``, checked against the catalog."""
    from content import default_catalog

    example()
    text = support.config_text(hall_id=hall_id or support.new_hall_id(), url=url)
    return apply_catalog(parse_config(tomllib.loads(text)), default_catalog())


def write_hall_config(path: Path, url: str, hall_id: str | None = None) -> Path:
    example()
    text = support.config_text(hall_id=hall_id or support.new_hall_id(), url=url)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Running:
    server: QueueServer
    url: str
    config: HallConfig

    def device(self, device_id: str = "kiosk-1", **kw) -> HallClient:
        auth = P.DeviceAuth(device_id=device_id, token=credential(device_id))
        return HallClient(self.url, auth, **kw)

    def staff(self, login: str, counter: int | None, **kw) -> HallClient:
        auth = P.StaffAuth(login=login, password=credential(login), counter=counter)
        return HallClient(self.url, auth, **kw)


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> dt.datetime:
        self.now += dt.timedelta(**kw)
        return self.now


@contextlib.asynccontextmanager
async def running_server(tmp_path: Path, *, clock=None, url: str | None = None):
    config = hall_config(url or f"sqlite:///{tmp_path / 'hall.db'}")
    store = Store(config, **({"clock": clock} if clock is not None else {}))
    server = QueueServer(config, store, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield Running(server=server, url=f"ws://127.0.0.1:{server.port}/ws", config=config)
    finally:
        await server.stop()
