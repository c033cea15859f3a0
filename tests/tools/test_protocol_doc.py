"""docs/protocol.md: generated from the code, its examples valid, every type and code in it.

The document is rendered by ``python -m tools.protocol_doc`` from tools/protocol.md.tmpl; these
tests fail while the committed copy differs from a fresh rendering, validate every example block against the schema
its fence names, and check the examples of free-form payloads (``dict[str, Any]`` in the
schemas: replies, snapshots, status, ticket views) against what a real server sends.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from harness.servers import running_server
from queue_server import errors as E
from queue_server import protocol as P
from queue_server.engine import events as V
from queue_server.protocol import commands as C
from queue_server.protocol import events as PE
from queue_server.protocol.errors import ENGINE_ERRORS
from tools import protocol_doc as D
from tools import protocol_examples as X

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
ADAPTERS: dict[str, TypeAdapter] = {
    "client": P.CLIENT_ADAPTER,
    "server": P.SERVER_ADAPTER,
    "command": C.COMMAND_ADAPTER,
    "event": PE.STREAM_EVENT_ADAPTER,  # as the streams carry them
}
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.S | re.M)


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks() -> list[tuple[str, str]]:
    return [(m["info"].strip(), m["body"]) for m in FENCE.finditer(doc_text())]


def tags(annotation) -> list[str]:
    union = typing.get_args(annotation)[0]
    return [cls.model_fields["type"].default for cls in typing.get_args(union)]


def test_the_committed_document_equals_a_fresh_generation():
    assert doc_text() == D.render(), (
        "docs/protocol.md is out of date: python -m tools.protocol_doc > docs/protocol.md"
    )


def test_every_example_block_validates_against_the_schema_its_fence_names():
    found = blocks()
    opened = [line for line in doc_text().splitlines() if line.startswith("```")]
    assert len(opened) == 2 * len(found) and len(found) > 60  # no block escaped the pattern
    counts = dict.fromkeys(ADAPTERS, 0)
    for info, body in found:
        words = info.split()
        assert words[:1] == ["json"] and len(words) == 2 and words[1] in ADAPTERS, (
            f"a code block fenced {info!r}: every block is json + one of {sorted(ADAPTERS)}"
        )
        ADAPTERS[words[1]].validate_json(body)
        counts[words[1]] += 1
    assert all(counts.values()), counts


def test_every_message_command_and_event_type_has_a_heading_and_an_example():
    text = doc_text()
    examples: dict[str, set[str]] = {kind: set() for kind in ADAPTERS}
    for info, body in blocks():
        examples[info.split()[1]].add(json.loads(body)["type"])
    for kind, annotation in (
        ("client", P.ClientMessage),
        ("server", P.ServerMessage),
        ("command", C.Command),
        ("event", V.Event),
    ):
        for tag in tags(annotation):
            assert f"\n### {tag}\n" in text, f"no section for {kind} {tag}"
            assert tag in examples[kind], f"no {kind} example of {tag}"


def test_every_error_code_is_listed_with_its_messages():
    text = doc_text()
    for code, (zh, en) in P.PROTOCOL_ERRORS.items():
        assert f"| `{code}` | {zh} | {en} |" in text, code
    codes = {key.split(".")[0] for key in ENGINE_ERRORS}
    assert {"illegal_transition", "not_found", "queue_empty", "check_in_too_late"} <= codes
    for code in codes:
        assert f"| `{code}` |" in text, code
    # Every wording of every engine refusal (one per reason) is in the table.
    for zh, en in ENGINE_ERRORS.values():
        assert zh.replace("|", "\\|") in text and en.replace("|", "\\|") in text, (zh, en)
    # The engine raises no code the table lacks.
    raised = {cls.code for cls in engine_error_classes()}
    assert raised <= codes, raised - codes


def engine_error_classes() -> list[type[E.EngineError]]:
    """The tree of ``queue_server.errors``' engine errors (not clients' subclasses)."""
    found, todo = [], [E.EngineError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == E.__name__:
            found.append(cls)
            todo += cls.__subclasses__()
    return found


def test_roles_streams_limits_and_privacy_are_documented():
    text = doc_text()
    for heading in (
        "## Transport",
        "## Envelope",
        "## Authentication",
        "## Roles",
        "## Streams",
        "## Seq and resume",
        "## Errors",
        "## Limits",
        "## Privacy",
        "## Resident ticket page",
    ):
        assert f"\n{heading}\n" in text, heading
    for stream in typing.get_args(P.StreamName):
        assert f"\n### {stream}\n" in text, stream
    assert "/t/<resident token>" in text and "resident_id" in text
    assert f"{P.MAX_MESSAGE_BYTES:,} bytes" in text


def keys(data: dict) -> set[str]:
    return set(data)


async def raw_command(client, command, **extra):
    """A command's result as the server sent it (``HallClient.command`` parses it)."""
    return await client.request(
        {"type": "command", "command": command.model_dump(mode="json"), **extra}
    )


