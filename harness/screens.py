"""Helpers for the Kivy apps' tests (signage, kiosk, navigator) and benchmarks: a virtual X
display, a cuttable TCP proxy and the Kivy environment for a child process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def xvfb(width: int = 1920, height: int = 1920) -> Iterator[str]:
    """Start Xvfb on a display number it picks itself (-displayfd: no guessing, no polling);
    yield ":N"; stop it by its pid."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        data = os.read(read_fd, 64).decode().strip() if ready else ""
        if not data:
            proc.kill()
            err = proc.communicate(timeout=10)[1].decode(errors="replace")
            raise RuntimeError(f"Xvfb did not start: {err.strip()}")
        yield f":{data}"
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kivy_env(display: str, home: Path) -> dict[str, str]:
    """The environment of a child process that opens a Kivy window on ``display``."""
    (home / "kivy").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        DISPLAY=display,
        KIVY_NO_ARGS="1",
        KIVY_NO_CONSOLELOG="1",
        KIVY_NO_FILELOG="1",
        KIVY_WINDOW="sdl2",
        KIVY_HOME=str(home / "kivy"),
        XDG_CACHE_HOME=str(home / "cache"),
        SDL_AUDIODRIVER="dummy",
        PYTHONPATH=str(ROOT),
    )
    env.pop("KIVY_GL_BACKEND", None)
    return env


def run_child(module: str, args: list[str], env: dict[str, str], timeout: float = 120):
    """Run ``python -m module args`` in ROOT; its process is killed if it overruns."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 between a client and the server, to cut the line on demand."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Drop every connection and refuse new ones until ``start`` again."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)


def run_scenario(driver: str, scenario: str, display: str, tmp_path: Path, timeout: float) -> dict:
    """Run one scenario of a Kivy test driver module in a child process (Kivy opens one window
    per process) and return the JSON it reports on its ``RESULT`` line."""
    out = tmp_path / scenario
    result = run_child(driver, [scenario, str(out)], kivy_env(display, tmp_path), timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result; stderr:\n{result.stderr[-4000:]}"
    data = json.loads(lines[-1].removeprefix("RESULT "))
    assert "error" not in data, f"{data['error']}\n{result.stderr[-4000:]}"
    assert result.returncode == 0
    return data
