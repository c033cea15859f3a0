"""A real queue server in its own process whose clock the test sets, for the kiosk's UI tests.

    python -m harness.clocked_server DIR ISO_TIME   # prints "PORT <n>"; stdin: "set ISO_TIME"

Like harness/server_proc.py (the Kivy app holds the GIL while Mesa draws a frame, which
would starve a server in the same process), plus an injected clock so that an appointment
booked for tomorrow can be checked in "tomorrow". Each "set" line is answered with "OK".
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from harness.server_proc import RemoteHall, child_hall
from harness.servers import Clock, example, running_server


async def serve(folder: Path, start: dt.datetime) -> None:
    clock = Clock(start)
    async with running_server(folder, clock=clock) as hall:
        (folder / "config.pickle").write_bytes(pickle.dumps(hall.config))
        (folder / "credentials.json").write_text(json.dumps(example()[1]))
        print(f"PORT {hall.server.port}", flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, _, value = line.strip().partition(" ")
            if command == "set":
                clock.now = dt.datetime.fromisoformat(value)
                print("OK", flush=True)


class ClockedHall(RemoteHall):
    proc: subprocess.Popen

    def set_time(self, when: dt.datetime) -> None:
        self.proc.stdin.write(f"set {when.isoformat()}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if answer.strip() != "OK":
            raise RuntimeError(f"the server process did not set its clock: {answer!r}")


@contextlib.contextmanager
def server_process(folder: Path, start: dt.datetime) -> Iterator[ClockedHall]:
    with child_hall("harness.clocked_server", folder, start.isoformat(), hall_type=ClockedHall) as (
        hall,
        proc,
    ):
        hall.proc = proc
        yield hall


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), dt.datetime.fromisoformat(sys.argv[2])))
