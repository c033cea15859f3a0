"""Whole protocol payloads for the terminals' flow tests: a flow takes what the client returns,
typed, so its fixtures are the models themselves, built here with only what a test cares about
given."""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_server.protocol.payloads import (
    AppointmentBooking,
    CommandResult,
    CounterView,
    PublicSnapshot,
    ServiceStatus,
    TicketResult,
    TicketView,
)
from queue_server.protocol.states import CounterState, TicketState

ARRIVAL = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def ticket_view(
    id: str = "20261126-E002", service: str = "liuguan.residence_registration", **fields: Any
) -> TicketView:
    """A waiting ticket of ``service``; ``fields`` replace any of its values."""
    number = id.rsplit("-", 1)[-1]
    values: dict[str, Any] = {
        "id": id,
        "number": number,
        "service": service,
        "service_name_zh": service,
        "service_name_en": service,
        "queue": number[0],
        "state": TicketState.WAITING,
        "ahead": 0,
        "estimated_wait_s": None,
        "counter": None,
        "arrival": ARRIVAL,
        "called_at": None,
        "started_at": None,
        "recalls": 0,
        "priority": "normal",
        "priority_label_zh": "",
        "priority_label_en": "",
    }
    return TicketView.model_validate(values | fields)


def issue_reply(ticket: TicketView, **fields: Any) -> CommandResult:
    """The reply to ``issue_ticket`` or ``check_in`` that issued ``ticket``."""
    return CommandResult(seq=1, events=[], ticket=ticket, **fields)


def ticket_result(**fields: Any) -> TicketResult:
    """The ``ticket`` query's result (``fields`` as for ``ticket_view``)."""
    return TicketResult(seq=1, ticket=ticket_view(**fields))


def booking_reply(
    id: str, service: str, slot_start: str, slot_end: str, token: str = "tok"
) -> CommandResult:
    """The reply to ``book_appointment`` (slot times as ISO strings, as on the wire)."""
    appointment = AppointmentBooking.model_validate(
        {"id": id, "service": service, "slot_start": slot_start, "slot_end": slot_end,
         "token": token}
    )  # fmt: skip
    return CommandResult(seq=1, events=[], appointment=appointment)


def public_snapshot(
    service: str,
    *,
    waiting: int = 3,
    wait_s: float | None = 480.0,
    open_windows: tuple[int, ...] = (4, 5, 6),
    called: tuple[tuple[int, str], ...] = (),
) -> PublicSnapshot:
    """The hall with one service's figures and the windows calling ``called`` (window, number)
    for it."""
    status = ServiceStatus(
        service=service,
        name_zh=service,
        name_en=service,
        queue="A",
        waiting=waiting,
        estimated_wait_s=wait_s,
        counters=list(open_windows),
    )
    counters = [
        CounterView(
            id=window,
            kind="normal",
            state=CounterState.CALLING,
            pause_reason=None,
            ticket=number,
            service=service,
            skills={service: 0},
            served_today=0,
        )
        for window, number in called
    ]
    return PublicSnapshot(
        day=ARRIVAL.date(),
        open_for_tickets=True,
        counters=counters,
        services=[status],
        recent_calls=[],
        notices=[],
    )
