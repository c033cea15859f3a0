"""The queue server end to end: real server on 127.0.0.1, real clients."""

from __future__ import annotations

import asyncio

import pytest

from harness.servers import running_server
from queue_server import protocol as P
from queue_server.client import HallClient, ServerError
from queue_server.protocol import commands as C


async def next_of(client: HallClient, kind: str, timeout: float = 5.0) -> dict:
    while True:
        message = await client.next_message(timeout)
        if message["type"] == kind:
            return message


async def test_a_kiosk_issues_a_window_calls_and_the_screen_sees_it(tmp_path):
    async with running_server(tmp_path) as hall:
        kiosk, screen, window = (
            hall.device("kiosk-1"),
            hall.device("signage-main"),
            hall.staff("w5", 5),
        )
        for client in (kiosk, screen, window):
            await client.connect()
        await screen.subscribe("public")
        snapshot = await next_of(screen, "snapshot")
        assert {c["id"] for c in snapshot["state"]["counters"]} == {1, 2, 3, 4, 5, 6}

        reply = await kiosk.command(
            C.IssueTicket(service="liuguan.residence_registration"),
            resident_id={"number": "11010119500101001X"},
        )
        number = reply.ticket.number
        assert number == "E001" and reply.ticket_url.endswith(reply.resident_token)
        called = await window.command(C.CallNext(counter=5))
        assert called.events[-1]["number"] == number

        seen = await next_of(screen, "event")
        while seen["event"]["type"] != "ticket_called":
            seen = await next_of(screen, "event")
        assert seen["event"]["number"] == number and seen["event"]["counter"] == 5
        for client in (kiosk, screen, window):
            await client.close()


async def test_the_clear_id_number_never_leaves_the_server(tmp_path, caplog):
    number = "11010119500101001X"
    async with running_server(tmp_path) as hall:
        kiosk, manager = hall.device("kiosk-1"), hall.staff("manager", None)
        await kiosk.connect()
        await manager.connect()
        await manager.subscribe("manager")
        reply = await kiosk.command(
            C.IssueTicket(service="liuguan.residence_registration"),
            resident_id={"number": number},
        )
        assert number not in str(reply)
        event = await next_of(manager, "event")
        while event["event"]["type"] != "ticket_issued":
            event = await next_of(manager, "event")
        assert number not in str(event) and "resident_key" not in str(event)
        # The same resident may not hold two open tickets for one service: the key works.
        with pytest.raises(ServerError) as err:
            await kiosk.command(
                C.IssueTicket(service="liuguan.residence_registration"),
                resident_id={"number": number.lower()},
            )
        assert err.value.code == "already_holding_ticket"
        await kiosk.close()
        await manager.close()
    assert number not in caplog.text


async def test_each_role_is_limited_to_its_own_actions(tmp_path):
    async with running_server(tmp_path) as hall:
        kiosk, screen, w5 = hall.device("kiosk-1"), hall.device("signage-main"), hall.staff("w5", 5)
        for client in (kiosk, screen, w5):
            await client.connect()
        forbidden = [
            (screen, C.IssueTicket(service="liuguan.residence_registration")),
            (kiosk, C.CallNext(counter=5)),
            (kiosk, C.IssueTicket(service="liuguan.residence_registration", priority="military")),
            (w5, C.CallNext(counter=4)),  # not this session's window
            (w5, C.Reskill(counter=5, skills=[["A"]])),  # a manager's command
        ]
        for client, command in forbidden:
            with pytest.raises(ServerError) as err:
                await client.command(command)
            assert err.value.code == "forbidden", command
        with pytest.raises(ServerError) as err:
            await screen.subscribe("manager")
        assert err.value.code == "forbidden"
        for client in (kiosk, screen, w5):
            await client.close()


@pytest.mark.parametrize(
    "auth",
    [
        P.DeviceAuth(device_id="kiosk-1", token="wrong"),
        P.DeviceAuth(device_id="nobody", token="x"),
        P.StaffAuth(login="w5", password="wrong", counter=5),
        P.ResidentAuth(token="20261126-E001.9999999999.forged"),
    ],
)
async def test_bad_credentials_are_refused(tmp_path, auth):
    from queue_server.client import AuthFailed

    async with running_server(tmp_path) as hall:
        client = HallClient(hall.url, auth)
        with pytest.raises(AuthFailed):
            await client.connect()


