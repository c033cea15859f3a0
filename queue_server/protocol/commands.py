"""Commands: what terminals, staff and managers ask the engine to do.

Each is a frozen pydantic model with a ``type`` tag, so the server decodes JSON straight into one
(``parse_command``). Tickets are referred to by id ("20261126-A001") or by today's number ("A001").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

# An HMAC of the resident's document number (queue_server.identity); never the number.
ResidentKey = Annotated[str, Field(min_length=1, max_length=64)]

Channel = Literal["kiosk", "navigator", "web", "app", "wechat", "hotline", "window", "staff"]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IssueTicket(_Command):
    type: Literal["issue_ticket"] = "issue_ticket"
    service: str
    priority: str = "normal"
    channel: Channel = "kiosk"
    resident_key: ResidentKey | None = Field(
        default=None,
        description="HMAC of the resident's document number (see queue_server.identity); "
        "never the number.",
    )


class CallNext(_Command):
    type: Literal["call_next"] = "call_next"
    counter: int


class CallTicket(_Command):
    type: Literal["call_ticket"] = "call_ticket"
    counter: int
    ticket: str


class Recall(_Command):
    type: Literal["recall"] = "recall"
    counter: int


class StartService(_Command):
    type: Literal["start"] = "start"
    counter: int


class FinishService(_Command):
    type: Literal["finish"] = "finish"
    counter: int


class MarkNoShow(_Command):
    type: Literal["no_show"] = "no_show"
    counter: int


class Transfer(_Command):
    """Send a ticket to another service's queue (受理 then 制证). From a counter, its current
    ticket; from a manager, any waiting ticket."""

    type: Literal["transfer"] = "transfer"
    to_service: str
    counter: int | None = None
    ticket: str | None = None


class Requeue(_Command):
    type: Literal["requeue"] = "requeue"
    ticket: str


class PauseCounter(_Command):
    type: Literal["pause"] = "pause"
    counter: int
    reason: str = Field(default="", max_length=200)


class ResumeCounter(_Command):
    type: Literal["resume"] = "resume"
    counter: int


class OpenCounter(_Command):
    type: Literal["open_counter"] = "open_counter"
    counter: int


class CloseCounter(_Command):
    type: Literal["close_counter"] = "close_counter"
    counter: int


class MoveTicket(_Command):
    """Manager: put ``ticket`` just before or just after ``other`` in the dispatch order."""

    type: Literal["move_ticket"] = "move_ticket"
    ticket: str
    other: str
    position: Literal["before", "after"] = "before"


class ChangePriority(_Command):
    type: Literal["change_priority"] = "change_priority"
    ticket: str
    priority: str


class Reskill(_Command):
    """Manager: replace a counter's skill tiers (service ids or queue prefixes)."""

    type: Literal["reskill"] = "reskill"
    counter: int
    skills: list[list[str]] = Field(min_length=1)


class CancelTicket(_Command):
    type: Literal["cancel_ticket"] = "cancel_ticket"
    ticket: str
    reason: str = Field(default="cancelled", max_length=80)


class PostNotice(_Command):
    type: Literal["post_notice"] = "post_notice"
    text_zh: str = Field(min_length=1, max_length=500)
    text_en: str = Field(default="", max_length=1000)
    starts: AwareDatetime | None = Field(
        default=None,
        description="With a UTC offset: the engine compares times with its own aware clock.",
    )
    ends: AwareDatetime | None = Field(default=None, description="With a UTC offset, as starts.")


class RemoveNotice(_Command):
    type: Literal["remove_notice"] = "remove_notice"
    notice: str


class BookAppointment(_Command):
    type: Literal["book_appointment"] = "book_appointment"
    resident_key: ResidentKey | None = Field(
        default=None,
        description="Required by the engine (a booking is real-name); absent when the terminal "
        "sends the resident's document (resident_id) and the server makes the key.",
    )
    service: str
    slot_start: AwareDatetime
    channel: Channel = "web"


class CancelAppointment(_Command):
    type: Literal["cancel_appointment"] = "cancel_appointment"
    appointment: str
    resident_key: ResidentKey | None = Field(
        default=None,
        description="When given, it must match the booking's (a resident cancels only their own).",
    )


class CheckIn(_Command):
    """Check an appointment in: by its id (the booking's QR code) or by the resident's key
    (the ID card placed on the reader), optionally narrowed to a service."""

    type: Literal["check_in"] = "check_in"
    appointment: str | None = None
    resident_key: ResidentKey | None = None
    service: str | None = None
    channel: Channel = "kiosk"


class Tick(_Command):
    """Let time act: a new day, bookings past their grace. The server sends one periodically."""

    type: Literal["tick"] = "tick"


Command = Annotated[
    IssueTicket
    | CallNext
    | CallTicket
    | Recall
    | StartService
    | FinishService
    | MarkNoShow
    | Transfer
    | Requeue
    | PauseCounter
    | ResumeCounter
    | OpenCounter
    | CloseCounter
    | MoveTicket
    | ChangePriority
    | Reskill
    | CancelTicket
    | PostNotice
    | RemoveNotice
    | BookAppointment
    | CancelAppointment
    | CheckIn
    | Tick,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: dict | str | bytes) -> Command:
    """Decode a command from a dict or JSON; raises pydantic.ValidationError."""
    if isinstance(data, dict):
        return COMMAND_ADAPTER.validate_python(data)
    return COMMAND_ADAPTER.validate_json(data)
