"""Webhooks: signed HTTP POSTs of ticket events to an external notifier (SMS, WeChat gateway).

Configured in the hall config (``[[webhooks]]``: url, secret, events, ...; see
``queue_server.config.Webhook``); the payload and the signature are in docs/webhooks.md.

The hall never waits on a notifier. After each committed batch the server calls ``feed`` (plain,
synchronous, no I/O): it turns the batch's events into payloads and appends them to each hook's
bounded queue, dropping the oldest when a hook falls too far behind. One asyncio task per hook
delivers its queue in order, retrying a failure (connection error, timeout, any non-2xx answer)
with exponential backoff up to ``max_attempts``, then giving that delivery up and going on.

Each POST is plain asyncio (``post``: a small HTTP/1.1 client on asyncio streams) under one
deadline, the hook's ``timeout_s``, for the whole exchange: connect, TLS handshake, request and
the full answer. A per-read socket timeout (what urllib offers) never fires on a receiver that
trickles its answer a byte at a time, and a POST blocked in a thread can be neither cancelled nor
left behind: the interpreter joins the pool's threads at exit, so one such receiver kept a
stopped server alive. With no threads, ``stop`` ends every POST it cancels at once.

Events (the names used in ``events``): ``issued`` (ticket_issued), ``ahead`` (once per ticket,
when ``ahead_at`` or fewer people are ahead of it), ``called`` (ticket_called and
ticket_recalled), ``done`` (ticket_finished). Payloads carry ticket numbers, services and windows
only: no resident key, no name, no document number.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import logging
import ssl
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from queue_server.config import Webhook
from queue_server.engine import events as V

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Yikou-Signature"
EVENT_HEADER = "X-Yikou-Event"
DELIVERY_HEADER = "X-Yikou-Delivery"
MAX_BACKOFF_S = 300.0
# How long ``stop`` lets a POST already under way finish before cancelling it.
STOP_GRACE_S = 1.0
# An answer's status line and each header line: longer is not HTTP we want to read.
MAX_LINE = 8192
MAX_HEADERS = 100


class AnswerError(Exception):
    """The receiver's answer is not HTTP/1.x as we read it (a failed attempt, like a timeout)."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")


def backoff(attempt: int, first_s: float) -> float:
    """Delay before retry number ``attempt`` (1, 2, ...): first_s, 2·first_s, 4·first_s, ..."""
    return min(MAX_BACKOFF_S, first_s * (2 ** (attempt - 1)))


