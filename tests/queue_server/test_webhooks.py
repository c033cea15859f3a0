"""Webhooks: signed POSTs of ticket events, retried with backoff, never holding up the hall.

A real queue server on 127.0.0.1 with ``[[webhooks]]`` in its config posts to real HTTP
receivers (``http.server`` in a thread on 127.0.0.1): one that answers, one that fails with 500
and then recovers, one that hangs; and to an asyncio receiver that trickles its answer a byte at
a time (``Trickler``), which the whole-POST deadline and a bounded shutdown must both survive,
in process and as ``python main.py server``. Waits are on conditions the receivers signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.servers import (
    Running,
    ServerProcess,
    credential,
    free_port,
    hall_config,
    write_hall_config,
)
from queue_server import webhooks as W
from queue_server.client import HallClient
from queue_server.config import Webhook
from queue_server.engine import events as V
from queue_server.protocol import DeviceAuth
from queue_server.protocol import commands as C
from queue_server.server import QueueServer
from queue_server.storage import Store

SERVICE = "liuguan.residence_registration"  # queue E; window 5 serves it first
SECRET = "a-webhook-secret-of-some-length"


class Receiver:
    """An HTTP receiver on 127.0.0.1. ``plan``: what to do with the n-th request
    ("ok", "fail" = 500, "hang" = block until ``release``); after the plan, "ok"."""

    def __init__(self, plan: list[str] | None = None):
        self.plan = list(plan or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.delivered: list[dict] = []
        self.cond = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.cond:
                    receiver.requests.append((dict(self.headers), body))
                    action = receiver.plan.pop(0) if receiver.plan else "ok"
                    receiver.cond.notify_all()
                if action == "hang":
                    receiver.release.wait(30)
                    return  # no answer at all: the sender times out
                status = 500 if action == "fail" else 200
                if status == 200:
                    # Recorded before answering: once the sender has its 200 it may post the
                    # next one, whose handler thread could otherwise record first.
                    with receiver.cond:
                        receiver.delivered.append(json.loads(body))
                        receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, predicate, timeout: float = 15.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout), (
                f"receiver saw {len(self.requests)} requests, delivered {self.delivered}"
            )

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class Trickler:
    """An asyncio HTTP receiver on 127.0.0.1 (in the test's own loop). ``plan``: what to do with
    the n-th request: "trickle" = a 200 status line, then one header byte every ``interval``
    seconds for ever, until the sender hangs up (counted in ``abandoned``); "ok" = 200 at once.
    After the plan, "ok". ``tls``: serve https:// with this context."""

    def __init__(self, plan: list[str], interval: float, tls: ssl.SSLContext | None = None):
        self.plan, self.interval, self.tls = list(plan), interval, tls
        self.requests: list[dict] = []
        self.delivered: list[dict] = []
        self.abandoned = 0
        self.changed = asyncio.Condition()
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.closing = False

    async def __aenter__(self) -> Trickler:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc) -> None:
        self.closing = True
        self.server.close()
        await self.server.wait_closed()
        for writer in self.writers:  # ends the handlers still trickling
            writer.transport.abort()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def wait_for(self, predicate, timeout: float = 15.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: predicate(self)), timeout)

    async def _note(self, change) -> None:
        async with self.changed:
            change()
            self.changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handlers.add(asyncio.current_task())
        self.writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            payload = json.loads(await reader.readexactly(length))
            action = self.plan.pop(0) if self.plan else "ok"
            await self._note(lambda: self.requests.append(payload))
            if action == "ok":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                await self._note(lambda: self.delivered.append(payload))
                return
            writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while True:  # one byte per interval; reading also tells when the sender has gone
                writer.write(b"a")
                await writer.drain()
                try:
                    if not await asyncio.wait_for(reader.read(1), self.interval):
                        break
                except TimeoutError:
                    continue
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
        if not self.closing:  # the sender hung up before the answer was whole
            await self._note(lambda: setattr(self, "abandoned", self.abandoned + 1))


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(plan=None) -> Receiver:
        made.append(Receiver(plan))
        return made[-1]

    try:
        yield make
    finally:
        for receiver in made:
            receiver.close()


@contextlib.asynccontextmanager
async def hall_with_hooks(tmp_path, hooks: list[Webhook]):
    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    config = config.model_copy(update={"webhooks": hooks})
    server = QueueServer(config, Store(config), host="127.0.0.1", port=0)
    await server.start()
    running = Running(server=server, url=f"ws://127.0.0.1:{server.port}/ws", config=config)
    clients = []
    try:
        yield running, clients
    finally:
        for client in clients:
            await client.close()
        await server.stop()


def hook(url: str, **kw) -> Webhook:
    return Webhook(url=url, secret=SECRET, backoff_s=0.05, timeout_s=0.5, **kw)


