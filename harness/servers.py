"""A real queue server on 127.0.0.1 (random port) with a real SQLite hall, for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import harness.halls as support
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
async def running_server(
    tmp_path: Path, *, clock=None, url: str | None = None, server: dict | None = None
):
    """``server``: [server] settings to change (e.g. a short ``command_timeout_s``)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = hall_config(url or f"sqlite:///{tmp_path / 'hall.db'}")
    if server:
        config = config.model_copy(update={"server": config.server.model_copy(update=server)})
    store = Store(config, **({"clock": clock} if clock is not None else {}))
    queue_server = QueueServer(config, store, host="127.0.0.1", port=0)
    await queue_server.start()
    try:
        yield Running(
            server=queue_server, url=f"ws://127.0.0.1:{queue_server.port}/ws", config=config
        )
    finally:
        await queue_server.stop()


# --- raw connections, messages, processes ---------------------------------------------------------


def auth_of(name: str, counter: int | None = None) -> dict:
    """The hello ``auth`` for a device id or a staff login of the example hall (as JSON)."""
    if name in ("kiosk-1", "navigator-1", "signage-main"):
        return {"kind": "device", "device_id": name, "token": credential(name)}
    return {"kind": "staff", "login": name, "password": credential(name), "counter": counter}


async def next_of(client: HallClient, kind: str, timeout: float = 5.0, **match) -> dict:
    """The next message of ``kind`` (and, for events, ``event`` fields equal to ``match``)."""
    while True:
        message = await client.next_message(timeout)
        if message["type"] != kind:
            continue
        if all(message.get("event", {}).get(k) == v for k, v in match.items()):
            return message


async def raw_ask(ws, message: dict | str | bytes, timeout: float = 5.0) -> dict:
    """Send one message on a raw websocket; return the next non-event answer."""
    import json

    await ws.send(message if isinstance(message, str | bytes) else json.dumps(message))
    while True:
        answer = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if answer["type"] not in ("event", "status", "snapshot", "ticket", "devices"):
            return answer


async def raw_hello(ws, auth: dict) -> dict:
    return await raw_ask(ws, {"v": 1, "type": "hello", "id": 0, "auth": auth})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """``python main.py server`` as a child process; ``start`` waits for it to listen."""

    def __init__(self, config_path: Path, port: int):
        self.config_path, self.port = config_path, port
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", "server", "--config", str(self.config_path),
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines = self.lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, lines), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError("the server did not start:\n" + "".join(self.log)) from None
            if line is None:
                raise RuntimeError("the server exited:\n" + "".join(self.log))
            if "queue server for" in line:
                return

    def _pump(self, proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stderr:
            self.log.append(line)
            lines.put(line)
        lines.put(None)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush beyond what was committed."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
