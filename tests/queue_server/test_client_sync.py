"""The client package from synchronous code: ``LoopThread`` (the one bridge from threads to the
client's event loop) and what the package may load."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from queue_server.client import LoopThread, ServerError, engine_error
from queue_server.errors import IllegalTransition, QueueEmpty

ROOT = Path(__file__).resolve().parents[2]
OURS = ("queue_server", "content", "devices", "kiosk", "navigator", "signage", "console", "ui")


def loaded_by(statement: str) -> list[str]:
    """Our modules a fresh interpreter holds after ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [m for m in json.loads(out) if m.split(".")[0] in OURS]


def test_the_client_package_loads_only_the_protocol_and_the_errors_of_ours():
    allowed = ("queue_server.client", "queue_server.protocol", "queue_server.errors")
    loaded = loaded_by("import queue_server.client")
    assert "queue_server.client.sync" in loaded
    stray = [m for m in loaded if m != "queue_server" and not m.startswith(allowed)]
    assert not stray, stray


def test_run_blocks_for_the_result_and_raises_what_the_coroutine_raised():
    with LoopThread("test-loop") as loop:

        async def where() -> str:
            await asyncio.sleep(0)
            return threading.current_thread().name

        assert loop.run(where(), timeout=10) == "test-loop"

        async def fail() -> None:
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            loop.run(fail(), timeout=10)


def test_a_timeout_cancels_the_coroutine():
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with LoopThread() as loop:
        with pytest.raises(TimeoutError):
            loop.run(forever(), timeout=0.05)
        assert cancelled.wait(10)


def test_close_lets_running_tasks_finish_their_finally_blocks_then_refuses_work():
    cleaned = threading.Event()
    started = threading.Event()

    async def client() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # a close handshake, say
            cleaned.set()

    loop = LoopThread()
    loop.submit(client())
    assert started.wait(10)
    loop.close()
    assert cleaned.is_set() and not loop.running and loop.loop.is_closed()
    coroutine = asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        loop.submit(coroutine)
    with pytest.raises(RuntimeError, match="not running"):
        loop.call_soon(print, "never")
    loop.close()  # twice is fine


def test_call_soon_calls_in_the_loops_thread_in_order():
    called: list[tuple[int, str]] = []
    done = threading.Event()
    with LoopThread("soon") as loop:
        for n in range(3):
            loop.call_soon(lambda n: called.append((n, threading.current_thread().name)), n)
        loop.call_soon(done.set)
        assert done.wait(10)
    assert called == [(0, "soon"), (1, "soon"), (2, "soon")]


def test_run_from_the_loops_own_thread_is_refused_not_a_deadlock():
    with LoopThread() as loop:

        async def inner() -> None:
            loop.run(asyncio.sleep(0))

        with pytest.raises(RuntimeError, match="deadlock"):
            loop.run(inner(), timeout=10)


def test_run_async_awaits_the_thread_from_another_loop():
    with LoopThread("other") as loop:

        async def name() -> str:
            return threading.current_thread().name

        async def main() -> str:
            return await loop.run_async(name())

        assert asyncio.run(main()) == "other"


def test_a_servers_typed_error_becomes_the_engine_error_of_its_code():
    details = {"kind": "counter", "ident": "1", "command": "recall", "state": "idle"}
    err = engine_error(ServerError("illegal_transition", "不能重呼", "cannot recall", details))
    assert isinstance(err, IllegalTransition) and err.ident == 1 and err.message_zh == "不能重呼"
    assert isinstance(engine_error(ServerError("queue_empty", "空", "empty")), QueueEmpty)
    other = engine_error(ServerError("forbidden", "无权", "may not"))
    assert other.code == "forbidden" and other.message_en == "may not"
