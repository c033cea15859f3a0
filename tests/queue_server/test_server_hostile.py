"""What acceptance found when it tried to break the server from outside (issue 14), kept as
tests: a guessed appointment id cancels nothing, nothing personal reaches a log at any level,
strict message types, deep JSON, HTTP methods, what the web channel's budget counts."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from harness.servers import (
    ROOT,
    ServerProcess,
    auth_of,
    free_port,
    raw_ask,
    raw_hello,
    running_server,
    write_hall_config,
)
from queue_server import server as S
from tests.queue_server.test_web_channel import ME, SOMEONE_ELSE, a_free_slot, ask, book, cancel

SERVICE = "liuguan.residence_registration"
NUMBER = ME["number"]


def with_token(body: dict, token: str) -> dict:
    return {**body, "appointment_token": token}


# --- 2. a cancellation must prove the resident -----------------------------------------------------


@pytest.mark.parametrize("canceller", ["kiosk-1", "navigator-1", "web"])
async def test_a_guessed_appointment_id_cancels_nothing(tmp_path, canceller):
    async with running_server(tmp_path) as hall:
        async with connect(hall.url) as booker, connect(hall.url) as other:
            await raw_hello(booker, auth_of("kiosk-1"))
            await raw_hello(other, {"kind": "web"} if canceller == "web" else auth_of(canceller))
            slot = await a_free_slot(booker)
            first = (await ask(booker, 1, book(slot, ME)))["result"]["appointment"]
            second = (await ask(booker, 2, book(slot, SOMEONE_ELSE)))["result"]["appointment"]

            # Another session, with the id alone, a wrong document, a forged token, or the
            # token of another booking: refused, and the booking still stands.
            assert (await ask(other, 3, cancel(first["id"], None)))["code"] == "identity_required"
            assert (await ask(other, 4, cancel(first["id"], SOMEONE_ELSE)))["code"] == "not_found"
            forged = first["token"][:-4] + (
                "AAAA" if not first["token"].endswith("AAAA") else "BBBB"
            )
            refused = await ask(other, 5, with_token(cancel(first["id"], None), forged))
            assert refused["code"] == "proof_invalid"
            refused = await ask(other, 6, with_token(cancel(first["id"], None), second["token"]))
            assert refused["code"] == "proof_invalid"
            # A ticket's resident token is no booking's token (another purpose, another key).
            issued = await ask(booker, 7, {"type": "command",
                                           "command": {"type": "issue_ticket", "service": SERVICE}})  # fmt: skip
            ticket_token = issued["result"]["resident_token"]
            refused = await ask(other, 8, with_token(cancel(first["id"], None), ticket_token))
            assert refused["code"] == "proof_invalid"
            state = hall.server.actor.store.hall.appointments[first["id"]].state
            assert state.value == "booked"

            # The booking's own token, or the document it was made with, cancels it.
            done = await ask(other, 9, with_token(cancel(first["id"], None), first["token"]))
            assert done["type"] == "reply", done
            assert (await ask(other, 10, cancel(second["id"], SOMEONE_ELSE)))["type"] == "reply"


# --- 3. nothing personal in the log --------------------------------------------------------------


async def test_an_id_that_is_not_unicode_gets_a_typed_error_and_logs_nothing(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="queue_server")
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        await raw_hello(ws, auth_of("kiosk-1"))
        # json.dumps would escape the surrogate itself; the placeholder puts a raw escape in.
        query = {"v": 1, "type": "query", "id": "@", "query": "materials_on_file",
                 "resident_id": ME}  # fmt: skip
        command = {"v": 1, "type": "command", "id": 3, "resident_id": ME,
                   "command": {"type": "issue_ticket", "service": "@"}}  # fmt: skip
        frames = [json.dumps(m).replace('"@"', '"\\ud800"') for m in (query, command)]
        for raw in frames:
            answer = await raw_ask(ws, raw)
            assert answer["type"] == "error" and answer["code"] == "bad_message"
            assert answer["id"] is None
        # The connection carries on.
        assert (await raw_ask(ws, {"v": 1, "type": "ping", "id": 9}))["type"] == "pong"
    ours = [r for r in caplog.records if r.name.startswith("queue_server")]
    assert not [r for r in ours if r.levelno >= logging.ERROR]
    assert not [r for r in ours if NUMBER in r.getMessage() or NUMBER in (r.exc_text or "")]


def test_debug_logging_writes_no_document_number_or_form(tmp_path):
    """``main.py --log-level DEBUG server``: the websocket library's frame logs would carry
    every issue_ticket's document number and form; the log boundary keeps them out."""
    port = free_port()
    config = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'hall.db'}")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--log-level", "DEBUG", "server", "--config", str(config),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    server = ServerProcess(config, port)
    server.proc = proc
    name = "张秀英"

    async def client() -> None:
        for _ in range(300):  # until it listens
            try:
                async with connect(server.url) as ws:
                    break
            except OSError:
                await asyncio.sleep(0.1)
        async with connect(server.url) as ws:
            await raw_hello(ws, auth_of("kiosk-1"))
            # The library logs a frame's first and last 24 characters or so: one frame ends
            # with the number, one with the form's name.
            form = {"materials": [], "fields": {"id_number": NUMBER, "name": name}}
            command = {"type": "issue_ticket", "service": SERVICE}
            for n, tail in enumerate(({"form": form, "resident_id": ME}, {"form": form})):
                reply = await raw_ask(ws, {"v": 1, "type": "command", "id": n + 10,
                                           "command": command, **tail})  # fmt: skip
                assert reply["type"] == "reply" or reply["code"] == "already_holding_ticket"
            # A malformed frame that quotes the number back in a library's error.
            bad = {"v": 1, "type": "command", "id": 2, "resident_id": ME,
                   "command": {"type": "nope"}}  # fmt: skip
            await raw_ask(ws, json.dumps(bad))

    try:
        asyncio.run(client())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert " DEBUG " in err  # the level was really on
    assert NUMBER not in err and name not in err


