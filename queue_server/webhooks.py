"""Webhooks: signed HTTP POSTs of ticket events to an external notifier (SMS, WeChat gateway).

Configured in the hall config (``[[webhooks]]``: url, secret, events, ...; see
``queue_server.config.Webhook``); the payload and the signature are in docs/webhooks.md.

The hall never waits on a notifier. After each committed batch the server calls ``feed`` (plain,
synchronous, no I/O): it turns the batch's events into payloads and appends them to each hook's
bounded queue, dropping the oldest when a hook falls too far behind. One asyncio task per hook
delivers its queue in order, each POST in a thread of the dispatcher's own pool (urllib, with the
hook's timeout), retrying a failure (connection error, timeout, any non-2xx answer) with
exponential backoff up to ``max_attempts``, then giving that delivery up and going on.

Events (the names used in ``events``): ``issued`` (ticket_issued), ``ahead`` (once per ticket,
when ``ahead_at`` or fewer people are ahead of it), ``called`` (ticket_called and
ticket_recalled), ``done`` (ticket_finished). Payloads carry ticket numbers, services and windows
only: no resident key, no name, no document number.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from queue_server.config import Webhook
from queue_server.engine import events as V

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Yikou-Signature"
EVENT_HEADER = "X-Yikou-Event"
DELIVERY_HEADER = "X-Yikou-Delivery"
MAX_BACKOFF_S = 300.0


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


class WebhookDispatcher:
    """Feeds each configured hook's queue and delivers it; ``start`` and ``stop`` with the server."""

    def __init__(self, hooks: list[Webhook], hall_id: str):
        self.hall_id = hall_id
        self.hooks = [_Hook(config=h) for h in hooks]
        self._tasks: list[asyncio.Task] = []
        self._progress = asyncio.Event()  # set after each delivery's outcome
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max(1, len(hooks)), thread_name_prefix="webhook"
        )

    @property
    def ahead_at(self) -> int:
        """The largest ``ahead_at`` of the hooks that want ``ahead`` (0: nobody does)."""
        return max((h.config.ahead_at for h in self.hooks if "ahead" in h.config.events), default=0)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._deliver_all(hook), name=f"webhook-{i}")
            for i, hook in enumerate(self.hooks)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        # A POST hanging in a thread ends by its own timeout; nobody waits for it.
        self._pool.shutdown(wait=False, cancel_futures=True)

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
        while True:
            while not hook.queue:
                hook.ready.clear()
                await hook.ready.wait()
            item = hook.queue.popleft()
            await self._deliver(hook, item)

    async def _deliver(self, hook: _Hook, item: dict[str, Any]) -> bool:
        body = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
        loop = asyncio.get_running_loop()
        for attempt in range(1, hook.config.max_attempts + 1):
            try:
                status = await loop.run_in_executor(self._pool, self._post, hook.config, item, body)
            except Exception as exc:  # refused, reset, timed out: all are a failed attempt
                status, why = None, f"{type(exc).__name__}: {exc}"
            else:
                why = f"HTTP {status}"
            if status is not None and 200 <= status < 300:
                hook.delivered += 1
                self._progress.set()
                return True
            hook.failed_attempts += 1
            self._progress.set()
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

    @staticmethod
    def _post(config: Webhook, item: dict[str, Any], body: bytes) -> int:
        request = urllib.request.Request(
            config.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "yikou-webhooks/1",
                SIGNATURE_HEADER: sign(config.secret, body),
                EVENT_HEADER: item["event"],
                DELIVERY_HEADER: item["id"],
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

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
