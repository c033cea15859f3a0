"""The queue server: websocket + HTTP on one port, every terminal and phone talks to it.

    python main.py server --config PATH [--host H] [--port P] [--db URL]

Shape (the websockets library's asyncio server around our sans-I/O engine):

- ``HallActor`` owns the Store. Every engine and database access runs on its one thread, in
  order; commands arriving together are committed together (group commit) and nobody hears of a
  result before its transaction committed.
- A hung database never hangs a terminal: a command or query is answered, or refused as
  ``unavailable``, within ``[server] command_timeout_s``; a command whose caller gave up before
  its batch began is dropped, and one that was already running is found again by its request
  key (``storage.Replayed``). /healthz pings on a thread of its own, within its own deadline.
- After each batch the server publishes the batch's events, each with its hall-wide ``seq``, to
  the subscribers of each stream, projected for that stream's audience (``queue_server.views``).
  Writes go straight to each connection's transport, as ``websockets.broadcast`` does, so a
  publish never waits on a client; a client whose unsent buffer passes ``MAX_BUFFER`` is dropped
  and resumes by seq when it reconnects.
- A reconnecting client subscribes with the last seq it saw and gets exactly the events after
  it: from the recent-events ring, else (after a restart, or further back) from the event log,
  and only when more than RECENT_EVENTS behind (or the log cannot say) a fresh snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import datetime as dt
import hashlib
import itertools
import json
import logging
import signal
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import prometheus_client as prom
from pydantic import ValidationError
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from queue_server import protocol as P
from queue_server import stats as stats_mod
from queue_server import views
from queue_server.auth import verify_secret
from queue_server.config import HallConfig, load_hall_config, tls_context
from queue_server.engine import events as V
from queue_server.errors import ConfigError, EngineError, SchemaVersionError, StorageError
from queue_server.identity import resident_key
from queue_server.privacy import FormUnreadable
from queue_server.protocol import commands as C
from queue_server.protocol.payloads import (
    AppointmentBooking,
    BookableDaysResult,
    CommandResult,
    CounterStatsResult,
    DayStats,
    MaterialsOnFileResult,
    ReplyResult,
    ResidentSnapshot,
    ServicesResult,
    ServiceStatus,
    Slot,
    SlotsResult,
    SnapshotResult,
    StatsResult,
    StreamState,
    SubscribeResult,
    TicketFormResult,
    TicketResult,
    TicketView,
)
from queue_server.protocol.states import TicketState
from queue_server.storage import Replayed, Store
from queue_server.tokens import TokenError, make_token, read_token
from queue_server.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

SERVER_VERSION = "0.1.0"
WEB_DIR = Path(__file__).parent / "web"
MAX_BUFFER = 1 << 20  # unsent bytes a client may owe before it is dropped
RECENT_EVENTS = 50_000  # events kept for resuming clients
MAX_STRIKES = 300  # messages refused by the rate limit before the connection is closed
BATCH_MAX = 256
HELLO_TIMEOUT = 10.0

ROLE_COMMANDS: dict[str, set[str]] = {
    "kiosk": {"issue_ticket", "check_in", "book_appointment", "cancel_appointment"},
    "navigator": {"book_appointment", "cancel_appointment", "check_in"},
    "signage": set(),
    "counter": {
        "call_next",
        "call_ticket",
        "recall",
        "start",
        "finish",
        "no_show",
        "transfer",
        "requeue",
        "pause",
        "resume",
        "open_counter",
        "close_counter",
        "issue_ticket",
    },
    "resident": {"cancel_ticket"},
    # The residents' web channel (/book): book and cancel in the name of the document sent.
    "web": {"book_appointment", "cancel_appointment"},
}
ROLE_STREAMS: dict[str, set[str]] = {
    "kiosk": {"public"},
    "navigator": {"public"},
    "signage": {"public"},
    "counter": {"public", "counter"},
    "manager": {"public", "counter", "manager"},
    "resident": {"public", "resident"},
    "web": {"public"},
}
ROLE_QUERIES: dict[str, set[str]] = {
    "kiosk": {"snapshot", "ticket", "slots", "services", "bookable_days", "materials_on_file"},
    "navigator": {"snapshot", "ticket", "slots", "services", "bookable_days", "materials_on_file"},
    "signage": {"snapshot", "services"},
    # ticket_form and materials_on_file: only for the ticket this window called or serves
    # (HallActor._served_here); a window asks for materials by ticket, never by document.
    "counter": {"snapshot", "ticket", "services", "stats", "ticket_form", "materials_on_file"},
    # Not ticket_form nor materials_on_file: a resident's form and papers are for the window
    # serving them, not for oversight (PIPL's "minimum necessary").
    "manager": {"snapshot", "ticket", "slots", "services", "bookable_days", "stats"},
    "resident": {"snapshot", "ticket", "services", "slots", "bookable_days"},
    "web": {"services", "slots", "bookable_days"},
}
# Roles that may submit a resident's form with issue_ticket: the self-service kiosk (the
# navigator books and checks in; it issues no tickets, so it has no form to send).
FORM_ROLES = {"kiosk"}
# Sessions that act for whoever stands before them (a terminal, anyone on the web): a
# cancel_appointment must prove the resident (_cancel_refusal).
PROOF_ROLES = {"kiosk", "navigator", "web"}
# Roles that may file materials for the ticket they serve (the file_materials message).
FILE_ROLES = {"counter"}
# Web-channel commands one address may send in WEB_COMMAND_WINDOW_S (bookings, cancellations).
WEB_COMMAND_LIMIT = 20
WEB_COMMAND_WINDOW_S = 600.0
# Commands that carry a counter: a counter session may only give its own.
_COUNTER_BOUND = ROLE_COMMANDS["counter"] - {"requeue", "issue_ticket"}


def _all_command_types() -> set[str]:
    union = typing.get_args(C.Command)[0]
    return {cls.model_fields["type"].default for cls in typing.get_args(union)}


ROLE_COMMANDS["manager"] = _all_command_types()


# --- the hall's one thread ------------------------------------------------------------------------


@dataclass
class BatchResult:
    outcomes: list[list[V.Event] | EngineError]
    seq: int
    status: list[ServiceStatus]
    residents: dict[str, TicketView]
    issued: dict[str, TicketView]  # ticket id -> view, for tickets this batch issued
    waits: list[float]
    committed_at: float
    # For the webhooks' "ahead": waiting tickets with at most HallActor.ahead_limit ahead.
    ahead: dict[str, dict[str, Any]] = field(default_factory=dict)


class HallActor:
    """Runs the Store on a single thread: engine state is only ever touched there."""

    def __init__(self, store: Store, timeout_s: float | None = None):
        self.store = store
        self.timeout_s = timeout_s  # for call(); None: wait as long as the thread takes
        self.secret = store.config.security.resident_key_secret
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hall")
        self.ahead_limit = 0  # > 0 when a webhook wants "ahead" notices
        self._day_events: list[V.Event] = []  # today's events, for statistics
        self._day_seq: int | None = None  # the last seq read into _day_events

    async def call(self, fn, *args):
        """``fn(*args)`` on the hall's thread; StorageError when it has not answered within
        ``timeout_s`` (the database hangs, or the thread still waits on it for an earlier job;
        a job not begun by then is dropped)."""
        flight = self.run(fn, *args)
        if self.timeout_s is None:
            return await flight
        try:
            async with asyncio.timeout(self.timeout_s):
                return await flight
        except TimeoutError:
            raise StorageError(f"no answer from the database within {self.timeout_s:g} s") from None

    def run(self, fn, *args) -> asyncio.Future:
        """``fn(*args)`` on the hall's thread, however long it takes (the group commit: a batch
        that commits late is still published)."""
        return asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def run_batch(
        self,
        commands: list[C.Command],
        watched: list[str],
        forms: list[dict[str, Any] | None] | None = None,
        keys: list[str | None] | None = None,
    ) -> BatchResult:
        store = self.store
        outcomes = store.execute_batch(commands, forms=forms, keys=keys)
        committed_at = time.perf_counter()
        hall = store.hall
        now = store.clock()
        issued: dict[str, TicketView] = {}
        waits: list[float] = []
        for outcome in outcomes:
            if isinstance(outcome, EngineError):
                continue
            for ev in outcome:
                if isinstance(ev, V.TicketIssued) and ev.ticket.id in hall.tickets:
                    # The estimate the resident was told at issue, as the event recorded it.
                    view = views.ticket_view(hall, hall.tickets[ev.ticket.id], now)
                    issued[ev.ticket.id] = view.model_copy(
                        update={"ahead": ev.ahead, "estimated_wait_s": ev.estimated_wait_s}
                    )
                elif (
                    isinstance(ev, V.TicketCalled)
                    and ev.ticket_id in hall.tickets
                    and not isinstance(outcome, Replayed)
                ):
                    ticket = hall.tickets[ev.ticket_id]
                    waits.append((ev.at - ticket.queued_at).total_seconds())
        residents = {
            tid: views.ticket_view(hall, hall.tickets[tid], now)
            for tid in watched
            if tid in hall.tickets
        }
        return BatchResult(
            outcomes=outcomes,
            seq=hall.seq,
            status=views.services_status(hall, now),
            residents=residents,
            issued=issued,
            waits=waits,
            committed_at=committed_at,
            ahead=self._safe_ahead(outcomes, now) if self.ahead_limit else {},
        )

    def _safe_ahead(self, outcomes: list, now: dt.datetime) -> dict[str, dict[str, Any]]:
        # After the commit: a fault here must not turn a committed batch into a failure.
        try:
            return self._ahead(outcomes, now)
        except Exception:
            log.exception("computing the webhooks' ahead counts failed")
            return {}

    def _ahead(self, outcomes: list, now: dt.datetime) -> dict[str, dict[str, Any]]:
        events = _new_events(outcomes)
        if not events:
            return {}
        hall = self.store.hall
        last = max(events, key=lambda ev: ev.seq)
        out: dict[str, dict[str, Any]] = {}
        for ticket in hall.waiting_within(self.ahead_limit):  # not a walk of the whole queue
            ahead, wait = hall.estimate(ticket, now)
            if ahead <= self.ahead_limit:
                out[ticket.id] = {
                    "number": ticket.number, "service": ticket.service, "ahead": ahead,
                    "estimated_wait_s": None if wait is None else round(wait, 1),
                    "seq": last.seq, "at": last.at,
                }  # fmt: skip
        return out

    def today_events(self) -> list[V.Event]:
        """Today's events from the log (read once, then only what is new)."""
        store = self.store
        if self._day_seq is None:
            self._day_seq = self._day_start_seq()
            self._day_events = []
        new = store.events_since(self._day_seq)
        for ev in new:
            if isinstance(ev, V.DayOpened):
                self._day_events = []
            self._day_events.append(ev)
        if new:
            self._day_seq = new[-1].seq
        return self._day_events

    def _day_start_seq(self) -> int:
        """The seq just before today's day_opened (0 when the log has none)."""
        from sqlalchemy import func, select

        from queue_server.storage import EventRow

        table = EventRow.__table__
        with self.store._reader() as conn:
            seq = conn.execute(
                select(func.max(table.c.seq)).where(
                    table.c.hall_id == self.store.hall_id, table.c.type == "day_opened"
                )
            ).scalar()
            conn.rollback()
        return max(0, (seq or 1) - 1)

    def day_stats(self) -> dict[str, Any]:
        return stats_mod.day_stats(self.today_events(), self.store.clock())

    def query(
        self,
        name: str,
        role: str,
        msg: P.Query,
        own_ticket: str | None,
        counter: int | None = None,
    ) -> ReplyResult:
        hall = self.store.hall
        now = self.store.clock()
        if name == "snapshot":
            if role == "manager":
                return SnapshotResult(seq=hall.seq, state=views.manager_snapshot(hall, now))
            return SnapshotResult(seq=hall.seq, state=views.public_snapshot(hall, now))
        if name == "services":
            return ServicesResult(seq=hall.seq, services=views.services_status(hall, now))
        if name == "ticket":
            ref = own_ticket if role == "resident" else msg.ticket
            if not ref:
                raise _QueryError("bad_query", field="ticket")
            ticket = hall.ticket(ref)
            staff = role in ("counter", "manager")
            return TicketResult(
                seq=hall.seq, ticket=views.ticket_view(hall, ticket, now, full=staff)
            )
        if name == "bookable_days":
            return BookableDaysResult(days=hall.bookable_days(now))
        if name == "stats":
            figures = self.day_stats()
            if role == "counter":
                return CounterStatsResult.model_validate(stats_mod.counter_stats(figures, counter))
            return StatsResult(
                stats=DayStats.model_validate(figures), csv=stats_mod.to_csv(figures)
            )
        if name == "ticket_form":
            return self.ticket_form(msg.ticket_id or msg.ticket, counter)
        if name == "materials_on_file":
            if role == "counter":
                return self.ticket_materials(msg, counter)
            if msg.resident_id is None:
                raise _QueryError("identity_required", field="resident_id")
            key = resident_key(self.secret, msg.resident_id.number, msg.resident_id.doc_type)
            return MaterialsOnFileResult(materials=self.store.materials_on_file(key, now))
        if name == "slots":
            if not msg.service or not msg.day:
                raise _QueryError("bad_query", field="service, day")
            try:
                slots = hall.slots(msg.service, msg.day)
            except OverflowError:  # a day at the end of the calendar
                raise _QueryError("bad_query", field="day") from None
            return SlotsResult(
                service=msg.service,
                day=msg.day,
                slots=[
                    Slot(start=start, end=end, free=hall.slot_free(msg.service, start))
                    for start, end in slots
                ],
            )
        raise _QueryError("bad_query", field="query")

    def _served_here(self, ref: str | None, counter: int | None):
        """The ticket ``ref`` if it is called at, or being served by, window ``counter``."""
        if not ref:
            raise _QueryError("bad_query", field="ticket_id")
        ticket = self.store.hall.ticket(ref)
        here = ticket.state in (TicketState.CALLED, TicketState.SERVING)
        if not here or counter is None or ticket.counter != counter:
            raise _QueryError("form_not_yours", ticket=ticket.number)
        return ticket

    def ticket_form(self, ref: str | None, counter: int | None) -> TicketFormResult:
        ticket = self._served_here(ref, counter)
        try:
            stored = self.store.ticket_form(ticket.id)
        except FormUnreadable:
            log.warning("the form of ticket %s does not open with this hall's key", ticket.id)
            raise _QueryError("form_unreadable", ticket=ticket.number) from None
        if stored is None:
            raise _QueryError("form_not_found", ticket=ticket.number)
        form = stored["form"]
        return TicketFormResult(
            ticket_id=ticket.id,
            service_id=stored["service"],
            fields=form.get("fields", {}),
            materials=form.get("materials", []),
            submitted_at=stored["submitted_at"].astimezone(self.store.config.zone),
        )

    def ticket_materials(self, msg: P.Query, counter: int | None) -> MaterialsOnFileResult:
        """A window's materials_on_file: by the resident key of the ticket it serves. A window
        never holds the clear document number, and may not look a resident up by one."""
        if msg.resident_id is not None:
            raise _QueryError("forbidden", field="resident_id")
        ticket = self._served_here(msg.ticket_id or msg.ticket, counter)
        if not ticket.resident_key:
            # Said, not an empty list: the console then knows it cannot file either.
            raise _QueryError("no_resident", ticket=ticket.number)
        return MaterialsOnFileResult(
            ticket_id=ticket.id,
            materials=self.store.materials_on_file(ticket.resident_key, self.store.clock()),
        )

    def file_materials(self, ref: str, materials: list[str], counter: int | None) -> dict:
        ticket = self._served_here(ref, counter)
        if not ticket.resident_key:
            raise _QueryError("no_resident", ticket=ticket.number)
        now = self.store.clock()
        self.store.file_materials(
            resident_key=ticket.resident_key, materials=materials, ticket_id=ticket.id,
            counter=counter, now=now,
        )  # fmt: skip
        return {
            "ticket_id": ticket.id,
            "materials": self.store.materials_on_file(ticket.resident_key, now),
        }

    def purge_private(self) -> dict[str, int]:
        return self.store.purge_private()

    def snapshot(
        self, stream: str, role: str, counter: int | None, ticket: str | None
    ) -> tuple[int, StreamState]:
        hall = self.store.hall
        now = self.store.clock()
        if stream == "manager":
            return hall.seq, views.manager_snapshot(hall, now)
        if stream == "resident":
            t = hall.tickets.get(ticket or "")
            return hall.seq, ResidentSnapshot(ticket=views.ticket_view(hall, t, now) if t else None)
        if stream == "counter":
            return hall.seq, views.counter_snapshot(hall, counter)
        return hall.seq, views.public_snapshot(hall, now)

    def events_after(self, seq: int, limit: int) -> list[V.Event] | None:
        """The committed events after ``seq`` from the log, or None when there are more than
        ``limit`` of them or the log cannot give exactly those (a snapshot is then due)."""
        latest = self.store.hall.seq
        if seq > latest or latest - seq > limit:
            return None
        try:
            events = self.store.events_since(seq, limit=latest - seq)
        except Exception as exc:  # the database is down: the snapshot is in memory
            log.warning("cannot read the event log to resume a client: %s", exc)
            return None
        if [ev.seq for ev in events] != list(range(seq + 1, latest + 1)):
            return None
        return events

    def ticket_exists(self, ticket_id: str) -> bool:
        return ticket_id in self.store.hall.tickets

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = collections.Counter(
            t.state.value for t in self.store.hall.tickets.values()
        )
        return dict(out)

    def ping(self) -> bool:
        return self.store.ping()

    def purge_request_keys(self) -> int:
        return self.store.purge_request_keys()

    def close(self) -> None:
        self.store.close()
        self.executor.shutdown(wait=True)


