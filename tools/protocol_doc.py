"""Generate docs/protocol.md from the code that defines the protocol.

    python -m tools.protocol_doc > docs/protocol.md

The field tables come from the pydantic models (``queue_server.protocol``, ``protocol.commands``,
``engine.events``) and the comments beside their fields; roles from ``server.ROLE_*``; error
codes and their messages from ``protocol.PROTOCOL_ERRORS``, ``queue_server.errors`` and the
engine's own ``raise`` statements; limits from the constants the server enforces. Every example
is built as a model instance, so it is valid by construction, and the event examples on each
stream are what ``queue_server.views`` makes of them. tests/tools/test_protocol_doc.py
checks that the committed document equals a fresh generation and validates its examples again.

Example blocks are fenced as ```` ```json client ````, ``server``, ``command`` or ``event``: the
second word names the schema the block validates against.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import re
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from queue_server import errors as E
from queue_server import protocol as P
from queue_server import server as S
from queue_server import storage as STORAGE
from queue_server import views
from queue_server.engine import appointments as engine_appointments
from queue_server.engine import events as V
from queue_server.engine import hall as engine_hall
from queue_server.protocol import commands as C

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
                "event": views.public_event(EVENT_EXAMPLES[2]),
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

# --- extra words for fields whose meaning the code does not spell out --------------------------

FIELD_NOTES: dict[tuple[str, str], str] = {
    ("Hello", "lang"): "The language the client prefers (every error carries both anyway).",
    ("Hello", "auth"): "One of the four [authentication](#authentication) objects.",
    ("CommandMsg", "command"): "One [engine command](#engine-commands).",
    ("Welcome", "role"): "kiosk, navigator, signage, counter, manager or resident.",
    ("Welcome", "hall"): "The hall's id.",
    ("Welcome", "seq"): "The hall's last event seq when the session began.",
    ("Welcome", "counter"): "The window of a counter session.",
    ("Welcome", "ticket"): "The ticket id of a resident session.",
    ("Reply", "result"): "What the request produced; see [Replies](#replies).",
    ("Error", "details"): "Extra facts about the error (which field, which command, ...).",
    ("EventMsg", "event"): "The event as this stream's audience may see it.",
    ("Subscribe", "since"): "The last seq the client saw on these streams.",
    ("Pong", "seq"): "The hall's last event seq.",
    ("Status", "seq"): "The last seq of the batch of events this status follows.",
}


# --- rendering helpers ------------------------------------------------------------------------


def _json(data: Any, indent: int = 0, used: int = 0, width: int = 96) -> str:
    """Indented JSON that keeps a value on one line when it fits (easier to read than indent=2).
    ``indent``: the indentation of the line the value starts on; ``used``: columns already
    taken on that line."""
    flat = json.dumps(data, ensure_ascii=False)
    if used + len(flat) <= width or not isinstance(data, dict | list) or not data:
        return flat
    pad = " " * (indent + 2)
    if isinstance(data, dict):
        items = []
        for key, value in data.items():
            head = f"{pad}{json.dumps(key, ensure_ascii=False)}: "
            items.append(head + _json(value, indent + 2, len(head) + 1, width))
    else:
        items = [pad + _json(value, indent + 2, len(pad) + 1, width) for value in data]
    opening, closing = ("{", "}") if isinstance(data, dict) else ("[", "]")
    return opening + "\n" + ",\n".join(items) + "\n" + " " * indent + closing


def _block(kind: str, data: Any) -> str:
    return f"```json {kind}\n{_json(data)}\n```\n"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is list:
        return f"array of {_type_name(args[0])}"
    if origin is dict:
        return f"object ({_type_name(args[0])} → {_type_name(args[1])})"
    names = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        type(None): "null",
        dt.datetime: "date-time",
        dt.date: "date",
        typing.Any: "any",
    }
    if annotation in names:
        return names[annotation]
    if annotation is typing.get_args(C.Command)[0]:
        return "[command](#engine-commands) object"
    if annotation is typing.get_args(P.Auth)[0]:
        return "[auth](#authentication) object"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"{annotation.__name__} object"
    return str(annotation)


def _constraints(info: FieldInfo) -> str:
    out = []
    for meta in info.metadata:
        for name, word in (
            ("min_length", "min length"),
            ("max_length", "max length"),
            ("ge", "≥"),
            ("gt", ">"),
        ):
            value = getattr(meta, name, None)
            if value is not None:
                out.append(f"{word} {value}")
    return ", ".join(out)


def _field_comments(cls: type) -> dict[str, str]:
    """The ``# comments`` written above or beside each field in the class's source."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# "))
            continue
        match = re.match(r"^    (\w+)\s*:[^#]*(?:#\s*(.*))?$", line)
        if match:
            words = pending + ([match.group(2)] if match.group(2) else [])
            if words:  # in JSON terms: Python's None is null on the wire
                comments[match.group(1)] = re.sub(r"\bNone\b", "null", " ".join(words))
        pending = []
    return comments


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields_table(cls: type[BaseModel], skip: Iterable[str] = ()) -> str:
    comments = {}
    for klass in reversed(cls.__mro__):
        if inspect.isclass(klass) and issubclass(klass, BaseModel) and klass is not BaseModel:
            comments.update(_field_comments(klass))
    rows = ["| field | type | required / default | notes |", "|---|---|---|---|"]
    for name, info in cls.model_fields.items():
        if name in skip:
            continue
        if info.is_required():
            need = "required"
        else:
            need = f"default `{json.dumps(info.get_default(call_default_factory=True), ensure_ascii=False, default=str)}`"
        notes = [
            n
            for n in (
                _constraints(info),
                FIELD_NOTES.get((cls.__name__, name), ""),
                comments.get(name, ""),
            )
            if n
        ]
        type_text = _type_name(info.annotation).replace("\\|", "|")
        rows.append(f"| `{name}` | {_cell(type_text)} | {need} | {_cell('; '.join(notes))} |")
    return "\n".join(rows) + "\n"


def _doc(cls: type) -> str:
    text = inspect.getdoc(cls) or ""
    inherited = [inspect.getdoc(base) for base in cls.__mro__[1:]]
    return "" if text in inherited else " ".join(text.split()).replace("``", "`")


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    union = typing.get_args(annotation)[0]
    return list(typing.get_args(union))


def _type_tag(cls: type[BaseModel]) -> str:
    return cls.model_fields["type"].default


# --- the engine's error messages, read from its raise statements ---------------------------------


