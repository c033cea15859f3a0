"""The websocket protocol between the queue server and every terminal, console and phone.

Schemas are defined here once; docs/protocol.md is generated from them and its examples are
checked against them by the tests. Every message is a JSON object with ``v`` (the protocol
version) and ``type``. Client messages that expect an answer carry an ``id``, echoed in the
``reply`` or ``error``.

Client → server: ``hello`` (authenticate; must come first), ``command`` (an engine command),
``query``, ``subscribe``, ``ping``.
Server → client: ``welcome``, ``reply``, ``error``, ``event``, ``snapshot``, ``status``,
``ticket``, ``pong``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from queue_server.engine.commands import Command

VERSION = 1
MAX_MESSAGE_BYTES = 16 * 1024  # larger client messages get a typed error, not a disconnect


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
    # The window this session works at (counter role); a manager may leave it out.
    counter: int | None = None


class ResidentAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["resident"] = "resident"
    # The signed token from the ticket's QR code: good for that one ticket, until the day ends.
    token: str = Field(max_length=256)


Auth = Annotated[DeviceAuth | StaffAuth | ResidentAuth, Field(discriminator="kind")]


# --- client → server ----------------------------------------------------------------------------


class Hello(_Msg):
    type: Literal["hello"] = "hello"
    id: int | str | None = None
    auth: Auth
    lang: Literal["zh", "en"] = "zh"


class ResidentId(BaseModel):
    """A document number read from a card or typed at a kiosk. The server turns it into the
    resident's key (an HMAC under the hall's secret) and keeps nothing else of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    doc_type: Literal["id", "hk_macau_taiwan", "foreign_permanent", "other"] = "id"
    number: str = Field(min_length=4, max_length=32)


class CommandMsg(_Msg):
    type: Literal["command"] = "command"
    id: int | str
    command: Command
    # For issue_ticket, check_in, book_appointment and cancel_appointment: who the resident is.
    resident_id: ResidentId | None = None

    @model_validator(mode="after")
    def _aware_times(self) -> CommandMsg:
        # The engine compares times with its own aware clock: a time without an offset would
        # break every later comparison (a notice's window, a slot), so it never gets that far.
        for name, value in self.command:
            if isinstance(value, dt.datetime) and value.utcoffset() is None:
                raise ValueError(f"command.{name}: a time needs its UTC offset (+08:00)")
        return self


QueryName = Literal["snapshot", "ticket", "slots", "services", "bookable_days"]


class Query(_Msg):
    """Read-only questions. ``snapshot``: the hall as this role may see it. ``ticket``: one
    ticket's position and estimate (``ticket``: number or id; residents: their own).
    ``slots``: free appointment slots of ``service`` on ``day``. ``services``: the hall's
    services with waiting counts and estimates. ``bookable_days``: days open for booking."""

    type: Literal["query"] = "query"
    id: int | str
    query: QueryName
    ticket: str | None = None
    service: str | None = None
    day: dt.date | None = None


StreamName = Literal["public", "counter", "manager", "resident"]


class Subscribe(_Msg):
    """Start receiving a stream. With ``since`` (the last seq the client saw) the server sends
    exactly the events after it, or a fresh snapshot if it no longer holds them."""

    type: Literal["subscribe"] = "subscribe"
    id: int | str
    streams: list[StreamName] = Field(min_length=1, max_length=4)
    since: int | None = Field(default=None, ge=0)


class Ping(_Msg):
    type: Literal["ping"] = "ping"
    id: int | str | None = None


ClientMessage = Annotated[
    Hello | CommandMsg | Query | Subscribe | Ping, Field(discriminator="type")
]
CLIENT_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# --- server → client ----------------------------------------------------------------------------


class Welcome(_Msg):
    type: Literal["welcome"] = "welcome"
    id: int | str | None = None
    role: str
    hall: str
    hall_name_zh: str
    hall_name_en: str
    seq: int
    counter: int | None = None
    ticket: str | None = None
    server_version: str


class Reply(_Msg):
    type: Literal["reply"] = "reply"
    id: int | str | None
    result: dict[str, Any]


class Error(_Msg):
    type: Literal["error"] = "error"
    id: int | str | None = None
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = {}


class EventMsg(_Msg):
    """One event of the hall's log, as the stream's audience may see it."""

    type: Literal["event"] = "event"
    stream: StreamName
    seq: int
    event: dict[str, Any]


class Snapshot(_Msg):
    """The whole state a stream shows, as of ``seq``; later events apply on top of it."""

    type: Literal["snapshot"] = "snapshot"
    stream: StreamName
    seq: int
    state: dict[str, Any]


class Status(_Msg):
    """Waiting counts and estimates per service, pushed after every change (not sequenced:
    each replaces the last)."""

    type: Literal["status"] = "status"
    seq: int
    services: list[dict[str, Any]]


class TicketStatus(_Msg):
    """A resident's own ticket: state, position, estimate and, once called, the window."""

    type: Literal["ticket"] = "ticket"
    seq: int
    ticket: dict[str, Any]


class Pong(_Msg):
    type: Literal["pong"] = "pong"
    id: int | str | None = None
    seq: int


ServerMessage = Annotated[
    Welcome | Reply | Error | EventMsg | Snapshot | Status | TicketStatus | Pong,
    Field(discriminator="type"),
]
SERVER_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


# --- protocol-level errors (engine refusals carry their own codes) -------------------------------

PROTOCOL_ERRORS: dict[str, tuple[str, str]] = {
    "bad_json": ("消息不是有效的 JSON", "The message is not valid JSON"),
    "bad_message": ("消息格式不正确", "The message is malformed"),
    "unsupported_version": ("协议版本不受支持", "Unsupported protocol version"),
    "too_large": ("消息过大", "The message is too large"),
    "not_authenticated": ("请先登录", "Authenticate first (hello)"),
    "already_authenticated": ("已经登录", "Already authenticated"),
    "auth_failed": ("登录失败：账号、密码或令牌不正确", "Authentication failed"),
    "token_expired": ("二维码已过期", "This ticket's code has expired"),
    "forbidden": ("无权执行此操作", "This role may not do that"),
    "rate_limited": ("操作过于频繁，请稍后再试", "Too many messages; slow down"),
    "unavailable": ("系统繁忙，请稍后再试", "The hall system is busy; try again shortly"),
    "bad_query": ("查询参数不正确", "The query is missing a parameter"),
    "internal_error": ("系统内部错误，请稍后再试", "Internal error; try again shortly"),
}


def error(code: str, id: int | str | None = None, **details: Any) -> Error:
    zh, en = PROTOCOL_ERRORS[code]
    return Error(id=id, code=code, message_zh=zh, message_en=en, details=details)
