"""Every word the navigation terminal shows, in Chinese and English.

``Text`` is one message in both languages; ``T[key]`` the fixed ones. The flow (navigator.flow)
hands only ``Text`` values to the screens, which pick the resident's language.
"""

from __future__ import annotations

from terminal.text import PRINTER_PROBLEMS, Text, table

__all__ = ["PRINTER_PROBLEMS", "T", "Text"]

# This app's own words; the ones both terminals share are in terminal.text.SHARED_RAW.
_RAW: dict[str, tuple[str, str]] = {
    # header and home
    "title": ("导航信息机", "Hall guide"),
    "home_title": ("您好，请问要办什么事？", "Hello, what can we help you with?"),
    "home_find": ("找事项 · 看指南", "Find a service"),
    "home_find_sub": ("按部门或拼音查找，看要带的材料", "By department or search; what to bring"),
    "home_queues": ("排队情况", "Queues now"),
    "home_queues_sub": ("每个事项等几人、等多久", "Who is waiting, and how long"),
    "home_map": ("大厅地图", "Hall map"),
    "home_map_sub": ("各窗口在哪里", "Where each window is"),
    "home_book": ("预约办理", "Book an appointment"),
    "home_book_sub": ("选一个以后的时段，到时优先办理", "Pick a later time; be served first then"),
    "home_scan": (
        "查号：把号票或预约二维码对准下方扫码口",
        "Your ticket: hold its QR code to the scanner below",
    ),
    "demo_scan": ("模拟扫码", "Simulate scan"),
    # choosing
    "choose_service": ("请选择事项", "Choose a service"),
    "choose_book": ("预约哪个事项？", "Book which service?"),
    # guide and live queue
    "fees": ("收费：{fees}", "Fee: {fees}"),
    "live_title": ("现在排队", "Queue now"),
    "live_waiting": ("等候 {n} 人", "{n} waiting"),
    "live_wait": ("预计等 {m} 分钟", "About {m} min wait"),
    "live_no_wait": ("现在去基本不用等", "Little or no wait now"),
    "live_serving": ("正在办理：{calls}", "Now serving: {calls}"),
    "live_call": ("{number} → {window}号窗口", "{number} at window {window}"),
    "live_none_serving": ("正在办理：暂无", "Now serving: none yet"),
    "live_windows": ("办理窗口：{windows}", "Windows: {windows}"),
    "live_closed": ("今天办理窗口均未开放", "No window for it is open now"),
    "live_unknown": ("实时排队信息暂时不可用", "Live queue figures are not available now"),
    "show_map": ("看地图怎么走", "Show me the way"),
    "book_this": ("预约这个事项", "Book this service"),
    "queues_title": ("各事项排队情况（实时）", "Queues now (live)"),
    "queues_service": ("事项", "Service"),
    "queues_waiting": ("等候", "Waiting"),
    "queues_wait": ("预计", "Est. wait"),
    "queues_windows": ("窗口", "Windows"),
    "minutes": ("{m} 分钟", "{m} min"),
    # map
    "map_title": ("大厅地图", "Hall map"),
    "map_for": ("{service}：请到亮起的窗口", "{service}: the lit windows"),
    "map_to_window": ("请到 {window} 号窗口", "Please go to window {window}"),
    "map_you": ("您在这里", "You are here"),
    "map_window": ("{n}号", "{n}"),
    "map_legend": (
        "绿色：办理该事项的窗口；红线：从这里走过去",
        "Green: its windows; red: your way",
    ),
    "map_all": ("点选事项后，地图会标出办理窗口和路线", "Choose a service to see its windows"),
    # ticket look-up
    "ticket_title": ("您的号票", "Your ticket"),
    "ticket_loading": ("正在查询……", "Looking it up..."),
    "ticket_waiting": ("前面还有 {n} 人", "{n} people ahead of you"),
    "ticket_wait": ("预计还要等约 {m} 分钟", "About {m} more minutes"),
    "ticket_called": ("请到 {window} 号窗口", "Please go to window {window}"),
    "ticket_called_sub": ("已叫到您的号，请尽快前往", "Your number has been called; go now"),
    "ticket_serving": ("正在 {window} 号窗口办理", "Being served at window {window}"),
    "ticket_done": ("已办结，谢谢", "Finished. Thank you"),
    "ticket_no_show": (
        "已过号。30 分钟内可请窗口重新排队，或重新取号",
        "Missed. Within 30 minutes a window can requeue it; or take a new ticket",
    ),
    "ticket_cancelled": ("这张号票已作废", "This ticket was cancelled"),
    "ticket_expired": ("这是以前的号票，今天已不能使用", "This ticket is from an earlier day"),
    "ticket_unknown": ("查不到这张号票", "This ticket was not found"),
    "ticket_live": ("叫到号时本页会自动更新", "This page updates itself when you are called"),
    # booking
    "book_title": ("预约：{service}", "Book: {service}"),
    "book_day": ("1. 选日期", "1. Choose a day"),
    "book_slot": ("2. 选时段（显示剩余名额）", "2. Choose a time (places left)"),
    "book_loading": ("正在查询可预约时段……", "Looking up free times..."),
    "book_none": ("这一天已约满，请换一天", "This day is full; try another"),
    "book_no_days": ("近期没有可预约的日期", "No bookable days soon"),
    "slot_free": ("余 {n}", "{n} left"),
    "slot_full": ("已满", "Full"),
    "weekday": ("周一 周二 周三 周四 周五 周六 周日", "Mon Tue Wed Thu Fri Sat Sun"),
    "need_card_title": ("请刷身份证确认", "Place your ID card to confirm"),
    "need_card_book": ("预约 {service}\n{when}", "Booking {service}\n{when}"),
    "need_card_cancel": ("取消预约 {appointment}", "Cancel booking {appointment}"),
    "need_card_prompt": (
        "预约实名登记：请把身份证放在下方读卡区，不要移动",
        "Bookings are in your name: place your ID card on the reader below",
    ),
    "working_book": ("正在预约，请稍候……", "Booking, one moment..."),
    "working_cancel": ("正在取消预约，请稍候……", "Cancelling, one moment..."),
    "booked_title": ("预约成功", "Booked"),
    "booked_when": ("{day}  {start}–{end}", "{day}  {start}–{end}"),
    "booked_how": (
        "请在时段开始前 {early} 分钟到开始后 {late} 分钟内，到自助填表机扫描此二维码签到，优先办理。",
        "Come between {early} min before and {late} min after the start; scan this code at "
        "a self-service kiosk to check in and be served first.",
    ),
    "booked_printing": ("正在打印预约凭证……", "Printing your booking slip..."),
    "booked_printed": ("预约凭证已打印，请取走", "Your slip is printed; please take it"),
    "booked_not_printed": (
        "凭证没有打印出来，请用手机拍下本页二维码",
        "The slip did not print: take a photo of this QR code",
    ),
    "booked_no_printer": ("请用手机拍下本页二维码", "Take a photo of this QR code"),
    "cancel_booking": ("取消这个预约", "Cancel this booking"),
    "cancelled_title": ("预约已取消", "Booking cancelled"),
    "cancelled_body": (
        "预约 {appointment} 已取消，名额已让给其他居民。",
        "Booking {appointment} is cancelled; the place is free for others.",
    ),
    "appointment_title": ("预约凭证 {appointment}", "Booking {appointment}"),
    "appointment_body": (
        "签到：请在预约时段到自助填表机扫描这个二维码。\n不能来了？请取消，把名额让给别人。",
        "To check in, scan this code at a self-service kiosk at your booked time.\n"
        "Cannot come? Please cancel and free the place.",
    ),
    # faults
    "paused_title": ("暂停服务", "Service paused"),
    "paused_body": (
        "本机暂时连不上大厅系统，正在自动恢复。\n请稍候，或到咨询台询问。",
        "This terminal cannot reach the hall system; it is reconnecting by itself.\n"
        "Please wait, or ask at the information desk.",
    ),
    "refused_title": ("没有办成", "That did not work"),
    "bad_code_body": (
        "请扫描号票或预约凭证上的二维码。",
        "Scan the QR code on your ticket or booking slip.",
    ),
    "card_help": (
        '请把身份证平放在读卡区中央，不要移动，等待"嘀"声。仍然不行请到咨询台。',
        "Lay the card flat in the middle of the reader and hold it still until it beeps. "
        "Still not working: please ask at the information desk.",
    ),
    "unknown_outcome": (
        "连接中断，不确定是否已办成。请到咨询台查询，不要重复预约。",
        "The connection dropped; it is not certain whether it went through. "
        "Please ask at the information desk rather than trying again.",
    ),
}

T: dict[str, Text] = table(_RAW)