def _render_message(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append("{" + _placeholder(value.value) + "}")
        return "".join(parts)
    return "{" + _placeholder(node) + "}"


def _placeholder(node: ast.expr) -> str:
    """A short name for a value an f-string fills in: ``held.number``, ``limit``, ``until``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return ast.unparse(node).removeprefix("self.").removeprefix("rules.")
    if isinstance(node, ast.Call):
        if node.args:
            return _placeholder(node.args[0])
        return _placeholder(node.func.value) if isinstance(node.func, ast.Attribute) else "…"
    if isinstance(node, ast.BinOp):
        return _placeholder(node.left)
    return "…"


def engine_messages() -> dict[str, list[tuple[str, str]]]:
    """code -> [(zh, en)] for every refusal the engine raises, in source order."""
    out: dict[str, list[tuple[str, str]]] = {}
    nodes = (
        node
        for module in (engine_hall, engine_appointments)
        for node in ast.walk(ast.parse(inspect.getsource(module)))
    )
    for node in nodes:
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "E"
            and len(node.args) >= 2
        ):
            continue
        cls = getattr(E, node.func.attr, None)
        if not (inspect.isclass(cls) and issubclass(cls, E.Refusal)):
            continue
        pair = (_render_message(node.args[0]), _render_message(node.args[1]))
        if pair not in out.setdefault(cls.code, []):
            out[cls.code].append(pair)
    for messages in out.values():
        messages.sort()
    return out


def engine_error_classes() -> list[type[E.EngineError]]:
    found: list[type[E.EngineError]] = []

    def walk(cls: type[E.EngineError]) -> None:
        # Only the tree of queue_server.errors: clients (the console) subclass it for their own
        # use, and whether those are imported must not change the document.
        if cls.__module__ != E.__name__:
            return
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(E.EngineError)
    return found


ENGINE_ERROR_NOTES = {
    "engine_error": "Base of every engine refusal; never sent as such.",
    "illegal_transition": "The lifecycle table forbids this move for the object's current state. "
    "`details`: `kind`, `ident`, `command`, `state`.",
    "not_found": "Unknown ticket, counter, service, priority class, appointment or notice. "
    "`details`: `kind`, `ident`.",
    "refused": "Base of the hall-rule refusals below; never sent as such. Their messages are "
    "meant for the resident and may be shown as they are.",
    "hall_closed": "Outside ticket-issuing hours (or a non-working day).",
    "quota_exhausted": "Today's tickets for this service are all taken. `details`: `service`.",
    "already_holding_ticket": "This resident already holds an open ticket for this service. "
    "`details`: `ticket`.",
    "queue_empty": "`call_next`: nobody waits for this window's skills.",
    "not_skilled": "`call_ticket`: the window does not handle that ticket's service.",
    "call_specific_not_allowed": "`call_ticket`: the hall calls in order only.",
    "requeue_refused": "`requeue`: already requeued once, or the grace period has passed.",
    "appointment_refused": "Base of the appointment refusals below; never sent as such.",
    "slot_invalid": "`book_appointment`: no such slot, past, out of the booking window, or the "
    "service takes no appointments.",
    "slot_full": "`book_appointment`: the slot has no room left.",
    "booking_limit": "`book_appointment`: the per-resident limit (day, week or month) is reached.",
    "booking_banned": "`book_appointment`: too many recent no-shows.",
    "cancel_too_late": "`cancel_appointment`: too close to the slot.",
    "check_in_too_early": "`check_in`: before the check-in window opens.",
    "check_in_too_late": "`check_in`: after the check-in window closed; the booking is void.",
}

PROTOCOL_ERROR_NOTES = {
    "bad_json": "The frame is not JSON (or not UTF-8).",
    "bad_message": "Not an object, unknown `type`, a missing or extra field, a wrong value "
    '(of the wrong JSON type too: `true`, `"2"` or `2.0` where an integer is due: nothing '
    "is converted), JSON nested deeper than the server reads, or text that is not Unicode (a "
    "lone surrogate escape such as `\\ud800`). `details`: `field` (dotted path), `why`.",
    "unsupported_version": "`v` is not a version this server speaks. `details`: `supported`.",
    "too_large": f"The message is over {P.MAX_MESSAGE_BYTES} bytes. `details`: `limit`.",
    "not_authenticated": "Anything but `hello` before a `welcome`.",
    "already_authenticated": "A second `hello` on one connection.",
    "auth_failed": "Unknown device or login, wrong token or password, a staff member without the "
    "role or window asked for, or a forged resident token.",
    "token_expired": "A genuine resident token past its day, or for a ticket the hall no longer "
    "holds.",
    "forbidden": "The role may not send this command, query or stream (or a counter session "
    "named another window), submit a `form` or file materials. `details`: `command`, `query`, "
    "`streams`, `field` (`form`; `resident_id` for a window's `materials_on_file`) or "
    "`message`.",
    "rate_limited": "Messages arrive faster than the connection's rate; the excess is dropped. "
    "Or a login waited too long in line behind failed ones (see [Guessing](#guessing); "
    "`details`: `retry_after`), or the web channel's address sent too many bookings.",
    "unavailable": "The database could not commit, or did not answer within "
    "`[server] command_timeout_s`. Retry with the same `request_key`: see "
    "[Retries and request keys](#retries-and-request-keys).",
    "bad_query": "The query lacks a parameter it needs. `details`: `field`.",
    "identity_required": "A `web` session sent `book_appointment` without `resident_id`; a "
    "kiosk, navigator or web session sent `cancel_appointment` without `resident_id` or "
    "`appointment_token`; or a kiosk or navigator sent `materials_on_file` without "
    "`resident_id`.",
    "proof_invalid": "`cancel_appointment` with an `appointment_token` that is forged, expired "
    "or for another booking. Nothing was cancelled.",
    "form_invalid": f"A `form` that breaks its limits (more than {P.FORM_MAX_FIELDS} fields, a "
    f"value over {P.FORM_MAX_VALUE} characters, over {P.FORM_MAX_TOTAL} characters in all, more "
    f"than {P.FORM_MAX_MATERIALS} materials, a key not like `id_card`, a value not text, yes/no "
    "or a number), or a form with a command other than `issue_ticket`. `details`: `field`, "
    "`why` (never the value). Nothing was issued.",
    "form_not_yours": "`ticket_form`, `file_materials` or a window's `materials_on_file` for a "
    "ticket this window has not called "
    "and is not serving (waiting, finished, no-show, at another window). `details`: `ticket`.",
    "form_not_found": "`ticket_form`: no form was submitted with the ticket, or it passed its "
    "retention. `details`: `ticket`.",
    "form_unreadable": "`ticket_form`: the stored form does not open with the hall's key (the key "
    "or the secret it is derived from changed). `details`: `ticket`.",
    "no_resident": "`file_materials` or a window's `materials_on_file` for a ticket issued "
    "without a document (`resident_id`): there is nobody to keep them for, or to look up. "
    "`details`: `ticket`.",
}


# --- the document -----------------------------------------------------------------------------


def _roles_table() -> str:
    roles = ["kiosk", "navigator", "signage", "counter", "manager", "resident", "web"]
    how = {
        "kiosk": "device token",
        "navigator": "device token",
        "signage": "device token",
        "counter": "staff login + `counter`",
        "manager": "staff login, no `counter`",
        "resident": "resident token",
        "web": "`kind: web`, no secret",
    }
    all_commands = [_type_tag(c) for c in _union_members(C.Command)]
    rows = ["| role | authenticates with | commands | queries | streams |", "|---|---|---|---|---|"]
    for role in roles:
        commands = S.ROLE_COMMANDS[role]
        command_text = (
            "all"
            if set(all_commands) <= commands
            else ", ".join(f"`{c}`" for c in all_commands if c in commands) or "none"
        )
        queries = ", ".join(
            f"`{q}`" for q in typing.get_args(P.QueryName) if q in S.ROLE_QUERIES[role]
        )
        streams = ", ".join(
            f"`{s}`" for s in typing.get_args(P.StreamName) if s in S.ROLE_STREAMS[role]
        )
        rows.append(f"| {role} | {how[role]} | {command_text} | {queries} | {streams} |")
    return "\n".join(rows) + "\n"


def _roles_for(command: str) -> str:
    roles = [r for r, allowed in S.ROLE_COMMANDS.items() if command in allowed]
    return ", ".join(roles)


def _streams_for(ev: V.Event) -> list[tuple[str, dict[str, Any]]]:
    out = []
    public = views.public_event(ev)
    if public is not None:
        out.append(("public", public))
    counter = getattr(ev, "counter", None)
    if counter is not None:
        out.append(("counter", views.counter_event(ev, counter)))
    out.append(("manager", views.manager_event(ev)))
    return out


def render() -> str:
    out: list[str] = []
    w = out.append
    client_models = _union_members(P.ClientMessage)
    server_models = _union_members(P.ServerMessage)
    command_models = _union_members(C.Command)
    event_models = _union_members(V.Event)
    examples_by_event = {ev.type: ev for ev in EVENT_EXAMPLES}
    examples_by_command = {cmd.type: cmd for cmd in COMMAND_EXAMPLES}

    w(
        f"""# Yikou queue server protocol (version {P.VERSION})

<!-- Generated by `python -m tools.protocol_doc > docs/protocol.md` from the code that
defines the protocol. Do not edit by hand: change the code (or tools/protocol_doc.py) and
regenerate; tests/tools/test_protocol_doc.py fails while the two differ. -->

Every terminal, console and phone of the hall talks to one queue server over a websocket. This
document is all an integrator needs to build a channel (WeChat mini-program, app, web page): how
to connect and authenticate, every message, every engine command and event, the streams and how
to resume them, every error code, the limits, and the privacy rules.

Contents: [Transport](#transport) · [Envelope](#envelope) · [Session](#session) ·
[Authentication](#authentication) · [Roles](#roles) · [Client messages](#client-messages) ·
[Server messages](#server-messages) · [Replies](#replies) · [Streams](#streams) ·
[Seq and resume](#seq-and-resume) · [Engine commands](#engine-commands) · [Events](#events) ·
[Errors](#errors) · [Limits](#limits) · [Privacy](#privacy) ·
[Forms and materials on file](#forms-and-materials-on-file) ·
[Resident ticket page](#resident-ticket-page) · [A resident's session](#a-residents-session)

Conventions: times are ISO 8601 with an offset (`2026-11-26T09:30:12+08:00`; event times are
UTC, `...Z`); days are `YYYY-MM-DD` in the hall's time zone; durations are seconds (`_s`).
Tickets are named by id (`20261126-E002`, unique) or by today's number (`E002`). Windows
(counters) are integers. Examples are fenced as `json client`, `json server`, `json command` or
`json event`: the schema each validates against.

## Transport

- One port serves both the websocket and HTTP (the `[server]` section of the hall config: `host`,
  `port`). With `tls_cert` and `tls_key` set, it is `wss://` and `https://` (and `public_url`,
  which every ticket's QR code points at, must be `https://` too); otherwise `ws://` and
  `http://`.
- Websocket URL: `ws://HOST:PORT/ws` (or `wss://...`). The path `/` is accepted too; any other
  path is refused with HTTP 404.
- Messages are JSON objects in UTF-8 text frames, one message per frame.
- The server pings every 20 s at the websocket level and closes a connection that does not
  answer within 20 s; browsers and websocket libraries answer by themselves. An application
  level [`ping`](#ping) is there for clients that want a round trip and the current seq.

HTTP routes (GET) on the same port:

| path | answer |
|---|---|
| `/healthz` | JSON: `status` (`ok` or `database unreachable`), `database` (bool), `uptime_s`, `version`, `hall`, `seq`, `connections`; HTTP 200, or 503 when the database is unreachable or has not answered within `[server] healthz_timeout_s` (2 s by default) |
| `/metrics` | Prometheus text format: `yikou_commands_total` (by type, outcome: `ok`, `refused`, `replayed`), `yikou_connections` (by role), `yikou_tickets` (today's, by state), `yikou_wait_seconds`, `yikou_publish_seconds`, `yikou_seq` |
| `/t/<resident token>` | the [resident ticket page](#resident-ticket-page) (HTML) |
| `/static/<file>` | the pages' scripts and style sheets (`ticket.js`, `staff.css`, ...) |
| `/staff`, `/manager` | the window console and the manager console (HTML; log in over the websocket) |
| `/guide`, `/book` | the residents' service guides and appointment booking (HTML, phone first) |
| `/api/services` | JSON: the hall's services from the catalog (`?q=` searches Chinese, pinyin, English) |
| `/api/services/<id>` | JSON: one service's guide (materials, steps, fees, form); 404 if the hall has no such service |
| `/qr/<appointment id>.svg` | the QR code of an appointment id (SVG), for the booking page |

Everything else is 404. Responses carry `Cache-Control: no-store`. Only `GET` and `HEAD` (the
same status and headers, no body) are served: any other method gets 405 with `Allow: GET, HEAD`.
The server reads no request bodies: a request that carries one (a `POST` with content) is closed
without an answer.

## Envelope

Every message, in both directions, is a JSON object with:

| field | type | meaning |
|---|---|---|
| `v` | integer | protocol version: always `{P.VERSION}`. Another value gets `unsupported_version`. |
| `type` | string | the message type (below) |
| `id` | integer \\| string \\| null | a request's id, chosen by the client; the server echoes it in the `reply` or `error` that answers it. Required on `command`, `query`, `subscribe`; optional on `hello` and `ping`. |

The server's own pushes (`event`, `snapshot`, `status`, `ticket`) carry no `id`. An `error`
with `"id": null` answers no particular request (a flood warning, an oversize message).
Unknown fields are refused (`bad_message`): the schemas are closed.

## Session

1. Open the websocket.
2. Send [`hello`](#hello) within {S.HELLO_TIMEOUT:g} s; until then nothing else is accepted
   (`not_authenticated`) and after it the server closes the connection (code 4001).
3. The server answers [`welcome`](#welcome) (or an `error`: `auth_failed`, `token_expired`).
   A refused hello leaves the connection open for another try until the {S.HELLO_TIMEOUT:g} s
   run out; clients should not retry the same credentials.
4. Send `subscribe` for the streams you want, then `command`s and `query`s as needed. Requests
   may be pipelined; each answer carries its request's `id`.
5. On a lost connection, reconnect with exponential backoff and jitter, send `hello` again and
   `subscribe` again with `since` (see [Seq and resume](#seq-and-resume)). A command whose reply
   never arrived, or that was answered `unavailable`, may or may not have happened: repeat it
   with the same `request_key` (see [Retries and request keys](#retries-and-request-keys)).

### Retries and request keys

Every `command` and `query` is answered (its result, a refusal, or `unavailable`) within
`[server] command_timeout_s` of the hall config (5 s by default) of the server taking it up,
whatever the database does. A connection's messages are taken up one after another: a request
pipelined behind others waits for their answers first.
`unavailable` means the hall could not say in time: a command not yet begun by then is dropped
and never happens; one that had begun may still commit.

So a command that must not happen twice (above all `issue_ticket`, `check_in`,
`book_appointment`) carries a `request_key`: a fresh random string (16 to 64 of `A-Z a-z 0-9 _ -`;
a UUID's hex) per attempt to do something, and the SAME key on every retry of that attempt. The
key is stored in the command's own transaction, so whenever the first attempt committed (even
after its client had given up, even before a restart) a retry is answered with the first
attempt's result (the same ticket, the same `resident_token`) and nothing happens again; the
events are not published a second time. A refused command stores no key: its retry runs again.
Keys are scoped to the session's terminal (a resident: the ticket) and the command type, and
kept {STORAGE.REQUEST_KEY_DAYS} days.

## Authentication

The `auth` object of `hello` is one of four kinds (`kind`):

### device

Kiosks (自助填表机), navigation terminals (导航信息机) and call screens. Each device has an id
and a token in the hall config (stored there as a memory-hard hash); the device's role comes from
the config. There is no role of its own for a WeChat or app back end yet: it logs in as a device
with the kiosk or navigator role, and its tickets and bookings are recorded with that channel.

{_fields_table(P.DeviceAuth)}
### staff

Window staff and managers log in with their login and password (stored as a memory-hard hash).
With `counter`, the session works at that window and its role is `counter` (the login must have
the counter role and, if the config lists windows for it, that window). Without `counter`, the
role is `manager` (the login must have the manager role).

{_fields_table(P.StaffAuth)}
### Guessing

Device tokens and staff passwords are checked with a memory-hard hash, so guessing them is
slowed, not locked out. The server counts failed logins per address (more than
{S.LoginThrottle.ADDRESS_LIMIT} in {S.LoginThrottle.WINDOW_S:.0f} s) and per credential (device
id or login: more than {S.LoginThrottle.CREDENTIAL_LIMIT}). While an address or a credential is
over its count, its logins are not refused but checked one at a time,
{S.LoginThrottle.SPACING_S:g} s apart, in the order they came: the right password still gets in
after its turn, a guesser gets one try a second. A login that would wait more than
{S.LoginThrottle.MAX_WAIT_S:.0f} s in that line gets `rate_limited` (`details.retry_after`, in
seconds). A credential the server has already accepted since it started never waits: terminals
and staff behind one address (a hall's NAT, a mobile carrier) are not held up by a guesser
among them. Resident tokens (an HMAC signature: nothing to guess) and the web channel are not
throttled.

### resident

A resident's phone or channel holds one signed token for one ticket: the kiosk's reply to
`issue_ticket` carries it as `resident_token` (and `ticket_url`, which the printed QR code
encodes). It is `<ticket id>.<expiry, epoch seconds>.<signature>`, good for that ticket only,
until the end of the ticket's day in the hall's time zone. A forged or altered token gets
`auth_failed`; an expired one, or one whose ticket the hall no longer holds, `token_expired`.
Channels that issue tickets themselves (a WeChat mini-program through its own back end with a
device login) pass the token on to the resident's session.

{_fields_table(P.ResidentAuth)}
### web

The residents' web channel: the booking page (`/book`) on a phone, with no account. It may read
the services, the bookable days and the free slots, and `book_appointment` or
`cancel_appointment` in the name of the document it sends with each command (`resident_id`;
without it: `identity_required`). The server keys the document as for a kiosk and records the
booking with channel `web`; a cancellation must come with the document the booking was made
with, or with the booking's own token (`appointment_token`, the `token` its booking's reply
carried). One address may send at most {S.WEB_COMMAND_LIMIT} such commands in
{S.WEB_COMMAND_WINDOW_S:.0f} s (then `rate_limited`): every `book_appointment` and
`cancel_appointment` counts, accepted or refused by the hall (a refused cancellation is a
guess); a command the role may not send at all is refused with `forbidden` and not counted.

{_fields_table(P.WebAuth)}
## Roles

What each role may do. A forbidden command, query or stream gets `forbidden`; nothing happens.

{_roles_table()}
Further rules the server applies to commands:

- A `counter` session may only name its own window in
  {", ".join(f"`{c}`" for c in sorted(S._COUNTER_BOUND))}.
- The server sets `channel` of `issue_ticket`, `check_in` and `book_appointment` from the role
  (`kiosk`, `navigator`, `window` for a counter, `staff` for a manager); what the client sent is
  replaced.
- Kiosks may only issue priority classes marked self-service in the hall config (others, such
  as military or disabled priority, are issued at a window after checking papers).
- A `resident` may only `cancel_ticket` its own ticket (by id or number).
- A `form` may go with `issue_ticket` from {" and ".join(f"`{r}`" for r in sorted(S.FORM_ROLES))}
  sessions only; `file_materials` is for {" and ".join(f"`{r}`" for r in sorted(S.FILE_ROLES))}
  sessions only, and `ticket_form`, `file_materials` and a window's `materials_on_file` only
  for the ticket the window has called or is serving (see [Forms and materials on file](#forms-and-materials-on-file)).

## Client messages

Client to server. Types: {", ".join(f"`{_type_tag(m)}`" for m in client_models)}.

"""
    )
    for model in client_models:
        tag = _type_tag(model)
        w(f"### {tag}\n\n")
        if _doc(model):
            w(_doc(model) + "\n\n")
        w(_fields_table(model))
        if model is P.CommandMsg:
            w("\n`resident_id`:\n\n" + _fields_table(P.ResidentId))
            w("\n`form`:\n\n" + _doc(P.Form) + "\n\n" + _fields_table(P.Form))
        if model is P.Query:
            w("\n`resident_id`: as in [`command`](#command).\n")
        for note, example in CLIENT_EXAMPLES[tag]:
            w(f"\n{note}\n\n" if note else "\n")
            w(_block("client", example))
        w("\n")

    w(
        f"""## Server messages

Server to client. Types: {", ".join(f"`{_type_tag(m)}`" for m in server_models)}.

"""
    )
    for model in server_models:
        tag = _type_tag(model)
        w(f"### {tag}\n\n")
        if _doc(model):
            w(_doc(model) + "\n\n")
        w(_fields_table(model))
        for note, example in SERVER_EXAMPLES[tag]:
            w(f"\n{note}\n\n" if note else "\n")
            w(_block("server", example))
        w("\n")

    w(_replies())
    w(_streams())
    w(_resume())

    w(
        """## Engine commands

Sent inside a [`command`](#command) message: `{"v": 1, "type": "command", "id": ..., "command":
{...}}`. The reply's `result` is described under [Replies](#replies); a refusal is an `error`
with one of the [engine error codes](#engine-errors). Tickets may be named by id or by today's
number.

| command | who may send it |
|---|---|
"""
    )
    for model in command_models:
        tag = _type_tag(model)
        w(f"| [`{tag}`](#{tag.replace('_', '_')}) | {_roles_for(tag)} |\n")
    w("\n")
    for model in command_models:
        tag = _type_tag(model)
        w(f"### {tag}\n\n")
        if _doc(model):
            w(_doc(model) + "\n\n")
        w(f"Who: {_roles_for(tag)}.\n\n")
        w(_fields_table(model))
        example = examples_by_command[tag].model_dump(mode="json")
        if "resident_key" in model.model_fields:
            w(
                "\nSend the resident's document as the message's `resident_id`; the server "
                "computes `resident_key` from it and puts it in the command"
                + (
                    " (the schema requires the field: send an empty string)"
                    if model.model_fields["resident_key"].is_required()
                    else ""
                )
                + ". See [Privacy](#privacy).\n"
            )
        if tag == "cancel_appointment":
            w(
                "\nA kiosk, navigator or web session acts for whoever stands before it, and "
                "appointment ids are sequential: it must prove the resident, with the document "
                "the booking was made with (`resident_id`) or with the booking's own signed "
                "token (the message's `appointment_token`: the `token` of the booking's reply). "
                "Without either: `identity_required`; a forged, expired or another booking's "
                "token: `proof_invalid`; another resident's document: `not_found`.\n"
            )
        w("\n" + _block("command", example) + "\n")

    w(
        """## Events

What happened, in order; the hall's record. Each event has the hall-wide `seq` and the time
`at` (UTC). Below, each event in full as the engine records it (`json event`), then what each
stream sends of it (`json server`): the public stream drops personal and internal fields, and
no stream ever carries `resident_key`. An event is sent on the `counter` stream only to the
session of the window it names.

"""
    )
    for model in event_models:
        tag = _type_tag(model)
        ev = examples_by_event[tag]
        w(f"### {tag}\n\n")
        if _doc(model):
            w(_doc(model) + "\n\n")
        w(_fields_table(model, skip=("seq", "at", "type")))
        if model is V.TicketIssued:
            w("\n`ticket` (TicketData):\n\n" + _fields_table(V.TicketData))
        w("\n" + _block("event", ev.model_dump(mode="json")))
        streams = _streams_for(ev)
        names = [s for s, _ in streams]
        w(f"\nStreams: {', '.join(names)}.")
        public = next((d for s, d in streams if s == "public"), None)
        manager = next(d for s, d in streams if s == "manager")
        if public is not None and public != ev.model_dump(mode="json"):
            w(" On the public stream:\n\n")
            msg = {"v": 1, "type": "event", "stream": "public", "seq": ev.seq, "event": public}
            w(_block("server", msg))
        if manager != ev.model_dump(mode="json"):
            w(
                "\nOn the "
                + ("counter and manager streams" if "counter" in names else "manager stream")
                + ":\n\n"
            )
            msg = {"v": 1, "type": "event", "stream": "manager", "seq": ev.seq, "event": manager}
            w(_block("server", msg))
        w("\n\n" if not out[-1].endswith("\n") else "\n")

    w(_errors())
    w(_limits())
    w(_privacy())
    w(_forms())
    w(_page())
    w(_session())
    return "".join(out).rstrip() + "\n"


def _replies() -> str:
    query_examples = {
        "snapshot": {"seq": 1041, "state": PUBLIC_STATE},
        "ticket": {"seq": 1041, "ticket": TICKET_VIEW},
        "services": {"seq": 1041, "services": [SERVICE_STATUS]},
        "bookable_days": {"days": ["2026-11-27", "2026-11-30", "2026-12-01"]},
        "slots": {
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
    }
    parts = [
        """## Replies

The `result` of a `reply` depends on the request.

### Reply to a command

| key | when | meaning |
|---|---|---|
| `seq` | always | the seq of the command's last event |
| `events` | always | the command's events: in full (without `resident_key`) for counter and manager sessions, as the public stream shows them for other roles (`{"type", "seq"}` only for events the public does not see) |
| `ticket` | a ticket was issued (`issue_ticket`, `check_in`) | the [ticket view](#ticket-view) |
| `resident_token` | a ticket was issued | the ticket's [resident token](#resident) |
| `ticket_url` | a ticket was issued | `<public_url>/t/<resident_token>`: what the ticket's QR code encodes |
| `appointment` | `book_appointment` | `id`, `service`, `slot_start`, `slot_end`, `token`: the booking's signed token (good until the slot ends), which proves a later `cancel_appointment` as `appointment_token` |
| `form_stored` | a ticket was issued with a `form` | `true`: the form was committed with the ticket |

"""
        + _block("server", {"v": 1, "type": "reply", "id": 7, "result": ISSUE_REPLY})
        + "\n"
        + _block(
            "server",
            {
                "v": 1,
                "type": "reply",
                "id": 12,
                "result": {
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
            },
        )
        + """
### Reply to a query

| query | parameters | `result` |
|---|---|---|
| `snapshot` | — | `seq`, `state`: the [public state](#public) (the [manager state](#manager) for managers) |
| `ticket` | `ticket` (id or number; residents: none, always their own) | `seq`, `ticket`: the [ticket view](#ticket-view) |
| `services` | — | `seq`, `services`: [service status](#service-status) entries |
| `bookable_days` | — | `days`: dates open for booking |
| `slots` | `service`, `day` | `service`, `day`, `slots`: `start`, `end`, `free` (places left) |
| `stats` | — | today's figures from the event log (`queue_server.stats`). A manager: `stats` (totals, `wait` and `service` summaries, one row per window in `counters` with `busy_share` = busy / open time, one row per service) and `csv` (the same as CSV text); a counter: `day`, `as_of`, `window` (its own row) |
| `ticket_form` | `ticket_id` (id or number) | `ticket_id`, `service_id` (the service it was issued for), `fields`, `materials` (as submitted), `submitted_at` (hall time). Counter sessions, for the ticket they called or serve |
| `materials_on_file` | kiosk, navigator: `resident_id`; counter: `ticket_id` (id or number) | `materials`: keys of the materials on file for this resident, sorted. A counter session asks by the ticket it has called or serves (`form_not_yours` otherwise, `no_resident` for a ticket issued without a document, `forbidden` with `resident_id`) and gets `ticket_id` too |

"""
    ]
    query_examples["ticket_form"] = TICKET_FORM_REPLY
    query_examples["materials_on_file"] = {"materials": ["id_card", "lease_contract"]}
    examples = [(f"`{name}`", result) for name, result in query_examples.items()]
    examples.append(("`materials_on_file` asked by a window (`ticket_id`)", TICKET_MATERIALS_REPLY))
    for i, (label, result) in enumerate(examples):
        parts.append(f"{label}:\n\n")
        parts.append(_block("server", {"v": 1, "type": "reply", "id": 20 + i, "result": result}))
        parts.append("\n")
    parts.append(
        """### Reply to a subscribe

`seq`: the hall's last seq; `streams`: per stream, `{"snapshot": seq}` when a snapshot was sent
or `{"resumed_from": since}` when the missed events were replayed. The reply comes after the
snapshot or the replayed events.

"""
    )
    parts.append(
        _block(
            "server",
            {
                "v": 1,
                "type": "reply",
                "id": 2,
                "result": {"seq": 1045, "streams": {"public": {"resumed_from": 1041}}},
            },
        )
    )
    parts.append(
        "\n### Reply to a ping\n\nA [`pong`](#pong) with the same `id` and the current seq.\n\n"
    )
    parts.append(
        "### Reply to file_materials\n\n`ticket_id` and `materials`: every material now on "
        "file for the ticket's resident (not only those just filed), sorted.\n\n"
    )
    parts.append(
        _block(
            "server",
            {
                "v": 1,
                "type": "reply",
                "id": 13,
                "result": {
                    "ticket_id": "20261126-E002",
                    "materials": ["id_card", "lease_contract"],
                },
            },
        )
    )
    parts.append("\n")
    return "".join(parts)


def _streams() -> str:
    return (
        """## Streams

A `subscribe` starts a stream; it lasts until the connection closes. Each stream starts with a
`snapshot` (or a replay, see [Seq and resume](#seq-and-resume)) and continues with `event`s.

### public

For screens, kiosks, navigators and residents: no personal data at all (numbers, services,
windows, counts). Events: every ticket, counter and notice event (not appointments, moves,
priority changes or reskills), with the ticket's priority, channel, rank, order and resident
dropped. After every batch of changes the subscribers also get a [`status`](#status): waiting
counts and estimates for every service.

Snapshot `state` (public state):

| key | meaning |
|---|---|
| `day` | the hall's current day, or null before the first day opened |
| `open_for_tickets` | whether tickets are being issued now |
| `counters` | one [counter view](#counter-view) per window |
| `services` | [service status](#service-status) per service |
| `recent_calls` | the last 10 calls: `number`, `counter`, `service`, `state` |
| `notices` | notices showing now: `id`, `text_zh`, `text_en`, `starts`, `ends` |

"""
        + _block("server", {"v": 1, "type": "snapshot", "stream": "public", "seq": 1041, "state": PUBLIC_STATE})
        + """
#### counter view

`id`, `kind`, `state` (`closed`, `idle`, `calling`, `serving`, `paused`), `pause_reason`,
`ticket` (number at the window), `service`, `skills` (service → tier, 0 first), `served_today`.

#### service status

`service`, `name_zh`, `name_en`, `queue` (letter), `waiting` (count), `estimated_wait_s` (what a
new ticket would wait; null when no window is open for it), `counters` (open windows for it).

### counter

For a window's session: the events that name its window (its calls, recalls, no-shows,
transfers, its own state), in full (without `resident_key`). Snapshot `state`:
`{"counter": <counter view> | null}`.

"""
        + _block("server", {"v": 1, "type": "snapshot", "stream": "counter", "seq": 1041, "state": {"counter": COUNTER_VIEW}})
        + """
### manager

The manager's full view: every event in full (without `resident_key`). Snapshot `state`: the
public state plus `tickets`, every ticket of the day as a [ticket view](#ticket-view) with
`priority`, `channel`, `rank`, `order_key` (dispatch order within a rank), `transfers`,
`appointment_id`, `cancel_reason`. A manager session that subscribes to this stream also gets a
[`devices`](#devices) message at once and again whenever a device terminal connects,
disconnects or reports a change with [`device_status`](#device_status).

"""
        + _block("server", {"v": 1, "type": "snapshot", "stream": "manager", "seq": 1041, "state": MANAGER_STATE})
        + """
### resident

One resident's own ticket. No events: a [`ticket`](#ticket) message whenever the ticket's view
changed (position, estimate, state, window, recalls). Every subscribe answers with a fresh
snapshot, `state`: `{"ticket": <ticket view> | null}` (null: the hall no longer holds the
ticket, e.g. a new day began).

"""
        + _block("server", {"v": 1, "type": "snapshot", "stream": "resident", "seq": 1041, "state": {"ticket": TICKET_VIEW}})
        + """
#### ticket view

| key | meaning |
|---|---|
| `id`, `number` | the ticket |
| `service`, `service_name_zh`, `service_name_en`, `queue` | what it is for |
| `state` | `waiting`, `called`, `serving`, `done`, `no_show`, `cancelled` |
| `ahead` | people before it (while waiting; otherwise null) |
| `estimated_wait_s` | expected wait in seconds (while waiting; null when unknown, e.g. no window open) |
| `counter` | the window, once called |
| `arrival` | when it joined the queue |
| `called_at` | when last called, or null |
| `recalls` | how many times it was called again |
| `priority`, `priority_label_zh`, `priority_label_en` | the priority class the hall granted, with its labels from the hall's `priority_classes`: what a terminal shows and prints, as it may differ from what was asked (a booking past its check-in window is refused and the ordinary ticket taken instead is `normal`; a kiosk may grant only `self_service` classes) |

"""
    )  # fmt: skip


def _resume() -> str:
    return f"""## Seq and resume

- Every event has a hall-wide sequence number `seq`: 1, 2, 3, ... never reused, in the order the
  events happened. `welcome`, `pong`, `status`, `ticket` and the replies to commands,
  subscriptions and the `snapshot`, `ticket` and `services` queries carry the hall's seq at
  that moment.
- A stream shows only the events its audience may see, so the seqs on one stream have gaps.
  A gap is not a loss.
- Remember, per stream, the highest `seq` of the `event`s (or the `snapshot`) received. On
  reconnect, `subscribe` with `since` = that seq. The server then sends either
  - exactly the events after `since` (reply: `{{"resumed_from": since}}`), if it still holds
    them (the last {S.RECENT_EVENTS:,} events, in memory), or
  - a fresh `snapshot` as of its current seq, followed by the events after it (reply:
    `{{"snapshot": seq}}`), when `since` is too old, unknown (a restarted server) or ahead of
    the server's seq. A snapshot means: drop what you had and start from this state.
- Either way no event is missed and none is sent twice on one subscription. A client should
  still ignore an `event` whose `seq` is not above the last one it has for that stream (a resume
  overlapping messages that arrived before the drop).
- A `status` message follows all the public events of its batch, so a public subscriber may
  treat its `seq` as seen.
- The `resident` stream never replays: each subscribe sends a fresh snapshot of the ticket.
- The server never waits for a slow client: a connection that owes more than
  {S.MAX_BUFFER // 1024:,} KiB of unsent messages is dropped; it reconnects and resumes.
- Several streams in one `subscribe` share one `since`; subscribe to each stream separately to
  resume each from its own seq.

"""


def _errors() -> str:
    parts = [
        """## Errors

Every refusal is an [`error`](#error) message with a stable `code`, a Chinese and an English
message that may be shown as they are, `details`, and the `id` of the request it answers. The
connection and the server carry on.

### Protocol errors

| code | zh | en | when |
|---|---|---|---|
"""
    ]
    for code, (zh, en) in P.PROTOCOL_ERRORS.items():
        parts.append(f"| `{code}` | {zh} | {en} | {_cell(PROTOCOL_ERROR_NOTES.get(code, ''))} |\n")
    for code in P.PROTOCOL_ERRORS:
        if code in ("bad_message",):
            continue
    parts.append("\n")
    parts.append(
        _block("server", P.error("forbidden", 8, command="reskill").model_dump(mode="json"))
    )
    parts.append(
        """
### Engine errors

Refusals of an engine command. The messages below are the engine's own (`{...}` marks a value
filled in: a ticket number, a time, a limit). The codes form a tree: a client that meets a code
it does not know may show the messages as they are.

| code | meaning | zh | en |
|---|---|---|---|
"""
    )
    messages = engine_messages()
    for cls in engine_error_classes():
        code = cls.code
        note = ENGINE_ERROR_NOTES.get(code, _doc(cls))
        if cls is E.IllegalTransition:
            ex = E.IllegalTransition("ticket", "E002", "call", "done")
            pairs = [(ex.message_zh, ex.message_en)]
        elif cls is E.NotFound:
            ex = E.NotFound("ticket", "E999")
            pairs = [(ex.message_zh, ex.message_en)]
        else:
            pairs = messages.get(code, [("—", "—")])
        zh = "<br>".join(_cell(z) for z, _ in pairs)
        en = "<br>".join(_cell(e) for _, e in pairs)
        parts.append(f"| `{code}` | {_cell(note)} | {zh} | {en} |\n")
    example = E.IllegalTransition("ticket", "E002", "call", "done")
    parts.append("\n")
    parts.append(_block("server", {"v": 1, "type": "error", "id": 8, **example.to_dict()}))
    parts.append("\n")
    return "".join(parts)


def _limits() -> str:
    return f"""## Limits

| what | limit | beyond it |
|---|---|---|
| one client message | {P.MAX_MESSAGE_BYTES:,} bytes ({P.MAX_MESSAGE_BYTES // 1024} KiB) | `too_large` error; the connection carries on |
| one websocket frame | 1 MiB | the connection is closed (code 1009) |
| message rate per connection | {S.Client.RATE:g} a second sustained, bursts of {S.Client.BURST:g} | the excess is dropped. A dropped request (a message with an `id`) is answered `rate_limited` with its `id`, so its sender can back off and retry; dropped messages without an `id` hear `rate_limited` (`"id": null`) on the 1st, 100th and 200th only |
| a flood | more than 300 messages dropped in a row | the connection is closed (code 1008) |
| time to authenticate | {S.HELLO_TIMEOUT:g} s | the connection is closed (code 4001) |
| unsent messages owed to a slow client | {S.MAX_BUFFER // 1024:,} KiB | the connection is dropped; the client resumes by seq |
| streams per `subscribe` | 1 to 4 | `bad_message` |
| events held for resuming | the last {S.RECENT_EVENTS:,} | older `since`: a snapshot instead |
| a `command` carrying a `form` | {P.MAX_FORM_MESSAGE_BYTES:,} bytes ({P.MAX_FORM_MESSAGE_BYTES // 1024} KiB) | `too_large` |
| a form | {P.FORM_MAX_FIELDS} fields, {P.FORM_MAX_VALUE} characters a value, {P.FORM_MAX_TOTAL:,} characters in all, {P.FORM_MAX_MATERIALS} materials | `form_invalid`; nothing is issued |

Field lengths (device id 64, tokens and passwords 256, login 32, document number 4 to 32, notice
text 500 / 1,000 characters) are in the field tables; a longer value gets `bad_message`.

"""


def _privacy() -> str:
    return """## Privacy

The hall follows the PIPL: a resident's document number never travels further than the server's
front door.

- **`resident_id` is the only place a clear document number may appear**, and only in a
  `command` message carrying `issue_ticket`, `check_in`, `book_appointment` or
  `cancel_appointment`. The server turns it at once into the resident's key (an HMAC of the
  document type and number under the hall's secret: quotas, one-open-ticket and booking rules
  work across visits) and keeps, logs and sends nothing else of it.
- Clients never compute or send `resident_key` themselves: leave it out and send `resident_id`.
- No message the server sends carries `resident_key` or a document number: not events, not
  replies, not snapshots.
- The `public` and `resident` streams carry no personal data: ticket numbers, services, windows,
  counts and estimates only. Screens show at most a masked name, and names never travel on this
  protocol.
- A resident token opens one ticket's view and its cancellation, nothing else, and only until
  the ticket's day ends.
- The one other place a document number may travel is inside a resident's own `form` (its
  `id_number` field): stored sealed, shown only to the window serving that ticket, purged
  after the retention (next section).

"""


def _forms() -> str:
    return """## Forms and materials on file

What a self-service kiosk collects travels with the ticket, and what a window has checked is
remembered for the resident's next visit. docs/privacy.md says what is kept, where and how long.

1. A kiosk sends the resident's `form` in the `command` that carries
   `issue_ticket` (see [`command`](#command)). The server seals it (AES-256-GCM, a key of the
   hall) and stores it under the issued ticket in the same transaction as the ticket: a reply
   with `"form_stored": true` means both are on disk. A refused command stores nothing. The form
   never enters the event log, the server's logs, any stream, reply to others or webhook.
2. The window that has called the ticket, or is serving it, reads the form with the
   `ticket_form` query. Any other window, before the call, after finishing, no-show or
   transfer away, gets `form_not_yours`; a ticket without a form, `form_not_found` ("未提交表格").
   Managers may not read forms (`forbidden`): the form is for serving the resident, not for
   oversight.
3. The window files the materials it checked with [`file_materials`](#file_materials). They are
   kept against the resident's key (never the number), so a kiosk or navigator that asks
   `materials_on_file` with the same document can tell the resident what the hall already has.
   The window that calls the resident's next ticket asks `materials_on_file` with that
   `ticket_id` (a window never holds the document number): the server answers by the ticket's
   resident key, under the same rule as `ticket_form` (`form_not_yours` otherwise), and with
   `no_resident` for a ticket issued without a document.
4. Forms are purged `[privacy] form_retention_hours` after submission (default 24: a ticket
   lives one day), filed materials `materials_retention_days` after they were last filed
   (default 30), on the server's housekeeping tick and when it starts; expired materials are
   never answered even before the purge.

"""


def _page() -> str:
    return f"""## Resident ticket page

`<public_url>/t/<resident token>`, for example `{PUBLIC_URL}/t/{TOKEN}`: the URL in
`ticket_url` and in the ticket's QR code (`public_url` is set in the `[server]` section of the
hall config: the address phones reach). It is a static page (`queue_server/web/ticket.html`,
with `/static/ticket.js` and `/static/ticket.css`, no outside resources) that reads the token
from its own path, opens `ws(s)://<same host>/ws`, says `hello` as a resident, subscribes to
`resident` and `public`, and shows the number, service, state, people ahead, the estimated wait
("约 N 分钟") and, once called, "请到 N 号窗口" (vibrating where the phone allows). It speaks
Simplified Chinese with an English toggle, reconnects with exponential backoff and shows an
expired or forged code in plain words ("二维码已过期，请重新取号"). A WeChat or app channel can
open the same URL in a web view, or speak this protocol itself with the same token.

| waiting | called | called (English) | expired code |
|---|---|---|---|
| ![waiting](screenshots/ticket-page-waiting.png) | ![called](screenshots/ticket-page-called.png) | ![called, English](screenshots/ticket-page-called-en.png) | ![expired code](screenshots/ticket-page-expired.png) |

"""


def _session() -> str:
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("client", "Authenticate with the token from the QR code:", CLIENT_EXAMPLES["hello"][2][1]),
        ("server", "", SERVER_EXAMPLES["welcome"][0][1]),
        (
            "client",
            "Follow the ticket:",
            {"v": 1, "type": "subscribe", "id": 2, "streams": ["resident"]},
        ),
        (
            "server",
            "",
            {"v": 1, "type": "snapshot", "stream": "resident", "seq": 1041, "state": {"ticket": TICKET_VIEW}},
        ),
        (
            "server",
            "",
            {"v": 1, "type": "reply", "id": 2, "result": {"seq": 1041, "streams": {"resident": {"snapshot": 1041}}}},
        ),
        (
            "server",
            "The person ahead is called: the position changes.",
            {"v": 1, "type": "ticket", "seq": 1043, "ticket": {**TICKET_VIEW, "ahead": 0, "estimated_wait_s": 40.0}},
        ),
        ("server", "Window 5 calls the ticket:", SERVER_EXAMPLES["ticket"][0][1]),
        (
            "server",
            "Served and finished:",
            {"v": 1, "type": "ticket", "seq": 1052, "ticket": {**CALLED_VIEW, "state": "done"}},
        ),
        (
            "client",
            "Cancelling is for a ticket still waiting or called; a finished one cannot be:",
            {"v": 1, "type": "command", "id": 3, "command": {"type": "cancel_ticket", "ticket": "E002"}},
        ),
        (
            "server",
            "",
            {"v": 1, "type": "error", "id": 3, **E.IllegalTransition("ticket", "E002", "cancel", "done").to_dict()},
        ),
    ]  # fmt: skip
    parts = [
        """## A resident's session

What a WeChat or app channel sends and receives to follow one ticket (→ client to server,
← server to client).

"""
    ]
    for direction, note, message in steps:
        arrow = "→" if direction == "client" else "←"
        parts.append(f"{arrow} {note}\n\n" if note else f"{arrow}\n\n")
        parts.append(_block(direction, message))
        parts.append("\n")
    return "".join(parts)


def main() -> None:
    import sys

    sys.stdout.write(render())


if __name__ == "__main__":
    main()
