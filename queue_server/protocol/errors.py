"""Error codes and their zh/en message templates: the one table a server fills ``message_zh``
and ``message_en`` from, and a client can render a message with in its own language from the
``code`` and ``details`` of an ``error``.

Two families share the ``error`` message: the server's own (``PROTOCOL_ERRORS``: a malformed
message, a role that may not, ...) and the engine's refusals (``ENGINE_ERRORS``: a lifecycle move
the table forbids, a hall rule). ``identity_required`` is in both, worded for each case. A code
with several wordings has one template per ``reason`` (``slot_invalid.past``); the parameters
of a template are the error's ``details``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

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
    "identity_required": ("请填写证件号码", "A document number is required"),
    "proof_invalid": (
        "预约凭证无效，请出示预约时使用的证件",
        "This booking code is not valid; use the document the booking was made with",
    ),
    "internal_error": ("系统内部错误，请稍后再试", "Internal error; try again shortly"),
    "form_invalid": (
        "表格内容不正确或过长，请检查后重新提交",
        "The form is malformed or too long; check it and submit again",
    ),
    "form_not_yours": (
        "这张号票不在本窗口办理，不能查看表格或存档材料",
        "This ticket is not called or being served at your window",
    ),
    "form_not_found": ("未提交表格", "No form was submitted with this ticket"),
    "form_unreadable": (
        "表格无法读取，请群众重新填写",
        "The stored form cannot be read; ask the resident to fill it in again",
    ),
    "no_resident": (
        "这张号票没有登记证件，无法存档材料",
        "This ticket has no resident identity; materials cannot be filed",
    ),
}

# The engine's refusals. ``{kind_zh}``, ``{state_zh}`` and ``{command_zh}`` are the Chinese words
# for the ``kind``, ``state`` and ``command`` parameters, ``{per_zh}``/``{per_en}`` the words for
# ``per`` and ``{days_zh}``/``{days_en}`` those for ``days`` (the tables below).
ENGINE_ERRORS: dict[str, tuple[str, str]] = {
    "engine_error": ("操作被拒绝", "The command was refused"),
    "illegal_transition": (
        "{kind_zh} {ident} 当前「{state_zh}」，不能{command_zh}",
        "{kind} {ident} is {state}; '{command}' is not allowed",
    ),
    "not_found": ("找不到{kind_zh} {ident}", "no such {kind}: {ident}"),
    "refused": ("操作被拒绝", "The command was refused"),
    "hall_closed": (
        "现在不是取号时间。取号时间为{days_zh} {open}–{until}",
        "Tickets are issued {days_en} {open}–{until}",
    ),
    "quota_exhausted": (
        "今日该事项号源已发完，请明天再来或网上预约",
        "Today's tickets for this service are all taken; come back tomorrow or book online",
    ),
    "already_holding_ticket": (
        "您已领取本事项的 {ticket} 号，请留意叫号",
        "You already hold ticket {ticket} for this service; please wait to be called",
    ),
    "queue_empty": ("目前没有等候的号", "Nobody is waiting for this window"),
    "not_skilled": (
        "{counter} 号窗口不办理 {ticket} 的事项",
        "Window {counter} does not handle the service of {ticket}",
    ),
    "call_specific_not_allowed": (
        "本大厅不允许指定叫号",
        "This hall does not allow calling a ticket out of order",
    ),
    "requeue_refused.once": (
        "{ticket} 已过号重排过一次，请重新取号",
        "{ticket} was already put back once; please take a new ticket",
    ),
    "requeue_refused.grace": (
        "{ticket} 过号已超过 {minutes} 分钟，请重新取号",
        "{ticket} was skipped more than {minutes} minutes ago; please take a new ticket",
    ),
    "identity_required": (
        "预约需要实名：请刷身份证或输入证件号码",
        "Appointments are in your own name: please place your ID card or enter its number",
    ),
    "appointment_refused": ("预约被拒绝", "The appointment was refused"),
    "slot_invalid.no_offset": ("预约时段无效", "That appointment time is not valid"),
    "slot_invalid.no_appointments": ("该事项不接受预约", "This service does not take appointments"),
    "slot_invalid.out_of_window": (
        "只能预约未来 {min_days}–{max_days} 个工作日",
        "Appointments can be booked {min_days} to {max_days} working days ahead",
    ),
    "slot_invalid.no_such_slot": ("没有这个预约时段", "There is no such appointment slot"),
    "slot_invalid.past": ("这个时段已经过去", "That slot has already passed"),
    "slot_full": ("这个时段已约满，请选择其他时段", "That slot is full; please choose another"),
    "booking_limit": (
        "每人{per_zh}最多预约 {limit} 次，您已达上限",
        "You may book at most {limit} appointment(s) {per_en}; you have reached it",
    ),
    "booking_banned": (
        "您近期爽约 {count} 次，{until} 前不能预约，可现场取号",
        "You missed {count} appointments recently and cannot book before {until}; you can "
        "still take a ticket at the hall",
    ),
    "cancel_too_late": (
        "需在预约时间 {hours} 小时前取消",
        "Appointments must be cancelled {hours} hours ahead",
    ),
    "check_in_too_early": (
        "还未到签到时间，请于 {opens} 后签到",
        "Too early to check in; please come back after {opens}",
    ),
    "check_in_too_late": (
        "已超过预约签到时间，预约作废，请按普通号取号",
        "The check-in time for this appointment has passed; please take an ordinary ticket",
    ),
}

KIND_ZH = {"ticket": "号票", "counter": "窗口", "appointment": "预约"}
STATE_ZH = {
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
COMMAND_ZH = {
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


PER_WORDS = {"day": ("每天", "a day"), "week": ("每周", "a week"), "month": ("每月", "a month")}
DAY_ZH = {"mon": "一", "tue": "二", "wed": "三", "thu": "四", "fri": "五", "sat": "六", "sun": "日"}


def days_words(days: str) -> tuple[str, str]:
    """Opening days (``"mon,tue"``) in plain words: 工作日 / 每天 / 周一、周三."""
    names = [d for d in days.split(",") if d]
    if set(names) == {"mon", "tue", "wed", "thu", "fri"}:
        return "工作日", "on working days"
    if len(set(names)) == 7:
        return "每天", "every day"
    zh = "、".join(f"周{DAY_ZH.get(d, d)}" for d in names)
    return zh, "on " + ", ".join(d.title() for d in names)


class _Params(dict):
    """Template parameters: a missing one shows as its own ``{name}`` instead of failing (a
    client may render an error from an older server's details)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def engine_template(code: str, reason: object = None) -> tuple[str, str]:
    """The (zh, en) templates of an engine refusal: the ``reason``'s if the code has several."""
    if reason is not None and f"{code}.{reason}" in ENGINE_ERRORS:
        return ENGINE_ERRORS[f"{code}.{reason}"]
    return ENGINE_ERRORS.get(code) or ENGINE_ERRORS["engine_error"]


def engine_message(code: str, details: Mapping[str, Any]) -> tuple[str, str]:
    """The zh and en message of an engine refusal with these ``details`` (its parameters)."""
    zh, en = engine_template(code, details.get("reason"))
    params = _Params(details)
    for name, words in (("kind", KIND_ZH), ("state", STATE_ZH), ("command", COMMAND_ZH)):
        if name in details:
            value = str(details[name])
            params.setdefault(f"{name}_zh", words.get(value, value))
    if "per" in details:
        per = str(details["per"])
        per_zh, per_en = PER_WORDS.get(per, (per, per))
        params.setdefault("per_zh", per_zh)
        params.setdefault("per_en", per_en)
    if "days" in details:
        days_zh, days_en = days_words(str(details["days"]))
        params.setdefault("days_zh", days_zh)
        params.setdefault("days_en", days_en)
    formatter = string.Formatter()
    return formatter.vformat(zh, (), params), formatter.vformat(en, (), params)


def protocol_message(code: str) -> tuple[str, str]:
    """The zh and en message of one of the server's own errors."""
    return PROTOCOL_ERRORS[code]
