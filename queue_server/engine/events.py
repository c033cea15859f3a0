"""Events: what happened, in order. The event log is the hall's record.

Every event carries the hall-wide ``seq`` (1, 2, 3, ... never reused) and the time ``at`` it
happened. Applying the events of a day in order rebuilds that day's state exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seq: int
    at: dt.datetime


class TicketData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
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


class DayOpened(_Event):
    type: Literal["day_opened"] = "day_opened"
    day: dt.date


class TicketIssued(_Event):
    type: Literal["ticket_issued"] = "ticket_issued"
    ticket: TicketData
    ahead: int = Field(description="What the resident is told at issue: people ahead.")
    estimated_wait_s: float | None = Field(
        description="The expected wait told at issue (null: unknown, e.g. no counter open for "
        "the service)."
    )


class TicketCalled(_Event):
    type: Literal["ticket_called"] = "ticket_called"
    ticket_id: str
    number: str
    service: str
    counter: int


class TicketRecalled(_Event):
    type: Literal["ticket_recalled"] = "ticket_recalled"
    ticket_id: str
    number: str
    counter: int
    recalls: int


class TicketStarted(_Event):
    type: Literal["ticket_started"] = "ticket_started"
    ticket_id: str
    number: str
    counter: int


class TicketFinished(_Event):
    type: Literal["ticket_finished"] = "ticket_finished"
    ticket_id: str
    number: str
    counter: int
    service: str
    service_s: float


class TicketNoShow(_Event):
    type: Literal["ticket_no_show"] = "ticket_no_show"
    ticket_id: str
    number: str
    counter: int


class TicketRequeued(_Event):
    type: Literal["ticket_requeued"] = "ticket_requeued"
    ticket_id: str
    number: str
    order_key: float


class TicketTransferred(_Event):
    type: Literal["ticket_transferred"] = "ticket_transferred"
    ticket_id: str
    number: str
    from_service: str
    to_service: str
    queue: str
    rank: int
    counter: int | None


class TicketReturned(_Event):
    """A closing counter handed its resident back to the head of the queue."""

    type: Literal["ticket_returned"] = "ticket_returned"
    ticket_id: str
    number: str
    counter: int


class TicketCancelled(_Event):
    type: Literal["ticket_cancelled"] = "ticket_cancelled"
    ticket_id: str
    number: str
    reason: str
    counter: int | None = None


class TicketMoved(_Event):
    type: Literal["ticket_moved"] = "ticket_moved"
    ticket_id: str
    number: str
    rank: int
    order_key: float


class TicketPriorityChanged(_Event):
    type: Literal["ticket_priority_changed"] = "ticket_priority_changed"
    ticket_id: str
    number: str
    priority: str
    rank: int


class CounterOpened(_Event):
    type: Literal["counter_opened"] = "counter_opened"
    counter: int


class CounterClosed(_Event):
    type: Literal["counter_closed"] = "counter_closed"
    counter: int


class CounterPaused(_Event):
    type: Literal["counter_paused"] = "counter_paused"
    counter: int
    reason: str


class CounterResumed(_Event):
    type: Literal["counter_resumed"] = "counter_resumed"
    counter: int


class CounterReskilled(_Event):
    type: Literal["counter_reskilled"] = "counter_reskilled"
    counter: int
    skills: dict[str, int]


class AppointmentBooked(_Event):
    type: Literal["appointment_booked"] = "appointment_booked"
    appointment_id: str
    resident_key: str
    service: str
    slot_start: dt.datetime
    slot_end: dt.datetime
    channel: str


class AppointmentCancelled(_Event):
    type: Literal["appointment_cancelled"] = "appointment_cancelled"
    appointment_id: str


class AppointmentCheckedIn(_Event):
    type: Literal["appointment_checked_in"] = "appointment_checked_in"
    appointment_id: str
    ticket_id: str


class AppointmentNoShow(_Event):
    type: Literal["appointment_no_show"] = "appointment_no_show"
    appointment_id: str


class NoticePosted(_Event):
    type: Literal["notice_posted"] = "notice_posted"
    notice_id: str
    text_zh: str
    text_en: str
    starts: dt.datetime | None
    ends: dt.datetime | None


class NoticeRemoved(_Event):
    type: Literal["notice_removed"] = "notice_removed"
    notice_id: str


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
