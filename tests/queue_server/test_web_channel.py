"""The residents' web channel (hello kind "web") and the consoles' queries, over raw websockets
against a real server: what the channel may do, in whose name, how often; today's statistics
for a manager and for one window."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from harness.servers import auth_of, raw_ask, raw_hello, running_server
from queue_server import server as S

BOOKABLE = "liuguan.residence_permit"
SERVICE = "liuguan.residence_registration"
ME = {"doc_type": "id", "number": "110101199003071234"}
SOMEONE_ELSE = {"doc_type": "id", "number": "110101198001010011"}


async def ask(ws, msg_id: int, body: dict) -> dict:
    return await raw_ask(ws, {"v": 1, "id": msg_id, **body})


async def a_free_slot(ws) -> str:
    days = (await ask(ws, 90, {"type": "query", "query": "bookable_days"}))["result"]["days"]
    reply = await ask(ws, 91, {"type": "query", "query": "slots", "service": BOOKABLE,
                               "day": days[0]})  # fmt: skip
    # The last slot of the day: far enough ahead to be cancelled whatever the hour.
    return [s for s in reply["result"]["slots"] if s["free"] > 0][-1]["start"]


def book(slot: str, who: dict | None) -> dict:
    body = {"type": "command",
            "command": {"type": "book_appointment", "service": BOOKABLE, "slot_start": slot}}  # fmt: skip
    if who is not None:
        body["resident_id"] = who
    return body


def cancel(appointment: str, who: dict | None) -> dict:
    body = {"type": "command",
            "command": {"type": "cancel_appointment", "appointment": appointment}}  # fmt: skip
    if who is not None:
        body["resident_id"] = who
    return body


async def test_the_web_channel_reads_slots_and_books_only_in_a_named_residents_name(tmp_path):
    async with running_server(tmp_path) as hall, connect(hall.url) as ws:
        welcome = await raw_hello(ws, {"kind": "web"})
        assert welcome["type"] == "welcome" and welcome["role"] == "web"
        slot = await a_free_slot(ws)

        # Only what a booking page needs: no snapshot, no tickets, no hall streams but public.
        for n, query in enumerate(("snapshot", "ticket", "stats")):
            reply = await ask(ws, n, {"type": "query", "query": query, "ticket": "E001"})
            assert reply["code"] == "forbidden", query
        reply = await ask(ws, 5, {"type": "subscribe", "streams": ["manager"]})
        assert reply["code"] == "forbidden"
        for n, command in enumerate(
            (
                {"type": "issue_ticket", "service": SERVICE},
                {"type": "check_in", "appointment": "AP1"},
            )
        ):
            reply = await ask(ws, 10 + n, {"type": "command", "command": command,
                                           "resident_id": ME})  # fmt: skip
            assert reply["code"] == "forbidden", command

        # A booking is real-name: without a document, refused; with one, booked on channel web.
        assert (await ask(ws, 20, book(slot, None)))["code"] == "identity_required"
        booked = await ask(ws, 21, book(slot, ME))
        assert booked["type"] == "reply", booked
        appointment = booked["result"]["appointment"]["id"]
        stored = hall.server.actor.store.hall.appointments[appointment]
        assert stored.channel == "web" and ME["number"] not in stored.resident_key

        # Only the same document cancels it.
        assert (await ask(ws, 22, cancel(appointment, None)))["code"] == "identity_required"
        refused = await ask(ws, 23, cancel(appointment, SOMEONE_ELSE))
        assert refused["type"] == "error" and refused["code"] != "forbidden"
        assert (await ask(ws, 24, cancel(appointment, ME)))["type"] == "reply"


async def test_one_address_may_book_only_so_often(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "WEB_COMMAND_LIMIT", 3)
    async with running_server(tmp_path) as hall:
        async with connect(hall.url) as ws:
            await raw_hello(ws, {"kind": "web"})
            slot = await a_free_slot(ws)
            answers = [await ask(ws, n, cancel("AP999", ME)) for n in range(3)]
            assert all(a["code"] != "rate_limited" for a in answers)
            assert (await ask(ws, 3, book(slot, ME)))["code"] == "rate_limited"
        # A new connection from the same address is no way round it.
        async with connect(hall.url) as ws:
            await raw_hello(ws, {"kind": "web"})
            assert (await ask(ws, 1, book(slot, ME)))["code"] == "rate_limited"


async def test_stats_for_the_manager_and_for_one_window(tmp_path):
    async with running_server(tmp_path) as hall:
        async with (
            connect(hall.url) as kiosk,
            connect(hall.url) as w5,
            connect(hall.url) as manager,
        ):
            await raw_hello(kiosk, auth_of("kiosk-1"))
            await raw_hello(w5, auth_of("w5", 5))
            await raw_hello(manager, auth_of("manager"))
            for n in range(2):
                await ask(kiosk, n, {"type": "command",
                                     "command": {"type": "issue_ticket", "service": SERVICE}})  # fmt: skip
            for n, kind in enumerate(("call_next", "start", "finish", "call_next", "no_show")):
                reply = await ask(w5, n, {"type": "command",
                                          "command": {"type": kind, "counter": 5}})  # fmt: skip
                assert reply["type"] == "reply", reply

            own = (await ask(w5, 10, {"type": "query", "query": "stats"}))["result"]
            assert own["window"]["counter"] == 5
            assert (own["window"]["served"], own["window"]["no_shows"]) == (1, 1)
            everything = (await ask(manager, 11, {"type": "query", "query": "stats"}))["result"]
            stats = everything["stats"]
            assert (stats["issued"], stats["served"], stats["no_shows"]) == (2, 1, 1)
            assert everything["csv"].splitlines()[2].startswith("2,1,1,0,")
            # Read again: only the new events are read from the log, the figures stay right.
            await ask(kiosk, 20, {"type": "command",
                                  "command": {"type": "issue_ticket", "service": SERVICE}})  # fmt: skip
            again = (await ask(manager, 12, {"type": "query", "query": "stats"}))["result"]
            assert again["stats"]["issued"] == 3


@pytest.mark.parametrize("path", ["/staff", "/manager", "/guide", "/book"])
async def test_the_pages_are_served(tmp_path, path):
    import urllib.request

    async with running_server(tmp_path) as hall:
        base = hall.url.removesuffix("/ws").replace("ws://", "http://")

        def fetch() -> tuple[str, bytes]:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return response.headers["Content-Type"], response.read()

        import asyncio

        content_type, body = await asyncio.to_thread(fetch)
        assert content_type.startswith("text/html") and b"<!doctype html>" in body
        assert b"http://" not in body and b"https://" not in body  # nothing from outside


async def next_devices(ws) -> list[dict]:
    import json

    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] == "devices":
            return {d["terminal"]: d for d in message["devices"]}


async def test_device_terminals_report_health_and_managers_see_it(tmp_path):
    async with running_server(tmp_path) as hall, connect(hall.url) as manager:
        await raw_hello(manager, auth_of("manager"))
        reply = await ask(manager, 1, {"type": "subscribe", "streams": ["manager"]})
        assert reply["type"] == "reply"
        devices = await next_devices(manager)
        assert set(devices) == {d.id for d in hall.config.devices}
        assert not any(d["connected"] for d in devices.values())

        async with connect(hall.url) as kiosk:
            await raw_hello(kiosk, auth_of("kiosk-1"))
            assert (await next_devices(manager))["kiosk-1"]["connected"] is True
            answer = await ask(kiosk, 2, {"type": "device_status", "part": "printer",
                                          "ok": False, "detail": "paper_out"})  # fmt: skip
            assert answer == {"v": 1, "type": "reply", "id": 2, "result": {"part": "printer"}}
            part = (await next_devices(manager))["kiosk-1"]["parts"]["printer"]
            assert (part["ok"], part["detail"]) == (False, "paper_out")
        assert (await next_devices(manager))["kiosk-1"]["connected"] is False

        # Only device terminals report.
        async with connect(hall.url) as window:
            await raw_hello(window, auth_of("w5", 5))
            answer = await ask(window, 3, {"type": "device_status", "part": "printer", "ok": True})
            assert answer["code"] == "forbidden"