def payloads(
    hall_id: str, events: list[V.Event], ahead: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The webhook payloads of one batch: its events, then the ``ahead`` notices (ticket id ->
    {number, service, ahead, estimated_wait_s, seq, at}) the hall computed after it."""
    out: list[dict[str, Any]] = []

    def add(kind: str, seq: int, at, ticket: dict[str, Any]) -> None:
        out.append(
            {
                "id": f"{hall_id}-{seq}-{kind}-{ticket['id']}",
                "hall": hall_id,
                "event": kind,
                "seq": seq,
                "at": at.isoformat() if hasattr(at, "isoformat") else at,
                "ticket": ticket,
            }
        )

    for ev in events:
        if isinstance(ev, V.TicketIssued):
            add("issued", ev.seq, ev.at, {
                "id": ev.ticket.id, "number": ev.ticket.number, "service": ev.ticket.service,
                "ahead": ev.ahead, "estimated_wait_s": ev.estimated_wait_s, "counter": None,
            })  # fmt: skip
        elif isinstance(ev, V.TicketCalled):
            add("called", ev.seq, ev.at, {
                "id": ev.ticket_id, "number": ev.number, "service": ev.service,
                "counter": ev.counter, "recalls": 0,
            })  # fmt: skip
        elif isinstance(ev, V.TicketRecalled):
            add("called", ev.seq, ev.at, {
                "id": ev.ticket_id, "number": ev.number, "counter": ev.counter,
                "recalls": ev.recalls,
            })  # fmt: skip
        elif isinstance(ev, V.TicketFinished):
            add("done", ev.seq, ev.at, {
                "id": ev.ticket_id, "number": ev.number, "service": ev.service,
                "counter": ev.counter,
            })  # fmt: skip
    for ticket_id, info in (ahead or {}).items():
        add("ahead", info["seq"], info["at"], {
            "id": ticket_id, "number": info["number"], "service": info["service"],
            "ahead": info["ahead"], "estimated_wait_s": info["estimated_wait_s"],
        })  # fmt: skip
    return out


async def post(
    config: Webhook, item: dict[str, Any], body: bytes, tls: ssl.SSLContext | None = None
) -> int:
    """POST one signed delivery; the answer's status. Everything, from connecting to the last
    byte of the answer, within ``config.timeout_s`` (``TimeoutError`` past it). ``tls``: the
    context for https:// (default: the system's trusted certificates)."""
    url = urllib.parse.urlsplit(config.url)
    https = url.scheme == "https"
    if https and tls is None:
        tls = ssl.create_default_context()
    host_header = url.netloc.rpartition("@")[2]  # never send userinfo
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in (
            ("Host", host_header),
            ("Content-Type", "application/json; charset=utf-8"),
            ("User-Agent", "yikou-webhooks/1"),
            (SIGNATURE_HEADER, sign(config.secret, body)),
            (EVENT_HEADER, item["event"]),
            (DELIVERY_HEADER, item["id"]),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        )
    )
    request = f"POST {target} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body
    writer = None
    async with asyncio.timeout(config.timeout_s):
        try:
            reader, writer = await asyncio.open_connection(
                url.hostname,
                url.port or (443 if https else 80),
                ssl=tls if https else None,
                server_hostname=url.hostname if https else None,
                limit=MAX_LINE,
            )
            writer.write(request)
            await writer.drain()
            return await read_answer(reader)
        finally:
            # The whole answer is read (or the POST failed, timed out, was cancelled): close at
            # once, waiting on no TLS goodbye (http.client sends none either).
            if writer is not None:
                writer.transport.abort()


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.x answer to the end (its body is discarded); its status. Bodies framed by
    Content-Length, chunked, or by the end of the connection (we ask for ``Connection: close``)."""
    while True:
        status, headers = await _read_head(reader)
        if not 100 <= status < 200:  # skip interim answers (100 Continue, 103 Early Hints)
            break
    if status in (204, 304):
        return status
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await _read_line(reader)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise AnswerError(f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                while await _read_line(reader):  # trailers, up to the empty line
                    pass
                return status
            await _discard(reader, size)
            if await _read_line(reader):
                raise AnswerError("a chunk longer than its size")
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise AnswerError(f"bad Content-Length {headers['content-length'][:40]!r}") from None
        await _discard(reader, length)
    else:
        while await reader.read(1 << 16):
            pass
    return status


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await _read_line(reader)
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise AnswerError(f"not an HTTP status line: {line[:40]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = await _read_line(reader)
        if not line:
            return int(parts[1]), headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raise AnswerError(f"more than {MAX_HEADERS} header lines")


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """One CRLF-ended line without its ending; ``AnswerError`` if the answer ends first."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        raise AnswerError("the answer ended early") from exc
    except asyncio.LimitOverrunError as exc:
        raise AnswerError(f"a line longer than {MAX_LINE} bytes") from exc
    return line.rstrip(b"\r\n")


async def _discard(reader: asyncio.StreamReader, size: int) -> None:
    while size > 0:
        chunk = await reader.read(min(size, 1 << 16))
        if not chunk:
            raise AnswerError("the answer ended early")
        size -= len(chunk)


