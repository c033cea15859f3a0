"""What replies, events and snapshots carry: typed payloads, one model per shape.

The server builds these (``queue_server.views``) and the envelopes carry them; the JSON is what
it was when they were dicts. Times go out as ``datetime.isoformat()`` gives them (an offset,
never ``Z``). A field that a payload leaves out unless it applies (``form_stored`` on an issue
reply) is omitted, not sent as ``null``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_serializer

from queue_server.protocol.states import CounterState, TicketState

# Kept as isoformat() writes it, the format the wire had before these models.
IsoTime = Annotated[
    dt.datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str, when_used="json")
]


class _Payload(BaseModel):
    # What the server sends may grow: a hall's server is upgraded before its terminals, so a
    # client ignores a field it does not know rather than refuse the whole reply. (What the
    # server accepts stays closed: the client messages forbid unknown fields.)
    model_config = ConfigDict(extra="ignore", frozen=True)


class _OmitWhenNone(_Payload):
    """A payload whose ``_omitted`` fields are left out of the JSON when they are None."""

    _omitted: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in self._omitted:
            if data.get(name) is None:
                data.pop(name, None)
        return data


# --- the hall's objects, as an audience sees them -------------------------------------------------


class TicketView(_Payload):
    """One ticket: its state and, while waiting, its place and estimate (``ahead``,
    ``estimated_wait_s``); once called, the window (``counter``). ``priority`` is the class the
    hall granted, with its labels."""

    id: str = Field(description="The ticket's id, unique (`20261126-E002`).")
    number: str = Field(description="Today's number (`E002`).")
    service: str = Field(description="The service it is for.")
    service_name_zh: str
    service_name_en: str
    queue: str = Field(description="The queue's letter.")
    state: TicketState
    ahead: int | None = Field(description="People before it (while waiting; otherwise null).")
    estimated_wait_s: float | None = Field(
        description="Expected wait in seconds (while waiting; null when unknown, e.g. no "
        "window open)."
    )
    counter: int | None = Field(description="The window, once called.")
    arrival: IsoTime = Field(description="When it joined the queue.")
    called_at: IsoTime | None = Field(description="When last called, or null.")
    started_at: IsoTime | None = Field(description="When its service began, or null.")
    recalls: int = Field(description="How many times it was called again.")
    priority: str = Field(
        description="The priority class the hall granted, labelled by `priority_label_zh` and "
        "`priority_label_en` from the hall's `priority_classes`: what a terminal shows and "
        "prints, as it may differ from what was asked (a booking past its check-in window is "
        "refused and the ordinary ticket taken instead is `normal`; a kiosk may grant only "
        "`self_service` classes)."
    )
    priority_label_zh: str
    priority_label_en: str


class StaffTicketView(TicketView):
    """A ticket as windows and managers see it: also how it came and where it stands in the
    dispatch order (``rank``, then ``order_key``)."""

    channel: str = Field(description="How it came: kiosk, window, wechat, ...")
    rank: int = Field(description="Its priority class's rank: within a tier, lower goes first.")
    order_key: float = Field(description="The dispatch order within a rank.")
    transfers: int = Field(description="How many times it was sent to another service.")
    appointment_id: str | None = Field(description="The booking it was checked in from.")
    cancel_reason: str | None


class ServiceStatus(_Payload):
    """Per service: the waiting count, the wait a new ticket would be told, the open windows
    that handle it."""

    service: str
    name_zh: str
    name_en: str
    queue: str = Field(description="The queue's letter.")
    waiting: int = Field(description="Tickets waiting.")
    estimated_wait_s: float | None = Field(
        description="What a new ticket would wait; null when no window is open for it."
    )
    counters: list[int] = Field(description="The open windows that handle it.")


class CounterView(_Payload):
    """A window: its state and the ticket it calls or serves."""

    id: int = Field(description="The window's number.")
    kind: str
    state: CounterState
    pause_reason: str | None
    ticket: str | None = Field(description="The number of the ticket at the window.")
    service: str | None = Field(description="That ticket's service.")
    skills: dict[str, int] = Field(
        description="Service -> tier (0: the window's own business, called first)."
    )
    served_today: int


class RecentCall(_Payload):
    number: str
    counter: int | None
    service: str
    state: TicketState


class NoticeView(_Payload):
    id: str
    text_zh: str
    text_en: str
    starts: IsoTime | None
    ends: IsoTime | None


class PartHealth(_Payload):
    ok: bool
    detail: str
    at: IsoTime


class DeviceHealth(_Payload):
    """A device terminal: whether it is connected (since when) and its parts as last reported."""

    terminal: str
    role: str
    connected: bool
    since: IsoTime | None
    parts: dict[str, PartHealth]


# --- snapshots, one per stream --------------------------------------------------------------------


class PublicSnapshot(_Payload):
    """The ``public`` stream: windows, services, the last calls and the notices in force."""

    day: dt.date | None = Field(
        description="The hall's current day, or null before the first day opened."
    )
    open_for_tickets: bool = Field(description="Whether tickets are being issued now.")
    counters: list[CounterView] = Field(description="One [counter view](#counter-view) a window.")
    services: list[ServiceStatus] = Field(
        description="[Service status](#service-status) per service."
    )
    recent_calls: list[RecentCall] = Field(
        description="The last 10 calls: `number`, `counter`, `service`, `state`."
    )
    notices: list[NoticeView] = Field(
        description="Notices showing now: `id`, `text_zh`, `text_en`, `starts`, `ends`."
    )


class ManagerSnapshot(PublicSnapshot):
    """The ``manager`` stream: the public state and every ticket of the day."""

    tickets: list[StaffTicketView]


class CounterSnapshot(_Payload):
    """The ``counter`` stream: this session's window."""

    counter: CounterView | None


