"""The client library against real servers: reconnect with backoff, resume, the error tree."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.server import serve

from harness.servers import credential, free_port, hall_config, next_of
from queue_server import protocol as P
from queue_server.client import AuthFailed, Disconnected, HallClient, ServerError
from queue_server.protocol import commands as C
from queue_server.server import QueueServer
from queue_server.storage import Store

SERVICE = "liuguan.residence_registration"


class RecordingClient(HallClient):
    """Records the backoff delays it waits before each new attempt."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.delays: list[float] = []
        self.attempts = asyncio.Condition()

    async def _backoff(self, delay: float) -> None:
        self.delays.append(delay)
        async with self.attempts:
            self.attempts.notify_all()
        await super()._backoff(delay)


def screen_auth() -> P.DeviceAuth:
    return P.DeviceAuth(device_id="signage-main", token=credential("signage-main"))


async def start_server(config, port: int) -> QueueServer:
    server = QueueServer(config, Store(config), host="127.0.0.1", port=port)
    await server.start()
    return server


async def test_reconnects_with_backoff_and_resumes_after_a_restart(tmp_path):
    port = free_port()
    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    url = f"ws://127.0.0.1:{port}/ws"
    server = await start_server(config, port)
    screen = RecordingClient(url, screen_auth(), backoff_min=0.05, backoff_max=0.4)
    window = HallClient(url, P.StaffAuth(login="w5", password=credential("w5"), counter=5))
    kiosk = HallClient(url, P.DeviceAuth(device_id="kiosk-1", token=credential("kiosk-1")))
    try:
        for client in (screen, window, kiosk):
            await client.connect()
        await screen.subscribe("public")
        assert (await next_of(screen, "snapshot"))["stream"] == "public"
        for _ in range(3):
            await kiosk.command(C.IssueTicket(service=SERVICE))
        first = await window.command(C.CallNext(counter=5))
        await next_of(screen, "event", type="ticket_called")
        await window.command(C.MarkNoShow(counter=5))

        await server.stop()
        # While the server is down: a request fails with Disconnected, and the client keeps
        # trying, each wait twice the last (with jitter) up to the ceiling.
        screen.request_timeout = 0.2
        with pytest.raises(Disconnected):
            await screen.ping()
        async with asyncio.timeout(30), screen.attempts:
            await screen.attempts.wait_for(lambda: len(screen.delays) >= 5)
        assert screen.delays[:5] == [0.05, 0.1, 0.2, 0.4, 0.4]

        server = await start_server(config, port)
        async with asyncio.timeout(30):
            await screen.connected.wait()
        screen.request_timeout = 15
        assert (await screen.ping())["type"] == "pong"
        second = await window.command(C.CallNext(counter=5))  # the window reconnected too
        while True:  # resumed by seq: events only, no fresh snapshot
            message = await screen.next_message(5)
            assert message["type"] != "snapshot"
            if message["type"] == "event" and message["event"]["type"] == "ticket_called":
                break
        assert message["seq"] == second.events[-1]["seq"] > first.events[-1]["seq"]
        assert screen.reconnects >= 1 and window.reconnects >= 1
    finally:
        for client in (screen, window, kiosk):
            await client.close()
        await server.stop()


async def test_no_server_means_disconnected(tmp_path):
    client = HallClient(f"ws://127.0.0.1:{free_port()}/ws", screen_auth(), backoff_min=0.05)
    with pytest.raises(Disconnected):
        await client.connect(timeout=1.0)
    assert client.reconnects >= 1  # it did keep trying until the timeout
    never = HallClient(f"ws://127.0.0.1:{free_port()}/ws", screen_auth(), request_timeout=0.2)
    with pytest.raises(Disconnected):
        await never.ping()


async def test_refused_credentials_are_final(tmp_path):
    port = free_port()
    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    server = await start_server(config, port)
    try:
        client = RecordingClient(
            f"ws://127.0.0.1:{port}/ws",
            P.DeviceAuth(device_id="signage-main", token="wrong"),
            backoff_min=0.01,
        )
        with pytest.raises(AuthFailed) as refused:
            await client.connect()
        assert "auth_failed" in str(refused.value)
        assert client.delays == [] and client.reconnects == 0  # no second attempt
        assert client._task is not None and client._task.done()
        with pytest.raises(Disconnected):  # at once: no reconnect is coming
            await client.ping()
    finally:
        await server.stop()


async def test_a_request_without_an_answer_times_out():
    """A server that welcomes, then never answers: the request gives up after its timeout and
    the connection is still there for the next one."""
    answered = asyncio.Event()

    async def mute(ws):
        hello = json.loads(await ws.recv())
        welcome = P.Welcome(
            id=hello["id"], role="signage", hall="h", hall_name_zh="厅", hall_name_en="Hall",
            seq=0, server_version="test",
        )  # fmt: skip
        await ws.send(welcome.model_dump_json())
        async for raw in ws:
            message = json.loads(raw)
            if answered.is_set():
                await ws.send(P.Pong(id=message["id"], seq=0).model_dump_json())
            answered.set()

    async with serve(mute, "127.0.0.1", 0) as stub:
        port = stub.sockets[0].getsockname()[1]
        client = HallClient(f"ws://127.0.0.1:{port}", screen_auth(), request_timeout=0.3)
        await client.connect()
        with pytest.raises(Disconnected, match="no reply in time"):
            await client.ping()
        assert client._pending == {}
        assert (await client.ping())["type"] == "pong"
        assert client.reconnects == 0
        await client.close()


async def test_server_errors_carry_code_and_both_languages(tmp_path):
    port = free_port()
    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    server = await start_server(config, port)
    try:
        client = HallClient(f"ws://127.0.0.1:{port}/ws", screen_auth())
        await client.connect()
        with pytest.raises(ServerError) as refused:
            await client.command(C.IssueTicket(service=SERVICE))
        assert refused.value.code == "forbidden"
        assert refused.value.message("zh") == "无权执行此操作"
        assert refused.value.message("en") == "This role may not do that"
        await client.close()
        with pytest.raises(Disconnected):
            await client.ping()
    finally:
        await server.stop()
