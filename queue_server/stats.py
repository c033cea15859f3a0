"""Today's statistics, computed from the event log alone (the log is the record).

``day_stats(events, now)`` folds one day's events into waits, service times, no-shows and the
load of each window (忙闲: the share of its open time it spent calling or serving someone);
``to_csv`` writes the same figures as CSV for the manager's export. Pure functions: no clock,
no I/O, so the tests feed them events and read the numbers.

Definitions:

- *wait*: from the moment a ticket (re)entered a queue (issued, requeued, returned by a closing
  window, transferred on from a window) to its call; one wait per call that ended a stay in the
  queue. A recall is not a new wait.
- *service time*: ``ticket_finished.service_s`` (start to finish), counted at its window.
- *open time* of a window: opened to closed (a window busy before any ``counter_opened`` of the
  day counts as open from the day's first event); *paused time* is inside it.
- *busy time*: from a call at the window to the end of that resident there (finished, no-show,
  returned, transferred or cancelled); ``busy_share`` = busy / open (None while never open).
- *p90*: the simulator's percentile (``queue_server.engine.quantile``, linear interpolation), so
  a day here and a simulated day compare.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from queue_server.engine import events as V
from queue_server.engine.quantile import quantile


@dataclass
class _Window:
    served: int = 0
    no_shows: int = 0
    calls: int = 0
    service_s: list[float] = field(default_factory=list)
    waits_s: list[float] = field(default_factory=list)
    open_s: float = 0.0
    busy_s: float = 0.0
    paused_s: float = 0.0
    opened_at: dt.datetime | None = None
    busy_since: dt.datetime | None = None
    paused_since: dt.datetime | None = None


@dataclass
class _Service:
    issued: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    service_s: list[float] = field(default_factory=list)
    waits_s: list[float] = field(default_factory=list)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _p90(values: list[float]) -> float | None:
    return round(quantile(values, 0.9), 1) if values else None


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "mean_s": _mean(values),
        "p90_s": _p90(values),
        "max_s": round(max(values), 1) if values else None,
    }


def day_stats(events: Iterable[V.Event], now: dt.datetime) -> dict[str, Any]:
    """The figures of the day the events belong to (events after the day's ``day_opened``;
    callers pass one day). Intervals still running are counted up to ``now``."""
    windows: dict[int, _Window] = {}
    services: dict[str, _Service] = {}
    queued_at: dict[str, dt.datetime] = {}
    service_of: dict[str, str] = {}
    day: dt.date | None = None
    first_at: dt.datetime | None = None
    totals = {"issued": 0, "served": 0, "no_shows": 0, "cancelled": 0}

    def window(counter: int, at: dt.datetime) -> _Window:
        if counter not in windows:
            # Busy before any counter_opened today: open since the day's first event.
            windows[counter] = _Window(opened_at=first_at or at)
        return windows[counter]

    def service(name: str) -> _Service:
        return services.setdefault(name, _Service())

    def end_busy(counter: int | None, at: dt.datetime) -> None:
        if counter is None:
            return
        w = window(counter, at)
        if w.busy_since is not None:
            w.busy_s += max(0.0, (at - w.busy_since).total_seconds())
            w.busy_since = None

    for ev in events:
        at = ev.at
        if first_at is None:
            first_at = at
        if isinstance(ev, V.DayOpened):
            day = ev.day
        elif isinstance(ev, V.TicketIssued):
            totals["issued"] += 1
            queued_at[ev.ticket.id] = at
            service_of[ev.ticket.id] = ev.ticket.service
            service(ev.ticket.service).issued += 1
        elif isinstance(ev, V.TicketCalled):
            w = window(ev.counter, at)
            w.calls += 1
            end_busy(ev.counter, at)  # a call straight after a call: the first one ended
            w.busy_since = at
            since = queued_at.pop(ev.ticket_id, None)
            if since is not None:
                wait = max(0.0, (at - since).total_seconds())
                w.waits_s.append(wait)
                service(ev.service).waits_s.append(wait)
            service_of[ev.ticket_id] = ev.service
        elif isinstance(ev, V.TicketFinished):
            w = window(ev.counter, at)
            w.served += 1
            w.service_s.append(ev.service_s)
            s = service(ev.service)
            s.served += 1
            s.service_s.append(ev.service_s)
            totals["served"] += 1
            end_busy(ev.counter, at)
        elif isinstance(ev, V.TicketNoShow):
            window(ev.counter, at).no_shows += 1
            service(service_of.get(ev.ticket_id, "?")).no_shows += 1
            totals["no_shows"] += 1
            end_busy(ev.counter, at)
        elif isinstance(ev, V.TicketRequeued):
            queued_at[ev.ticket_id] = at
        elif isinstance(ev, V.TicketReturned):
            end_busy(ev.counter, at)
            queued_at[ev.ticket_id] = at
        elif isinstance(ev, V.TicketTransferred):
            service_of[ev.ticket_id] = ev.to_service
            if ev.counter is not None:  # sent on from a window: a new stay in a queue
                end_busy(ev.counter, at)
                queued_at[ev.ticket_id] = at
        elif isinstance(ev, V.TicketCancelled):
            totals["cancelled"] += 1
            service(service_of.get(ev.ticket_id, "?")).cancelled += 1
            queued_at.pop(ev.ticket_id, None)
            end_busy(ev.counter, at)
        elif isinstance(ev, V.CounterOpened):
            w = windows.setdefault(ev.counter, _Window())
            if w.opened_at is None:
                w.opened_at = at
        elif isinstance(ev, V.CounterClosed):
            w = window(ev.counter, at)
            end_busy(ev.counter, at)
            if w.paused_since is not None:
                w.paused_s += max(0.0, (at - w.paused_since).total_seconds())
                w.paused_since = None
            if w.opened_at is not None:
                w.open_s += max(0.0, (at - w.opened_at).total_seconds())
                w.opened_at = None
        elif isinstance(ev, V.CounterPaused):
            w = window(ev.counter, at)
            if w.paused_since is None:
                w.paused_since = at
        elif isinstance(ev, V.CounterResumed):
            w = window(ev.counter, at)
            if w.paused_since is not None:
                w.paused_s += max(0.0, (at - w.paused_since).total_seconds())
                w.paused_since = None

    counters = []
    for counter_id in sorted(windows):
        w = windows[counter_id]
        open_s = w.open_s + (max(0.0, (now - w.opened_at).total_seconds()) if w.opened_at else 0.0)
        busy_s = w.busy_s + (
            max(0.0, (now - w.busy_since).total_seconds()) if w.busy_since else 0.0
        )
        paused_s = w.paused_s + (
            max(0.0, (now - w.paused_since).total_seconds()) if w.paused_since else 0.0
        )
        counters.append(
            {
                "counter": counter_id,
                "calls": w.calls,
                "served": w.served,
                "no_shows": w.no_shows,
                "mean_service_s": _mean(w.service_s),
                "mean_wait_s": _mean(w.waits_s),
                "open_s": round(open_s, 1),
                "busy_s": round(busy_s, 1),
                "paused_s": round(paused_s, 1),
                "busy_share": round(min(1.0, busy_s / open_s), 3) if open_s > 0 else None,
            }
        )
    all_waits = [x for s in services.values() for x in s.waits_s]
    all_service = [x for s in services.values() for x in s.service_s]
    return {
        "day": day.isoformat() if day else None,
        "as_of": now.isoformat(),
        **totals,
        "wait": _summary(all_waits),
        "service": _summary(all_service),
        "counters": counters,
        "services": [
            {
                "service": name,
                "issued": s.issued,
                "served": s.served,
                "no_shows": s.no_shows,
                "cancelled": s.cancelled,
                "mean_wait_s": _mean(s.waits_s),
                "p90_wait_s": _p90(s.waits_s),
                "mean_service_s": _mean(s.service_s),
            }
            for name, s in sorted(services.items())
        ],
    }


def counter_stats(stats: dict[str, Any], counter: int) -> dict[str, Any]:
    """One window's own row of ``day_stats`` (zeros when it did nothing yet today)."""
    row = next((c for c in stats["counters"] if c["counter"] == counter), None)
    if row is None:
        row = {
            "counter": counter, "calls": 0, "served": 0, "no_shows": 0,
            "mean_service_s": None, "mean_wait_s": None, "open_s": 0.0, "busy_s": 0.0,
            "paused_s": 0.0, "busy_share": None,
        }  # fmt: skip
    return {"day": stats["day"], "as_of": stats["as_of"], "window": row}


