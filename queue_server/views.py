"""What each audience may see of the hall: pure functions from engine state and events to the
protocol's payload models (events: ``queue_server.protocol.events``).

Nothing here leaves with a resident key, and the public projections carry no personal data at
all: numbers, services, windows and counts only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_server.engine import events as V
from queue_server.engine.hall import Hall
from queue_server.engine.model import Ticket
from queue_server.protocol import events as E
from queue_server.protocol.payloads import (
    CounterSnapshot,
    CounterView,
    ManagerSnapshot,
    NoticeView,
    PublicSnapshot,
    RecentCall,
    ServiceStatus,
    StaffTicketView,
    TicketView,
)
from queue_server.protocol.states import TicketState


def _project(data: dict[str, Any]) -> E.StreamEvent:
    return E.EVENT_TYPES[data["type"]].model_validate(data)


def public_event(ev: V.Event) -> E.StreamEvent | None:
    if ev.type not in E.PUBLIC_TYPES:
        return None
    data = ev.model_dump(exclude={"resident_key"})
    if ev.type == "ticket_issued":
        # The public model of the ticket keeps its number, service and queue only.
        data["ticket"] = E.IssuedTicket.model_validate(data["ticket"])
    elif ev.type == "ticket_transferred":
        data.pop("rank")
    elif ev.type == "ticket_cancelled":
        data["reason"] = "day_closed" if ev.reason == "day_closed" else "cancelled"
    return _project(data)


def manager_event(ev: V.Event) -> E.StreamEvent:
    return _project(ev.model_dump(exclude={"resident_key"}))


def counter_event(ev: V.Event, counter: int) -> E.StreamEvent | None:
    """Events about one window (its calls, its state), with the ticket details it needs."""
    if getattr(ev, "counter", None) != counter:
        return None
    return manager_event(ev)


def ticket_view(
    hall: Hall, ticket: Ticket, now: dt.datetime, *, full: bool = False
) -> TicketView | StaffTicketView:
    ahead, wait = (None, None)
    if ticket.state is TicketState.WAITING:
        ahead, wait = hall.estimate(ticket, now)
    # The class the hall granted, not the one a terminal asked for: a late appointment falls back
    # to normal, and an elderly resident's class comes from the server's rules. A class is a fact
    # about the ticket, not the person (no key, no birth date), so the resident's views carry it.
    cls = hall.classes.get(ticket.priority)
    data: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "service": ticket.service,
        "service_name_zh": hall.settings[ticket.service].name_zh,
        "service_name_en": hall.settings[ticket.service].name_en,
        "queue": ticket.queue,
        "state": ticket.state,
        "ahead": ahead,
        "estimated_wait_s": None if wait is None else round(wait, 1),
        "counter": ticket.counter,
        "arrival": ticket.arrival,
        "called_at": ticket.called_at,
        "started_at": ticket.started_at,
        "recalls": ticket.recalls,
        "priority": ticket.priority,
        "priority_label_zh": cls.label_zh if cls else ticket.priority,
        "priority_label_en": cls.label_en if cls else ticket.priority,
    }
    if not full:
        return TicketView(**data)
    return StaffTicketView(
        **data,
        channel=ticket.channel,
        rank=ticket.rank,
        # Dispatch order within a rank (a manager's move changes it): (rank, order_key).
        order_key=ticket.order_key,
        transfers=ticket.transfers,
        appointment_id=ticket.appointment_id,
        cancel_reason=ticket.cancel_reason,
    )


def services_status(hall: Hall, now: dt.datetime) -> list[ServiceStatus]:
    """Per service: waiting count, the wait a new ticket would be told, windows open for it."""
    out = []
    estimates = hall.estimate_new_all(now)  # one replay of the dispatch for every service
    for service, queue in hall.queue_of.items():
        settings = hall.settings[service]
        _ahead, wait = estimates[service]
        out.append(
            ServiceStatus(
                service=service,
                name_zh=settings.name_zh,
                name_en=settings.name_en,
                queue=queue,
                waiting=len(hall.waiting[service]),
                estimated_wait_s=None if wait is None else round(wait, 1),
                counters=[c.id for c in hall.open_counters_for(service)],
            )
        )
    return out


def counters_view(hall: Hall) -> list[CounterView]:
    out = []
    for counter in hall.counters.values():
        ticket = hall.tickets.get(counter.ticket_id) if counter.ticket_id else None
        out.append(
            CounterView(
                id=counter.id,
                kind=str(counter.kind),
                state=counter.state,
                pause_reason=counter.pause_reason,
                ticket=ticket.number if ticket else None,
                service=ticket.service if ticket else None,
                skills=counter.skills,
                served_today=counter.served_today,
            )
        )
    return out


def recent_calls(hall: Hall, limit: int = 10) -> list[RecentCall]:
    called = [t for t in hall.tickets.values() if t.called_at is not None]
    called.sort(key=lambda t: t.called_at, reverse=True)
    return [
        RecentCall(number=t.number, counter=t.counter, service=t.service, state=t.state)
        for t in called[:limit]
    ]


def notices_view(hall: Hall, now: dt.datetime) -> list[NoticeView]:
    return [
        NoticeView(id=n.id, text_zh=n.text_zh, text_en=n.text_en, starts=n.starts, ends=n.ends)
        for n in hall.notices.values()
        if (n.starts is None or n.starts <= now) and (n.ends is None or now < n.ends)
    ]


def _public_parts(hall: Hall, now: dt.datetime) -> dict[str, Any]:
    return {
        "day": hall.today.day,
        "open_for_tickets": hall.is_open_for_tickets(now),
        "counters": counters_view(hall),
        "services": services_status(hall, now),
        "recent_calls": recent_calls(hall),
        "notices": notices_view(hall, now),
    }


def public_snapshot(hall: Hall, now: dt.datetime) -> PublicSnapshot:
    return PublicSnapshot(**_public_parts(hall, now))


def manager_snapshot(hall: Hall, now: dt.datetime) -> ManagerSnapshot:
    return ManagerSnapshot(
        **_public_parts(hall, now),
        tickets=[ticket_view(hall, t, now, full=True) for t in hall.tickets.values()],
    )


def counter_snapshot(hall: Hall, counter: int | None) -> CounterSnapshot:
    view = next((c for c in counters_view(hall) if c.id == counter), None)
    return CounterSnapshot(counter=view)
