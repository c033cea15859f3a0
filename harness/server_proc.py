"""A real queue server in its own process, for the Kivy apps' tests and the benchmarks.

    python -m harness.server_proc DIR        # prints "PORT <n>", serves until stdin closes

The Kivy app holds the GIL while software OpenGL (Mesa under Xvfb) swaps a frame, which would
starve a server in the same process; a hall's server runs on its own machine anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.screens import ROOT
from harness.servers import example, running_server
from queue_server import protocol as P
from queue_server.client import HallClient
from queue_server.config import HallConfig


@dataclass
class RemoteHall:
    """The hall served by the other process, with the same helpers as server_support.Running."""

    url: str
    config: HallConfig
    credentials: dict[str, str]

    def device(self, device_id: str = "kiosk-1", **kw) -> HallClient:
        auth = P.DeviceAuth(device_id=device_id, token=self.credentials[device_id])
        return HallClient(self.url, auth, **kw)

    def staff(self, login: str, counter: int | None, **kw) -> HallClient:
        auth = P.StaffAuth(login=login, password=self.credentials[login], counter=counter)
        return HallClient(self.url, auth, **kw)


async def serve(folder: Path) -> None:
    async with running_server(folder) as hall:
        (folder / "config.pickle").write_bytes(pickle.dumps(hall.config))
        (folder / "credentials.json").write_text(json.dumps(example()[1]))
        print(f"PORT {hall.server.port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


@contextlib.contextmanager
def child_hall(
    module: str, folder: Path, *args: str, hall_type: type = RemoteHall, env=None
) -> Iterator[tuple[RemoteHall, subprocess.Popen]]:
    """Start ``python -m module folder *args`` (it prints ``PORT n`` once listening, leaves the
    config and credentials in ``folder`` and lives until its stdin closes); yield a
    ``hall_type`` for it and the process; stop it (by its pid) afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", module, str(folder), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the server process did not start: {line!r}")
        hall = hall_type(
            url=f"ws://127.0.0.1:{int(line.split()[1])}/ws",
            config=pickle.loads((folder / "config.pickle").read_bytes()),
            credentials=json.loads((folder / "credentials.json").read_text()),
        )
        yield hall, proc
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def server_process(folder: Path, env: dict[str, str] | None = None) -> Iterator[RemoteHall]:
    """Start the server process; yield its hall; stop it (by its pid) afterwards."""
    with child_hall("harness.server_proc", folder, env=env) as (hall, _):
        yield hall


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
