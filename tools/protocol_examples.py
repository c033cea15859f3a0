"""The examples of docs/protocol.md, as data: one per message, command and event, and the named
blocks the template places (replies, snapshots, a resident's session).

Commands and events are model instances, so they are valid by construction; the event examples
on each stream are what ``queue_server.views`` makes of them. The dicts are what a real server
sends: tests/tools/test_protocol_doc.py validates every block against its schema and compares
the free-form ones (``dict[str, Any]`` in the schemas) key by key with a running server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_server import protocol as P
from queue_server import server as S
from queue_server import views
from queue_server.engine import events as V
from queue_server.protocol import commands as C
from queue_server.protocol.errors import engine_message

ZONE = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 11, 26, 1, 30, 12, tzinfo=dt.UTC)  # 09:30:12 in Beijing
DAY = dt.date(2026, 11, 26)
TOKEN = "20261126-E002.1795708800.fPbmfFGBWwT-91azwkAuQA"
PUBLIC_URL = "https://hall.example.cn"
RESIDENT_KEY = "5f0c3a9be1d27a4486c1f0e9b2d7a6c3"

# --- examples: one per message, command and event ---------------------------------------------

TICKET_VIEW: dict[str, Any] = {
    "id": "20261126-E002",
    "number": "E002",
    "service": "liuguan.residence_registration",
    "service_name_zh": "居住登记",
    "service_name_en": "Residence registration",
    "queue": "E",
    "state": "waiting",
    "ahead": 1,
    "estimated_wait_s": 100.0,
    "counter": None,
    "arrival": "2026-11-26T09:30:12+08:00",
    "called_at": None,
    "started_at": None,
    "recalls": 0,
    "priority": "normal",
    "priority_label_zh": "普通",
    "priority_label_en": "Normal",
}
CALLED_VIEW = {
    **TICKET_VIEW,
    "state": "called",
    "ahead": None,
    "estimated_wait_s": None,
    "counter": 5,
    "called_at": "2026-11-26T09:34:40+08:00",
}
SERVICE_STATUS: dict[str, Any] = {
    "service": "liuguan.residence_registration",
    "name_zh": "居住登记",
    "name_en": "Residence registration",
    "queue": "E",
    "waiting": 3,
    "estimated_wait_s": 300.0,
    "counters": [4, 5, 6],
}
COUNTER_VIEW: dict[str, Any] = {
    "id": 5,
    "kind": "comprehensive",
    "state": "calling",
    "pause_reason": None,
    "ticket": "E002",
    "service": "liuguan.residence_registration",
    "skills": {"liuguan.residence_registration": 0, "jisheng.birth_registration": 1},
    "served_today": 12,
}
NOTICE_VIEW: dict[str, Any] = {
    "id": "N41",
    "text_zh": "今天 16:00 起暂停办理社保卡业务",
    "text_en": "Social security cards are not handled after 16:00 today",
    "starts": None,
    "ends": "2026-11-26T17:00:00+08:00",
}
PUBLIC_STATE: dict[str, Any] = {
    "day": "2026-11-26",
    "open_for_tickets": True,
    "counters": [COUNTER_VIEW],
    "services": [SERVICE_STATUS],
    "recent_calls": [
        {
            "number": "E002",
            "counter": 5,
            "service": "liuguan.residence_registration",
            "state": "called",
        }
    ],
    "notices": [NOTICE_VIEW],
}
FULL_TICKET_VIEW = {
    **TICKET_VIEW,
    "channel": "kiosk",
    "rank": 0,
    "order_key": 1764120612.0,
    "transfers": 0,
    "appointment_id": None,
    "cancel_reason": None,
}
MANAGER_STATE = {**PUBLIC_STATE, "tickets": [FULL_TICKET_VIEW]}

TICKET_DATA = V.TicketData(
    id="20261126-E002",
    number="E002",
    day=DAY,
    service="liuguan.residence_registration",
    queue="E",
    priority="normal",
    rank=0,
    channel="kiosk",
    resident_key=RESIDENT_KEY,
    arrival=AT,
    order_key=1795699812.0,
)


def _at(**fields: Any) -> dict[str, Any]:
    return {"seq": 8, "at": AT, **fields}


EVENT_EXAMPLES: list[V.Event] = [
    V.DayOpened(**_at(seq=1, day=DAY)),
    V.TicketIssued(**_at(ticket=TICKET_DATA, ahead=1, estimated_wait_s=100.0)),
    V.TicketCalled(
        **_at(
            seq=11,
            ticket_id="20261126-E002",
            number="E002",
            service="liuguan.residence_registration",
            counter=5,
        )
    ),
    V.TicketRecalled(**_at(seq=12, ticket_id="20261126-E002", number="E002", counter=5, recalls=1)),
    V.TicketStarted(**_at(seq=13, ticket_id="20261126-E002", number="E002", counter=5)),
    V.TicketFinished(
        **_at(
            seq=14,
            ticket_id="20261126-E002",
            number="E002",
            counter=5,
            service="liuguan.residence_registration",
            service_s=412.5,
        )
    ),
    V.TicketNoShow(**_at(seq=15, ticket_id="20261126-E003", number="E003", counter=5)),
    V.TicketRequeued(
        **_at(seq=16, ticket_id="20261126-E003", number="E003", order_key=1795700500.0)
    ),
    V.TicketTransferred(
        **_at(
            seq=17,
            ticket_id="20261126-E002",
            number="E002",
            from_service="liuguan.residence_registration",
            to_service="liuguan.residence_permit",
            queue="E",
            rank=0,
            counter=5,
        )
    ),
    V.TicketReturned(**_at(seq=18, ticket_id="20261126-E004", number="E004", counter=4)),
    V.TicketCancelled(
        **_at(seq=19, ticket_id="20261126-E005", number="E005", reason="cancelled", counter=None)
    ),
    V.TicketMoved(
        **_at(seq=20, ticket_id="20261126-E006", number="E006", rank=0, order_key=1795699000.0)
    ),
    V.TicketPriorityChanged(
        **_at(seq=21, ticket_id="20261126-E006", number="E006", priority="elderly", rank=1)
    ),
    V.CounterOpened(**_at(seq=2, counter=5)),
    V.CounterClosed(**_at(seq=22, counter=3)),
    V.CounterPaused(**_at(seq=23, counter=2, reason="午休")),
    V.CounterResumed(**_at(seq=24, counter=2)),
    V.CounterReskilled(
        **_at(
            seq=25,
            counter=6,
            skills={"liuguan.residence_permit": 0, "renshe.social_insurance_card": 1},
        )
    ),  # fmt: skip
    V.AppointmentBooked(
        **_at(
            seq=26,
            appointment_id="AP26",
            resident_key=RESIDENT_KEY,
            service="liuguan.residence_permit",
            slot_start=dt.datetime(2026, 11, 30, 9, 0, tzinfo=ZONE),
            slot_end=dt.datetime(2026, 11, 30, 9, 30, tzinfo=ZONE),
            channel="wechat",
        )
    ),
    V.AppointmentCancelled(**_at(seq=27, appointment_id="AP26")),
    V.AppointmentCheckedIn(**_at(seq=28, appointment_id="AP19", ticket_id="20261126-E007")),
    V.AppointmentNoShow(**_at(seq=29, appointment_id="AP20")),
    V.NoticePosted(
        **_at(
            seq=30,
            notice_id="N41",
            text_zh=NOTICE_VIEW["text_zh"],
            text_en=NOTICE_VIEW["text_en"],
            starts=None,
            ends=dt.datetime(2026, 11, 26, 17, 0, tzinfo=ZONE),
        )
    ),
    V.NoticeRemoved(**_at(seq=31, notice_id="N41")),
]

COMMAND_EXAMPLES: list[C.Command] = [
    C.IssueTicket(service="liuguan.residence_registration", priority="normal"),
    C.CallNext(counter=5),
    C.CallTicket(counter=5, ticket="E002"),
    C.Recall(counter=5),
    C.StartService(counter=5),
    C.FinishService(counter=5),
    C.MarkNoShow(counter=5),
    C.Transfer(to_service="liuguan.residence_permit", counter=5),
    C.Requeue(ticket="E003"),
    C.PauseCounter(counter=2, reason="午休"),
    C.ResumeCounter(counter=2),
    C.OpenCounter(counter=3),
    C.CloseCounter(counter=3),
    C.MoveTicket(ticket="E006", other="E004", position="before"),
    C.ChangePriority(ticket="E006", priority="elderly"),
    C.Reskill(counter=6, skills=[["liuguan.residence_permit"], ["B"]]),
    C.CancelTicket(ticket="20261126-E005"),
    C.PostNotice(
        text_zh=NOTICE_VIEW["text_zh"],
        text_en=NOTICE_VIEW["text_en"],
        ends=dt.datetime(2026, 11, 26, 17, 0, tzinfo=ZONE),
    ),
    C.RemoveNotice(notice="N41"),
    C.BookAppointment(
        service="liuguan.residence_permit",
        slot_start=dt.datetime(2026, 11, 30, 9, 0, tzinfo=ZONE),
        channel="wechat",
    ),
    C.CancelAppointment(appointment="AP26"),
    C.CheckIn(appointment="AP19"),
    C.Tick(),
]

ISSUE_REPLY: dict[str, Any] = {
    "seq": 8,
    "events": [
        {
            "seq": 8,
            "at": "2026-11-26T01:30:12Z",
            "type": "ticket_issued",
            "ticket": {
                "id": "20261126-E002",
                "number": "E002",
                "day": "2026-11-26",
                "service": "liuguan.residence_registration",
                "queue": "E",
            },
            "ahead": 1,
            "estimated_wait_s": 100.0,
        }
    ],
    "ticket": TICKET_VIEW,
    "resident_token": TOKEN,
    "ticket_url": f"{PUBLIC_URL}/t/{TOKEN}",
}

FORM: dict[str, Any] = {
    "fields": {
        "name": "张秀兰",
        "id_number": "11010119500101001X",
        "sex": "female",
        "address": "北京市朝阳区示范街道幸福里 7 号楼 501",
        "phone": "13912345678",
    },
    "materials": ["id_card", "lease_contract"],
}
TICKET_FORM_REPLY: dict[str, Any] = {
    "ticket_id": "20261126-E002",
    "service_id": "liuguan.residence_registration",
    **FORM,
    "submitted_at": "2026-11-26T09:30:12+08:00",
}
# A window's materials_on_file: by the ticket it serves.
TICKET_MATERIALS_REPLY: dict[str, Any] = {
    "ticket_id": "20261126-E002",
    "materials": ["id_card", "lease_contract"],
}

CLIENT_EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "hello": [
        (
            "A device (kiosk, navigator, signage):",
            {
                "v": 1,
                "type": "hello",
                "id": 1,
                "auth": {"kind": "device", "device_id": "kiosk-1", "token": "k1-secret-token"},
                "lang": "zh",
            },
        ),
        (
            "A member of staff at window 5 (a manager leaves `counter` out):",
            {
                "v": 1,
                "type": "hello",
                "id": 1,
                "auth": {"kind": "staff", "login": "w5", "password": "correct horse", "counter": 5},
            },
        ),
        (
            "A resident, with the token from the ticket's QR code:",
            {"v": 1, "type": "hello", "id": 1, "auth": {"kind": "resident", "token": TOKEN}},
        ),
    ],
    "command": [
        (
            "A kiosk issues a ticket for a resident whose ID card it read:",
            {
                "v": 1,
                "type": "command",
                "id": 7,
                "command": {"type": "issue_ticket", "service": "liuguan.residence_registration"},
                "resident_id": {"doc_type": "id", "number": "11010119500101001X"},
                "request_key": "5f0c9a7e2b4d4e6f8a1b3c5d7e9f0a2b",
            },
        ),
        (
            "A kiosk issues a ticket with the form the resident filled in (kiosk sessions only; "
            'the reply then has `"form_stored": true`). `fields` are the '
            "catalog service's form field keys; `materials`, its material keys the resident "
            "brings. See [Forms and materials on file](#forms-and-materials-on-file):",
            {
                "v": 1,
                "type": "command",
                "id": 7,
                "command": {"type": "issue_ticket", "service": "liuguan.residence_registration"},
                "resident_id": {"doc_type": "id", "number": "11010119500101001X"},
                "form": FORM,
            },
        ),
        (
            "A window calls its next resident:",
            {"v": 1, "type": "command", "id": 8, "command": {"type": "call_next", "counter": 5}},
        ),
    ],
    "query": [
        (
            "The position and estimate of a ticket (a resident's own: `ticket` may be left out):",
            {"v": 1, "type": "query", "id": 3, "query": "ticket", "ticket": "E002"},
        ),
        (
            "Free appointment slots:",
            {
                "v": 1,
                "type": "query",
                "id": 4,
                "query": "slots",
                "service": "liuguan.residence_permit",
                "day": "2026-11-30",
            },
        ),
        (
            "The form submitted with the ticket a window has called or is serving (counter "
            "sessions only; `ticket_id`: id or number):",
            {
                "v": 1,
                "type": "query",
                "id": 5,
                "query": "ticket_form",
                "ticket_id": "20261126-E002",
            },
        ),
        (
            "The materials the hall already holds for a resident (kiosk and navigator sessions):",
            {
                "v": 1,
                "type": "query",
                "id": 6,
                "query": "materials_on_file",
                "resident_id": {"doc_type": "id", "number": "11010119500101001X"},
            },
        ),
        (
            "The materials the hall already holds for the resident of the ticket a window has "
            "called or is serving (counter sessions: by `ticket_id`, id or number, never by "
            "document):",
            {
                "v": 1,
                "type": "query",
                "id": 12,
                "query": "materials_on_file",
                "ticket_id": "20261126-E002",
            },
        ),
    ],
    "subscribe": [
        (
            "First subscription (a snapshot comes first):",
            {"v": 1, "type": "subscribe", "id": 2, "streams": ["public"]},
        ),
        (
            "After a reconnect, from the last seq seen on that stream:",
            {"v": 1, "type": "subscribe", "id": 2, "streams": ["public"], "since": 1041},
        ),
    ],
    "ping": [("", {"v": 1, "type": "ping", "id": 9})],
    "device_status": [
        (
            "A kiosk's printer ran out of paper (allowed for kiosk, navigator and signage "
            "sessions; with an `id`, a `reply` with `part` confirms it):",
            {
                "v": 1,
                "type": "device_status",
                "id": 11,
                "part": "printer",
                "ok": False,
                "detail": "paper_out",
            },
        ),
    ],
    "file_materials": [
        (
            "Window 5 has checked the resident's ID card and lease and files them (the reply "
            "lists everything now on file for that resident):",
            {
                "v": 1,
                "type": "file_materials",
                "id": 13,
                "ticket_id": "20261126-E002",
                "materials": ["id_card", "lease_contract"],
            },
        ),
    ],
}

SERVER_EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "welcome": [
        (
            "To a resident (`ticket` is the ticket id the token is for):",
            {
                "v": 1,
                "type": "welcome",
                "id": 1,
                "role": "resident",
                "hall": "chaoyang-demo",
                "hall_name_zh": "朝阳区示范街道社区服务中心",
                "hall_name_en": "Chaoyang Demo Street Community Service Centre",
                "seq": 1041,
                "counter": None,
                "ticket": "20261126-E002",
                "server_version": S.SERVER_VERSION,
            },
        ),
    ],
    "reply": [
        (
            "To an `issue_ticket` command (see [Replies](#replies) for every request):",
            {"v": 1, "type": "reply", "id": 7, "result": ISSUE_REPLY},
        ),
    ],
    "error": [
        (
            "An engine refusal:",
            {
                "v": 1,
                "type": "error",
                "id": 8,
                "code": "queue_empty",
                "message_zh": "目前没有等候的号",
                "message_en": "Nobody is waiting for this window",
                "details": {},
            },
        ),
        (
            "A protocol error, with details:",
            P.error("bad_message", 5, field="command.counter", why="Field required").model_dump(
                mode="json"
            ),
        ),
    ],
    "event": [
        (
            "",
            {
                "v": 1,
                "type": "event",
                "stream": "public",
                "seq": 11,
                "event": views.public_event(EVENT_EXAMPLES[2]).model_dump(mode="json"),
            },
        )
    ],
    "snapshot": [
        (
            "",
            {"v": 1, "type": "snapshot", "stream": "public", "seq": 1041, "state": PUBLIC_STATE},
        )
    ],
    "status": [("", {"v": 1, "type": "status", "seq": 1042, "services": [SERVICE_STATUS]})],
    "ticket": [("", {"v": 1, "type": "ticket", "seq": 1045, "ticket": CALLED_VIEW})],
    "pong": [("", {"v": 1, "type": "pong", "id": 9, "seq": 1045})],
    "devices": [
        (
            "",
            {
                "v": 1,
                "type": "devices",
                "devices": [
                    {
                        "terminal": "kiosk-1",
                        "role": "kiosk",
                        "connected": True,
                        "since": "2026-11-26T08:30:02+08:00",
                        "parts": {
                            "printer": {
                                "ok": False,
                                "detail": "paper_out",
                                "at": "2026-11-26T10:12:40+08:00",
                            }
                        },
                    },
                    {
                        "terminal": "signage-main",
                        "role": "signage",
                        "connected": False,
                        "since": None,
                        "parts": {},
                    },
                ],
            },
        )
    ],
}


def refusal(id: int, code: str, **details: str) -> dict[str, Any]:
    """An ``error`` message for an engine refusal, worded from the protocol's templates."""
    zh, en = engine_message(code, details)
    return {
        "v": 1,
        "type": "error",
        "id": id,
        "code": code,
        "message_zh": zh,
        "message_en": en,
        "details": details,
    }


