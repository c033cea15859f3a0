"""Every error the hall raises on purpose.

    YikouError
     ├── ConfigError                 a hall configuration that cannot be used (names the field)
     ├── StorageError                the database refused or is unreachable
     │    └── SchemaVersionError     the database's schema is not this software's (names the fix)
     └── EngineError                 the engine refused a command; carries code + zh/en messages
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

    ``code`` is stable and machine-readable; ``message_zh``/``message_en`` are plain words that a
    terminal may show as they are.
    """

    code = "engine_error"

    def __init__(self, message_zh: str, message_en: str, **details: Any):
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details
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
        state_zh = _STATE_ZH.get(str(state), str(state))
        command_zh = _COMMAND_ZH.get(str(command), str(command))
        super().__init__(
            f"{_KIND_ZH.get(kind, kind)} {ident} 当前「{state_zh}」，不能{command_zh}",
            f"{kind} {ident} is {state}; '{command}' is not allowed",
            kind=kind,
            ident=ident,
            command=command,
            state=state,
        )


_KIND_ZH = {"ticket": "号票", "counter": "窗口", "appointment": "预约"}
_STATE_ZH = {
    "new": "未创建",
    "waiting": "等候中",
    "called": "已叫号",
    "serving": "办理中",
    "done": "已办结",
    "no_show": "已过号",
    "cancelled": "已取消",
    "closed": "已关闭",
    "idle": "空闲",
    "calling": "叫号中",
    "paused": "暂停中",
    "booked": "已预约",
    "checked_in": "已签到",
    "same": "同一事项",
}
_COMMAND_ZH = {
    "issue": "取号",
    "call": "叫号",
    "recall": "重呼",
    "start": "开始办理",
    "finish": "办结",
    "no_show": "过号",
    "requeue": "重新排队",
    "transfer": "转办",
    "return": "退回队列",
    "move": "调整顺序",
    "change_priority": "调整优先级",
    "cancel": "取消",
    "expire": "作废",
    "open": "开窗",
    "close": "关窗",
    "pause": "暂停",
    "resume": "恢复",
    "release": "释放",
    "reskill": "调整业务",
    "serve": "办理",
    "book": "预约",
    "check_in": "签到",
}


class NotFound(EngineError):
    code = "not_found"

    def __init__(self, kind: str, ident: object):
        self.kind, self.ident = kind, ident
        super().__init__(
            f"找不到{_KIND_ZH.get(kind, kind)} {ident}",
            f"no such {kind}: {ident}",
            kind=kind,
            ident=ident,
        )


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