async def raw_query(client, query, **fields):
    return await client.request({"type": "query", "query": query, **fields})


async def test_the_free_form_examples_have_the_keys_a_real_server_sends(tmp_path):
    """``reply.result``, snapshots, status and ticket views are ``dict[str, Any]`` in the schemas:
    compare the document's examples with what the server really sends, key by key."""
    async with running_server(tmp_path) as hall:
        kiosk, manager = hall.device("kiosk-1"), hall.staff("manager", None)
        for client in (kiosk, manager):
            await client.connect()
        assert keys(kiosk.welcome) == keys(X.SERVER_EXAMPLES["welcome"][0][1])

        issued = await raw_command(
            kiosk,
            C.IssueTicket(service="liuguan.residence_registration"),
            resident_id={"number": "11010119500101001X"},
        )
        assert keys(issued) == keys(X.ISSUE_REPLY)
        assert keys(issued["ticket"]) == keys(X.TICKET_VIEW)
        assert issued["ticket_url"].endswith(f"/t/{issued['resident_token']}")
        await manager.command(C.PostNotice(text_zh="通知", text_en="Notice"))

        snapshot = await raw_query(kiosk, "snapshot")
        state = snapshot["state"]
        assert keys(snapshot) == {"seq", "state"}
        assert keys(state) == keys(X.PUBLIC_STATE)
        assert keys(state["counters"][0]) == keys(X.COUNTER_VIEW)
        assert keys(state["services"][0]) == keys(X.SERVICE_STATUS)
        assert keys(state["notices"][0]) == keys(X.NOTICE_VIEW)
        manager_state = (await raw_query(manager, "snapshot"))["state"]
        assert keys(manager_state) == keys(X.MANAGER_STATE)
        assert keys(manager_state["tickets"][0]) == keys(X.FULL_TICKET_VIEW)

        window = hall.staff("w5", 5)
        await window.connect()
        await window.command(C.CallNext(counter=5))
        state = (await raw_query(kiosk, "snapshot"))["state"]
        assert keys(state["recent_calls"][0]) == keys(X.PUBLIC_STATE["recent_calls"][0])

        ticket = await raw_query(kiosk, "ticket", ticket=issued["ticket"]["number"])
        assert keys(ticket) == {"seq", "ticket"} and keys(ticket["ticket"]) == keys(X.TICKET_VIEW)
        services = await raw_query(kiosk, "services")
        assert keys(services) == {"seq", "services"}
        days = await raw_query(kiosk, "bookable_days")
        assert keys(days) == {"days"} and days["days"]
        slots = await raw_query(
            kiosk, "slots", service="liuguan.residence_permit", day=days["days"][0]
        )
        assert keys(slots) == {"service", "day", "slots"}
        assert keys(slots["slots"][0]) == {"start", "end", "free"}

        booked = await raw_command(
            kiosk,
            C.BookAppointment(
                service="liuguan.residence_permit",
                slot_start=slots["slots"][0]["start"],
            ),
            resident_id={"number": "110101198001010011"},
        )
        assert keys(booked["appointment"]) == {"id", "service", "slot_start", "slot_end", "token"}
        assert booked["events"] == [{"type": "appointment_booked", "seq": booked["seq"]}]

        screen = hall.device("signage-main")
        await screen.connect()
        reply = await screen.request({"type": "subscribe", "streams": ["public"], "since": 0})
        assert keys(reply) == {"seq", "streams"} and keys(reply["streams"]["public"]) <= {
            "snapshot",
            "resumed_from",
        }
        await window.command(C.StartService(counter=5))
        while True:
            message = await screen.next_message(5)
            if message["type"] == "status":
                break
        assert keys(message["services"][0]) == keys(X.SERVICE_STATUS)
        for client in (kiosk, manager, window, screen):
            await client.close()


def test_a_template_that_leaves_out_a_type_or_names_no_placeholder_is_refused():
    with pytest.raises(ValueError, match="no placeholder for"):
        D._Renderer().fill("### hello\n\n{{ message hello }}\n")
    with pytest.raises(ValueError, match="unknown placeholder"):
        D._Renderer().fill("{{ tabel Hello }}")


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_a_wrong_example_would_be_caught(kind):
    """The validation above is not vacuous: a broken example of each kind is refused."""
    broken = {"client": '{"v": 1, "type": "hello"}', "server": '{"v": 1, "type": "welcome"}'}
    broken |= {"command": '{"type": "call_next"}', "event": '{"type": "day_opened", "seq": 1}'}
    with pytest.raises(ValueError):
        ADAPTERS[kind].validate_json(broken[kind])
