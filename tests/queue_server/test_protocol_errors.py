"""The error templates of the protocol package: one table, rendered from code and details."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from queue_server import errors as E
from queue_server.protocol import errors as PE

# Words: any Chinese character, or two English words in a row (a value such as "08:30" or
# "2026-04-01" formatted by an f-string is a parameter, not words).
WORDS_RE = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]{2,}\s+[A-Za-z]{2,}")


def engine_error_classes() -> list[type[E.EngineError]]:
    """Every class of queue_server.errors' EngineError tree (not clients' own subclasses)."""
    found: list[type[E.EngineError]] = []

    def walk(cls: type[E.EngineError]) -> None:
        if cls.__module__ != E.__name__:
            return
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(E.EngineError)
    return found


def _text_of(node: ast.expr) -> str:
    """The literal text of a string or f-string argument (f-strings: their constant parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(_text_of(value) for value in node.values)
    return ""


def test_every_engine_error_code_has_a_template() -> None:
    for cls in engine_error_classes():
        assert any(key.split(".")[0] == cls.code for key in PE.ENGINE_ERRORS), cls.code


def test_a_message_is_rendered_from_code_and_details() -> None:
    err = E.IllegalTransition("ticket", "A001", "call", "done")
    assert (err.message_zh, err.message_en) == (
        "号票 A001 当前「已办结」，不能叫号",
        "ticket A001 is done; 'call' is not allowed",
    )
    # A client renders the same words from the wire's code and details alone.
    wire = err.to_dict()
    assert PE.engine_message(wire["code"], wire["details"]) == (err.message_zh, err.message_en)
    assert E.NotFound("counter", 9).message_zh == "找不到窗口 9"


def test_a_reason_picks_the_wording_and_missing_parameters_show_their_name() -> None:
    err = E.RequeueRefused(reason="grace", ticket="A001", minutes=10)
    assert err.message_en == "A001 was skipped more than 10 minutes ago; please take a new ticket"
    assert err.to_dict()["details"] == {"reason": "grace", "ticket": "A001", "minutes": "10"}
    assert PE.engine_message("not_skilled", {"ticket": "A001"})[1] == (
        "Window {counter} does not handle the service of A001"
    )


def test_the_engine_raises_codes_and_parameters_not_words() -> None:
    # Every refusal's words come from the table: a raise site in the engine passes no positional
    # message and no words in its parameters.
    engine = Path(E.__file__).parent / "engine"
    found = []
    for path in sorted(engine.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "E"
            ):
                continue
            cls = getattr(E, node.func.attr, None)
            if not (isinstance(cls, type) and issubclass(cls, E.Refusal)):
                continue
            found.append(node.func.attr)
            texts = [
                arg
                for arg in [*node.args, *(k.value for k in node.keywords)]
                if WORDS_RE.search(_text_of(arg))
            ]
            assert not node.args and not texts, f"{path.name}:{node.lineno} {ast.unparse(node)}"
    assert len(found) >= 15  # the scan saw the engine's refusals


# The words a resident or staff member saw before the table existed, word for word.
WORDS = [
    (
        E.HallClosed(days="mon,tue,wed,thu,fri", open="08:30", until="16:30"),
        "现在不是取号时间。取号时间为工作日 08:30–16:30",
        "Tickets are issued on working days 08:30–16:30",
    ),
    (
        E.HallClosed(days="mon,wed,sat", open="09:00", until="12:00"),
        "现在不是取号时间。取号时间为周一、周三、周六 09:00–12:00",
        "Tickets are issued on Mon, Wed, Sat 09:00–12:00",
    ),
    (
        E.HallClosed(days="mon,tue,wed,thu,fri,sat,sun", open="09:00", until="12:00"),
        "现在不是取号时间。取号时间为每天 09:00–12:00",
        "Tickets are issued every day 09:00–12:00",
    ),
    (
        E.QuotaExhausted(service="birth", quota=5),
        "今日该事项号源已发完，请明天再来或网上预约",
        "Today's tickets for this service are all taken; come back tomorrow or book online",
    ),
    (
        E.AlreadyHoldingTicket(ticket="A001", service="birth"),
        "您已领取本事项的 A001 号，请留意叫号",
        "You already hold ticket A001 for this service; please wait to be called",
    ),
    (E.QueueEmpty(counter=3), "目前没有等候的号", "Nobody is waiting for this window"),
    (
        E.NotSkilled(counter=3, ticket="A001", service="birth"),
        "3 号窗口不办理 A001 的事项",
        "Window 3 does not handle the service of A001",
    ),
    (
        E.CallSpecificNotAllowed(counter=3, ticket="A001"),
        "本大厅不允许指定叫号",
        "This hall does not allow calling a ticket out of order",
    ),
    (
        E.RequeueRefused(reason="once", ticket="A001"),
        "A001 已过号重排过一次，请重新取号",
        "A001 was already put back once; please take a new ticket",
    ),
    (
        E.RequeueRefused(reason="grace", ticket="A001", minutes="7.5"),
        "A001 过号已超过 7.5 分钟，请重新取号",
        "A001 was skipped more than 7.5 minutes ago; please take a new ticket",
    ),
    (
        E.IdentityRequired(service="birth"),
        "预约需要实名：请刷身份证或输入证件号码",
        "Appointments are in your own name: please place your ID card or enter its number",
    ),
    (E.SlotInvalid(reason="no_offset"), "预约时段无效", "That appointment time is not valid"),
    (
        E.SlotInvalid(reason="no_appointments", service="birth"),
        "该事项不接受预约",
        "This service does not take appointments",
    ),
    (
        E.SlotInvalid(reason="out_of_window", min_days=1, max_days=10),
        "只能预约未来 1–10 个工作日",
        "Appointments can be booked 1 to 10 working days ahead",
    ),
    (
        E.SlotInvalid(reason="no_such_slot", slot="2026-03-02T09:00:00+08:00"),
        "没有这个预约时段",
        "There is no such appointment slot",
    ),
    (
        E.SlotInvalid(reason="past", slot="2026-03-02T09:00:00+08:00"),
        "这个时段已经过去",
        "That slot has already passed",
    ),
    (
        E.SlotFull(service="birth", slot="2026-03-02T09:00:00+08:00"),
        "这个时段已约满，请选择其他时段",
        "That slot is full; please choose another",
    ),
    (
        E.BookingLimit(per="week", limit=2),
        "每人每周最多预约 2 次，您已达上限",
        "You may book at most 2 appointment(s) a week; you have reached it",
    ),
    (
        E.BookingBanned(count=3, until="2026-04-01"),
        "您近期爽约 3 次，2026-04-01 前不能预约，可现场取号",
        "You missed 3 appointments recently and cannot book before 2026-04-01; you can still "
        "take a ticket at the hall",
    ),
    (
        E.CancelTooLate(hours="2"),
        "需在预约时间 2 小时前取消",
        "Appointments must be cancelled 2 hours ahead",
    ),
    (
        E.TooEarly(appointment="P1", opens="08:30"),
        "还未到签到时间，请于 08:30 后签到",
        "Too early to check in; please come back after 08:30",
    ),
    (
        E.TooLate(appointment="P1"),
        "已超过预约签到时间，预约作废，请按普通号取号",
        "The check-in time for this appointment has passed; please take an ordinary ticket",
    ),
]


@pytest.mark.parametrize(("err", "zh", "en"), WORDS, ids=lambda v: getattr(v, "code", ""))
def test_every_refusal_keeps_its_words(err: E.EngineError, zh: str, en: str) -> None:
    assert (err.message_zh, err.message_en) == (zh, en)
    # The wire's details (strings) render the same words on a client.
    wire = err.to_dict()
    assert PE.engine_message(wire["code"], wire["details"]) == (zh, en)


def test_every_refusal_code_is_pinned_above() -> None:
    pinned = {err.code for err, _, _ in WORDS}
    refusals = {cls.code for cls in engine_error_classes() if issubclass(cls, E.Refusal)}
    assert refusals - {"refused", "appointment_refused"} <= pinned
