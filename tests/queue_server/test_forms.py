"""Residents' forms and materials on file, over a real server on SQLite and PostgreSQL.

A kiosk submits a form with the ticket; it is stored sealed in the same transaction, readable
only by the window that called or serves the ticket, never in the event log, the logs or the
database in clear, and gone after its retention (an injected clock: nothing sleeps). A window
files the materials it checked; a kiosk asking for the same resident sees them, another
resident does not.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness import halls as support
from harness.servers import (
    Clock,
    Running,
    auth_of,
    hall_config,
    raw_ask,
    raw_hello,
)
from queue_server import protocol as P
from queue_server.client import ServerError
from queue_server.config import Privacy
from queue_server.protocol import commands as C
from queue_server.server import QueueServer
from queue_server.storage import EventRow, FiledMaterialRow, FormRow, Store
from tools import protocol_examples

SERVICE = "liuguan.residence_registration"  # queue E: window 5 first, windows 4 and 6 back it up
NUMBER = "11010519491231002X"
OTHER_NUMBER = "110101198001010011"
# Values a grep of the database must never find in clear.
NAME = "张秀兰测试"
ADDRESS = "北京市朝阳区示范街道幸福里7号楼3单元501"
PHONE = "13912345678"
FORM = {
    "fields": {
        "name": NAME,
        "id_number": NUMBER,
        "sex": "female",
        "address": ADDRESS,
        "phone": PHONE,
    },
    "materials": ["id_card", "lease_contract"],
}


@contextlib.asynccontextmanager
async def served(tmp_path: Path, url: str, *, clock: Clock | None = None, privacy=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = hall_config(url)
    if privacy is not None:
        config = config.model_copy(update={"privacy": privacy})
    store = Store(config, **({"clock": clock} if clock is not None else {}))
    server = QueueServer(config, store, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield Running(server=server, url=f"ws://127.0.0.1:{server.port}/ws", config=config)
    finally:
        await server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    return support.db_url(request.param, tmp_path)


async def refused(coro, code: str) -> ServerError:
    with pytest.raises(ServerError) as caught:
        await coro
    assert caught.value.code == code, caught.value
    assert caught.value.message_zh and caught.value.message_en
    return caught.value


def all_rows(url: str, table) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table))]
    finally:
        engine.dispose()


async def test_a_form_goes_with_the_ticket_and_only_the_serving_window_reads_it(
    tmp_path, db, caplog
):
    caplog.set_level(logging.DEBUG)
    async with served(tmp_path, db) as hall:
        kiosk, manager = hall.device("kiosk-1"), hall.staff("manager", None)
        w5, w4 = hall.staff("w5", 5), hall.staff("w4", 4)
        for client in (kiosk, manager, w5, w4):
            await client.connect()
        await manager.subscribe("manager", "public")

        issued = await kiosk.command(
            C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM
        )
        assert issued.form_stored is True
        ticket_id, number = issued.ticket.id, issued.ticket.number
        # A ticket without a form says nothing of one.
        plain = await kiosk.command(C.IssueTicket(service=SERVICE))
        assert "form_stored" not in plain
        # A refused ticket stores no form (one open ticket per service and resident).
        await refused(
            kiosk.command(
                C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM
            ),
            "already_holding_ticket",
        )

        # Before it is called nobody reads it, not even the window that will serve it.
        await refused(w5.query("ticket_form", ticket_id=ticket_id), "form_not_yours")
        await refused(manager.query("ticket_form", ticket_id=ticket_id), "forbidden")
        await refused(kiosk.query("ticket_form", ticket_id=ticket_id), "forbidden")

        await w5.command(C.CallTicket(counter=5, ticket=number))
        form = await w5.query("ticket_form", ticket_id=ticket_id)
        assert form.ticket_id == ticket_id and form.service_id == SERVICE
        assert form.fields == FORM["fields"] and form.materials == FORM["materials"]
        assert form.submitted_at.isoformat().endswith("+08:00")
        assert set(form.model_dump(mode="json")) == set(protocol_examples.TICKET_FORM_REPLY)
        # By number too, as the console knows it.
        assert (await w5.query("ticket_form", ticket_id=number)).fields["name"] == NAME

        # Another window, the manager and a kiosk are refused while window 5 has it.
        await refused(w4.query("ticket_form", ticket_id=ticket_id), "form_not_yours")
        await refused(manager.query("ticket_form", ticket_id=ticket_id), "forbidden")
        await refused(kiosk.query("ticket_form", ticket_id=ticket_id), "forbidden")
        # The ticket issued without a form: plain words, not a failure.
        await w5.command(C.StartService(counter=5))
        assert (await w5.query("ticket_form", ticket_id=ticket_id)).fields["phone"] == PHONE
        await w5.command(C.FinishService(counter=5))
        await refused(w5.query("ticket_form", ticket_id=ticket_id), "form_not_yours")
        await w5.command(C.CallTicket(counter=5, ticket=plain.ticket.number))
        missing = await refused(
            w5.query("ticket_form", ticket_id=plain.ticket.id), "form_not_found"
        )
        assert missing.message_zh == "未提交表格"
        await refused(w5.query("ticket_form"), "bad_query")

        # The manager's stream, the kiosk's reply and the event log carry none of it.
        seen = []
        while manager.pending_messages():
            seen.append(json.dumps(await manager.next_message(1), ensure_ascii=False))
        assert seen
        for clear in (NAME, NUMBER, ADDRESS, PHONE):
            assert not any(clear in text for text in seen)
            assert clear not in issued.model_dump_json()
            assert clear not in caplog.text
        for client in (kiosk, manager, w5, w4):
            await client.close()

    events = all_rows(db, EventRow.__table__)
    forms = all_rows(db, FormRow.__table__)
    assert len(forms) == 1 and forms[0]["ticket_id"] == ticket_id
    stored = json.dumps([events, forms], default=repr, ensure_ascii=False)
    for clear in (NAME, NUMBER, ADDRESS, PHONE, "lease_contract", "female"):
        assert clear not in stored, clear
    if db.startswith("sqlite"):
        # The raw files, write-ahead log included, in every encoding the text could take.
        path = Path(db.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert len(raw) > 4096
        for clear in (NAME, NUMBER, ADDRESS, PHONE):
            for encoded in (clear.encode(), clear.encode("utf-16-le"), json.dumps(clear).encode()):
                assert encoded not in raw, clear


async def test_a_sealed_form_opens_only_under_its_own_ticket(tmp_path):
    """The ticket id is the seal's associated data: a row moved onto another ticket does not
    open (nor under another hall's key)."""
    from queue_server.privacy import FormUnreadable, FormVault

    config = hall_config(f"sqlite:///{tmp_path / 'hall.db'}")
    vault = FormVault.for_hall(config)
    sealed = vault.seal("20261126-E001", FORM)
    assert vault.open("20261126-E001", sealed) == FORM
    with pytest.raises(FormUnreadable):
        vault.open("20261126-E002", sealed)
    other = FormVault.for_hall(hall_config(f"sqlite:///{tmp_path / 'other.db'}"))
    with pytest.raises(FormUnreadable):
        other.open("20261126-E001", sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(FormUnreadable):
        vault.open("20261126-E001", tampered)


async def test_forms_and_filed_materials_are_purged_after_their_retention(tmp_path, db):
    clock = Clock(support.T0)
    privacy = Privacy(form_retention_hours=2, materials_retention_days=30)
    async with served(tmp_path, db, clock=clock, privacy=privacy) as hall:
        kiosk, w5 = hall.device("kiosk-1"), hall.staff("w5", 5)
        for client in (kiosk, w5):
            await client.connect()
        issued = await kiosk.command(
            C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM
        )
        ticket_id = issued.ticket.id
        await w5.command(C.CallTicket(counter=5, ticket=ticket_id))
        filed = await w5.request(
            {"type": "file_materials", "ticket_id": ticket_id, "materials": ["id_card"]}
        )
        assert filed == {"ticket_id": ticket_id, "materials": ["id_card"]}

        clock.advance(hours=1, minutes=59)
        assert await hall.server.purge_private() == {"forms": 0, "materials": 0}
        assert (await w5.query("ticket_form", ticket_id=ticket_id)).fields["name"] == NAME

        clock.advance(minutes=2)
        assert await hall.server.purge_private() == {"forms": 1, "materials": 0}
        await refused(w5.query("ticket_form", ticket_id=ticket_id), "form_not_found")
        on_file = await kiosk.query("materials_on_file", resident_id={"number": NUMBER})
        assert on_file.materials == ["id_card"]

        # Past the materials' retention they are no longer on file, even before the purge.
        clock.advance(days=30)
        on_file = await kiosk.query("materials_on_file", resident_id={"number": NUMBER})
        assert on_file.materials == []
        assert len(all_rows(db, FiledMaterialRow.__table__)) == 1
        for client in (kiosk, w5):
            await client.close()

    # A server starting after the retention purges before it serves anyone.
    restarted = hall_config(db, hall_id=hall.config.hall.id).model_copy(update={"privacy": privacy})
    store = Store(restarted, clock=clock)
    server = QueueServer(restarted, store, host="127.0.0.1", port=0)
    await server.start()
    try:
        assert all_rows(db, FiledMaterialRow.__table__) == []
    finally:
        await server.stop()


async def test_materials_filed_at_a_window_are_on_file_for_that_resident_only(tmp_path, db):
    async with served(tmp_path, db) as hall:
        kiosk, navigator = hall.device("kiosk-1"), hall.device("navigator-1")
        w5, w4, manager = hall.staff("w5", 5), hall.staff("w4", 4), hall.staff("manager", None)
        for client in (kiosk, navigator, w5, w4, manager):
            await client.connect()
        ask = {"resident_id": {"number": NUMBER}}
        assert (await kiosk.query("materials_on_file", **ask)).materials == []

        issued = await kiosk.command(
            C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM
        )
        ticket_id = issued.ticket.id
        anonymous = await kiosk.command(C.IssueTicket(service=SERVICE))

        def file(client, ticket, materials):
            return client.request(
                {"type": "file_materials", "ticket_id": ticket, "materials": materials}
            )

        # Only the window that called the ticket files for it.
        await refused(file(w5, ticket_id, ["id_card"]), "form_not_yours")
        await w5.command(C.CallTicket(counter=5, ticket=ticket_id))
        await refused(file(w4, ticket_id, ["id_card"]), "form_not_yours")
        await refused(file(manager, ticket_id, ["id_card"]), "forbidden")
        await refused(file(kiosk, ticket_id, ["id_card"]), "forbidden")
        await refused(file(w5, ticket_id, ["Not A Key"]), "bad_message")
        filed = await file(w5, ticket_id, ["lease_contract", "id_card", "id_card"])
        assert filed == {"ticket_id": ticket_id, "materials": ["id_card", "lease_contract"]}

        # The kiosk and the navigator see them for this resident (the number with spaces and
        # a lower-case x is the same resident); another resident sees none.
        for client in (kiosk, navigator):
            on_file = await client.query("materials_on_file", **ask)
            assert on_file.model_dump(mode="json") == {"materials": ["id_card", "lease_contract"]}
        spaced = {"resident_id": {"number": NUMBER[:6] + " " + NUMBER[6:].lower()}}
        assert (await kiosk.query("materials_on_file", **spaced)).materials
        other = {"resident_id": {"number": OTHER_NUMBER}}
        assert (await kiosk.query("materials_on_file", **other)).materials == []
        await refused(kiosk.query("materials_on_file"), "identity_required")
        await refused(w5.query("materials_on_file", **ask), "forbidden")
        await refused(manager.query("materials_on_file", **ask), "forbidden")

        # A ticket without a document cannot have materials on file.
        await w5.command(C.StartService(counter=5))
        await w5.command(C.FinishService(counter=5))
        await w5.command(C.CallTicket(counter=5, ticket=anonymous.ticket.id))
        await refused(file(w5, anonymous.ticket.id, ["id_card"]), "no_resident")
        for client in (kiosk, navigator, w5, w4, manager):
            await client.close()

    rows = all_rows(db, FiledMaterialRow.__table__)
    assert {r["material"] for r in rows} == {"id_card", "lease_contract"}
    assert all(NUMBER not in json.dumps(r, default=str) for r in rows)


async def test_the_serving_window_sees_what_is_on_file_for_its_resident(tmp_path, db):
    """A resident whose materials were filed on an earlier ticket comes back: the window that
    calls the new ticket asks by ticket (it never has the document number) and sees them; any
    other window, before the call, after finishing, and the manager are refused."""
    async with served(tmp_path, db) as hall:
        kiosk, manager = hall.device("kiosk-1"), hall.staff("manager", None)
        w5, w4 = hall.staff("w5", 5), hall.staff("w4", 4)
        for client in (kiosk, manager, w5, w4):
            await client.connect()

        def on_file(client, ticket):
            return client.query("materials_on_file", ticket_id=ticket)

        first = await kiosk.command(
            C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM
        )
        first_id = first.ticket.id
        await w5.command(C.CallTicket(counter=5, ticket=first_id))
        assert (await on_file(w5, first_id)).model_dump(mode="json") == {
            "ticket_id": first_id,
            "materials": [],
        }
        await w5.request(
            {"type": "file_materials", "ticket_id": first_id, "materials": ["lease_contract"]}
        )
        await w5.command(C.StartService(counter=5))
        await w5.command(C.FinishService(counter=5))
        await refused(on_file(w5, first_id), "form_not_yours")

        # The same resident comes back (the number typed another way) for a new ticket.
        again = await kiosk.command(
            C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER.lower()}
        )
        ticket_id, number = again.ticket.id, again.ticket.number
        other = await kiosk.command(
            C.IssueTicket(service=SERVICE), resident_id={"number": OTHER_NUMBER}
        )
        anonymous = await kiosk.command(C.IssueTicket(service=SERVICE))

        # Waiting: not even the window that will call it; the manager never; a kiosk only by
        # document, not by ticket.
        await refused(on_file(w5, ticket_id), "form_not_yours")
        await refused(on_file(manager, ticket_id), "forbidden")
        await refused(on_file(kiosk, ticket_id), "identity_required")

        await w5.command(C.CallTicket(counter=5, ticket=number))
        expected = {"ticket_id": ticket_id, "materials": ["lease_contract"]}
        assert (await on_file(w5, ticket_id)).model_dump(mode="json") == expected
        assert (await on_file(w5, number)).model_dump(
            mode="json"
        ) == expected  # by number, as the console knows it
        assert set(expected) == set(protocol_examples.TICKET_MATERIALS_REPLY)
        await refused(on_file(w4, ticket_id), "form_not_yours")
        await refused(on_file(manager, ticket_id), "forbidden")
        # A window may not look a resident up by document, even alongside its own ticket.
        await refused(
            w5.query(
                "materials_on_file", ticket_id=ticket_id, resident_id={"number": OTHER_NUMBER}
            ),
            "forbidden",
        )
        await refused(w5.query("materials_on_file"), "bad_query")

        # While serving, too; and what is filed now joins what was on file.
        await w5.command(C.StartService(counter=5))
        await w5.request(
            {"type": "file_materials", "ticket_id": ticket_id, "materials": ["id_card"]}
        )
        assert (await on_file(w5, ticket_id)).materials == ["id_card", "lease_contract"]
        await w5.command(C.FinishService(counter=5))
        await refused(on_file(w5, ticket_id), "form_not_yours")

        # Another resident: nothing on file. A ticket without a document: said so.
        await w4.command(C.CallTicket(counter=4, ticket=other.ticket.id))
        assert (await on_file(w4, other.ticket.id)).materials == []
        await w5.command(C.CallTicket(counter=5, ticket=anonymous.ticket.id))
        nobody = await refused(on_file(w5, anonymous.ticket.id), "no_resident")
        assert nobody.details == {"ticket": anonymous.ticket.number}
        for client in (kiosk, manager, w5, w4):
            await client.close()


async def test_forms_issued_together_are_each_stored_under_their_own_ticket(tmp_path, db):
    """Tickets issued at once share one group commit: each form lands on its own ticket."""
    import asyncio

    async with served(tmp_path, db) as hall:
        kiosks = [hall.device("kiosk-1") for _ in range(4)]
        for kiosk in kiosks:
            await kiosk.connect()

        async def issue(i: int) -> tuple[str, dict]:
            form = {"fields": {"name": f"居民{i}", "phone": f"1390000{i:04d}"}, "materials": []}
            reply = await kiosks[i % 4].command(
                C.IssueTicket(service=SERVICE), form=form if i % 3 else None
            )
            return reply.ticket.id, (form if i % 3 else None)

        issued = await asyncio.gather(*(issue(i) for i in range(24)))
        store = hall.server.actor.store
        for ticket_id, form in issued:
            stored = await hall.server.actor.call(store.ticket_form, ticket_id)
            if form is None:
                assert stored is None, ticket_id
            else:
                assert stored["form"] == form and stored["service"] == SERVICE, ticket_id
        for kiosk in kiosks:
            await kiosk.close()


def form_command(msg_id: int, form, command=None) -> dict:
    return {
        "v": 1,
        "type": "command",
        "id": msg_id,
        "command": command or {"type": "issue_ticket", "service": SERVICE},
        "form": form,
    }


async def test_malformed_and_oversize_forms_are_refused_and_the_connection_carries_on(tmp_path):
    from websockets.asyncio.client import connect

    async with served(tmp_path, f"sqlite:///{tmp_path / 'hall.db'}") as hall:
        async with connect(hall.url) as ws:
            assert (await raw_hello(ws, auth_of("kiosk-1")))["type"] == "welcome"
            bad = [
                {"fields": {f"f{i}": "x" for i in range(P.FORM_MAX_FIELDS + 1)}},
                {"fields": {"name": "长" * (P.FORM_MAX_VALUE + 1)}},
                {"fields": {f"f{i}": "长" * P.FORM_MAX_VALUE for i in range(11)}},  # 5,500
                {"fields": {"Bad Key": "x"}},
                {"fields": {"name": {"nested": "object"}}},
                {"fields": {"name": ["a"]}},
                {"materials": ["id_card"] * (P.FORM_MAX_MATERIALS + 1)},
                {"materials": ["身份证"]},
                {"fields": {}, "extra": 1},
                "not an object",
            ]
            for i, form in enumerate(bad, start=1):
                answer = await raw_ask(ws, form_command(i, form))
                assert (answer["type"], answer["code"], answer["id"]) == (
                    "error",
                    "form_invalid",
                    i,
                ), form
                assert answer["message_zh"] and answer["details"]["field"].startswith("command")
                # The answer never repeats what was typed.
                assert "长长" not in json.dumps(answer, ensure_ascii=False)

            # A form with another command, and past the form message limit.
            answer = await raw_ask(
                ws, form_command(20, FORM, {"type": "check_in", "appointment": "AP1"})
            )
            assert (answer["code"], answer["id"]) == ("form_invalid", 20)
            huge = json.dumps(
                form_command(21, {"fields": {"name": "x" * P.MAX_FORM_MESSAGE_BYTES}})
            )
            answer = await raw_ask(ws, huge)
            assert answer["code"] == "too_large"
            # Just over the ordinary limit but a real form (JSON-escaped Chinese): accepted.
            long_form = {"fields": {f"f{i}": "长" * 499 for i in range(10)}}
            text = json.dumps(form_command(22, long_form))
            assert len(text) > P.MAX_MESSAGE_BYTES
            answer = await raw_ask(ws, text)
            assert answer["type"] == "reply" and answer["result"]["form_stored"] is True
            # And the connection carries on as before.
            answer = await raw_ask(ws, {"v": 1, "type": "query", "id": 30, "query": "services"})
            assert answer["type"] == "reply"

        # A window, a manager and a phone may not submit forms.
        for auth in (auth_of("w5", 5), auth_of("manager")):
            async with connect(hall.url) as ws:
                assert (await raw_hello(ws, auth))["type"] == "welcome"
                answer = await raw_ask(ws, form_command(1, FORM))
                assert (answer["code"], answer["details"]) == ("forbidden", {"field": "form"})


def test_the_privacy_section_is_checked_and_an_own_form_key_is_used(tmp_path):
    import base64
    import tomllib

    from queue_server.config import ConfigError, parse_config
    from queue_server.privacy import FormUnreadable, FormVault, form_key

    data = tomllib.loads(support.config_text(hall_id="privacy-test", url="sqlite:///x.db"))

    def with_privacy(**privacy):
        return parse_config({**data, "privacy": privacy})

    for bad, why in (
        ({"form_key": "not base64!"}, "base64"),
        ({"form_key": base64.b64encode(b"short").decode()}, "32 bytes"),
        ({"form_retention_hours": 0}, "greater than 0"),
        ({"materials_retention_days": 400}, "less than or equal to 366"),
        ({"kept_for_ever": True}, "Extra inputs"),
    ):
        with pytest.raises(ConfigError) as caught:
            with_privacy(**bad)
        assert caught.value.field.startswith("privacy") and why in str(caught.value), bad

    config = with_privacy(form_key=base64.b64encode(bytes(range(32))).decode())
    derived = with_privacy()
    assert form_key(config) == bytes(range(32)) and form_key(derived) != form_key(config)
    assert derived.privacy.form_retention_hours == 24
    assert derived.privacy.materials_retention_days == 30
    sealed = FormVault.for_hall(config).seal("20261126-E001", FORM)
    with pytest.raises(FormUnreadable):
        FormVault.for_hall(derived).open("20261126-E001", sealed)
