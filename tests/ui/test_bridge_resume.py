"""A HallClient in a ``LoopThread`` handing the public stream through an ``Inbox`` to another
thread (as the signage hands it to Kivy): the server (a real process) is killed with SIGKILL and
restarted while a window calls; the other side gets every call exactly once, in seq order, as
the event log has them, and hears the connection go and come back (``on_state``)."""

from __future__ import annotations

import asyncio
import itertools

from harness.servers import (
    ServerProcess,
    credential,
    free_port,
    write_hall_config,
)
from queue_server import protocol as P
from queue_server.client import HallClient, LoopThread
from queue_server.protocol import commands as C
from tests.queue_server.test_server_resume import logged_calls, prepare_hall
from tests.ui.test_bridge import Collected, FakeClock
from ui.bridge import Inbox

KILLS = 3
CALLS_BETWEEN = 4


async def test_every_call_crosses_the_bridge_once_in_order_across_server_kills(tmp_path):
    config_path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
    first_seq = prepare_hall(config_path, 40)
    server = ServerProcess(config_path, free_port())
    got = Collected()
    window: HallClient | None = None
    with FakeClock() as clock, LoopThread("test-screen-client") as network:
        inbox = Inbox(got, schedule=clock.schedule)
        screen = HallClient(
            server.url,
            P.DeviceAuth(device_id="signage-main", token=credential("signage-main")),
            backoff_min=0.05,
            backoff_max=0.5,
            on_state=lambda state: inbox.put(("state", state)),
        )

        async def pump() -> None:  # in the client's thread, as SignageFeed.run
            await screen.connect(timeout=None)
            await screen.subscribe("public")
            async for message in screen.messages():
                inbox.put(("message", message))

        try:
            server.start()
            job = network.submit(pump())
            ups: list[str] = []  # the window's connections (it runs in this loop)
            up = asyncio.Event()

            def window_state(state: str) -> None:
                if state == "connected":
                    ups.append(state)
                    up.set()

            window = HallClient(
                server.url,
                P.StaffAuth(login="w5", password=credential("w5"), counter=5),
                backoff_min=0.05,
                backoff_max=0.5,
                on_state=window_state,
            )
            await window.connect()

            def subscribed() -> bool:  # the snapshot is in: every call after it is an event
                return any(kind == "message" and m["type"] == "snapshot" for kind, m in got.items)

            assert await asyncio.to_thread(got.wait_for, subscribed)
            for round_ in range(KILLS + 1):
                for _ in range(CALLS_BETWEEN):
                    await window.command(C.CallNext(counter=5))
                    await window.command(C.MarkNoShow(counter=5))
                if round_ < KILLS:
                    server.kill()
                    server.start()  # both clients reconnect by themselves
                    while len(ups) < round_ + 2:  # the window is back before it calls again
                        up.clear()
                        await asyncio.wait_for(up.wait(), 30)
                    # And so is the screen, before the next kill (else two outages are one).
                    assert await asyncio.to_thread(
                        got.wait_for,
                        lambda n=round_ + 2: got.items.count(("state", "connected")) >= n,
                    )
            expected = logged_calls(config_path)
            last = expected[-1][0]

            def caught_up() -> bool:
                return any(
                    kind == "message" and m.get("type") == "event" and m["seq"] >= last
                    for kind, m in got.items
                )

            assert await asyncio.to_thread(got.wait_for, caught_up, 60)
            job.cancel()
            await network.run_async(screen.close())
        finally:
            if window is not None:
                await window.close()
            server.stop()
    assert len(expected) == (KILLS + 1) * CALLS_BETWEEN and expected[0][0] > first_seq
    messages = [m for kind, m in got.items if kind == "message"]
    calls = [
        (m["seq"], m["event"]["ticket_id"])
        for m in messages
        if m["type"] == "event" and m["event"]["type"] == "ticket_called"
    ]
    assert calls == expected
    assert [m["type"] for m in messages].count("snapshot") == 1  # every resume was by seq
    # The connection as the other side heard it: up, then down and back for every kill.
    states = [k for k, _ in itertools.groupby(s for kind, s in got.items if kind == "state")]
    assert states[0] == "connected" and states[-1] == "disconnected"  # closed at the end
    assert states[1:-1] == ["disconnected", "reconnecting", "connected"] * KILLS
