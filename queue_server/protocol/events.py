"""What the streams carry of the hall's events (``EventMsg.event``): one model per event type.

The engine's own event models (``queue_server.engine.events``) carry what no audience may see,
such as the resident key; these are their projections (built by ``queue_server.views``). Each
model has the fields the manager and counter streams see; the public stream sees the same
types with less: an issued ticket without how it came or where it stands in the dispatch order
(``IssuedTicket``), a transfer without ``rank``, and none of the manager-only types
(``ticket_moved``, ``ticket_priority_changed``, ``counter_reskilled``, ``appointment_*``).

Times are written as the engine's events write them (UTC as ``Z``). An event type this version
does not know parses as ``OtherEvent`` rather than refusing the message: a hall's server is
upgraded before its terminals.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, TypeAdapter

from queue_server.protocol.payloads import _OmitWhenNone, _Payload


class _Event(_Payload):
    seq: int = Field(description="The event's hall-wide seq.")
    at: dt.datetime = Field(description="When it happened.")


class IssuedTicket(_Payload):
    """An issued ticket as the public stream sees it."""

    id: str
    number: str
    day: dt.date
    service: str
    queue: str


class StaffIssuedTicket(IssuedTicket):
    """An issued ticket as windows and managers see it."""

    priority: str
    rank: int
    channel: str
    arrival: dt.datetime
    order_key: float
    appointment_id: str | None = None


class DayOpened(_Event):
    type: Literal["day_opened"] = "day_opened"
    day: dt.date


class TicketIssued(_Event):
    type: Literal["ticket_issued"] = "ticket_issued"
    # Staff first: a staff ticket also passes as the public one, whose model ignores extras.
    ticket: Annotated[StaffIssuedTicket | IssuedTicket, Field(union_mode="left_to_right")] = Field(
        description="The staff view on the manager and counter streams, the public one on the "
        "public stream."
    )
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


class TicketTransferred(_Event, _OmitWhenNone):
    type: Literal["ticket_transferred"] = "ticket_transferred"
    _omitted: ClassVar[tuple[str, ...]] = ("rank",)
    ticket_id: str
    number: str
    from_service: str
    to_service: str
    queue: str
    rank: int | None = Field(default=None, description="Not on the public stream.")
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
    reason: str = Field(description="Why; the public stream sees only `day_closed` or `cancelled`.")
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


class OtherEvent(_Payload):
    """An event type this version does not know; its fields are kept as they came."""

    model_config = {**_Payload.model_config, "extra": "allow"}
    seq: int
    at: dt.datetime
    type: str


EVENT_TYPES: dict[str, type[_Event]] = {
    m.model_fields["type"].default: m
    for m in (
        DayOpened,
        TicketIssued,
        TicketCalled,
        TicketRecalled,
        TicketStarted,
        TicketFinished,
        TicketNoShow,
        TicketRequeued,
        TicketTransferred,
        TicketReturned,
        TicketCancelled,
        TicketMoved,
        TicketPriorityChanged,
        CounterOpened,
        CounterClosed,
        CounterPaused,
        CounterResumed,
        CounterReskilled,
        AppointmentBooked,
        AppointmentCancelled,
        AppointmentCheckedIn,
        AppointmentNoShow,
        NoticePosted,
        NoticeRemoved,
    )
}


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in EVENT_TYPES and not isinstance(value, OtherEvent) else "other"


StreamEvent = Annotated[
    Annotated[DayOpened, Tag("day_opened")]
    | Annotated[TicketIssued, Tag("ticket_issued")]
    | Annotated[TicketCalled, Tag("ticket_called")]
    | Annotated[TicketRecalled, Tag("ticket_recalled")]
    | Annotated[TicketStarted, Tag("ticket_started")]
    | Annotated[TicketFinished, Tag("ticket_finished")]
    | Annotated[TicketNoShow, Tag("ticket_no_show")]
    | Annotated[TicketRequeued, Tag("ticket_requeued")]
    | Annotated[TicketTransferred, Tag("ticket_transferred")]
    | Annotated[TicketReturned, Tag("ticket_returned")]
    | Annotated[TicketCancelled, Tag("ticket_cancelled")]
    | Annotated[TicketMoved, Tag("ticket_moved")]
    | Annotated[TicketPriorityChanged, Tag("ticket_priority_changed")]
    | Annotated[CounterOpened, Tag("counter_opened")]
    | Annotated[CounterClosed, Tag("counter_closed")]
    | Annotated[CounterPaused, Tag("counter_paused")]
    | Annotated[CounterResumed, Tag("counter_resumed")]
    | Annotated[CounterReskilled, Tag("counter_reskilled")]
    | Annotated[AppointmentBooked, Tag("appointment_booked")]
    | Annotated[AppointmentCancelled, Tag("appointment_cancelled")]
    | Annotated[AppointmentCheckedIn, Tag("appointment_checked_in")]
    | Annotated[AppointmentNoShow, Tag("appointment_no_show")]
    | Annotated[NoticePosted, Tag("notice_posted")]
    | Annotated[NoticeRemoved, Tag("notice_removed")]
    | Annotated[OtherEvent, Tag("other")],
    Discriminator(_event_tag),
]
"""One event as a stream carries it, chosen by ``type``."""

# The public stream's types: the rest reach managers and windows only.
PUBLIC_TYPES = frozenset(EVENT_TYPES) - {
    "ticket_moved",
    "ticket_priority_changed",
    "counter_reskilled",
    "appointment_booked",
    "appointment_cancelled",
    "appointment_checked_in",
    "appointment_no_show",
}

STREAM_EVENT_ADAPTER: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
