"""The envelopes of the websocket protocol between the queue server and every terminal,
console and phone.

Schemas are defined here once (with the commands, payloads and error codes beside this module);
docs/protocol.md and docs/protocol.schema.json are generated from them, and the document's
examples are checked against them by the tests. Every message is a JSON object with ``v`` (the protocol
version) and ``type``. Client messages that expect an answer carry an ``id``, echoed in the
``reply`` or ``error``.

Client → server: ``hello`` (authenticate; must come first), ``command`` (an engine command,
with a resident's form for ``issue_ticket``), ``query``, ``subscribe``, ``ping``,
``device_status``, ``file_materials``.
Server → client: ``welcome``, ``reply``, ``error``, ``event``, ``snapshot``, ``status``,
``ticket``, ``devices``, ``pong``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from queue_server.protocol.commands import Command
from queue_server.protocol.errors import PROTOCOL_ERRORS
from queue_server.protocol.events import StreamEvent
from queue_server.protocol.payloads import (
    DeviceHealth,
    ReplyResult,
    ServiceStatus,
    StreamState,
    TicketView,
)

VERSION = 1
MAX_MESSAGE_BYTES = 16 * 1024  # larger client messages get a typed error, not a disconnect
# A command carrying a resident's form may be larger (a form's text, JSON-escaped): up to this.
MAX_FORM_MESSAGE_BYTES = 64 * 1024
# A form's limits (the catalog's longest field is 500 characters).
FORM_MAX_FIELDS = 50
FORM_MAX_VALUE = 500
FORM_MAX_TOTAL = 5000  # characters of all values together
FORM_MAX_MATERIALS = 50
KEY_PATTERN = r"^[a-z][a-z0-9_]*$"  # the catalog's keys of form fields and materials


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = VERSION


# --- authentication -----------------------------------------------------------------------------


class DeviceAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["device"] = "device"
    device_id: str = Field(max_length=64)
    token: str = Field(max_length=256)


class StaffAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["staff"] = "staff"
    login: str = Field(max_length=32)
    password: str = Field(max_length=256)
    counter: int | None = Field(
        default=None,
        description="The window this session works at (counter role); a manager leaves it out.",
    )


class ResidentAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["resident"] = "resident"
    token: str = Field(
        max_length=256,
        description="The signed token from the ticket's QR code: good for that one ticket, "
        "until the day ends.",
    )


class WebAuth(BaseModel):
    """The residents' web channel (the /book page on a phone): no secret. It may only read the
    services and free slots and book or cancel an appointment in the name of the document it
    sends (``resident_id``), a limited number of times per address."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["web"] = "web"


Auth = Annotated[DeviceAuth | StaffAuth | ResidentAuth | WebAuth, Field(discriminator="kind")]


# --- client → server ----------------------------------------------------------------------------


class Hello(_Msg):
    type: Literal["hello"] = "hello"
    id: int | str | None = None
    auth: Auth = Field(description="One of the four [authentication](#authentication) objects.")
    lang: Literal["zh", "en"] = Field(
        default="zh",
        description="The language the client prefers (every error carries both anyway).",
    )


class ResidentId(BaseModel):
    """A document number read from a card or typed at a kiosk. The server turns it into the
    resident's key (an HMAC under the hall's secret) and keeps nothing else of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    doc_type: Literal["id", "hk_macau_taiwan", "foreign_permanent", "other"] = "id"
    number: str = Field(min_length=4, max_length=32)


RequestKey = Annotated[str, Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
FieldKey = Annotated[str, Field(pattern=KEY_PATTERN, max_length=64)]
MaterialKey = Annotated[str, Field(pattern=KEY_PATTERN, max_length=64)]
FieldValue = Annotated[str, Field(max_length=FORM_MAX_VALUE)] | bool | int | float | None


class Form(BaseModel):
    """A resident's self-service form, submitted with ``issue_ticket`` by a kiosk or navigator.
    ``fields``: the catalog service's form field key -> the value entered (text; a yes/no or a
    number may be sent as JSON true/false or a number). ``materials``: keys of the catalog
    materials the resident says they bring. Stored sealed under the issued ticket; only the
    window serving it may read it (``ticket_form``). Never in events, logs or broadcasts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: dict[FieldKey, FieldValue] = Field(default_factory=dict, max_length=FORM_MAX_FIELDS)
    materials: list[MaterialKey] = Field(default_factory=list, max_length=FORM_MAX_MATERIALS)

    @model_validator(mode="after")
    def _total(self) -> Form:
        total = sum(len(v) for v in self.fields.values() if isinstance(v, str))
        if total > FORM_MAX_TOTAL:
            raise ValueError(f"the form's text is {total} characters; at most {FORM_MAX_TOTAL}")
        return self


