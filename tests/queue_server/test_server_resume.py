"""Resume across server crashes: the server (a real process) is killed with SIGKILL and restarted
on the same port and database while windows call tickets; every screen ends with every call
exactly once, in seq order, as the event log has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest

from harness.servers import (
    ServerProcess,
    credential,
    free_port,
    write_hall_config,
)
from queue_server import protocol as P
from queue_server.client import ClientError, Disconnected, HallClient
from queue_server.config import load_config
from queue_server.engine import events as V
from queue_server.protocol import commands as C
from queue_server.storage import Store

SERVICE = "liuguan.residence_registration"
WINDOWS = {"w4": 4, "w5": 5, "w6": 6}  # each serves queue E (first or second tier)
SUBSCRIBERS = 4
KILLS = 3


class Screen:
    """A signage client that records every public call it is shown."""

    def __init__(self, url: str):
        auth = P.DeviceAuth(device_id="signage-main", token=credential("signage-main"))
        self.client = HallClient(url, auth, backoff_min=0.05, backoff_max=0.5)
        self.calls: list[tuple[int, str]] = []
        self.snapshots = 0
        self.progress = asyncio.Condition()
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.client.connect()
        await self.client.subscribe("public")
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for message in self.client.messages():
            if message["type"] == "snapshot":
                self.snapshots += 1
            elif message["type"] == "event" and message["event"]["type"] == "ticket_called":
                self.calls.append((message["seq"], message["event"]["ticket_id"]))
            async with self.progress:
                self.progress.notify_all()

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            async with self.progress:
                await self.progress.wait_for(predicate)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.close()


async def work_window(url: str, login: str, counter: int, stop: asyncio.Event, done: list) -> None:
    """Call and mark no-show in a loop. A command whose reply was lost to a crash has an unknown
    outcome: look the window's state up and carry on from there."""
    auth = P.StaffAuth(login=login, password=credential(login), counter=counter)
    client = HallClient(url, auth, backoff_min=0.05, backoff_max=0.5, request_timeout=20)
    await client.connect()
    state = "idle"
    try:
        while not stop.is_set():
            try:
                if state == "idle":
                    reply = await client.command(C.CallNext(counter=counter))
                    done.append(reply.events[-1]["ticket_id"])
                    state = "calling"
                elif state == "calling":
                    await client.command(C.MarkNoShow(counter=counter))
                    state = "idle"
                else:
                    await client.command(C.FinishService(counter=counter))
                    state = "idle"
            except ClientError as exc:
                code = getattr(exc, "code", None)
                if code == "queue_empty":
                    return
                if code == "rate_limited":  # not carried out: back off, then the same again
                    await asyncio.sleep(0.1)
                    continue
                # Disconnected mid-request, or a refusal because the lost command did happen.
                while True:
                    try:
                        snapshot = await client.query("snapshot")
                        break
                    except Disconnected:
                        continue
                window = next(c for c in snapshot.state.counters if c.id == counter)
                state = {"calling": "calling", "serving": "serving"}.get(window.state, "idle")
    finally:
        await client.close()


def logged_calls(config_path) -> list[tuple[int, str]]:
    store = Store(load_config(config_path))
    try:
        return [
            (ev.seq, ev.ticket_id) for ev in store.events_since(0) if isinstance(ev, V.TicketCalled)
        ]
    finally:
        store.close()


def prepare_hall(config_path, tickets: int) -> int:
    """Issue the day's tickets straight through the store; return the last seq."""
    store = Store(load_config(config_path))
    try:
        store.execute_batch([C.IssueTicket(service=SERVICE) for _ in range(tickets)])
        return store.hall.seq
    finally:
        store.close()


@pytest.mark.slow
async def test_every_screen_sees_every_call_exactly_once_across_sigkills(tmp_path):
    rng = random.Random(20261126)
    config_path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
    first_seq = prepare_hall(config_path, 2000)
    server = ServerProcess(config_path, free_port())
    screens: list[Screen] = []
    stop = asyncio.Event()
    windows: list[asyncio.Task] = []
    done: list[str] = []
    try:
        server.start()
        screens = [Screen(server.url) for _ in range(SUBSCRIBERS)]
        for screen in screens:
            await screen.start()
        windows = [
            asyncio.create_task(work_window(server.url, login, counter, stop, done))
            for login, counter in WINDOWS.items()
        ]
        for _kill in range(KILLS):
            # Let calls flow, then kill at a random moment mid-stream.
            seen = len(screens[0].calls)
            await screens[0].wait_for(lambda s=seen: len(screens[0].calls) >= s + 20)
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # picks the moment; nothing waits on it
            server.kill()
            server.start()
        seen = len(screens[0].calls)
        await screens[0].wait_for(lambda s=seen: len(screens[0].calls) >= s + 20)
        stop.set()
        await asyncio.gather(*windows)
        # Everything committed is now in the log; wait until every screen has caught up.
        expected = logged_calls(config_path)
        last = expected[-1][0]
        for screen in screens:
            await screen.wait_for(lambda screen=screen: screen.client.last_seq["public"] >= last)
    finally:
        stop.set()
        for task in windows:
            task.cancel()
        await asyncio.gather(*windows, return_exceptions=True)
        for screen in screens:
            await screen.stop()
        server.stop()
    assert len(expected) >= 4 * 20 and all(seq > first_seq for seq, _ in expected)
    assert set(done) <= {ticket for _, ticket in expected}  # what a window heard is in the log
    for screen in screens:
        assert screen.client.reconnects >= KILLS
        assert screen.snapshots == 1, "a resume fell back to a snapshot"
        assert screen.calls == expected


async def test_a_resume_older_than_memory_is_served_from_the_log(tmp_path):
    """After a restart the server holds no recent events in memory: a client that saw only the
    first calls still gets exactly the ones after, not a snapshot."""
    config_path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
    prepare_hall(config_path, 10)
    server = ServerProcess(config_path, free_port())
    try:
        server.start()
        window = HallClient(
            server.url, P.StaffAuth(login="w5", password=credential("w5"), counter=5)
        )
        await window.connect()
        called = []
        for _ in range(4):
            called.append((await window.command(C.CallNext(counter=5))).seq)
            await window.command(C.MarkNoShow(counter=5))
        await window.close()
        server.kill()
        server.start()
        screen = HallClient(
            server.url, P.DeviceAuth(device_id="signage-main", token=credential("signage-main"))
        )
        await screen.connect()
        screen.last_seq["public"] = called[1]  # as if it had seen the first two calls
        await screen.subscribe("public")
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            message = await screen.next_message(10)
            assert message["type"] != "snapshot"
            if message["type"] == "event" and message["event"]["type"] == "ticket_called":
                got.append(message["seq"])
        assert got == called[2:]
        await screen.close()
    finally:
        server.stop()
