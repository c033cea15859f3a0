"""Who may do and see what: every role's commands, queries and streams, resident tokens, privacy.

The expected tables are written out here, not imported from the server, so a change to the
server's permissions must be made twice on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from websockets.asyncio.client import connect

from harness.halls import T0, ZONE
from harness.servers import (
    Clock,
    auth_of,
    raw_ask,
    raw_hello,
    running_server,
)
from queue_server.tokens import make_token

SERVICE = "liuguan.residence_registration"  # queue E; windows 5 (first tier), 4 and 6 (second)
ALL_COMMANDS = {
    "issue_ticket", "call_next", "call_ticket", "recall", "start", "finish", "no_show",
    "transfer", "requeue", "pause", "resume", "open_counter", "close_counter", "move_ticket",
    "change_priority", "reskill", "cancel_ticket", "post_notice", "remove_notice",
    "book_appointment", "cancel_appointment", "check_in", "tick",
}  # fmt: skip
WINDOW_COMMANDS = {
    "call_next", "call_ticket", "recall", "start", "finish", "no_show", "transfer", "requeue",
    "pause", "resume", "open_counter", "close_counter", "issue_ticket",
}  # fmt: skip
ALLOWED_COMMANDS = {
    "kiosk": {"issue_ticket", "check_in", "book_appointment", "cancel_appointment"},
    "navigator": {"book_appointment", "cancel_appointment", "check_in"},
    "signage": set(),
    "counter": WINDOW_COMMANDS,
    "manager": ALL_COMMANDS,
    "resident": set(),  # cancel_ticket of its own ticket only (the samples aim at others)
}
ALL_QUERIES = {"snapshot", "ticket", "slots", "services", "bookable_days"}
ALLOWED_QUERIES = {
    "kiosk": ALL_QUERIES,
    "navigator": ALL_QUERIES,
    "signage": {"snapshot", "services"},
    "counter": {"snapshot", "ticket", "services"},
    "manager": ALL_QUERIES,
    "resident": ALL_QUERIES,
}
ALL_STREAMS = {"public", "counter", "manager", "resident"}
ALLOWED_STREAMS = {
    "kiosk": {"public"},
    "navigator": {"public"},
    "signage": {"public"},
    "counter": {"public", "counter"},
    "manager": {"public", "counter", "manager"},
    "resident": {"public", "resident"},
}
LOGINS = {
    "kiosk": ("kiosk-1", None),
    "navigator": ("navigator-1", None),
    "signage": ("signage-main", None),
    "counter": ("w5", 5),
    "manager": ("manager", None),
}


def sample_command(kind: str, counter: int) -> dict:
    """A well-formed command of ``kind`` (aimed at tickets that do not exist where it can be)."""
    slot = dt.datetime(2026, 11, 27, 10, 0, tzinfo=ZONE).isoformat()
    fields = {
        "issue_ticket": {"service": SERVICE},
        "call_ticket": {"counter": counter, "ticket": "E999"},
        "transfer": {"counter": counter, "to_service": "liuguan.residence_permit"},
        "requeue": {"ticket": "E999"},
        "move_ticket": {"ticket": "E998", "other": "E999"},
        "change_priority": {"ticket": "E999", "priority": "elderly"},
        "reskill": {"counter": counter, "skills": [["E"], ["A"]]},
        "cancel_ticket": {"ticket": "E999"},
        "post_notice": {"text_zh": "今日下午三点停电检修"},
        "remove_notice": {"notice": "N999999"},
        "book_appointment": {"resident_key": "k" * 32, "service": SERVICE, "slot_start": slot},
        "cancel_appointment": {"appointment": "P999"},
        "check_in": {"appointment": "P999"},
        "tick": {},
    }.get(kind, {"counter": counter})
    return {"type": kind, **fields}


def sample_query(kind: str) -> dict:
    return {
        "ticket": {"ticket": "E999"},
        "slots": {"service": "liuguan.residence_permit", "day": "2026-11-27"},
    }.get(kind, {})


async def ask(ws, msg_id: int, body: dict) -> dict:
    return await raw_ask(ws, {"v": 1, "id": msg_id, **body})


async def issue(hall, number: str = "11010119800101002X", service: str = SERVICE) -> dict:
    async with connect(hall.url) as ws:
        await raw_hello(ws, auth_of("kiosk-1"))
        reply = await ask(
            ws,
            1,
            {
                "type": "command",
                "command": {"type": "issue_ticket", "service": service},
                "resident_id": {"number": number},
            },
        )
    assert reply["type"] == "reply", reply
    return reply["result"]


@pytest.mark.parametrize(
    "role", ["kiosk", "navigator", "signage", "counter", "manager", "resident"]
)
async def test_each_role_gets_exactly_its_commands_queries_and_streams(tmp_path, role):
    login, counter = LOGINS.get(role, ("resident", None))
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        if role == "resident":
            auth = {"kind": "resident", "token": (await issue(hall))["resident_token"]}
        else:
            auth = auth_of(login, counter)
        welcome = await raw_hello(ws, auth)
        assert welcome["type"] == "welcome" and welcome["role"] == role
        msg_id = 0
        for kind in sorted(ALL_COMMANDS):
            msg_id += 1
            answer = await ask(
                ws, msg_id, {"type": "command", "command": sample_command(kind, counter or 1)}
            )
            assert answer["id"] == msg_id
            if kind in ALLOWED_COMMANDS[role]:
                assert answer.get("code") != "forbidden", (role, kind, answer)
            else:
                assert answer["type"] == "error" and answer["code"] == "forbidden", (role, kind)
        for kind in sorted(ALL_QUERIES):
            msg_id += 1
            answer = await ask(ws, msg_id, {"type": "query", "query": kind, **sample_query(kind)})
            if kind in ALLOWED_QUERIES[role]:
                assert answer.get("code") not in ("forbidden", "bad_query"), (role, kind, answer)
            else:
                assert answer["code"] == "forbidden", (role, kind)
        for stream in sorted(ALL_STREAMS):
            msg_id += 1
            answer = await ask(ws, msg_id, {"type": "subscribe", "streams": [stream]})
            if stream in ALLOWED_STREAMS[role]:
                assert answer["type"] == "reply", (role, stream, answer)
            else:
                assert answer["code"] == "forbidden", (role, stream)
        # One forbidden stream among allowed ones refuses the whole subscription.
        msg_id += 1
        answer = await ask(ws, msg_id, {"type": "subscribe", "streams": ["public", "manager"]})
        assert (answer["type"] == "reply") == (role == "manager")


async def test_a_counter_session_is_bound_to_its_own_window(tmp_path):
    async with running_server(tmp_path) as hall:
        await issue(hall)
        async with connect(hall.url) as ws:
            await raw_hello(ws, auth_of("w5", 5))
            for kind in sorted(WINDOW_COMMANDS - {"issue_ticket", "requeue"}):
                other = await ask(ws, 1, {"type": "command", "command": sample_command(kind, 4)})
                assert other["code"] == "forbidden", kind
            called = await ask(
                ws, 2, {"type": "command", "command": sample_command("call_next", 5)}
            )
            assert called["type"] == "reply" and called["result"]["events"][-1]["counter"] == 5
            # Tickets a window issues (e.g. for a resident without a phone) are its own channel.
            issued = await ask(
                ws,
                3,
                {"type": "command", "command": {"type": "issue_ticket", "service": SERVICE}},
            )
            assert issued["result"]["events"][-1]["ticket"]["channel"] == "window"
        # w5 may only sign in at window 5; an unknown window is refused for everyone.
        for login, counter in (("w5", 4), ("w5", 99), ("manager", 99)):
            async with connect(hall.url) as ws:
                assert (await raw_hello(ws, auth_of(login, counter)))["code"] == "auth_failed"
        # The manager may work any window, and is then bound to it.
        async with connect(hall.url) as ws:
            welcome = await raw_hello(ws, auth_of("manager", 2))
            assert welcome["role"] == "counter" and welcome["counter"] == 2
            answer = await ask(ws, 1, {"type": "command", "command": sample_command("pause", 3)})
            assert answer["code"] == "forbidden"
            answer = await ask(ws, 2, {"type": "command", "command": sample_command("reskill", 2)})
            assert answer["code"] == "forbidden"


async def test_a_kiosk_grants_only_self_service_priorities(tmp_path):
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        await raw_hello(ws, auth_of("kiosk-1"))
        outcomes = {}
        for i, priority in enumerate(
            ["normal", "elderly", "military", "disabled", "pregnant", "appointment"]
        ):
            command = {"type": "issue_ticket", "service": SERVICE, "priority": priority}
            answer = await ask(ws, i, {"type": "command", "command": command})
            outcomes[priority] = answer["type"] if answer["type"] == "reply" else answer["code"]
        assert outcomes == {
            "normal": "reply",
            "elderly": "reply",
            "military": "forbidden",
            "disabled": "forbidden",
            "pregnant": "forbidden",
            "appointment": "forbidden",
        }
        # The kiosk cannot pass itself off as another channel either.
        command = {"type": "issue_ticket", "service": SERVICE, "channel": "window"}
        answer = await ask(ws, 9, {"type": "command", "command": command})
        ticket_id = answer["result"]["ticket"]["id"]
        assert hall.server.actor.store.hall.tickets[ticket_id].channel == "kiosk"
    async with running_server(tmp_path / "b") as hall, connect(hall.url) as ws:
        await raw_hello(ws, auth_of("w5", 5))
        command = {"type": "issue_ticket", "service": SERVICE, "priority": "military"}
        answer = await ask(ws, 1, {"type": "command", "command": command})
        assert answer["type"] == "reply"  # staff check the document, so a window may


async def test_a_resident_token_shows_its_own_ticket_only(tmp_path):
    async with running_server(tmp_path) as hall:
        mine = await issue(hall, "11010119800101002X")
        other = await issue(hall, "110101198002020031")
        assert mine["ticket"]["number"] == "E001" and other["ticket"]["number"] == "E002"
        async with connect(hall.url) as ws, connect(hall.url) as window:
            welcome = await raw_hello(ws, {"kind": "resident", "token": mine["resident_token"]})
            assert welcome["role"] == "resident" and welcome["ticket"] == mine["ticket"]["id"]
            # Asking for another ticket answers with one's own.
            answer = await ask(ws, 1, {"type": "query", "query": "ticket", "ticket": "E002"})
            assert answer["result"]["ticket"]["number"] == "E001"
            assert answer["result"]["ticket"]["state"] == "waiting"
            await ws.send(
                json.dumps({"v": 1, "type": "subscribe", "id": 2, "streams": ["resident"]})
            )
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot" and snapshot["stream"] == "resident"
            ticket = snapshot["state"]["ticket"]
            assert ticket["number"] == "E001" and ticket["ahead"] == 0
            assert ticket["estimated_wait_s"] is not None
            assert json.loads(await ws.recv())["type"] == "reply"

            # Someone else's ticket: neither by number nor by id.
            for ref in ("E002", other["ticket"]["id"]):
                command = {"type": "cancel_ticket", "ticket": ref}
                answer = await ask(ws, 3, {"type": "command", "command": command})
                assert answer["code"] == "forbidden"
            command = {"type": "issue_ticket", "service": SERVICE}
            assert (await ask(ws, 4, {"type": "command", "command": command}))[
                "code"
            ] == "forbidden"

            # The window calls: the phone hears its ticket is called, and where.
            await raw_hello(window, auth_of("w5", 5))
            called = await ask(
                window, 1, {"type": "command", "command": {"type": "call_next", "counter": 5}}
            )
            assert called["result"]["events"][-1]["number"] == "E001"
            update = json.loads(await ws.recv())
            assert update["type"] == "ticket"
            assert update["ticket"]["state"] == "called" and update["ticket"]["counter"] == 5

            # The resident of E002 watches E002 move up, and may cancel it.
            async with connect(hall.url) as phone:
                await raw_hello(phone, {"kind": "resident", "token": other["resident_token"]})
                command = {"type": "cancel_ticket", "ticket": "E002"}
                answer = await ask(phone, 1, {"type": "command", "command": command})
                assert answer["type"] == "reply"
                assert answer["result"]["events"][-1]["type"] == "ticket_cancelled"
        async with connect(hall.url) as ws:
            await raw_hello(ws, {"kind": "resident", "token": other["resident_token"]})
            answer = await ask(ws, 1, {"type": "query", "query": "ticket"})
            assert answer["result"]["ticket"]["state"] == "cancelled"


async def test_forged_foreign_and_expired_resident_tokens_are_refused(tmp_path):
    clock = Clock(T0)
    async with running_server(tmp_path, clock=clock) as hall:
        issued = await issue(hall)
        token, ticket_id = issued["resident_token"], issued["ticket"]["id"]
        body, _expiry, signature = token.split(".")
        secret = hall.config.security.resident_key_secret
        end_of_day = dt.datetime(2026, 11, 27, 0, 0, tzinfo=ZONE)
        cases = {
            "auth_failed": [
                f"{body}.{int(end_of_day.timestamp()) + 86400}.{signature}",  # longer life
                f"{body.replace('E001', 'E002')}.{_expiry}.{signature}",  # another ticket
                make_token("another hall's secret", ticket_id, end_of_day),
                "not-a-token",
                "a.b.c.d",
                "",
            ],
            "token_expired": [
                make_token(secret, ticket_id, T0 - dt.timedelta(minutes=1)),
                make_token(secret, "20261125-E001", end_of_day),  # genuine, but no such ticket
            ],
        }
        for code, tokens in cases.items():
            for bad in tokens:
                async with connect(hall.url) as ws:
                    answer = await raw_hello(ws, {"kind": "resident", "token": bad})
                    assert answer["type"] == "error" and answer["code"] == code, bad
                    # Refused: still not authenticated.
                    ping = await raw_ask(ws, {"v": 1, "type": "ping", "id": 1})
                    assert ping["code"] == "not_authenticated"
        async with connect(hall.url) as ws:
            assert (await raw_hello(ws, {"kind": "resident", "token": token}))["type"] == "welcome"
        # The genuine token lapses when the hall's day ends.
        clock.advance(hours=15, minutes=1)
        async with connect(hall.url) as ws:
            answer = await raw_hello(ws, {"kind": "resident", "token": token})
            assert answer["code"] == "token_expired"


async def test_the_clear_id_number_goes_nowhere(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="queue_server")
    number = "110101195001010028"
    seen: list[str] = []
    answers: list[dict] = []
    async with running_server(tmp_path) as hall:
        watchers = []
        for login, counter, streams in (
            ("signage-main", None, ["public"]),
            ("manager", None, ["public", "manager"]),
            ("w5", 5, ["public", "counter"]),
        ):
            ws = await connect(hall.url).__aenter__()
            seen.append(json.dumps(await raw_hello(ws, auth_of(login, counter))))
            await ws.send(json.dumps({"v": 1, "type": "subscribe", "id": 1, "streams": streams}))
            watchers.append(ws)
        async with connect(hall.url) as kiosk, connect(hall.url) as window:
            await raw_hello(kiosk, auth_of("kiosk-1"))
            await raw_hello(window, auth_of("w5", 5))
            rid = {"number": number, "doc_type": "id"}
            slot = dt.datetime.now(ZONE).replace(hour=10, minute=0, second=0, microsecond=0)
            slot += dt.timedelta(days=1)
            messages = [
                (kiosk, {"type": "issue_ticket", "service": SERVICE}, rid),
                (kiosk, {"type": "issue_ticket", "service": SERVICE}, rid),  # already holding
                (
                    kiosk,
                    {
                        "type": "issue_ticket",
                        "service": "liuguan.residence_permit",
                        "priority": "elderly",
                    },
                    {"number": number.lower()},
                ),  # fmt: skip
                (kiosk, {"type": "check_in", "service": SERVICE}, rid),
                (
                    kiosk,
                    {
                        "type": "book_appointment",
                        "service": "liuguan.residence_permit",
                        "slot_start": slot.isoformat(),
                    },
                    rid,
                ),  # fmt: skip
                (
                    kiosk,
                    {"type": "issue_ticket", "service": SERVICE},
                    {"number": number + "0" * 20},
                ),
                (window, {"type": "call_next", "counter": 5}, None),
                (window, {"type": "start", "counter": 5}, None),
            ]
            for i, (ws, command, identity) in enumerate(messages):
                body = {"type": "command", "command": command}
                if identity:
                    body["resident_id"] = identity
                answers.append(await ask(ws, i, body))
                seen.append(json.dumps(answers[-1], ensure_ascii=False))
            codes = [a.get("code", a["type"]) for a in answers]
            assert codes[:3] == ["reply", "already_holding_ticket", "reply"], codes
            # The booking carries the identity only: the server makes the key.
            assert codes[4] == "reply", codes
            assert codes[5] == "bad_message" and codes[6:] == ["reply", "reply"], codes
            issued = answers[0]["result"]
            async with connect(hall.url) as phone:
                token = {"kind": "resident", "token": issued["resident_token"]}
                seen.append(json.dumps(await raw_hello(phone, token)))
                for query in ("ticket", "snapshot"):
                    seen.append(json.dumps(await ask(phone, 5, {"type": "query", "query": query})))
            # Drain what the watchers got: ask each for a pong, everything before it is in.
            for ws in watchers:
                await ws.send(json.dumps({"v": 1, "type": "ping", "id": "end"}))
                while True:
                    raw = await ws.recv()
                    seen.append(raw)
                    if json.loads(raw)["type"] == "pong":
                        break
                await ws.close()
        db_bytes = (tmp_path / "hall.db").read_bytes() + b"".join(
            p.read_bytes() for p in tmp_path.glob("hall.db-*")
        )
    text = "\n".join(seen)
    assert "ticket_issued" in text and "ticket_called" in text  # the watchers did see the hall
    for needle in (number, number.lower()):
        assert needle not in text
        assert needle not in caplog.text
    assert number.encode() not in db_bytes and number.lower().encode() not in db_bytes
    # Resident keys stay inside the server too.
    assert "resident_key" not in text