class CommandMsg(_Msg):
    type: Literal["command"] = "command"
    id: int | str
    command: Command = Field(description="One [engine command](#engine-commands).")
    resident_id: ResidentId | None = Field(
        default=None,
        description="For issue_ticket, check_in, book_appointment and cancel_appointment: who "
        "the resident is.",
    )
    appointment_token: str | None = Field(
        default=None,
        max_length=256,
        description="For cancel_appointment, instead of resident_id: the booking's own signed "
        "token (the `token` of the booking's reply), which proves the canceller holds the "
        "booking.",
    )
    form: Form | None = Field(
        default=None,
        description="Only with issue_ticket, from a kiosk or navigator: the resident's form "
        "(see Form).",
    )
    request_key: RequestKey | None = Field(
        default=None,
        description="Idempotency: a fresh random key per attempt to do something (a UUID's "
        "hex), the SAME key on every retry of it. A command whose key this session's terminal "
        "already used with this command type is not run again: the reply is the first "
        "attempt's (the same ticket).",
    )

    @model_validator(mode="after")
    def _aware_times(self) -> CommandMsg:
        # The engine compares times with its own aware clock: a time without an offset would
        # break every later comparison (a notice's window, a slot), so it never gets that far.
        for name, value in self.command:
            if isinstance(value, dt.datetime) and value.utcoffset() is None:
                raise ValueError(f"command.{name}: a time needs its UTC offset (+08:00)")
        return self


QueryName = Literal[
    "snapshot",
    "ticket",
    "slots",
    "services",
    "bookable_days",
    "stats",
    "ticket_form",
    "materials_on_file",
]


class Query(_Msg):
    """Read-only questions. ``snapshot``: the hall as this role may see it. ``ticket``: one
    ticket's position and estimate (``ticket``: number or id; residents: their own).
    ``slots``: free appointment slots of ``service`` on ``day``. ``services``: the hall's
    services with waiting counts and estimates. ``bookable_days``: days open for booking.
    ``stats``: today's figures from the event log (a manager: the hall's, with ``csv``; a
    window: its own). ``ticket_form``: the form submitted with ``ticket_id``, for the window
    that called or serves it only. ``materials_on_file``: the materials the hall already holds
    for the resident of ``resident_id`` (kiosk, navigator), or, for a window, of the
    ``ticket_id`` it called or serves (a window never holds the document number)."""

    type: Literal["query"] = "query"
    id: int | str
    query: QueryName
    ticket: str | None = None
    service: str | None = None
    day: dt.date | None = None
    ticket_id: str | None = Field(default=None, max_length=32)
    resident_id: ResidentId | None = None


StreamName = Literal["public", "counter", "manager", "resident"]


class Subscribe(_Msg):
    """Start receiving a stream. With ``since`` (the last seq the client saw) the server sends
    exactly the events after it, or a fresh snapshot if it no longer holds them."""

    type: Literal["subscribe"] = "subscribe"
    id: int | str
    streams: list[StreamName] = Field(min_length=1, max_length=4)
    since: int | None = Field(
        default=None, ge=0, description="The last seq the client saw on these streams."
    )


class Ping(_Msg):
    type: Literal["ping"] = "ping"
    id: int | str | None = None


DevicePart = Literal["printer", "reader", "scanner", "screen", "speaker"]


