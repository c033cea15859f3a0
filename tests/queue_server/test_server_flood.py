"""Misbehaving connections: a flood is rate-limited then cut off; a client that stops reading is
dropped once its buffer passes the bound and resumes by seq. The other clients notice nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import string

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from harness.servers import auth_of, raw_ask, raw_hello, running_server
from queue_server import server as server_module
from queue_server.protocol import commands as C

SERVICE = "liuguan.residence_registration"


async def flood(ws, message: str, pace: float = 0.0) -> int:
    """Send ``message`` until the server closes (every ``pace`` seconds, or as fast as the socket
    takes it); return how many were sent."""
    sent = 0
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.send(message)
            sent += 1
            if pace:
                await asyncio.sleep(pace)  # sets the flood's rate; nothing waits on it
            elif sent % 50 == 0:
                await asyncio.sleep(0)  # the server shares this event loop: let it read
    return sent


async def collect_errors(ws) -> list[str]:
    codes = []
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            data = json.loads(raw)
            if data["type"] == "error":
                codes.append(data["code"])
    return codes


async def test_a_flooding_connection_is_limited_then_closed_and_others_carry_on(tmp_path):
    async with running_server(tmp_path) as hall:
        screen, window, kiosk = hall.device("signage-main"), hall.staff("w5", 5), hall.device()
        for client in (screen, window, kiosk):
            await client.connect()
        await screen.subscribe("public")
        async with connect(hall.url) as flooder, connect(hall.url) as anonymous:
            assert (await raw_hello(flooder, auth_of("kiosk-1")))["type"] == "welcome"
            ping = json.dumps({"v": 1, "type": "ping", "id": 1})
            tasks = [
                # Many times the limit, though not so fast that a refill never comes between.
                asyncio.create_task(flood(flooder, ping, pace=0.002)),
                asyncio.create_task(collect_errors(flooder)),
                asyncio.create_task(flood(anonymous, "not even json")),
                asyncio.create_task(collect_errors(anonymous)),
            ]
            # Meanwhile the hall works as usual for everyone else.
            numbers = []
            for _ in range(5):
                reply = await kiosk.command(C.IssueTicket(service=SERVICE))
                numbers.append(reply.ticket.number)
            called = []
            for _ in range(5):
                called.append((await window.command(C.CallNext(counter=5))).events[-1]["number"])
                await window.command(C.MarkNoShow(counter=5))
            assert called == numbers
            seen = []
            while len(seen) < 5:
                message = await screen.next_message(10)
                if message["type"] == "event" and message["event"]["type"] == "ticket_called":
                    seen.append(message["event"]["number"])
            assert seen == numbers
            async with asyncio.timeout(30):
                sent, codes, sent_anonymous, codes_anonymous = await asyncio.gather(*tasks)
            assert flooder.close_code == 1008 and flooder.close_reason == "rate limited"
            assert anonymous.close_code == 1008
        assert sent > server_module.MAX_STRIKES and sent_anonymous > server_module.MAX_STRIKES
        assert "rate_limited" in codes and "rate_limited" in codes_anonymous
        assert set(codes) == {"rate_limited"}  # the pings it got in were answered with pongs
        assert await screen.ping() and await kiosk.ping()
        for client in (screen, window, kiosk):
            await client.close()


def incompressible_notice(rng: random.Random) -> C.PostNotice:
    # Random text: the connection is compressed (permessage-deflate), so repeated text would
    # hardly fill any buffer.
    return C.PostNotice(
        text_zh="".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(500)),
        text_en="".join(rng.choice(string.ascii_letters) for _ in range(1000)),
    )


async def stalled_subscriber(hall) -> tuple:
    """A raw public subscriber with a tiny receive buffer, so the server's buffer fills soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hall.server.port))
    ws = await connect(hall.url, sock=sock, max_size=None).__aenter__()
    assert (await raw_hello(ws, auth_of("signage-main")))["type"] == "welcome"
    reply = await raw_ask(ws, {"v": 1, "type": "subscribe", "id": 1, "streams": ["public"]})
    return ws, reply["result"]["seq"]


async def test_a_client_that_stops_reading_is_dropped_and_resumes_by_seq(tmp_path):
    rng = random.Random(7)
    async with running_server(tmp_path) as hall:
        server = hall.server
        fast = hall.device("signage-main")
        await fast.connect()
        await fast.subscribe("public")
        slow, seq = await stalled_subscriber(hall)
        slow.transport.pause_reading()  # it stops reading; the server keeps publishing
        published: list[int] = []
        for _round in range(60):
            results = await asyncio.gather(
                *(server.submit(incompressible_notice(rng)) for _ in range(256))
            )
            published += [ev.seq for events, _batch in results for ev in events]
            if slow.local_address not in {c.ws.remote_address for c in server.clients}:
                break  # dropped
        else:
            raise AssertionError("the client that stopped reading was never dropped")
        # The other client was never held up: it has every notice, in order, and answers pings.
        got = []
        while len(got) < len(published):
            message = await fast.next_message(30)
            if message["type"] == "event":
                got.append(message["seq"])
        assert got == published
        assert fast.reconnects == 0 and await fast.ping()

        # The slow one reads again: what reached it, then the end of the connection.
        slow.transport.resume_reading()
        got = []
        with contextlib.suppress(ConnectionClosed):
            async for raw in slow:
                message = json.loads(raw)
                if message["type"] == "event":
                    got.append(message["seq"])
        assert len(got) < len(published)
        # It reconnects and resumes from the last seq it saw: exactly the rest follows.
        last = (await server.submit(C.PostNotice(text_zh="最后一条")))[0][-1].seq
        published.append(last)
        async with connect(hall.url, max_size=None) as again:
            await raw_hello(again, auth_of("signage-main"))
            since = got[-1] if got else seq
            subscribe = {"v": 1, "type": "subscribe", "id": 2, "streams": ["public"]}
            await again.send(json.dumps({**subscribe, "since": since}))
            while not got or got[-1] < last:
                message = json.loads(await asyncio.wait_for(again.recv(), 30))
                assert message["type"] != "snapshot"
                if message["type"] == "event":
                    got.append(message["seq"])
        assert got == published
        await fast.close()
