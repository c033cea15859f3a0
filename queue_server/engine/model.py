"""The engine's state: tickets, counters, appointments and notices as plain mutable records.

Only the appliers (``Hall.apply``, ``AppointmentBook.on_*``) change them; everything else reads them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from queue_server.protocol.states import AppointmentState, CounterState, TicketState


@dataclass(slots=True, eq=False)
class Ticket:
    id: str  # "20261126-A001": unique in the hall for ever
    number: str  # "A001": what the resident holds and the screens show
    day: dt.date
    service: str
    queue: str  # the queue's letter prefix
    priority: str
    rank: int  # from the priority class; lower is served first; -1 = handed back to the head
    channel: str
    resident_key: str | None
    arrival: dt.datetime
    # Dispatch order within a rank: the arrival time (seconds), kept across a transfer and moved
    # by a manager's "move before/after".
    order_key: float
    # When it last entered a queue: the anti-starvation clock.
    queued_at: dt.datetime
    state: TicketState = TicketState.WAITING
    counter: int | None = None
    called_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    no_show_at: dt.datetime | None = None
    recalls: int = 0
    requeued: bool = False
    transfers: int = 0
    appointment_id: str | None = None
    cancel_reason: str | None = None


@dataclass(slots=True, eq=False)
class Counter:
    id: int
    kind: str
    # {service: tier}; tier 0 is the counter's own business, higher tiers are back-up skills.
    skills: dict[str, int]
    state: CounterState = CounterState.CLOSED
    pause_reason: str | None = None
    ticket_id: str | None = None
    served_today: int = 0
    since: dt.datetime | None = None  # when it entered its current state


@dataclass(slots=True, eq=False)
class Appointment:
    id: str
    resident_key: str
    service: str
    slot_start: dt.datetime
    slot_end: dt.datetime
    booked_at: dt.datetime
    channel: str
    state: AppointmentState = AppointmentState.BOOKED
    ticket_id: str | None = None
    closed_at: dt.datetime | None = None


@dataclass(slots=True, eq=False)
class Notice:
    id: str
    text_zh: str
    text_en: str
    starts: dt.datetime | None
    ends: dt.datetime | None
    posted_at: dt.datetime


@dataclass(slots=True)
class DayState:
    """What resets every day."""

    day: dt.date | None = None
    # Last number issued per queue prefix today.
    sequences: dict[str, int] = field(default_factory=dict)
    # Tickets issued today per service (for the daily quota).
    issued: dict[str, int] = field(default_factory=dict)