def _reply(id: int, result: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": "reply", "id": id, "result": result}


def _snapshot(stream: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": "snapshot", "stream": stream, "seq": 1041, "state": state}


# The blocks the template names: ``{{ example <name> }}``. Each is (schema, message).
BLOCKS: dict[str, tuple[str, dict[str, Any]]] = {
    "reply.issue_ticket": ("server", _reply(7, ISSUE_REPLY)),
    "reply.book_appointment": (
        "server",
        _reply(
            12,
            {
                "seq": 26,
                "events": [{"type": "appointment_booked", "seq": 26}],
                "appointment": {
                    "id": "AP26",
                    "service": "liuguan.residence_permit",
                    "slot_start": "2026-11-30T09:00:00+08:00",
                    "slot_end": "2026-11-30T09:30:00+08:00",
                    "token": "AP26.1764466200.hR3fQ0a7Hc1cJX6t2n8kqg",
                },
            },
        ),
    ),
    "reply.snapshot": ("server", _reply(20, {"seq": 1041, "state": PUBLIC_STATE})),
    "reply.ticket": ("server", _reply(21, {"seq": 1041, "ticket": TICKET_VIEW})),
    "reply.services": ("server", _reply(22, {"seq": 1041, "services": [SERVICE_STATUS]})),
    "reply.bookable_days": (
        "server",
        _reply(23, {"days": ["2026-11-27", "2026-11-30", "2026-12-01"]}),
    ),
    "reply.slots": (
        "server",
        _reply(
            24,
            {
                "service": "liuguan.residence_permit",
                "day": "2026-11-30",
                "slots": [
                    {
                        "start": "2026-11-30T09:00:00+08:00",
                        "end": "2026-11-30T09:30:00+08:00",
                        "free": 3,
                    }
                ],
            },
        ),
    ),
    "reply.ticket_form": ("server", _reply(25, TICKET_FORM_REPLY)),
    "reply.materials_on_file": (
        "server",
        _reply(26, {"materials": ["id_card", "lease_contract"]}),
    ),
    "reply.materials_on_file.window": ("server", _reply(27, TICKET_MATERIALS_REPLY)),
    "reply.subscribe": (
        "server",
        _reply(2, {"seq": 1045, "streams": {"public": {"resumed_from": 1041}}}),
    ),
    "reply.file_materials": (
        "server",
        _reply(13, {"ticket_id": "20261126-E002", "materials": ["id_card", "lease_contract"]}),
    ),
    "snapshot.public": ("server", _snapshot("public", PUBLIC_STATE)),
    "snapshot.counter": ("server", _snapshot("counter", {"counter": COUNTER_VIEW})),
    "snapshot.manager": ("server", _snapshot("manager", MANAGER_STATE)),
    "snapshot.resident": ("server", _snapshot("resident", {"ticket": TICKET_VIEW})),
    "error.forbidden": (
        "server",
        P.error("forbidden", 8, command="reskill").model_dump(mode="json"),
    ),
    "error.illegal_transition": (
        "server",
        refusal(8, "illegal_transition", kind="ticket", ident="E002", command="call", state="done"),
    ),
    # A resident's session, step by step.
    "session.hello": ("client", CLIENT_EXAMPLES["hello"][2][1]),
    "session.welcome": ("server", SERVER_EXAMPLES["welcome"][0][1]),
    "session.subscribe": (
        "client",
        {"v": 1, "type": "subscribe", "id": 2, "streams": ["resident"]},
    ),
    "session.snapshot": ("server", _snapshot("resident", {"ticket": TICKET_VIEW})),
    "session.subscribed": (
        "server",
        _reply(2, {"seq": 1041, "streams": {"resident": {"snapshot": 1041}}}),
    ),
    "session.ahead": (
        "server",
        {
            "v": 1,
            "type": "ticket",
            "seq": 1043,
            "ticket": {**TICKET_VIEW, "ahead": 0, "estimated_wait_s": 40.0},
        },
    ),
    "session.called": ("server", SERVER_EXAMPLES["ticket"][0][1]),
    "session.done": (
        "server",
        {"v": 1, "type": "ticket", "seq": 1052, "ticket": {**CALLED_VIEW, "state": "done"}},
    ),
    "session.cancel": (
        "client",
        {
            "v": 1,
            "type": "command",
            "id": 3,
            "command": {"type": "cancel_ticket", "ticket": "E002"},
        },
    ),
    "session.refused": (
        "server",
        refusal(
            3, "illegal_transition", kind="ticket", ident="E002", command="cancel", state="done"
        ),
    ),
}