class _QueryError(Exception):
    """A refusal of a query (or of file_materials) with a protocol error code."""

    def __init__(self, code: str, **details: Any):
        self.code = code
        self.details = details


# --- connections -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    role: str | None = None
    name: str = ""
    counter: int | None = None
    ticket_id: str | None = None
    lang: str = "zh"
    streams: set[str] = field(default_factory=set)
    sent_seq: dict[str, int] = field(default_factory=dict)
    last_ticket_json: str = ""
    tokens: float = 60.0
    refilled: float = field(default_factory=time.monotonic)
    strikes: int = 0

    RATE = 30.0  # messages a second, sustained
    BURST = 60.0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.BURST, self.tokens + (now - self.refilled) * self.RATE)
        self.refilled = now
        if self.tokens >= self.BURST - 1:
            # Quiet long enough to refill the whole burst: past floods are forgiven. (Not on
            # every allowed message: a flood gets one through per refill and would never be
            # cut off.)
            self.strikes = 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.strikes += 1
        return False


class LoginFailures:
    """Failures per key in a sliding window; ``blocked`` once a key has ``LIMIT`` of them."""

    LIMIT = 20
    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._seen: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str) -> collections.deque[float]:
        times = self._seen.setdefault(key, collections.deque())
        horizon = time.monotonic() - self.WINDOW_S
        while times and times[0] < horizon:
            times.popleft()
        if not times:
            self._seen.pop(key, None)
        return times

    def count(self, key: str) -> int:
        return len(self._recent(key))

    def blocked(self, key: str) -> bool:
        return self.count(key) >= self.LIMIT

    def record(self, key: str) -> None:
        self._recent(key)
        self._seen.setdefault(key, collections.deque()).append(time.monotonic())


