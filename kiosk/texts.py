"""Every word the kiosk shows, in Chinese and English.

``Text`` is one message in both languages; ``T[key]`` the fixed ones the screens show. The
flow (kiosk.flow) only hands ``Text`` values to the screens, which pick the resident's language.
"""

from __future__ import annotations

from terminal.text import PRINTER_PROBLEMS, Text, table

__all__ = ["PRINTER_PROBLEMS", "T", "Text"]

# This app's own words; the ones both terminals share are in terminal.text.SHARED_RAW.
_RAW: dict[str, tuple[str, str]] = {
    # welcome
    "welcome_title": ("欢迎办理", "Welcome"),
    "welcome_prompt": ("请刷身份证或点击开始", "Place your ID card, or touch Start"),
    "welcome_hint": (
        "有预约？请扫描预约二维码，或直接刷身份证签到",
        "Booked an appointment? Scan its QR code, or place your ID card to check in",
    ),
    "start": ("开始", "Start"),
    "start_no_card": ("不刷卡，直接开始", "Start without a card"),
    "ime_hint": (
        "打拼音，点上方的字；点“ABC”输入字母",
        "Type pinyin, tap a character above; ABC types letters",
    ),
    "letters_hint": (
        "点“中文”用拼音输入汉字",
        "Tap 中文 to type Chinese by pinyin",
    ),
    "elderly_offered": (
        "已为您开启长辈模式（大字、慢节奏），可随时关闭",
        "Large-print mode is on for you; you can turn it off at any time",
    ),
    "card_read": ("已读取身份证", "ID card read"),
    "demo_elderly_card": ("模拟长辈刷卡", "Simulate senior's card"),
    # choosing
    "choose_service": ("请选择要办理的事项", "Choose a service"),
    # guide
    "guide_title": ("办事指南", "Service guide"),
    "on_file": ("已存档，可免交", "on file, not needed"),
    "bring": ("□ 我带了", "□ I have it"),
    "bringing": ("√ 我带了", "√ I have it"),
    "tick_hint": (
        "带了哪些材料？点“我带了”勾选，窗口提前知道",
        "Tick what you have with you; the window will know before you come",
    ),
    "fill_form": ("填写表单", "Fill in the form"),
    "take_ticket": ("取号", "Take a ticket"),
    # form
    "form_title": ("自助填表", "Fill in the form"),
    "form_from_card": ("已读卡", "from card"),
    "form_required": ("必填", "required"),
    "form_submit": ("提交并取号", "Submit and take a ticket"),
    "form_skip": ("跳过，到窗口填写", "Skip; fill it in at the window"),
    "form_missing": ("请填写：{fields}", "Please fill in: {fields}"),
    "field_required": ("此项必填", "Required"),
    "field_phone": ("请输入11位手机号码", "Enter an 11-digit mobile number"),
    "field_date": ("请按 年-月-日 输入，如 1990-03-07", "Use year-month-day, e.g. 1990-03-07"),
    "field_number": ("请输入数字", "Digits only"),
    "field_id_number": ("身份证号码不正确", "That ID number is not valid"),
    "field_too_long": ("最多 {n} 个字", "At most {n} characters"),
    "field_select": ("请选择一项", "Choose one"),
    "done": ("完成", "Done"),
    # Elderly mode edits one field at a time, the keyboard the whole width (see docs/kiosk.md).
    "form_prev_field": ("上一项", "Previous"),
    "form_next_field": ("下一项", "Next"),
    "form_tap_field": ("请点要填写的一项", "Touch the line you want to fill in"),
    # card needed
    "need_card_title": ("本事项需要刷身份证", "This service needs your ID card"),
    "need_card_prompt": (
        "请把身份证放在下方读卡区，不要移动",
        "Place your ID card on the reader below and hold it still",
    ),
    # working / ticket
    "working": ("正在为您取号，请稍候……", "Getting your ticket, one moment..."),
    "checking_in": ("正在签到，请稍候……", "Checking you in, one moment..."),
    "your_number": ("您的号码", "Your number"),
    "ahead": ("前面还有 {n} 人", "People ahead of you: {n}"),
    "wait": ("预计等候约 {m} 分钟", "About {m} minutes' wait"),
    "take_paper": ("请取走号票，留意叫号", "Please take your ticket and listen for your number"),
    "checked_in": ("预约签到成功", "Appointment checked in"),
    "card_needed_hint": ("本事项需刷身份证取号", "This service needs your ID card for a ticket"),
    "card_optional_hint": ("本事项可不刷卡取号", "No ID card needed for this ticket"),
    "no_card_help": (
        "没有带身份证？请到{desk}，工作人员帮您取号。",
        "No ID card with you? Please go to the {desk}; staff will help you.",
    ),
    # idle
    "still_here": ("我还在，继续", "I'm still here"),
    # faults
    "paused_title": ("暂停取号", "Tickets paused"),
    "paused_body": (
        "本机暂时连不上取号系统，正在自动恢复。\n请稍候，或到{desk}人工取号。",
        "This machine cannot reach the ticket system; it is reconnecting by itself.\n"
        "Please wait, or get a ticket at the {desk}.",
    ),
    "printer_down_title": ("本机暂不能打印号票", "This machine cannot print tickets now"),
    "printer_down_body": (
        "打印机{problem}，已通知工作人员。\n请到{desk}人工取号，或使用另一台取号机。",
        "The printer is {problem_en}; staff have been told.\n"
        "Please get a ticket at the {desk}, or use another machine.",
    ),
    "print_failed_cancelled": (
        "号票没有打印出来，该号已作废，不会叫到您。\n请到{desk}人工取号，工作人员会帮您。",
        "Your ticket did not print, so it was cancelled and will not be called.\n"
        "Please go to the {desk}; staff will help you.",
    ),
    "print_failed_kept": (
        "号票没有打印出来，但号码有效：请记住您的号码 {number}，留意叫号。\n"
        "需要纸质号票请到{desk}。",
        "Your ticket did not print, but the number is valid: remember {number} and listen "
        "for it.\nFor a paper ticket, please go to the {desk}.",
    ),
    "refused_title": ("暂时不能取号", "No ticket this time"),
    "card_help": (
        '请把身份证平放在读卡区中央，不要移动，等待"嘀"声。\n'
        '仍然不行：请到{desk}，或点击"不刷卡，直接开始"。',
        "Lay the card flat in the middle of the reader and hold it still until it beeps.\n"
        'Still not working: go to the {desk}, or touch "Start without a card".',
    ),
    "bad_code_body": (
        "请扫描预约短信或预约页面上的二维码，或刷身份证签到。",
        "Scan the QR code of your booking, or place your ID card to check in.",
    ),
    "checkin_then_normal": ("取普通号", "Take an ordinary ticket"),
    "unknown_outcome": (
        "连接中断，不确定是否已取到号。请到{desk}查询，不要重复取号。",
        "The connection dropped; it is not certain whether a ticket was issued. "
        "Please ask at the {desk} rather than taking another.",
    ),
}

T: dict[str, Text] = table(_RAW)