class DeviceStatus(_Msg):
    """A device terminal (kiosk, navigator, signage) reports the health of one of its parts:
    on start, and whenever it changes. The managers' consoles show it (``devices``)."""

    type: Literal["device_status"] = "device_status"
    id: int | str | None = None
    part: DevicePart
    ok: bool
    detail: str = Field(
        default="",
        max_length=200,
        description="What is wrong, in a word a console can translate: paper_out, cover_open, "
        "offline, ...",
    )


class FileMaterials(_Msg):
    """A window files the materials it checked for the ticket it has called or is serving: the
    hall keeps them on file for that resident (by key, never the number) for ``[privacy]
    materials_retention_days``, so a kiosk can tell the resident next time
    (``materials_on_file``). Counter sessions only; the ticket must carry a resident identity."""

    type: Literal["file_materials"] = "file_materials"
    id: int | str
    ticket_id: str = Field(max_length=32)
    materials: list[MaterialKey] = Field(min_length=1, max_length=FORM_MAX_MATERIALS)


ClientMessage = Annotated[
    Hello | CommandMsg | Query | Subscribe | Ping | DeviceStatus | FileMaterials,
    Field(discriminator="type"),
]
CLIENT_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# --- server → client ----------------------------------------------------------------------------


class Welcome(_Msg):
    type: Literal["welcome"] = "welcome"
    id: int | str | None = None
    role: str = Field(description="kiosk, navigator, signage, counter, manager or resident.")
    hall: str = Field(description="The hall's id.")
    hall_name_zh: str
    hall_name_en: str
    seq: int = Field(description="The hall's last event seq when the session began.")
    counter: int | None = Field(default=None, description="The window of a counter session.")
    ticket: str | None = Field(default=None, description="The ticket id of a resident session.")
    server_version: str


class Reply(_Msg):
    type: Literal["reply"] = "reply"
    id: int | str | None
    result: ReplyResult = Field(description="What the request produced; see [Replies](#replies).")


class Error(_Msg):
    type: Literal["error"] = "error"
    id: int | str | None = None
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = Field(
        default={}, description="Extra facts about the error (which field, which command, ...)."
    )


class EventMsg(_Msg):
    """One event of the hall's log, as the stream's audience may see it."""

    type: Literal["event"] = "event"
    stream: StreamName
    seq: int
    event: StreamEvent = Field(description="The event as this stream's audience may see it.")


class Snapshot(_Msg):
    """The whole state a stream shows, as of ``seq``; later events apply on top of it."""

    type: Literal["snapshot"] = "snapshot"
    stream: StreamName
    seq: int
    state: StreamState


class Status(_Msg):
    """Waiting counts and estimates per service, pushed after every change (not sequenced:
    each replaces the last)."""

    type: Literal["status"] = "status"
    seq: int = Field(description="The last seq of the batch of events this status follows.")
    services: list[ServiceStatus]


class TicketStatus(_Msg):
    """A resident's own ticket: state, position, estimate and, once called, the window."""

    type: Literal["ticket"] = "ticket"
    seq: int
    ticket: TicketView


class Devices(_Msg):
    """The hall's device terminals, sent to sessions of the ``manager`` stream when they
    subscribe and on every change (not sequenced: each replaces the last). Per terminal:
    ``terminal`` (its id), ``role``, ``connected``, ``since`` (when that last changed) and
    ``parts`` (part -> ``ok``, ``detail``, ``at``) as last reported."""

    type: Literal["devices"] = "devices"
    devices: list[DeviceHealth]


class Pong(_Msg):
    type: Literal["pong"] = "pong"
    id: int | str | None = None
    seq: int = Field(description="The hall's last event seq.")


ServerMessage = Annotated[
    Welcome | Reply | Error | EventMsg | Snapshot | Status | TicketStatus | Devices | Pong,
    Field(discriminator="type"),
]
SERVER_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def error(code: str, id: int | str | None = None, **details: Any) -> Error:
    """One of the server's own errors, worded from its template."""
    zh, en = PROTOCOL_ERRORS[code]
    return Error(id=id, code=code, message_zh=zh, message_en=en, details=details)