@dataclass
class _Hook:
    config: Webhook
    queue: collections.deque = field(default_factory=collections.deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    told_ahead: set[str] = field(default_factory=set)
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    dropped: int = 0
    posting: bool = False  # a POST of this hook is under way


class WebhookDispatcher:
    """Feeds each configured hook's queue and delivers it; ``start`` and ``stop`` with the server."""

    def __init__(self, hooks: list[Webhook], hall_id: str):
        self.hall_id = hall_id
        self.hooks = [_Hook(config=h) for h in hooks]
        self._tasks: list[asyncio.Task] = []
        self._progress = asyncio.Event()  # set after each delivery's outcome
        self._stopping = False
        self._tls: ssl.SSLContext | None = None  # made at the first https:// POST

    @property
    def ahead_at(self) -> int:
        """The largest ``ahead_at`` of the hooks that want ``ahead`` (0: nobody does)."""
        return max((h.config.ahead_at for h in self.hooks if "ahead" in h.config.events), default=0)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._deliver_all(hook), name=f"webhook-{i}")
            for i, hook in enumerate(self.hooks)
        ]

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop delivering, in at most about ``grace_s`` whatever the receivers do: a POST under
        way may finish within it, then is cancelled; waiting and queued deliveries are dropped
        (the event log keeps the events)."""
        self._stopping = True
        busy = [t for t, h in zip(self._tasks, self.hooks, strict=True) if h.posting]
        for task in self._tasks:
            if task not in busy:
                task.cancel()
        if busy:
            await asyncio.wait(busy, timeout=grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        lost = sum(len(h.queue) for h in self.hooks)
        if lost:
            log.info("webhooks stopped with %d deliveries not sent", lost)

    def feed(self, events: list[V.Event], ahead: dict[str, dict[str, Any]] | None = None) -> None:
        """Queue the payloads of one committed batch. Never blocks, never raises on a full queue."""
        if any(isinstance(ev, V.DayOpened) for ev in events):
            for hook in self.hooks:
                hook.told_ahead.clear()
        batch = payloads(self.hall_id, events, None)
        for hook in self.hooks:
            wanted = set(hook.config.events)
            items = [p for p in batch if p["event"] in wanted]
            if "ahead" in wanted and "issued" in wanted:
                # A ticket issued with few enough ahead already heard the count at issue.
                hook.told_ahead.update(
                    p["ticket"]["id"]
                    for p in batch
                    if p["event"] == "issued" and p["ticket"]["ahead"] <= hook.config.ahead_at
                )
            if "ahead" in wanted and ahead:
                due = {
                    tid: info
                    for tid, info in ahead.items()
                    if info["ahead"] <= hook.config.ahead_at and tid not in hook.told_ahead
                }
                hook.told_ahead.update(due)
                items += payloads(self.hall_id, [], due)
            for item in items:
                if len(hook.queue) >= hook.config.queue_size:
                    hook.queue.popleft()
                    hook.dropped += 1
                    log.warning("webhook %s is behind: dropped a delivery", hook.config.url)
                hook.queue.append(item)
            if items:
                hook.ready.set()

    async def _deliver_all(self, hook: _Hook) -> None:
        while not self._stopping:
            while not hook.queue:
                hook.ready.clear()
                await hook.ready.wait()
            item = hook.queue.popleft()
            await self._deliver(hook, item)

    async def _deliver(self, hook: _Hook, item: dict[str, Any]) -> bool:
        body = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
        if hook.config.url.startswith("https:") and self._tls is None:
            self._tls = ssl.create_default_context()
        for attempt in range(1, hook.config.max_attempts + 1):
            hook.posting = True
            try:
                status = await post(hook.config, item, body, self._tls)
            except TimeoutError:
                status, why = None, f"no whole answer within {hook.config.timeout_s} s"
            except Exception as exc:  # refused, reset, garbled: all a failed attempt
                status, why = None, f"{type(exc).__name__}: {exc}"
            else:
                why = f"HTTP {status}"
            finally:
                hook.posting = False
            if status is not None and 200 <= status < 300:
                hook.delivered += 1
                self._progress.set()
                return True
            hook.failed_attempts += 1
            self._progress.set()
            if self._stopping:
                return False
            if attempt == hook.config.max_attempts:
                break
            delay = backoff(attempt, hook.config.backoff_s)
            log.info("webhook %s: %s failed (%s); retry in %.1f s",
                     hook.config.url, item["id"], why, delay)  # fmt: skip
            await asyncio.sleep(delay)
        hook.given_up += 1
        self._progress.set()
        log.warning("webhook %s: gave up %s after %d attempts",
                    hook.config.url, item["id"], hook.config.max_attempts)  # fmt: skip
        return False

    async def wait_until(self, predicate) -> list[dict[str, Any]]:
        """Wait until ``predicate(self.stats())`` holds (for tests and shutdown); the stats."""
        while not predicate(self.stats()):
            self._progress.clear()
            await self._progress.wait()
        return self.stats()

    def stats(self) -> list[dict[str, Any]]:
        return [
            {"url": h.config.url, "queued": len(h.queue), "delivered": h.delivered,
             "failed_attempts": h.failed_attempts, "given_up": h.given_up, "dropped": h.dropped}
            for h in self.hooks
        ]  # fmt: skip