async def wait_in_thread(receiver: Receiver, predicate) -> None:
    await asyncio.to_thread(receiver.wait_for, predicate)


async def settled(hall: Running, predicate) -> list[dict]:
    """The first hook's counters once ``predicate`` holds for them (the receiver may see a
    delivery a moment before the sender has counted it)."""
    return await asyncio.wait_for(
        hall.server.webhooks.wait_until(lambda stats: predicate(stats[0])), 15
    )


# --- units -------------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"event":"called"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert W.sign(SECRET, body) == f"sha256={expected}"
    assert W.verify(SECRET, body, W.sign(SECRET, body))
    assert not W.verify(SECRET, body + b" ", W.sign(SECRET, body))
    assert not W.verify("another-secret-entirely", body, W.sign(SECRET, body))
    assert not W.verify(SECRET, body, "")


def test_backoff_doubles_up_to_a_ceiling():
    assert [W.backoff(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert W.backoff(30, 2.0) == W.MAX_BACKOFF_S


def test_payloads_carry_no_personal_data():
    at = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)
    ticket = V.TicketData(
        id="20261126-E001", number="E001", day=dt.date(2026, 11, 26), service=SERVICE,
        queue="E", priority="normal", rank=0, channel="kiosk", resident_key="secret-key",
        arrival=at, order_key=1.0,
    )  # fmt: skip
    events = [
        V.TicketIssued(seq=1, at=at, ticket=ticket, ahead=0, estimated_wait_s=None),
        V.TicketCalled(
            seq=2, at=at, ticket_id=ticket.id, number="E001", service=SERVICE, counter=5
        ),  # fmt: skip
        V.TicketFinished(
            seq=3,
            at=at,
            ticket_id=ticket.id,
            number="E001",
            counter=5,
            service=SERVICE,
            service_s=60.0,
        ),  # fmt: skip
    ]
    out = W.payloads("hall-x", events)
    assert [p["event"] for p in out] == ["issued", "called", "done"]
    assert "secret-key" not in json.dumps(out)
    assert out[1]["ticket"] == {
        "id": ticket.id, "number": "E001", "service": SERVICE, "counter": 5, "recalls": 0,
    }  # fmt: skip
    assert len({p["id"] for p in out}) == 3


def test_a_full_queue_drops_the_oldest_and_never_blocks():
    dispatcher = W.WebhookDispatcher([hook("http://127.0.0.1:9/x", queue_size=2)], "hall-x")
    at = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)
    calls = [
        V.TicketCalled(
            seq=n, at=at, ticket_id=f"t{n}", number=f"E00{n}", service=SERVICE, counter=5
        )  # fmt: skip
        for n in range(1, 5)
    ]
    dispatcher.feed(calls)  # not started: nothing is sent, the queue only fills
    queue = dispatcher.hooks[0].queue
    assert [p["seq"] for p in queue] == [3, 4] and dispatcher.hooks[0].dropped == 2


def test_unknown_event_names_are_refused_in_the_config():
    with pytest.raises(ValueError, match="unknown events"):
        Webhook(url="http://127.0.0.1/x", secret=SECRET, events=["issued", "teleported"])


# --- against a real server and real receivers ------------------------------------------------


async def test_ticket_events_are_posted_signed_with_ahead_once(tmp_path, receivers):
    receiver = receivers()
    async with hall_with_hooks(tmp_path, [hook(receiver.url, ahead_at=2)]) as (hall, clients):
        kiosk, window = hall.device("kiosk-1"), hall.staff("w5", 5)
        for client in (kiosk, window):
            await client.connect()
            clients.append(client)
        numbers = [
            (await kiosk.command(C.IssueTicket(service=SERVICE))).ticket.number for _ in range(4)
        ]
        assert numbers == ["E001", "E002", "E003", "E004"]
        await window.command(C.CallNext(counter=5))  # E001 called: E004 now has 2 ahead
        await window.command(C.StartService(counter=5))
        await window.command(C.FinishService(counter=5))
        await wait_in_thread(receiver, lambda r: any(p["event"] == "done" for p in r.delivered))

    kinds = [(p["event"], p["ticket"]["number"]) for p in receiver.delivered]
    assert kinds == [
        ("issued", "E001"), ("issued", "E002"), ("issued", "E003"), ("issued", "E004"),
        ("called", "E001"), ("ahead", "E004"), ("done", "E001"),
    ]  # fmt: skip
    ahead = receiver.delivered[5]
    assert ahead["ticket"]["ahead"] == 2 and ahead["hall"] == hall.config.hall.id
    assert receiver.delivered[2]["ticket"]["ahead"] == 2  # E003 was told at issue
    for headers, body in receiver.requests:
        assert W.verify(SECRET, body, headers[W.SIGNATURE_HEADER])
        assert headers[W.EVENT_HEADER] == json.loads(body)["event"]
        assert headers["Content-Type"].startswith("application/json")
        assert "resident_key" not in body.decode()


