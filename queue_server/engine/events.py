"""Events: what happened, in order. The event log is the hall's record.

Every event carries the hall-wide ``seq`` (1, 2, 3, ... never reused) and the time ``at`` it
happened. Applying the events of a day in order rebuilds that day's state exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from queue_server.protocol import events as PE

# An event of the log is closed (an unknown field is an error), unlike the protocol's views of
# it, which a client reads leniently. An event nobody's view hides anything of IS its protocol
# model, with this stricter configuration: its fields are written once, there.
_RECORD = ConfigDict(extra="forbid", frozen=True)


class _Event(BaseModel):
    model_config = _RECORD
    seq: int
    at: dt.datetime


class TicketData(BaseModel):
    model_config = _RECORD
    id: str
    number: str
    day: dt.date
    service: str
    queue: str
    priority: str
    rank: int
    channel: str
    resident_key: str | None = Field(
        default=None,
        description="Never sent to a client: projections drop it, so it may be absent when "
        "parsing theirs.",
    )
    arrival: dt.datetime
    order_key: float
    appointment_id: str | None = None


class DayOpened(PE.DayOpened):
    model_config = _RECORD


class TicketIssued(_Event):
    type: Literal["ticket_issued"] = "ticket_issued"
    ticket: TicketData
    ahead: int = Field(description="What the resident is told at issue: people ahead.")
    estimated_wait_s: float | None = Field(
        description="The expected wait told at issue (null: unknown, e.g. no counter open for "
        "the service)."
    )


class TicketCalled(PE.TicketCalled):
    model_config = _RECORD


class TicketRecalled(PE.TicketRecalled):
    model_config = _RECORD


class TicketStarted(PE.TicketStarted):
    model_config = _RECORD


class TicketFinished(PE.TicketFinished):
    model_config = _RECORD


class TicketNoShow(PE.TicketNoShow):
    model_config = _RECORD


class TicketRequeued(PE.TicketRequeued):
    model_config = _RECORD


class TicketTransferred(_Event):
    type: Literal["ticket_transferred"] = "ticket_transferred"
    ticket_id: str
    number: str
    from_service: str
    to_service: str
    queue: str
    rank: int
    counter: int | None


class TicketReturned(PE.TicketReturned):
    model_config = _RECORD


class TicketCancelled(PE.TicketCancelled):
    model_config = _RECORD


class TicketMoved(PE.TicketMoved):
    model_config = _RECORD


class TicketPriorityChanged(PE.TicketPriorityChanged):
    model_config = _RECORD


class CounterOpened(PE.CounterOpened):
    model_config = _RECORD


class CounterClosed(PE.CounterClosed):
    model_config = _RECORD


class CounterPaused(PE.CounterPaused):
    model_config = _RECORD


class CounterResumed(PE.CounterResumed):
    model_config = _RECORD


class CounterReskilled(PE.CounterReskilled):
    model_config = _RECORD


class AppointmentBooked(_Event):
    type: Literal["appointment_booked"] = "appointment_booked"
    appointment_id: str
    resident_key: str
    service: str
    slot_start: dt.datetime
    slot_end: dt.datetime
    channel: str


class AppointmentCancelled(PE.AppointmentCancelled):
    model_config = _RECORD


class AppointmentCheckedIn(PE.AppointmentCheckedIn):
    model_config = _RECORD


class AppointmentNoShow(PE.AppointmentNoShow):
    model_config = _RECORD


class NoticePosted(PE.NoticePosted):
    model_config = _RECORD


class NoticeRemoved(PE.NoticeRemoved):
    model_config = _RECORD


Event = Annotated[
    DayOpened
    | TicketIssued
    | TicketCalled
    | TicketRecalled
    | TicketStarted
    | TicketFinished
    | TicketNoShow
    | TicketRequeued
    | TicketTransferred
    | TicketReturned
    | TicketCancelled
    | TicketMoved
    | TicketPriorityChanged
    | CounterOpened
    | CounterClosed
    | CounterPaused
    | CounterResumed
    | CounterReskilled
    | AppointmentBooked
    | AppointmentCancelled
    | AppointmentCheckedIn
    | AppointmentNoShow
    | NoticePosted
    | NoticeRemoved,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict | str | bytes) -> Event:
    if isinstance(data, dict):
        return EVENT_ADAPTER.validate_python(data)
    return EVENT_ADAPTER.validate_json(data)