async def test_malformed_messages_get_typed_errors_and_the_connection_carries_on(tmp_path):
    from websockets.asyncio.client import connect

    async with running_server(tmp_path) as hall:
        async with connect(hall.url) as ws:
            cases = [
                ("not json", "bad_json"),
                ('{"v": 9, "type": "ping"}', "unsupported_version"),
                ('{"v": 1, "type": "nonsense", "id": 3}', "bad_message"),
                ('{"v": 1, "type": "ping", "id": 1}', "not_authenticated"),
                ('{"v": 1, "type": "query", "id": 2, "query": "snapshot"}', "not_authenticated"),
                ("x" * (P.MAX_MESSAGE_BYTES + 1), "too_large"),
            ]
            for raw, code in cases:
                await ws.send(raw)
                answer = P.SERVER_ADAPTER.validate_json(await asyncio.wait_for(ws.recv(), 5))
                assert answer.type == "error" and answer.code == code, raw[:40]
                assert answer.message_zh and answer.message_en


async def _hello_code(url: str, auth) -> str:
    """``welcome`` or the error code a hello with ``auth`` gets."""
    from queue_server.client import AuthFailed

    client = HallClient(url, auth)
    try:
        await client.connect()
    except AuthFailed as err:
        return str(err).split(":")[0]
    await client.close()
    return "welcome"


async def test_guessing_is_slowed_but_never_locks_out_the_right_credential(tmp_path, monkeypatch):
    """One guesser behind a hall's NAT must not lock out its terminals, staff or residents."""
    from queue_server.server import LoginThrottle

    monkeypatch.setattr(LoginThrottle, "CREDENTIAL_LIMIT", 3)
    monkeypatch.setattr(LoginThrottle, "ADDRESS_LIMIT", 5)
    monkeypatch.setattr(LoginThrottle, "SPACING_S", 0.2)
    monkeypatch.setattr(LoginThrottle, "MAX_WAIT_S", 1.0)
    async with running_server(tmp_path) as hall:
        # A kiosk logs in before the guessing starts (its token is then known to be good).
        assert await _hello_code(hall.url, hall.device("kiosk-1").auth) == "welcome"
        wrong = P.StaffAuth(login="w1", password="guess", counter=1)
        assert [await _hello_code(hall.url, wrong) for _ in range(3)] == ["auth_failed"] * 3
        # Over the credential's limit: a burst of guesses is checked one at a time, and what
        # would wait past MAX_WAIT_S in that line is refused at once.
        burst = await asyncio.gather(*(_hello_code(hall.url, wrong) for _ in range(12)))
        assert "rate_limited" in burst and "auth_failed" in burst
        assert set(burst) == {"rate_limited", "auth_failed"}
        # The right password of the guessed login still gets in (after its turn in line).
        assert await _hello_code(hall.url, hall.staff("w1", 1).auth) == "welcome"
        # The address is over its limit too: every other credential from it still works, the
        # one already seen at once, a first login after its turn, a resident token always.
        assert await _hello_code(hall.url, hall.device("kiosk-1").auth) == "welcome"
        assert await _hello_code(hall.url, hall.device("navigator-1").auth) == "welcome"
        assert await _hello_code(hall.url, hall.staff("manager", None).auth) == "welcome"
        kiosk = hall.device("kiosk-1")
        await kiosk.connect()
        reply = await kiosk.command(C.IssueTicket(service="liuguan.residence_registration"))
        await kiosk.close()
        resident = P.ResidentAuth(token=reply.resident_token)
        assert await _hello_code(hall.url, resident) == "welcome"
        # And a guess at another login from the same address is still only slowed, not refused.
        other = P.StaffAuth(login="w2", password="guess", counter=2)
        assert await _hello_code(hall.url, other) == "auth_failed"
