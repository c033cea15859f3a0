"""SignageFeed against a real queue server, without a window: the connection state it hands
over (the "连接中断" badge), and the screen's and the speaker's health as the managers' console
sees it (the ``manager`` stream's ``devices`` message), also after the server restarts."""

from __future__ import annotations

import asyncio
import contextlib
import time

from harness.screens import CuttableProxy
from harness.servers import (
    ServerProcess,
    credential,
    free_port,
    running_server,
    write_hall_config,
)
from queue_server import protocol as P
from queue_server.client import HallClient
from queue_server.protocol import commands as C
from signage.core import Call, SignageState
from signage.feed import Connection, Message, SignageFeed
from signage.voice import CommandPlayer, FileSink, Voice
from tests.signage.test_voice import FakeSynth


async def parts_of(manager: HallClient, terminal: str, wanted: dict, timeout: float = 30.0):
    """Wait for a ``devices`` message in which ``terminal``'s parts are as ``wanted``
    ({part: (ok, detail)}); return that terminal's entry."""
    async with asyncio.timeout(timeout):
        while True:
            message = await manager.next_message()
            if message["type"] != "devices":
                continue
            entry = next(d for d in message["devices"] if d["terminal"] == terminal)
            parts = {p: (v["ok"], v["detail"]) for p, v in entry["parts"].items()}
            if all(parts.get(p) == v for p, v in wanted.items()):
                return entry


@contextlib.asynccontextmanager
async def running_feed(feed: SignageFeed):
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_screen_and_the_speaker_report_their_health_and_changes(tmp_path):
    async with running_server(tmp_path) as hall:
        manager = hall.staff("manager", None)
        await manager.connect()
        await manager.subscribe("manager")
        frame = {"at": time.monotonic()}  # the screen "draws" as long as the test says so
        feed = SignageFeed(
            hall.device("signage-main"), SignageState(), last_frame=lambda: frame["at"]
        )
        feed.set_health("speaker", True)  # before it runs, as the app does at start
        async with running_feed(feed):
            entry = await parts_of(
                manager, "signage-main", {"screen": (True, ""), "speaker": (True, "")}
            )
            assert entry["connected"] is True and entry["role"] == "signage"
            # The voice fails (from its own thread in the app): the console hears of it.
            await asyncio.to_thread(feed.set_health, "speaker", False, "error")
            await parts_of(manager, "signage-main", {"speaker": (False, "error")})
            # The screen stops drawing (a hung GL driver): the client's side still reports.
            frame["at"] = time.monotonic() - 3600
            await parts_of(manager, "signage-main", {"screen": (False, "error")})
            frame["at"] = time.monotonic()
            await parts_of(manager, "signage-main", {"screen": (True, "")})
        await manager.close()


async def test_a_failing_player_makes_the_speaker_not_ok_and_a_good_call_ok_again(tmp_path):
    async with running_server(tmp_path) as hall:
        manager = hall.staff("manager", None)
        await manager.connect()
        await manager.subscribe("manager")
        voice = Voice(FakeSynth(), CommandPlayer(["false"]))  # `false` exits 1: no sound
        feed = SignageFeed(hall.device("signage-main"), SignageState(), voice=voice)
        voice.on_health = lambda ok, detail: feed.set_health("speaker", ok, detail)
        voice.start()
        try:
            async with running_feed(feed):
                voice.announce(Call("A001", 1))
                await parts_of(manager, "signage-main", {"speaker": (False, "error")})
                voice.player = FileSink()  # the sound card is back
                voice.announce(Call("A002", 1))
                await parts_of(manager, "signage-main", {"speaker": (True, "")})
        finally:
            voice.close()
        assert [s.skipped for s in voice.history] == ["playback failed", ""]
        await manager.close()


async def test_the_connection_state_reaches_the_screen_in_order_with_the_calls(tmp_path):
    async with running_server(tmp_path) as hall:
        port = int(hall.url.rsplit(":", 1)[1].split("/")[0])
        proxy = CuttableProxy("127.0.0.1", port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        got: asyncio.Queue = asyncio.Queue()
        heard: list[str] = []
        client = HallClient(
            url,
            device_auth("signage-main"),
            backoff_min=0.05,
            backoff_max=0.2,
            on_state=heard.append,  # the feed keeps the application's own callback
        )
        state = SignageState()
        feed = SignageFeed(client, state, deliver=got.put_nowait)

        async def next_item(kind: type, timeout: float = 30.0):
            async with asyncio.timeout(timeout):
                while True:
                    item = await got.get()
                    feed.receive([item])  # as the Kivy side does
                    if isinstance(item, kind):
                        return item

        window = hall.staff("w5", 5)
        await window.connect()
        kiosk = hall.device("kiosk-1")
        await kiosk.connect()
        await kiosk.command(C.IssueTicket(service="liuguan.residence_registration"))
        async with running_feed(feed):
            assert (await next_item(Connection)).state == "connected"
            assert state.connected
            while state.seq < 0:  # subscribed: the first snapshot is in
                await next_item(Message)
            await proxy.cut()
            assert (await next_item(Connection)).state == "disconnected"
            assert not state.connected  # the badge shows; the last state stays
            number = (await window.command(C.CallNext(counter=5))).events[-1]["number"]
            assert (await next_item(Connection)).state == "reconnecting"
            await proxy.start()
            assert (await next_item(Connection)).state == "connected"
            assert state.connected
            while state.newest is None:  # the call made during the cut, resumed by seq
                await next_item(Message)
            assert state.newest.number == number and feed.calls_seen == 1
        assert heard[:4] == ["connected", "disconnected", "reconnecting", "connected"]
        assert heard[-1] == "disconnected"  # the feed closed the client when it stopped
        for c in (window, kiosk):
            await c.close()
        await proxy.close()


async def test_the_health_is_reported_again_to_a_restarted_server(tmp_path):
    config_path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
    server = ServerProcess(config_path, free_port())
    server.start()
    quick = {"backoff_min": 0.05, "backoff_max": 0.5}
    try:
        screen = HallClient(server.url, device_auth("signage-main"), **quick)
        feed = SignageFeed(screen, SignageState(), last_frame=time.monotonic)
        feed.set_health("speaker", False, "error")
        both = {"screen": (True, ""), "speaker": (False, "error")}
        async with running_feed(feed):
            manager = HallClient(
                server.url, P.StaffAuth(login="manager", password=credential("manager")), **quick
            )
            await manager.connect()
            await manager.subscribe("manager")
            before = await parts_of(manager, "signage-main", both)
            server.kill()  # the new server process knows nothing of the screen's parts
            server.start()
            while True:  # skip what the old server sent: wait for a report to the new one
                after = await parts_of(manager, "signage-main", both)
                if after["parts"]["speaker"]["at"] > before["parts"]["speaker"]["at"]:
                    break
            assert screen.reconnects >= 1
            await manager.close()
    finally:
        server.stop()


def device_auth(device_id: str) -> P.DeviceAuth:
    return P.DeviceAuth(device_id=device_id, token=credential(device_id))