COUNTER_COLUMNS = [
    "counter", "calls", "served", "no_shows", "mean_service_s", "mean_wait_s",
    "open_s", "busy_s", "paused_s", "busy_share",
]  # fmt: skip
SERVICE_COLUMNS = [
    "service", "issued", "served", "no_shows", "cancelled",
    "mean_wait_s", "p90_wait_s", "mean_service_s",
]  # fmt: skip


def to_csv(stats: dict[str, Any]) -> str:
    """The day's figures as CSV: a totals block, one row per window, one row per service."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["day", stats["day"] or "", "as_of", stats["as_of"]])
    writer.writerow(["issued", "served", "no_shows", "cancelled", "mean_wait_s", "p90_wait_s",
                     "mean_service_s"])  # fmt: skip
    writer.writerow(
        [stats["issued"], stats["served"], stats["no_shows"], stats["cancelled"],
         _cell(stats["wait"]["mean_s"]), _cell(stats["wait"]["p90_s"]),
         _cell(stats["service"]["mean_s"])]
    )  # fmt: skip
    writer.writerow([])
    writer.writerow(COUNTER_COLUMNS)
    for row in stats["counters"]:
        writer.writerow([_cell(row[c]) for c in COUNTER_COLUMNS])
    writer.writerow([])
    writer.writerow(SERVICE_COLUMNS)
    for row in stats["services"]:
        writer.writerow([_cell(row[c]) for c in SERVICE_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value