class AddressBudget(LoginFailures):
    """At most ``limit`` actions per address in a sliding ``window_s`` (the web channel's
    bookings and cancellations: anyone may open the page, nobody may book the hall full)."""

    def __init__(self, limit: int, window_s: float) -> None:
        super().__init__()
        self.LIMIT, self.WINDOW_S = limit, window_s


class LoginThrottle:
    """Slows password and device-token guessing without locking anyone out.

    Failed logins are counted per address (``ADDRESS_LIMIT`` a minute) and per credential (the
    device id or staff login, ``CREDENTIAL_LIMIT`` a minute). While a key is over its limit its
    logins are not refused but checked one at a time, ``SPACING_S`` apart, in arrival order: a
    correct password still gets in after its turn, while guessing drops to one try a second per
    address and per login (and so does the scrypt work a guesser can make the server do). A
    login that would wait more than ``MAX_WAIT_S`` is refused with ``rate_limited`` and its
    ``retry_after``. Credentials this server has verified before (its cache) never wait, so the
    terminals and staff behind one NAT are not held up by a guesser among them; resident tokens
    (an HMAC, nothing to guess) and the web channel are not throttled at all."""

    ADDRESS_LIMIT = 20
    CREDENTIAL_LIMIT = 10
    WINDOW_S = 60.0
    SPACING_S = 1.0
    MAX_WAIT_S = 30.0

    def __init__(self) -> None:
        self._failures = LoginFailures()
        self._failures.WINDOW_S = self.WINDOW_S
        self._next_free: dict[str, float] = {}

    def _over(self, key: str) -> bool:
        limit = self.ADDRESS_LIMIT if key.startswith("address:") else self.CREDENTIAL_LIMIT
        return self._failures.count(key) >= limit

    def reserve(self, keys: tuple[str, ...]) -> float | None:
        """Seconds this login must wait before its check (0: at once); None: refuse it."""
        now = time.monotonic()
        for key in [k for k, t in self._next_free.items() if t < now]:
            del self._next_free[key]  # their lane is idle again
        hot = [key for key in keys if self._over(key)]
        if not hot:
            return 0.0
        slot = max(now, *(self._next_free.get(key, now) for key in hot))
        if slot - now > self.MAX_WAIT_S:
            return None
        for key in hot:
            self._next_free[key] = slot + self.SPACING_S
        return slot - now

    def failed(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.record(key)


def _address(ws: ServerConnection) -> str:
    peer = ws.remote_address
    return str(peer[0]) if peer else "?"


def _json(model) -> str:
    return model.model_dump_json(exclude_none=False)


def _event_json(ev: V.Event, staff: bool) -> dict[str, Any]:
    """An event in a command's reply: whole for staff, else its public view (a bare type and
    seq where the public sees nothing of it)."""
    view = views.manager_event(ev) if staff else views.public_event(ev)
    if view is None:
        return {"type": ev.type, "seq": ev.seq}
    return view.model_dump(mode="json")


def _frame(text: str) -> bytes:
    """One text frame whose bytes suit every connection, so a fan-out frames a message once.

    Server frames are unmasked, and it is left uncompressed: RFC 7692 lets a sender skip
    compression per message even where permessage-deflate was negotiated, and compressing for
    each subscriber (its own zlib context) was most of the cost of a fan-out to 2,000 screens.
    """
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class QueueServer:
    def __init__(
        self,
        config: HallConfig,
        store: Store,
        *,
        host: str | None = None,
        port: int | None = None,
    ):
        self.config = config
        self.actor = HallActor(store, config.server.command_timeout_s)
        # /healthz pings here, not on the hall's thread, which may be waiting on the database.
        self._probe = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="healthz")
        self._ping: asyncio.Future | None = None
        self.host = host if host is not None else config.server.host
        self.port = port if port is not None else config.server.port
        self.secret = config.security.resident_key_secret
        self.seq = store.hall.seq
        self.clients: set[Client] = set()
        self.subscribers: dict[str, set[Client]] = {
            s: set() for s in ("public", "counter", "manager", "resident")
        }
        self.recent: collections.deque[V.Event] = collections.deque(maxlen=RECENT_EVENTS)
        self.pending: asyncio.Queue | None = None
        self._auth_cache: dict[tuple[str, str], str] = {}
        self._logins = LoginThrottle()
        self._web_commands = AddressBudget(WEB_COMMAND_LIMIT, WEB_COMMAND_WINDOW_S)
        # Device terminals and the health of their parts as last reported (device_status).
        self.devices: dict[str, dict[str, Any]] = {
            d.id: {"terminal": d.id, "role": d.role, "connected": False, "since": None,
                   "parts": {}}
            for d in config.devices
        }  # fmt: skip
        self.webhooks = (
            WebhookDispatcher(config.webhooks, config.hall.id) if config.webhooks else None
        )
        if self.webhooks is not None:
            self.actor.ahead_limit = self.webhooks.ahead_at
        self._auth_checks: dict[tuple[tuple[str, str], str], asyncio.Future[bool]] = {}
        self._started = time.monotonic()
        self._tasks: list[asyncio.Task] = []
        self._server = None
        self.registry = prom.CollectorRegistry()
        self.m_commands = prom.Counter(
            "yikou_commands", "Commands by type and outcome", ["type", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.m_connections = prom.Gauge(
            "yikou_connections", "Open connections by role", ["role"], registry=self.registry
        )
        self.m_wait = prom.Histogram(
            "yikou_wait_seconds", "Wait from queueing to call",
            buckets=(60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200),
            registry=self.registry,
        )  # fmt: skip
        self.m_publish = prom.Histogram(
            "yikou_publish_seconds", "From commit to the last subscriber's write",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1),
            registry=self.registry,
        )  # fmt: skip
        self.m_tickets = prom.Gauge(
            "yikou_tickets", "Today's tickets by state", ["state"], registry=self.registry
        )
        self.m_seq = prom.Gauge("yikou_seq", "Last event seq", registry=self.registry)

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.pending = asyncio.Queue()
        tls = tls_context(self.config.server)  # ConfigError if the files cannot be used
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._http,
            max_size=1 << 20,  # above our own limit, so we can answer "too_large" ourselves
            max_queue=64,
            ping_interval=20,
            ping_timeout=20,
            ssl=tls,
            server_header=f"yikou/{SERVER_VERSION}",
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        # Forms and filed materials that passed their retention while the server was down go
        # before anyone can ask for them.
        await self.purge_private()
        self._tasks = [
            asyncio.create_task(self._writer(), name="writer"),
            asyncio.create_task(self._ticker(), name="ticker"),
        ]
        if self.webhooks is not None:
            self.webhooks.start()
        log.info("queue server for %s on %s:%s", self.config.hall.id, self.host, self.port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        # The port closes at once; connections say goodbye while the webhooks' last POSTs get
        # their short grace, side by side.
        closing = []
        if self._server is not None:
            self._server.close()
            closing.append(self._server.wait_closed())
        if self.webhooks is not None:
            closing.append(self.webhooks.stop())
        await asyncio.gather(*closing)
        self._probe.shutdown(wait=False, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, self.actor.close)

    async def serve_forever(self) -> None:
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await self.stop()

    # --- commands: group commit -------------------------------------------------------------

    async def submit(
        self, command: C.Command, form: dict[str, Any] | None = None, key: str | None = None
    ) -> tuple[list[V.Event] | EngineError, BatchResult]:
        """Queue a command for the next group commit; its outcome once committed. ``form``: a
        resident's form, stored under the ticket an ``issue_ticket`` issues, in the same
        transaction. ``key``: its request key (``_request_key``). Cancelled before its batch
        begins (the caller gave up), the command is not run at all."""
        future = asyncio.get_running_loop().create_future()
        await self.pending.put((command, future, form, key))
        return await future

    async def _writer(self) -> None:
        while True:
            batch = [await self.pending.get()]
            while not self.pending.empty() and len(batch) < BATCH_MAX:
                batch.append(self.pending.get_nowait())
            # Nobody waits for these any more (answered `unavailable`): they never happen.
            batch = [entry for entry in batch if not entry[1].done()]
            if not batch:
                continue
            watched = [c.ticket_id for c in self.subscribers["resident"] if c.ticket_id]
            forms = [form for _, _, form, _ in batch]
            keys = [key for _, _, _, key in batch]
            try:
                result = await self.actor.run(
                    self.actor.run_batch,
                    [cmd for cmd, _, _, _ in batch],
                    watched,
                    forms if any(f is not None for f in forms) else None,
                    keys if any(k is not None for k in keys) else None,
                )
            except Exception as exc:  # the database is down: every caller hears it
                # Only the error's text: never the commands (a form could be among them).
                log.error("batch of %d commands failed: %s", len(batch), exc)
                for _, future, _, _ in batch:
                    if not future.done():
                        future.set_exception(
                            exc if isinstance(exc, StorageError) else StorageError(str(exc))
                        )
                continue
            self._publish(result)
            if self.webhooks is not None:
                self._feed_webhooks(result)
            for (cmd, future, _, _), outcome in zip(batch, result.outcomes, strict=True):
                self.m_commands.labels(cmd.type, _outcome_label(outcome)).inc()
                if not future.done():
                    future.set_result((outcome, result))

    def _feed_webhooks(self, result: BatchResult) -> None:
        events = _new_events(result.outcomes)
        events.sort(key=lambda ev: ev.seq)
        try:
            self.webhooks.feed(events, result.ahead)
        except Exception:  # a notifier's bug must never stop the hall
            log.exception("feeding the webhooks failed")

    async def _ticker(self) -> None:
        # The first tick at once: a fresh server opens the day before any terminal asks. The
        # housekeeping after each: forms and filed materials past their retention go, and
        # request keys too old for any retry.
        while True:
            try:
                await self.submit(C.Tick())
            except StorageError as exc:
                log.warning("tick failed: %s", exc)
            await asyncio.sleep(self.config.server.tick_seconds)
            await self.purge_private()
            try:
                await self.actor.call(self.actor.purge_request_keys)
            except StorageError as exc:
                log.warning("purging old request keys failed: %s", exc)

    async def purge_private(self) -> dict[str, int]:
        """Delete residents' forms and filed materials past their retention ([privacy])."""
        try:
            gone = await self.actor.call(self.actor.purge_private)
        except StorageError as exc:
            log.warning("purging expired forms failed: %s", exc)
            return {"forms": 0, "materials": 0}
        if any(gone.values()):
            log.info(
                "purged %d expired forms, %d filed materials", gone["forms"], gone["materials"]
            )
        return gone

    # --- publishing --------------------------------------------------------------------------

    def _publish(self, result: BatchResult) -> None:
        events = _new_events(result.outcomes)
        events.sort(key=lambda ev: ev.seq)
        public: list[tuple[int, bytes]] = []
        for ev in events:
            self.recent.append(ev)
            frame = self._fan_out(ev)
            if frame is not None:
                public.append((ev.seq, frame))
        self.seq = max(self.seq, result.seq)
        if events:
            status = _frame(_json(P.Status(seq=result.seq, services=result.status)))
            self._send_public(public, status)
            for client in list(self.subscribers["resident"]):
                view = result.residents.get(client.ticket_id or "")
                if view is not None:
                    self._send_ticket(client, view, result.seq)
        for wait in result.waits:
            self.m_wait.observe(wait)
        self.m_seq.set(self.seq)
        self.m_publish.observe(time.perf_counter() - result.committed_at)

    def _fan_out(self, ev: V.Event) -> bytes | None:
        """Send ``ev`` to the manager and counter streams; return its public frame, if any."""
        frame = None
        public = views.public_event(ev)
        if public is not None and self.subscribers["public"]:
            frame = _frame(_json(P.EventMsg(stream="public", seq=ev.seq, event=public)))
        if self.subscribers["manager"]:
            text = _json(P.EventMsg(stream="manager", seq=ev.seq, event=views.manager_event(ev)))
            self._send_many(self.subscribers["manager"], text, stream="manager", seq=ev.seq)
        counter = getattr(ev, "counter", None)
        if counter is not None and self.subscribers["counter"]:
            targets = [c for c in self.subscribers["counter"] if c.counter == counter]
            if targets:
                data = views.counter_event(ev, counter)
                text = _json(P.EventMsg(stream="counter", seq=ev.seq, event=data))
                self._send_many(targets, text, stream="counter", seq=ev.seq)
        return frame

    def _send_public(self, frames: list[tuple[int, bytes]], status: bytes) -> None:
        """A batch's public events, then its status, in ONE write per subscriber: a screen
        wakes once per call instead of once per message."""
        whole = b"".join(frame for _, frame in frames) + status
        first, last = (frames[0][0], frames[-1][0]) if frames else (0, 0)
        for client in list(self.subscribers["public"]):
            sent = client.sent_seq.get("public", -1)
            if frames:
                if sent < first:
                    data = whole
                else:  # it was sent some of these while resuming
                    data = b"".join(f for seq, f in frames if seq > sent) + status
                client.sent_seq["public"] = max(sent, last)
            else:
                data = status
            if self._fits(client):
                client.ws.transport.write(data)

    def _send_many(self, clients, text: str, *, stream: str | None = None, seq: int = 0) -> None:
        frame = _frame(text)
        for client in list(clients):
            if stream is not None:
                if client.sent_seq.get(stream, -1) >= seq:
                    continue  # already sent while it was resuming
                client.sent_seq[stream] = seq
            if self._fits(client):
                client.ws.transport.write(frame)

    def _send(self, client: Client, text: str) -> None:
        if self._fits(client):
            broadcast([client.ws], text)

    def _fits(self, client: Client) -> bool:
        """Drop a client that cannot keep up; it will resume by seq."""
        ws = client.ws
        if ws.protocol.state is not State.OPEN:
            return False
        transport = ws.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_BUFFER:
            log.warning("dropping slow %s client %s", client.role, client.name)
            self._forget(client)
            transport.abort()
            return False
        return True

    def _send_ticket(self, client: Client, view: TicketView, seq: int) -> None:
        text = view.model_dump_json()
        if text != client.last_ticket_json:
            client.last_ticket_json = text
            self._send(client, _json(P.TicketStatus(seq=seq, ticket=view)))

    def _forget(self, client: Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self._device_presence(client, False)
            if client.role:
                self.m_connections.labels(client.role).dec()
        for subs in self.subscribers.values():
            subs.discard(client)

    # --- one connection ----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        client = Client(ws=ws)
        try:
            # Until it authenticates, a connection gets answers but only HELLO_TIMEOUT seconds.
            deadline = asyncio.get_running_loop().time() + HELLO_TIMEOUT
            while client.role is None:
                left = deadline - asyncio.get_running_loop().time()
                try:
                    raw = await asyncio.wait_for(ws.recv(), max(left, 0.001))
                except TimeoutError:
                    await ws.close(4001, "authenticate first")
                    return
                await self._on_message(client, raw)
                if client.strikes > MAX_STRIKES:
                    await self._cut_off(ws)
                    return
            async for raw in ws:
                await self._on_message(client, raw)
                if client.strikes > MAX_STRIKES:  # ignores every rate-limit answer: cut it off
                    await self._cut_off(ws)
                    return
        except ConnectionClosed:
            pass
        except Exception:  # a bug in one connection must not take the server down
            log.exception("connection of %s %s failed", client.role, client.name)
        finally:
            self._forget(client)

    @staticmethod
    async def _cut_off(ws: ServerConnection) -> None:
        # A flooder's unread messages fill our queue, so we stop reading and would never see
        # its answer to our close: do not wait the usual 10 s for it.
        ws.close_timeout = 1.0
        await ws.close(1008, "rate limited")

    async def _on_message(self, client: Client, raw: str | bytes) -> None:
        # The rate limit first: a flood of oversize messages is a flood too.
        if not client.allow():
            # A request is answered, so its sender can back off and retry instead of waiting
            # for a reply that never comes; anonymous floods hear it now and then.
            msg_id = _peek_id(raw)
            if msg_id is not None or client.strikes in (1, 100, 200):
                self._send(client, _json(P.error("rate_limited", msg_id)))
            return
        if len(raw) > P.MAX_MESSAGE_BYTES and not _carries_form(raw):
            self._send(client, _json(P.error("too_large", limit=P.MAX_MESSAGE_BYTES)))
            return
        try:
            data = json.loads(raw)
        except RecursionError:  # valid JSON, "[[[[..." nested deeper than we read
            self._send(client, _json(P.error("bad_message", why="nested too deep")))
            return
        except ValueError:
            self._send(client, _json(P.error("bad_json")))
            return
        if _lone_surrogate(data):
            # A "\ud800" escape decodes to text no UTF-8 encoder takes: an answer quoting it
            # (its id) could not be sent. Refused whole, without echoing anything of it.
            self._send(client, _json(P.error("bad_message", why="text is not valid Unicode")))
            return
        msg_id = _id_of(data)
        if not isinstance(data, dict) or data.get("v") != P.VERSION:
            code = (
                "unsupported_version" if isinstance(data, dict) and "v" in data else "bad_message"
            )
            self._send(client, _json(P.error(code, msg_id, supported=P.VERSION)))
            return
        try:
            # Strict: nothing is converted (true is no window number, nor "2" or 2.0). From the
            # JSON text, as strict mode reads times from JSON strings but not from Python ones.
            msg = P.CLIENT_ADAPTER.validate_json(raw, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            # Never the input itself in the answer (pydantic's msg does not carry it): a form's
            # values are a resident's personal data.
            code = "form_invalid" if first["loc"][1:2] == ("form",) else "bad_message"
            self._send(client, _json(P.error(code, msg_id, field=where, why=first["msg"])))
            return
        try:
            await self._dispatch(client, msg)
        except StorageError:  # the database did not answer in time (a subscribe's snapshot)
            self._send(client, _json(P.error("unavailable", msg_id)))
        except Exception:  # a bug met by one message: say so, keep the connection
            log.exception("%s from %s %s failed", msg.type, client.role, client.name)
            self._send(client, _json(P.error("internal_error", msg_id)))

    async def _dispatch(self, client: Client, msg: P.ClientMessage) -> None:
        if isinstance(msg, P.Hello):
            await self._hello(client, msg)
        elif client.role is None:
            self._send(client, _json(P.error("not_authenticated", msg.id)))
        elif isinstance(msg, P.CommandMsg):
            await self._command(client, msg)
        elif isinstance(msg, P.Query):
            await self._query(client, msg)
        elif isinstance(msg, P.Subscribe):
            await self._subscribe(client, msg)
            if client.role == "manager" and "manager" in msg.streams:
                self._send(client, self._devices_message())
        elif isinstance(msg, P.DeviceStatus):
            self._device_status(client, msg)
        elif isinstance(msg, P.FileMaterials):
            await self._file_materials(client, msg)
        else:
            self._send(client, _json(P.Pong(id=msg.id, seq=self.seq)))

    # --- device health -------------------------------------------------------------------------

    def _devices_message(self) -> str:
        return _json(P.Devices(devices=list(self.devices.values())))

    def _push_devices(self) -> None:
        text = self._devices_message()
        for client in list(self.subscribers["manager"]):
            self._send(client, text)

    def _device_presence(self, client: Client, connected: bool) -> None:
        entry = self.devices.get(client.name)
        if entry is None or client.role not in ("kiosk", "navigator", "signage"):
            return
        if not connected and any(
            c is not client and c.name == client.name and c.role == client.role
            for c in self.clients
        ):
            return  # another connection of the same terminal is still up
        if entry["connected"] != connected:
            entry["connected"] = connected
            entry["since"] = self.actor.store.clock().isoformat()
            # Not from inside a send loop (a dropped client is forgotten while sending).
            asyncio.get_running_loop().call_soon(self._push_devices)

    def _device_status(self, client: Client, msg: P.DeviceStatus) -> None:
        entry = self.devices.get(client.name)
        if client.role not in ("kiosk", "navigator", "signage") or entry is None:
            self._send(client, _json(P.error("forbidden", msg.id, message="device_status")))
            return
        part = {"ok": msg.ok, "detail": msg.detail, "at": self.actor.store.clock().isoformat()}
        changed = {k: v for k, v in entry["parts"].get(msg.part, {}).items() if k != "at"} != {
            "ok": msg.ok,
            "detail": msg.detail,
        }
        entry["parts"][msg.part] = part
        if not msg.ok and changed:
            log.warning("device %s: %s %s", client.name, msg.part, msg.detail or "not ok")
        if changed:
            self._push_devices()
        if msg.id is not None:
            self._send(client, _json(P.Reply(id=msg.id, result={"part": msg.part})))

    # --- authentication ----------------------------------------------------------------------

    def _auth_key(self, who: str, secret: str) -> tuple[str, str]:
        return (who, hashlib.sha256(secret.encode()).hexdigest())

    async def _verify(self, who: str, secret: str, stored: str) -> bool:
        # scrypt is slow by design: remember what verified, and run it off the event loop. A
        # hall's screens all reconnect at once after a restart with the same token: they share
        # one check instead of queueing thousands of identical ones.
        key = self._auth_key(who, secret)
        if self._auth_cache.get(key) == stored:
            return True
        flight = self._auth_checks.get((key, stored))
        if flight is None:
            loop = asyncio.get_running_loop()
            flight = loop.run_in_executor(None, verify_secret, secret, stored)
            self._auth_checks[(key, stored)] = flight
            flight.add_done_callback(lambda _: self._auth_checks.pop((key, stored), None))
        ok = await asyncio.shield(flight)
        if ok:
            self._auth_cache[key] = stored
        return ok

    def _credential(self, auth: P.DeviceAuth | P.StaffAuth) -> tuple[str, str, str | None, Any]:
        """(who, the secret sent, its stored hash or None for an unknown one, the entry)."""
        if isinstance(auth, P.DeviceAuth):
            device = next((d for d in self.config.devices if d.id == auth.device_id), None)
            stored = device.token_hash if device else None
            return f"device:{auth.device_id}", auth.token, stored, device
        staff = next((s for s in self.config.staff if s.login == auth.login), None)
        stored = staff.password_hash if staff else None
        return f"staff:{auth.login}", auth.password, stored, staff

    async def _check_secret(self, client: Client, msg: P.Hello, address: str) -> Any | None:
        """The device or staff entry the hello's secret opens, None if it opens none, or False
        once refused outright (too many guesses; the refusal is sent here)."""
        who, secret, stored, entry = self._credential(msg.auth)
        known = stored is not None and self._auth_cache.get(self._auth_key(who, secret)) == stored
        keys = (f"address:{address}", who)
        if not known:
            wait = self._logins.reserve(keys)
            if wait is None:
                retry = round(self._logins.MAX_WAIT_S)
                self._send(client, _json(P.error("rate_limited", msg.id, retry_after=retry)))
                return False
            if wait:
                await asyncio.sleep(wait)
        if stored is not None and await self._verify(who, secret, stored):
            return entry
        self._logins.failed(keys)
        return None

    async def _hello(self, client: Client, msg: P.Hello) -> None:
        if client.role is not None:
            self._send(client, _json(P.error("already_authenticated", msg.id)))
            return
        auth = msg.auth
        role: str | None = None
        address = _address(client.ws)
        if isinstance(auth, P.DeviceAuth | P.StaffAuth):
            entry = await self._check_secret(client, msg, address)
            if entry is False:
                return
            if entry is not None and isinstance(auth, P.DeviceAuth):
                role, client.name = entry.role, entry.id
            elif entry is not None:
                staff = entry
                if auth.counter is None and "manager" in staff.roles:
                    role = "manager"
                elif auth.counter is not None and "counter" in staff.roles:
                    known = {c.id for c in self.config.counters}
                    if auth.counter in known and (
                        not staff.counters or auth.counter in staff.counters
                    ):
                        role = "counter"
                        client.counter = auth.counter
                client.name = staff.login
        elif isinstance(auth, P.WebAuth):
            role, client.name = "web", f"web:{address}"
        else:
            try:
                ticket_id = read_token(self.secret, auth.token, self.actor.store.clock())
            except TokenError as exc:
                code = "token_expired" if exc.expired else "auth_failed"
                self._send(client, _json(P.error(code, msg.id)))
                return
            if await self.actor.call(self.actor.ticket_exists, ticket_id):
                role, client.ticket_id, client.name = "resident", ticket_id, "resident"
            else:
                self._send(client, _json(P.error("token_expired", msg.id)))
                return
        if role is None:
            self._send(client, _json(P.error("auth_failed", msg.id)))
            return
        client.role, client.lang = role, msg.lang
        self.clients.add(client)
        self._device_presence(client, True)
        self.m_connections.labels(role).inc()
        self._send(
            client,
            _json(
                P.Welcome(
                    id=msg.id,
                    role=role,
                    hall=self.config.hall.id,
                    hall_name_zh=self.config.hall.name_zh,
                    hall_name_en=self.config.hall.name_en,
                    seq=self.seq,
                    counter=client.counter,
                    ticket=client.ticket_id,
                    server_version=SERVER_VERSION,
                )
            ),
        )

    # --- commands, queries, subscriptions ------------------------------------------------------

    def _authorise(
        self, client: Client, command: C.Command, identity: P.ResidentId | None
    ) -> C.Command | None:
        """The command as this client may send it (channel and counter filled in), or None."""
        kind = command.type
        if kind not in ROLE_COMMANDS[client.role]:
            return None
        role = client.role
        if role == "counter" and kind in _COUNTER_BOUND:
            if getattr(command, "counter", None) != client.counter:
                return None
        if role == "resident":
            return (
                command
                if getattr(command, "ticket", None)
                in (
                    client.ticket_id,
                    client.ticket_id.split("-")[-1],
                )
                else None
            )
        if role == "web" and identity is None and kind != "cancel_appointment":
            return None  # a booking is real-name (a cancellation's proof is checked before)
        updates: dict[str, Any] = {}
        if kind in ("issue_ticket", "check_in", "book_appointment"):
            updates["channel"] = {"counter": "window", "manager": "staff"}.get(role, role)
        if kind == "issue_ticket" and role in ("kiosk", "navigator"):
            cls = next(
                (c for c in self.config.priority_classes if c.name == command.priority), None
            )
            if cls is not None and not cls.self_service:
                return None
        if "resident_key" in type(command).model_fields:
            # Who the resident is comes only from their document, keyed here; a key a terminal
            # sent itself could be anyone's. The clear number stops here.
            updates["resident_key"] = (
                resident_key(self.secret, identity.number, identity.doc_type)
                if identity is not None
                else None
            )
        return command.model_copy(update=updates) if updates else command

    def _cancel_refusal(self, client: Client, msg: P.CommandMsg) -> str | None:
        """Why a terminal or web session may not cancel this booking, or None. The session is a
        device or anyone on the web, not the resident: the cancellation must prove the resident,
        by their document (the engine matches its key with the booking's) or by the booking's
        own signed token. Appointment ids are sequential, so an id alone proves nothing."""
        if client.role not in PROOF_ROLES or msg.command.type != "cancel_appointment":
            return None
        if msg.resident_id is not None:
            return None
        if msg.appointment_token is None:
            return "identity_required"
        try:
            proven = read_token(
                self.secret, msg.appointment_token, self.actor.store.clock(), purpose="appointment"
            )
        except TokenError:
            return "proof_invalid"
        return None if proven == msg.command.appointment else "proof_invalid"

    async def _command(self, client: Client, msg: P.CommandMsg) -> None:
        kind = msg.command.type
        if client.role == "web" and kind in ROLE_COMMANDS["web"]:
            if kind == "book_appointment" and msg.resident_id is None:
                self._send(client, _json(P.error("identity_required", msg.id)))
                return
            # Every booking and cancellation counts, refused ones too (a refused cancellation
            # is a guess); what the role may not send at all is refused before, uncounted.
            address = _address(client.ws)
            if self._web_commands.blocked(address):
                self._send(client, _json(P.error("rate_limited", msg.id)))
                return
            self._web_commands.record(address)
        refusal = self._cancel_refusal(client, msg)
        if refusal is not None:
            self._send(client, _json(P.error(refusal, msg.id)))
            return
        form: dict[str, Any] | None = None
        if msg.form is not None:
            if client.role not in FORM_ROLES:
                self._send(client, _json(P.error("forbidden", msg.id, field="form")))
                return
            if msg.command.type != "issue_ticket":
                why = "a form goes only with issue_ticket"
                self._send(client, _json(P.error("form_invalid", msg.id, field="form", why=why)))
                return
            form = msg.form.model_dump(mode="json")
        command = self._authorise(client, msg.command, msg.resident_id)
        if command is None:
            self._send(client, _json(P.error("forbidden", msg.id, command=msg.command.type)))
            return
        try:
            async with asyncio.timeout(self.config.server.command_timeout_s):
                outcome, result = await self.submit(command, form, _request_key(client, msg))
        except (StorageError, TimeoutError):
            # Not begun: it never will be. Begun: it may still commit, and a retry with the
            # same request key then gets its result.
            self._send(client, _json(P.error("unavailable", msg.id)))
            return
        if isinstance(outcome, EngineError):
            err = outcome.to_dict()
            self._send(client, _json(P.Error(id=msg.id, **err)))
            return
        reply: dict[str, Any] = {
            "seq": max((ev.seq for ev in outcome), default=result.seq),
            "events": [
                _event_json(ev, client.role in ("manager", "counter")) for ev in outcome
            ],
        }  # fmt: skip
        for ev in outcome:
            if isinstance(ev, V.TicketIssued) and ev.ticket.id in result.issued:
                expires = _end_of_day(ev.ticket.day, self.config)
                token = make_token(self.secret, ev.ticket.id, expires)
                reply["ticket"] = result.issued[ev.ticket.id]
                if form is not None:
                    reply["form_stored"] = True  # committed with the ticket
                reply["resident_token"] = token
                reply["ticket_url"] = f"{self.config.server.public_url.rstrip('/')}/t/{token}"
            elif isinstance(ev, V.AppointmentBooked):
                reply["appointment"] = AppointmentBooking(
                    id=ev.appointment_id,
                    service=ev.service,
                    slot_start=ev.slot_start,
                    slot_end=ev.slot_end,
                    # Proves a later cancellation (appointment_token) without the document.
                    token=make_token(
                        self.secret, ev.appointment_id, ev.slot_end, purpose="appointment"
                    ),
                )
        self._send(client, _json(P.Reply(id=msg.id, result=CommandResult(**reply))))

    async def _query(self, client: Client, msg: P.Query) -> None:
        if msg.query not in ROLE_QUERIES[client.role]:
            self._send(client, _json(P.error("forbidden", msg.id, query=msg.query)))
            return
        await self._answer(
            client,
            msg.id,
            self.actor.query,
            msg.query,
            client.role,
            msg,
            client.ticket_id,
            client.counter,
        )

    async def _file_materials(self, client: Client, msg: P.FileMaterials) -> None:
        if client.role not in FILE_ROLES:
            self._send(client, _json(P.error("forbidden", msg.id, message="file_materials")))
            return
        await self._answer(
            client, msg.id, self.actor.file_materials, msg.ticket_id, list(msg.materials),
            client.counter,
        )  # fmt: skip

    async def _answer(self, client: Client, msg_id, method, *args) -> None:
        """Run ``method`` on the hall thread; send its result as the reply, or its refusal."""
        try:
            result = await self.actor.call(method, *args)
        except _QueryError as exc:
            self._send(client, _json(P.error(exc.code, msg_id, **exc.details)))
            return
        except EngineError as exc:
            self._send(client, _json(P.Error(id=msg_id, **exc.to_dict())))
            return
        except StorageError:
            self._send(client, _json(P.error("unavailable", msg_id)))
            return
        self._send(client, _json(P.Reply(id=msg_id, result=result)))

    async def _subscribe(self, client: Client, msg: P.Subscribe) -> None:
        allowed = ROLE_STREAMS[client.role]
        denied = [s for s in msg.streams if s not in allowed]
        if denied:
            self._send(client, _json(P.error("forbidden", msg.id, streams=",".join(denied))))
            return
        replies: dict[str, dict[str, int]] = {}
        for stream in dict.fromkeys(msg.streams):
            since = msg.since if stream != "resident" else None
            oldest = self.recent[0].seq if self.recent else self.seq + 1
            logged: list[V.Event] | None = []
            if since is not None and not oldest - 1 <= since <= self.seq:
                # Older than the ring holds (or the server restarted): the log has them.
                logged = await self.actor.call(self.actor.events_after, since, RECENT_EVENTS)
            if since is not None and logged is not None:
                start = since
                replies[stream] = {"resumed_from": start}
            else:
                start, state = await self.actor.call(
                    self.actor.snapshot, stream, client.role, client.counter, client.ticket_id
                )
                self._send(client, _json(P.Snapshot(stream=stream, seq=start, state=state)))
                replies[stream] = {"snapshot": start}
                if isinstance(state, ResidentSnapshot) and state.ticket is not None:
                    client.last_ticket_json = state.ticket.model_dump_json()
            # From here to joining the stream nothing awaits, so no event slips between.
            client.sent_seq[stream] = start
            for ev in logged or ():
                self._replay(client, stream, ev)
            for ev in self._recent_after(client.sent_seq[stream]):
                self._replay(client, stream, ev)
            client.streams.add(stream)
            self.subscribers[stream].add(client)
        done = SubscribeResult(seq=self.seq, streams=replies)
        self._send(client, _json(P.Reply(id=msg.id, result=done)))

    def _recent_after(self, seq: int) -> list[V.Event]:
        """The ring's events after ``seq``. The ring holds consecutive seqs, so skip straight to
        the first one (a screen that subscribes afresh must not scan 50,000 events)."""
        if not self.recent:
            return []
        skip = max(0, seq - self.recent[0].seq + 1)
        return [ev for ev in itertools.islice(self.recent, skip, None) if ev.seq > seq]

    def _replay(self, client: Client, stream: str, ev: V.Event) -> None:
        if stream == "public":
            data = views.public_event(ev)
        elif stream == "manager":
            data = views.manager_event(ev)
        elif stream == "counter":
            data = views.counter_event(ev, client.counter)
        else:
            data = None
        client.sent_seq[stream] = ev.seq
        if data is not None:
            self._send(client, _json(P.EventMsg(stream=stream, seq=ev.seq, event=data)))

    # --- HTTP on the same port ----------------------------------------------------------------

    async def _database_ok(self) -> bool:
        """Does the database answer within ``healthz_timeout_s``? One ping at a time: while one
        hangs, every probe waits on it (and says no at its deadline) rather than pile up."""
        if self._ping is None or self._ping.done():
            loop = asyncio.get_running_loop()
            self._ping = loop.run_in_executor(self._probe, self.actor.ping)
        try:
            async with asyncio.timeout(self.config.server.healthz_timeout_s):
                return await asyncio.shield(self._ping)
        except TimeoutError:
            return False

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        response = await self._route(request)
        if request.method == "HEAD" and response is not None:
            # The GET's status and headers (Content-Length included), without its body.
            return Response(response.status_code, response.reason_phrase, response.headers, b"")
        return response

    async def _route(self, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if request.method not in ("GET", "HEAD"):
            # Read-only pages and the websocket's GET: any other method is not allowed. (A
            # request with a body never gets here: the websocket library reads no bodies and
            # closes such a connection unanswered.)
            return _response(405, "text/plain", b"method not allowed\n", allow="GET, HEAD")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None if path in ("/", "/ws") else _response(404, "text/plain", b"not found\n")
        if path == "/healthz":
            db_ok = await self._database_ok()
            body = {
                "status": "ok" if db_ok else "database unreachable",
                "database": db_ok,
                "uptime_s": round(time.monotonic() - self._started, 1),
                "version": SERVER_VERSION,
                "hall": self.config.hall.id,
                "seq": self.seq,
                "connections": len(self.clients),
            }
            return _response(200 if db_ok else 503, "application/json", json.dumps(body).encode())
        if path == "/metrics":
            try:
                counts = await self.actor.call(self.actor.counts)
            except StorageError:
                return _response(503, "text/plain", b"the hall is waiting on its database\n")
            for state in ("waiting", "called", "serving", "done", "no_show", "cancelled"):
                self.m_tickets.labels(state).set(counts.get(state, 0))
            return _response(200, prom.CONTENT_TYPE_LATEST, prom.generate_latest(self.registry))
        if path.startswith("/t/"):
            return _static("ticket.html")
        if path in _PAGES:
            return _static(_PAGES[path])
        if path == "/api/services" or path.startswith("/api/services/"):
            return _catalog_response(self.config, path.removeprefix("/api/services"), request)
        if path.startswith("/qr/") and path.endswith(".svg"):
            return _qr_svg(path.removeprefix("/qr/").removesuffix(".svg"))
        if path.startswith("/static/"):
            return _static(path.removeprefix("/static/"))
        return _response(404, "text/plain", b"not found\n")


def _new_events(outcomes: list) -> list[V.Event]:
    """A batch's newly committed events (a refusal's time-driven ones too; not a replay's)."""
    return [
        ev
        for outcome in outcomes
        if not isinstance(outcome, Replayed)
        for ev in (outcome.events if isinstance(outcome, EngineError) else outcome)
    ]


def _outcome_label(outcome) -> str:
    if isinstance(outcome, EngineError):
        return "refused"
    return "replayed" if isinstance(outcome, Replayed) else "ok"


def _request_key(client: Client, msg: P.CommandMsg) -> str | None:
    """The stored form of a command's request key: scoped to the terminal (a resident: the
    ticket) and the command type, so a key never reaches what another session did; hashed, so
    the database holds no terminal's name."""
    if msg.request_key is None:
        return None
    who = client.ticket_id if client.role == "resident" else client.name
    text = "\0".join((client.role or "", who or "", msg.command.type, msg.request_key))
    return hashlib.sha256(text.encode()).hexdigest()


def _id_of(data: Any) -> int | str | None:
    msg_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(msg_id, int | str | None) or isinstance(msg_id, bool):
        return None
    if isinstance(msg_id, str) and _lone_surrogate(msg_id):
        return None  # not text an answer could echo
    return msg_id


def _lone_surrogate(data: Any) -> bool:
    """Whether any text in decoded JSON holds a lone surrogate (from a ``\\udXXX`` escape)."""
    if isinstance(data, str):
        return not data.isascii() and any("\ud800" <= ch <= "\udfff" for ch in data)
    if isinstance(data, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_lone_surrogate(v) for v in data)
    return False


def _carries_form(raw: str | bytes) -> bool:
    """A command with a resident's form, which may be up to MAX_FORM_MESSAGE_BYTES long (the
    form's own limits are then checked by its schema, answered with ``form_invalid``)."""
    if len(raw) > P.MAX_FORM_MESSAGE_BYTES:
        return False
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("type") == "command" and "form" in data


def _peek_id(raw: str | bytes) -> int | str | None:
    if len(raw) > P.MAX_MESSAGE_BYTES:
        return None
    try:
        return _id_of(json.loads(raw))
    except (ValueError, RecursionError):
        return None


# Pages the queue server serves (queue_server/web/); each loads its files from /static/.
_PAGES = {
    "/staff": "staff.html",
    "/manager": "manager.html",
    "/guide": "guide.html",
    "/book": "book.html",
}


def _catalog_service_json(entry, hall_service) -> dict[str, Any]:
    data = entry.model_dump(mode="json")
    data["in_hall"] = hall_service is not None
    data["appointments"] = bool(hall_service and hall_service.appointment_capacity)
    for material, item in zip(entry.materials, data["materials"], strict=True):
        item["describe_zh"], item["describe_en"] = material.describe("zh"), material.describe("en")
    return data


def _catalog_response(config: HallConfig, rest: str, request: Request) -> Response:
    """The catalog as JSON: ``/api/services`` lists the hall's services (``?q=`` searches, by
    pinyin too), ``/api/services/<id>`` gives one guide (materials, steps, fees, form)."""
    from urllib.parse import parse_qs, urlsplit

    from content import default_catalog
    from content.errors import ContentError

    catalog = default_catalog()
    settings = config.service_settings()
    if rest in ("", "/"):
        query = parse_qs(urlsplit(request.path).query).get("q", [""])[0].strip()[:50]
        found = catalog.search(query, limit=100) if query else list(catalog)
        items = [
            {
                "id": s.id,
                "bureau": s.bureau,
                "bureau_zh": catalog.bureau(s.bureau).short_zh,
                "bureau_en": catalog.bureau(s.bureau).name_en,
                "name_zh": s.name_zh,
                "name_en": s.name_en,
                "instant": s.instant,
                "appointments": bool(s.id in settings and settings[s.id].appointment_capacity),
            }
            for s in found
            if s.id in settings
        ]
        priorities = [
            {"name": c.name, "label_zh": c.label_zh, "label_en": c.label_en}
            for c in config.priority_classes
        ]
        body = json.dumps(
            {"query": query, "services": items, "priorities": priorities}, ensure_ascii=False
        )
        return _response(200, "application/json; charset=utf-8", body.encode())
    service_id = rest.removeprefix("/")
    try:
        entry = catalog.service(service_id)
    except (ContentError, KeyError):
        return _response(404, "application/json", b'{"error": "not_found"}')
    if service_id not in settings:
        return _response(404, "application/json", b'{"error": "not_found"}')
    data = _catalog_service_json(entry, settings[service_id])
    bureau = catalog.bureau(entry.bureau)
    data["bureau_zh"], data["bureau_en"] = bureau.name_zh, bureau.name_en
    body = json.dumps(data, ensure_ascii=False)
    return _response(200, "application/json; charset=utf-8", body.encode())


def _qr_svg(text: str) -> Response:
    """A QR code of an appointment id (what a kiosk scans to check in), drawn as SVG."""
    if not (1 <= len(text) <= 64) or not all(c.isalnum() or c in "-_" for c in text):
        return _response(404, "text/plain", b"not found\n")
    import qrcode  # here: the package imports PIL, which the server needs for nothing else
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=20, border=2)
    return _response(200, "image/svg+xml", image.to_string(encoding="unicode").encode())


_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}  # fmt: skip


def _static(name: str) -> Response:
    path = (WEB_DIR / name).resolve()
    if WEB_DIR.resolve() not in path.parents or not path.is_file():
        return _response(404, "text/plain", b"not found\n")
    return _response(200, _TYPES.get(path.suffix, "application/octet-stream"), path.read_bytes())


def _response(status: int, content_type: str, body: bytes, *, allow: str | None = None) -> Response:
    reasons = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    if allow is not None:
        headers["Allow"] = allow
    return Response(status, reasons.get(status, ""), headers, body)


def _end_of_day(day: dt.date, config: HallConfig) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), config.zone)


# --- main.py server -------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="hall configuration (TOML)")
    parser.add_argument("--host", help="address to listen on (default: the config's)")
    parser.add_argument("--port", type=int, help="port (default: the config's; 0 = any free)")
    parser.add_argument("--db", help="database URL (default: the config's)")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_hall_config(args.config)
        tls_context(config.server, source=str(args.config))  # before the database is touched
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    try:
        store = Store(config, url=args.db)
    except SchemaVersionError as exc:  # a restart cannot fix it: 2, which the unit does not restart
        log.error("%s", exc)
        return 2
    except StorageError as exc:
        log.error("%s", exc)
        return 3
    server = QueueServer(config, store, host=args.host, port=args.port)
    try:
        asyncio.run(server.serve_forever())
    except ConfigError as exc:  # the TLS files changed since they were checked
        log.error("%s", exc)
        return 2
    return 0