async def test_a_failing_receiver_is_retried_until_it_recovers(tmp_path, receivers):
    receiver = receivers(["fail", "fail", "fail"])
    config = hook(receiver.url, events=["called"])
    async with hall_with_hooks(tmp_path, [config]) as (hall, clients):
        kiosk, window = hall.device("kiosk-1"), hall.staff("w5", 5)
        for client in (kiosk, window):
            await client.connect()
            clients.append(client)
        await kiosk.command(C.IssueTicket(service=SERVICE))
        await window.command(C.CallNext(counter=5))
        await wait_in_thread(receiver, lambda r: len(r.delivered) == 1)
        stats = (await settled(hall, lambda s: s["delivered"] == 1))[0]
    assert len(receiver.requests) == 4  # three 500s, then delivered
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1  # the same delivery each time, same id, same signature
    assert receiver.delivered[0]["event"] == "called"
    assert stats["delivered"] == 1 and stats["failed_attempts"] == 3 and stats["given_up"] == 0


async def test_a_delivery_is_given_up_after_max_attempts_and_the_next_goes(tmp_path, receivers):
    receiver = receivers(["fail", "fail"])
    async with hall_with_hooks(
        tmp_path, [hook(receiver.url, events=["issued"], max_attempts=2)]
    ) as (hall, clients):
        kiosk = hall.device("kiosk-1")
        await kiosk.connect()
        clients.append(kiosk)
        await kiosk.command(C.IssueTicket(service=SERVICE))
        await kiosk.command(C.IssueTicket(service=SERVICE))
        await wait_in_thread(receiver, lambda r: len(r.delivered) == 1)
        stats = (await settled(hall, lambda s: s["delivered"] == 1))[0]
    assert receiver.delivered[0]["ticket"]["number"] == "E002"
    assert stats["given_up"] == 1 and stats["delivered"] == 1


async def test_a_hanging_receiver_times_out_and_the_hall_carries_on(tmp_path, receivers):
    hanging = receivers(["hang"])
    healthy = receivers()
    hooks = [hook(hanging.url, events=["issued"]), hook(healthy.url, events=["issued"])]
    async with hall_with_hooks(tmp_path, hooks) as (hall, clients):
        kiosk = hall.device("kiosk-1")
        await kiosk.connect()
        clients.append(kiosk)
        await kiosk.command(C.IssueTicket(service=SERVICE))
        await wait_in_thread(hanging, lambda r: len(r.requests) == 1)
        # The notifier hangs (it has not answered and will not): the hall issues and answers,
        # and the other hook is served, while that request is still open.
        second = await kiosk.command(C.IssueTicket(service=SERVICE))
        assert second.ticket.number == "E002"
        await wait_in_thread(healthy, lambda r: len(r.delivered) == 2)
        assert not hanging.release.is_set() and not hanging.delivered
        # The hanging request times out; the retry and the later delivery go through.
        await wait_in_thread(hanging, lambda r: len(r.delivered) == 2)
        stats = (await settled(hall, lambda s: s["delivered"] == 2))[0]
    assert [p["ticket"]["number"] for p in hanging.delivered] == ["E001", "E002"]
    assert stats["failed_attempts"] >= 1 and stats["given_up"] == 0


async def test_a_trickling_receiver_is_timed_out_for_the_whole_post_and_retried(
    tmp_path, receivers
):
    """A status line that comes a byte every 0.4 s never trips a per-read timeout; the 1 s
    deadline on the whole POST does: the attempt is abandoned and retried (the receiver then
    answers), the next event follows, and the other hook is served all along."""
    healthy = receivers()
    async with Trickler(["trickle"], interval=0.4) as slow:
        hooks = [
            Webhook(url=slow.url, secret=SECRET, events=["issued"], timeout_s=1.0, backoff_s=0.05),
            hook(healthy.url, events=["issued"]),
        ]
        async with hall_with_hooks(tmp_path, hooks) as (hall, clients):
            kiosk = hall.device("kiosk-1")
            await kiosk.connect()
            clients.append(kiosk)
            await kiosk.command(C.IssueTicket(service=SERVICE))
            await slow.wait_for(lambda r: len(r.requests) == 1)
            await kiosk.command(C.IssueTicket(service=SERVICE))
            await wait_in_thread(healthy, lambda r: len(r.delivered) == 2)
            await slow.wait_for(lambda r: len(r.delivered) == 2)
            stats = (await settled(hall, lambda s: s["delivered"] == 2))[0]
        await slow.wait_for(lambda r: r.abandoned == 1)  # the sender hung up on the trickle
    assert [p["ticket"]["number"] for p in slow.delivered] == ["E001", "E002"]
    assert [p["ticket"]["number"] for p in slow.requests] == ["E001", "E001", "E002"]
    assert stats["failed_attempts"] == 1 and stats["given_up"] == 0
    assert [p["ticket"]["number"] for p in healthy.delivered] == ["E001", "E002"]