class ResidentSnapshot(_Payload):
    """The ``resident`` stream: the resident's own ticket (None once the hall no longer holds it)."""

    ticket: TicketView | None


StreamState = ManagerSnapshot | PublicSnapshot | CounterSnapshot | ResidentSnapshot


# --- reply results --------------------------------------------------------------------------------


class AppointmentBooking(_Payload):
    """A booking made by ``book_appointment``. ``token`` proves a later cancellation
    (``appointment_token``) without the document."""

    id: str
    service: str
    slot_start: IsoTime
    slot_end: IsoTime
    token: str


class CommandResult(_OmitWhenNone):
    """The reply to a ``command``: the events it caused (as the session's role may see them)
    and the seq of the last. ``issue_ticket`` adds the ticket, its resident token and page
    (and ``form_stored`` when a form came with it); ``book_appointment`` adds the booking."""

    _omitted: ClassVar[tuple[str, ...]] = (
        "ticket",
        "form_stored",
        "resident_token",
        "ticket_url",
        "appointment",
    )

    seq: int
    events: list[dict[str, Any]]
    ticket: TicketView | None = None
    form_stored: bool | None = None
    resident_token: str | None = None
    ticket_url: str | None = None
    appointment: AppointmentBooking | None = None


class SnapshotResult(_Payload):
    """The ``snapshot`` query."""

    seq: int
    state: ManagerSnapshot | PublicSnapshot


class ServicesResult(_Payload):
    """The ``services`` query."""

    seq: int
    services: list[ServiceStatus]


class TicketResult(_Payload):
    """The ``ticket`` query (staff see the staff view)."""

    seq: int
    ticket: StaffTicketView | TicketView


class SubscribeResult(_Payload):
    """The reply to ``subscribe``: per stream, ``{"resumed_from": seq}`` or
    ``{"snapshot": seq}``."""

    seq: int
    streams: dict[str, dict[str, int]]


class BookableDaysResult(_Payload):
    """The ``bookable_days`` query: the days a booking may be made for, soonest first."""

    days: list[dt.date]


class Slot(_Payload):
    start: IsoTime
    end: IsoTime
    free: int = Field(description="Places still free in the slot.")


class SlotsResult(_Payload):
    """The ``slots`` query: a service's slots on a day."""

    service: str
    day: dt.date
    slots: list[Slot]


class MaterialsOnFileResult(_OmitWhenNone):
    """The ``materials_on_file`` query: the materials the hall keeps on file for a resident
    (a window also gets the ticket it asked about, ``ticket_id``)."""

    _omitted: ClassVar[tuple[str, ...]] = ("ticket_id",)

    ticket_id: str | None = None
    materials: list[str]


class TicketFormResult(_Payload):
    """The ``ticket_form`` query: the form submitted with the ticket a window serves."""

    ticket_id: str
    service_id: str
    fields: dict[str, str | bool | int | float | None] = Field(
        description="Field key -> the value entered, as the kiosk or navigator sent it."
    )
    materials: list[str]
    submitted_at: IsoTime


class TimeSummary(_Payload):
    count: int
    mean_s: float | None
    p90_s: float | None
    max_s: float | None


class CounterStats(_Payload):
    """One window's day: calls, outcomes, and its open, busy and paused seconds."""

    counter: int
    calls: int
    served: int
    no_shows: int
    mean_service_s: float | None
    mean_wait_s: float | None
    open_s: float
    busy_s: float
    paused_s: float
    busy_share: float | None = Field(description="Busy / open, null while never open.")


class ServiceStats(_Payload):
    service: str
    issued: int
    served: int
    no_shows: int
    cancelled: int
    mean_wait_s: float | None
    p90_wait_s: float | None
    mean_service_s: float | None


class DayStats(_Payload):
    """The day's figures (``queue_server.stats.day_stats``)."""

    day: dt.date | None
    as_of: IsoTime
    issued: int
    served: int
    no_shows: int
    cancelled: int
    wait: TimeSummary
    service: TimeSummary
    counters: list[CounterStats]
    services: list[ServiceStats]


class StatsResult(_Payload):
    """The ``stats`` query as a manager gets it: the day's figures and the same as CSV."""

    stats: DayStats
    csv: str


class CounterStatsResult(_Payload):
    """The ``stats`` query as a window gets it: its own row only."""

    day: dt.date | None
    as_of: IsoTime
    window: CounterStats


ReplyResult = (
    CommandResult
    | SnapshotResult
    | ServicesResult
    | TicketResult
    | SubscribeResult
    | BookableDaysResult
    | SlotsResult
    | MaterialsOnFileResult
    | TicketFormResult
    | StatsResult
    | CounterStatsResult
    | dict[str, Any]
)