# --- 5. the server as documented ------------------------------------------------------------------


@pytest.mark.parametrize("counter", ["true", '"5"', "5.0"])
async def test_a_value_of_the_wrong_json_type_is_refused_not_converted(tmp_path, counter):
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        await raw_hello(ws, auth_of("w5", 5))
        raw = '{"v": 1, "type": "command", "id": 1, "command": {"type": "pause", "counter": %s}}'
        answer = await raw_ask(ws, raw % counter)
        assert answer["code"] == "bad_message" and answer["details"]["field"].endswith("counter")
        # The well-typed command goes through.
        answer = await raw_ask(ws, raw % "5")
        assert answer["type"] == "reply", answer
        hello = {"v": 1, "type": "hello", "id": 2, "auth": {**auth_of("w5"), "counter": 5.0}}
        async with connect(hall.url) as other:
            assert (await raw_ask(other, hello))["code"] == "bad_message"


async def test_deep_json_is_a_malformed_message_not_bad_json(tmp_path):
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        await raw_hello(ws, auth_of("kiosk-1"))
        deep = "[" * 5000 + "]" * 5000
        answer = await raw_ask(ws, deep)
        assert answer["code"] == "bad_message" and answer["details"]["why"] == "nested too deep"
        json.loads("[" * 100 + "]" * 100)  # what a real parser takes is still refused by type
        assert (await raw_ask(ws, "[" * 100 + "]" * 100))["code"] == "bad_message"
        assert (await raw_ask(ws, "{not json"))["code"] == "bad_json"


def _request(port: int, method: str, path: str, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


async def test_only_get_and_head_are_served(tmp_path):
    async with running_server(tmp_path) as hall:
        port = hall.server.port
        loop = asyncio.get_running_loop()

        def call(*args):
            return loop.run_in_executor(None, _request, port, *args)

        status, headers, body = await call("GET", "/healthz")
        assert status == 200 and body
        status, head_headers, head_body = await call("HEAD", "/healthz")
        assert status == 200 and head_body == b""
        assert head_headers["Content-Length"] == headers["Content-Length"]
        for method in ("DELETE", "OPTIONS", "TRACE", "PUT", "POST", "BREW"):
            for path in ("/healthz", "/staff", "/no/such/page"):
                status, headers, _ = await call(method, path)
                assert status == 405, (method, path)
                assert headers["Allow"] == "GET, HEAD"
        # A request with a body is not HTTP this server reads: closed, never a 200.
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            await call("POST", "/healthz", b'{"x": 1}')
        status, _, _ = await call("GET", "/healthz")
        assert status == 200  # and the server carries on


async def test_the_web_budget_counts_bookings_and_cancellations_only(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "WEB_COMMAND_LIMIT", 3)
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        await raw_hello(ws, {"kind": "web"})
        slot = await a_free_slot(ws)
        # Commands the role may not send at all: refused, and not counted.
        for n in range(5):
            reply = await ask(ws, n, {"type": "command", "resident_id": ME,
                                      "command": {"type": "issue_ticket", "service": SERVICE}})  # fmt: skip
            assert reply["code"] == "forbidden"
        # A cancellation the hall refuses (a guess) counts; so does a booking.
        assert (await ask(ws, 10, cancel("AP999", ME)))["code"] == "not_found"
        assert (await ask(ws, 11, book(slot, ME)))["type"] == "reply"
        assert (await ask(ws, 12, cancel("AP998", ME)))["code"] == "not_found"
        assert (await ask(ws, 13, book(slot, ME)))["code"] == "rate_limited"


async def test_a_navigator_may_not_submit_a_form(tmp_path):
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        await raw_hello(ws, auth_of("navigator-1"))
        answer = await raw_ask(ws, {"v": 1, "type": "command", "id": 1, "resident_id": ME,
                                    "command": {"type": "issue_ticket", "service": SERVICE},
                                    "form": {"fields": {}, "materials": []}})  # fmt: skip
        assert answer["code"] == "forbidden"
