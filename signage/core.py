"""The signage's state, built from the public stream: plain Python, no Kivy, no I/O.

    state = SignageState(queue_names={"A": "计生·老龄"}, counter_names={6: "制证窗口"})
    calls = state.apply(message)     # snapshot / event / status from HallClient.messages()
    for call in calls:               # the calls to show with a flash and to announce
        voice.announce(call)

A snapshot replaces the whole state and announces nothing (its calls are old news); an event
``ticket_called`` or ``ticket_recalled`` returns the Call to announce. The client library hands
each event over exactly once and in order, also across reconnects, so the state never repeats
or misses a call; ``apply`` still ignores an event whose seq it has already applied.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from queue_server.protocol.events import (
    STREAM_EVENT_ADAPTER,
    CounterClosed,
    CounterOpened,
    CounterPaused,
    CounterResumed,
    DayOpened,
    NoticePosted,
    NoticeRemoved,
    TicketCalled,
    TicketCancelled,
    TicketFinished,
    TicketNoShow,
    TicketRecalled,
    TicketReturned,
    TicketStarted,
    TicketTransferred,
)
from queue_server.protocol.payloads import PublicSnapshot, ServiceStatus
from queue_server.protocol.states import CounterState

log = logging.getLogger(__name__)

# The events after which a ticket is no longer at its window.
_TICKET_LEAVES = (TicketFinished, TicketNoShow, TicketReturned, TicketCancelled, TicketTransferred)

RECENT_LIMIT = 8


@dataclass(frozen=True)
class Call:
    """One call (or recall) of a ticket to a window."""

    number: str
    counter: int
    service: str | None = None
    recall: bool = False
    seq: int = 0
    name: str | None = None  # only where a hall calls by name; always masked (张*)


@dataclass
class CounterView:
    id: int
    state: CounterState = CounterState.IDLE
    ticket: str | None = None
    service: str | None = None
    pause_reason: str = ""

    @property
    def paused(self) -> bool:
        return self.state in (CounterState.PAUSED, CounterState.CLOSED)


@dataclass(frozen=True)
class QueueStatus:
    """Waiting count and estimate of one queue (its letter), summed over its services."""

    prefix: str
    name: str
    waiting: int
    estimated_wait_s: float | None  # the longest estimate among its services; None: unknown


@dataclass(frozen=True)
class Notice:
    id: str
    text: str


def mask_name(name: str | None) -> str:
    """A resident's name as a screen may show it: the family name and one * (张三丰 → 张*).

    Latin names keep their first letter (Smith → S*). Empty stays empty."""
    name = (name or "").strip()
    if not name:
        return ""
    return f"{name[0]}*"


@dataclass
class SignageState:
    """What every signage screen shows; built only by ``apply``."""

    queue_names: Mapping[str, str] = field(default_factory=dict)
    service_names: dict[str, str] = field(default_factory=dict)
    recent_limit: int = RECENT_LIMIT
    counters: dict[int, CounterView] = field(default_factory=dict)
    recent: deque[Call] = field(default_factory=deque)
    services: list[ServiceStatus] = field(default_factory=list)
    notices: dict[str, Notice] = field(default_factory=dict)
    day: str | None = None
    seq: int = -1
    connected: bool = False
    version: int = 0  # bumps on every change, so a screen redraws only when needed

    # --- reading ---------------------------------------------------------------------------

    @property
    def newest(self) -> Call | None:
        return self.recent[0] if self.recent else None

    def counter(self, counter_id: int) -> CounterView:
        return self.counters.get(counter_id) or CounterView(counter_id, CounterState.CLOSED)

    def service_name(self, service: str | None) -> str:
        if not service:
            return ""
        return self.service_names.get(service, service)

    def queues(self) -> list[QueueStatus]:
        """Waiting per queue letter, in letter order."""
        waiting: dict[str, int] = {}
        wait_s: dict[str, float | None] = {}
        for entry in self.services:
            prefix = entry.queue or "?"
            waiting[prefix] = waiting.get(prefix, 0) + entry.waiting
            estimate = entry.estimated_wait_s
            if entry.waiting and estimate is not None:
                wait_s[prefix] = max(wait_s.get(prefix) or 0.0, float(estimate))
            else:
                wait_s.setdefault(prefix, None)
        return [
            QueueStatus(p, self.queue_names.get(p, p), waiting[p], wait_s.get(p))
            for p in sorted(waiting)
        ]

    # --- building --------------------------------------------------------------------------

    def set_connected(self, connected: bool) -> bool:
        """Record the connection state; True if it changed."""
        if connected == self.connected:
            return False
        self.connected = connected
        self.version += 1
        return True

    def apply(self, message: Mapping[str, Any]) -> list[Call]:
        """Apply one message of the public stream; return the calls to show and announce.
        A snapshot's state, a status's services and an event are read as the protocol's
        models."""
        kind = message.get("type")
        if kind == "snapshot" and message.get("stream", "public") == "public":
            self._load_snapshot(PublicSnapshot.model_validate(message["state"]), message["seq"])
            return []
        if kind == "status":
            self._set_services([ServiceStatus.model_validate(s) for s in message["services"]])
            self.version += 1
            return []
        if kind == "event" and message.get("stream", "public") == "public":
            seq = int(message["seq"])
            if seq <= self.seq:
                log.debug("event %d already applied", seq)
                return []
            self.seq = seq
            calls = self._apply_event(message["event"], seq)
            self.version += 1
            return calls
        return []

    def apply_all(self, messages: Iterable[Mapping[str, Any]]) -> list[Call]:
        out: list[Call] = []
        for message in messages:
            out.extend(self.apply(message))
        return out

    def _load_snapshot(self, state: PublicSnapshot, seq: int) -> None:
        self.seq = seq
        self.day = state.day.isoformat() if state.day else None  # as a day_opened event says it
        self.counters = {
            c.id: CounterView(
                id=c.id,
                state=c.state,
                ticket=c.ticket,
                service=c.service,
                pause_reason=c.pause_reason or "",
            )
            for c in state.counters
        }
        # Only calls still at their window are worth showing as "recent".
        calls = [
            Call(number=c.number, counter=c.counter, service=c.service)
            for c in state.recent_calls  # newest first
            if c.counter is not None
        ]
        # Not deque(maxlen=...) on the whole list: that would keep the oldest, not the newest.
        self.recent = deque(calls[: self.recent_limit], maxlen=self.recent_limit)
        self._set_services(state.services)
        self.notices = {n.id: Notice(n.id, n.text_zh or n.text_en) for n in state.notices}
        self.version += 1

    def _set_services(self, services: list[ServiceStatus]) -> None:
        self.services = list(services)
        for entry in services:
            if entry.name_zh:
                self.service_names[entry.service] = entry.name_zh

    def _apply_event(self, data: Mapping[str, Any], seq: int) -> list[Call]:
        try:
            ev = STREAM_EVENT_ADAPTER.validate_python(data)
        except ValidationError:  # a screen keeps showing what it has rather than stop
            log.warning("cannot read the server's event %s", data.get("type"))
            return []
        counter_id = getattr(ev, "counter", None)
        view = self._counter(counter_id) if counter_id is not None else None
        if isinstance(ev, TicketCalled):
            assert view is not None
            call = Call(ev.number, ev.counter, ev.service, False, seq)
            view.state, view.ticket, view.service = CounterState.CALLING, call.number, call.service
            self._push(call)
            return [call]
        if isinstance(ev, TicketRecalled):
            assert view is not None
            service = view.service if view.ticket == ev.number else None
            call = Call(ev.number, ev.counter, service, True, seq)
            view.state, view.ticket = CounterState.CALLING, call.number
            view.service = service or view.service
            self._push(call)
            return [call]
        if isinstance(ev, TicketStarted) and view is not None:
            view.state, view.ticket = CounterState.SERVING, ev.number
        elif isinstance(ev, _TICKET_LEAVES):
            if view is not None and view.ticket == ev.number:
                view.ticket, view.service = None, None
                if view.state in (CounterState.CALLING, CounterState.SERVING):
                    view.state = CounterState.IDLE
        elif isinstance(ev, CounterOpened) and view is not None:
            view.state, view.pause_reason = CounterState.IDLE, ""
        elif isinstance(ev, CounterClosed) and view is not None:
            view.state, view.ticket, view.service = CounterState.CLOSED, None, None
        elif isinstance(ev, CounterPaused) and view is not None:
            view.state, view.pause_reason = CounterState.PAUSED, ev.reason or ""
        elif isinstance(ev, CounterResumed) and view is not None:
            view.state = CounterState.SERVING if view.ticket else CounterState.IDLE
            view.pause_reason = ""
        elif isinstance(ev, NoticePosted):
            self.notices[ev.notice_id] = Notice(ev.notice_id, ev.text_zh or ev.text_en or "")
        elif isinstance(ev, NoticeRemoved):
            self.notices.pop(ev.notice_id, None)
        elif isinstance(ev, DayOpened):
            self.day = ev.day.isoformat()
            self.recent.clear()
            for counter in self.counters.values():
                counter.ticket, counter.service = None, None
        return []

    def _counter(self, counter_id: int) -> CounterView:
        counter_id = int(counter_id)
        if counter_id not in self.counters:
            self.counters[counter_id] = CounterView(counter_id)
        return self.counters[counter_id]

    def _push(self, call: Call) -> None:
        # One line per ticket: a recall moves its line back to the top.
        kept = [c for c in self.recent if c.number != call.number]
        self.recent = deque([call, *kept][: self.recent_limit], maxlen=self.recent_limit)


def format_wait(seconds: float | None) -> str:
    """An estimate as the screen shows it: 约 12 分钟, 少于 1 分钟, or — when unknown."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 1:
        return "少于1分钟"
    return f"约{minutes}分钟"


def format_clock(now: dt.datetime) -> tuple[str, str]:
    """(date line, time) for the screen's clock: ("11月26日 星期四", "14:05:09")."""
    weekday = "一二三四五六日"[now.weekday()]
    return f"{now.year}年{now.month}月{now.day}日 星期{weekday}", now.strftime("%H:%M:%S")