async def test_stop_cancels_a_post_in_flight_and_leaves_no_thread_behind():
    """A receiver that never finishes its answer, a timeout far away: stop still ends the POST
    (after its short grace) and no webhook thread outlives it to hold the process at exit."""
    async with Trickler(["trickle"], interval=0.05) as slow:
        config = Webhook(url=slow.url, secret=SECRET, events=["called"], timeout_s=60)
        dispatcher = W.WebhookDispatcher([config], "hall-x")
        dispatcher.start()
        at = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)
        dispatcher.feed([
            V.TicketCalled(seq=1, at=at, ticket_id="t1", number="E001", service=SERVICE, counter=5)
        ])  # fmt: skip
        await slow.wait_for(lambda r: len(r.requests) == 1)
        await asyncio.wait_for(dispatcher.stop(), 10)
        await slow.wait_for(lambda r: r.abandoned == 1)
    assert dispatcher.stats()[0]["delivered"] == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("webhook")]


def _certificate(folder) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: scripts/setup.sh installs it")
    cert, key = folder / "hook.crt", folder / "hook.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


async def test_https_receivers_are_verified_and_served(tmp_path, monkeypatch):
    cert, key = _certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    body = b'{"event":"called"}'
    item = {"event": "called", "id": "hall-x-1-called-t1"}
    async with Trickler([], interval=0.05, tls=tls) as receiver:
        config = Webhook(url=receiver.url, secret=SECRET, timeout_s=5)
        # The system's trust store does not know the receiver's certificate: refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            await W.post(config, item, body)
        # The default trust store (SSL_CERT_FILE) that does: delivered.
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        assert await W.post(config, item, body) == 200
    assert receiver.delivered == [{"event": "called"}]


async def _answer_of(data: bytes) -> tuple[int | Exception, bytes]:
    reader = asyncio.StreamReader(limit=W.MAX_LINE)
    reader.feed_data(data)
    reader.feed_eof()
    try:
        status: int | Exception = await W.read_answer(reader)
    except W.AnswerError as exc:
        status = exc
    return status, await reader.read()


async def test_answers_are_read_to_their_end_however_framed():
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;x=1\r\nhello\r\n3\r\n!!!\r\n0\r\nTrailer: t\r\n\r\nNEXT"
    )
    assert await _answer_of(chunked) == (201, b"NEXT")
    sized = b"HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nabcNEXT"
    assert await _answer_of(sized) == (500, b"NEXT")
    assert await _answer_of(b"HTTP/1.0 200 OK\r\n\r\nuntil the end") == (200, b"")
    assert await _answer_of(b"HTTP/1.1 204 No Content\r\n\r\nNEXT") == (204, b"NEXT")
    for bad in (
        b"SSH-2.0-OpenSSH\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * (W.MAX_LINE + 1) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (W.MAX_HEADERS + 1) + b"\r\n",
    ):
        status, _ = await _answer_of(bad)
        assert isinstance(status, W.AnswerError), bad[:40]


async def test_the_server_process_exits_soon_after_sigterm_whatever_a_receiver_does(tmp_path):
    """``python main.py server`` with a receiver trickling its answer (and a timeout far off):
    SIGTERM ends the process within a generous bound, not when the receiver lets go."""
    async with Trickler(["trickle"], interval=0.2) as slow:
        path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
        with path.open("a", encoding="utf-8") as out:
            out.write(
                f'\n[[webhooks]]\nurl = "{slow.url}"\nsecret = "{SECRET}"\n'
                'events = ["issued"]\ntimeout_s = 60\n'
            )
        server = ServerProcess(path, free_port())
        await asyncio.to_thread(server.start)
        try:
            kiosk = HallClient(
                server.url, DeviceAuth(device_id="kiosk-1", token=credential("kiosk-1"))
            )
            await kiosk.connect()
            await kiosk.command(C.IssueTicket(service=SERVICE))
            await kiosk.close()
            await slow.wait_for(lambda r: len(r.requests) == 1)
            os.kill(server.proc.pid, signal.SIGTERM)
            # A correctness bound (the process does end), not a benchmark.
            code = await asyncio.to_thread(server.proc.wait, 10)
            await slow.wait_for(lambda r: r.abandoned == 1)
        finally:
            server.kill()
    assert code == 0, "".join(server.log)
