"""Every error the hall raises on purpose.

    YikouError
     ├── ConfigError                 a hall configuration that cannot be used (names the field)
     ├── StorageError                the database refused or is unreachable
     │    └── SchemaVersionError     the database's schema is not this software's (names the fix)
     └── EngineError                 the engine refused a command: a code and its parameters
          ├── IllegalTransition      a move the lifecycle table forbids (names object, command, state)
          ├── NotFound               unknown ticket, counter, service, appointment or notice
          └── Refusal                a hall rule said no; the message is for the resident
               ├── HallClosed, QuotaExhausted, AlreadyHoldingTicket
               ├── QueueEmpty, NotSkilled, CallSpecificNotAllowed, RequeueRefused
               ├── IdentityRequired
               └── AppointmentRefused
                    ├── SlotInvalid, SlotFull, BookingLimit, BookingBanned
                    ├── CancelTooLate, TooEarly, TooLate

A refused command changes nothing except time's own effects (a new day, expired bookings) that
were applied before the command ran; those events come back on the error as ``events`` so the
storage adapter can persist them.
"""

from __future__ import annotations

from typing import Any

from queue_server.protocol.errors import engine_message


class YikouError(Exception):
    """Base of every error raised on purpose by Yikou."""


class ConfigError(YikouError):
    """A configuration that cannot be used. ``field`` is the dotted path of the offending field."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        self.field = field
        self.source = source
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class StorageError(YikouError):
    """The database could not do what was asked."""


class SchemaVersionError(StorageError):
    """The database's schema revision is not the one this software writes: older (run
    ``main.py db upgrade``) or newer (upgrade the software). Waiting does not fix it."""


class EngineError(YikouError):
    """The engine refused a command.

    ``code`` is stable and machine-readable; the keyword arguments are its parameters (the
    ``details`` on the wire; ``reason`` picks one of a code's wordings). ``message_zh`` and
    ``message_en`` are plain words a terminal may show as they are, rendered from the
    protocol's templates (``queue_server.protocol.errors``) unless given: a client that rebuilds
    an error from a server's reply passes the server's words.
    """

    code = "engine_error"

    def __init__(self, message_zh: str | None = None, message_en: str | None = None, **params: Any):
        self.details = params
        if message_zh is None or message_en is None:
            message_zh, message_en = engine_message(self.code, params)
        self.message_zh = message_zh
        self.message_en = message_en
        self.events: list = []
        super().__init__(message_en)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "details": {k: str(v) for k, v in self.details.items()},
        }


class IllegalTransition(EngineError):
    code = "illegal_transition"

    def __init__(self, kind: str, ident: object, command: str, state: object):
        self.kind, self.ident, self.command, self.state = kind, ident, command, state
        super().__init__(kind=kind, ident=ident, command=command, state=state)


class NotFound(EngineError):
    code = "not_found"

    def __init__(self, kind: str, ident: object):
        self.kind, self.ident = kind, ident
        super().__init__(kind=kind, ident=ident)


class Refusal(EngineError):
    """A hall rule refused the command; the message is meant for the resident."""

    code = "refused"


class HallClosed(Refusal):
    code = "hall_closed"


class QuotaExhausted(Refusal):
    code = "quota_exhausted"


class AlreadyHoldingTicket(Refusal):
    code = "already_holding_ticket"


class QueueEmpty(Refusal):
    code = "queue_empty"


class NotSkilled(Refusal):
    code = "not_skilled"


class CallSpecificNotAllowed(Refusal):
    code = "call_specific_not_allowed"


class RequeueRefused(Refusal):
    code = "requeue_refused"


class IdentityRequired(Refusal):
    code = "identity_required"


class AppointmentRefused(Refusal):
    code = "appointment_refused"


class SlotInvalid(AppointmentRefused):
    code = "slot_invalid"


class SlotFull(AppointmentRefused):
    code = "slot_full"


class BookingLimit(AppointmentRefused):
    code = "booking_limit"


class BookingBanned(AppointmentRefused):
    code = "booking_banned"


class CancelTooLate(AppointmentRefused):
    code = "cancel_too_late"


class TooEarly(AppointmentRefused):
    code = "check_in_too_early"


class TooLate(AppointmentRefused):
    code = "check_in_too_late"
