"""The ticket view carries the priority class the hall GRANTED, not the one a terminal asked for:
what the kiosk prints and the phone page shows come from it. Real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.halls import T0, ZONE
from harness.servers import Clock, running_server
from queue_server import protocol as P
from queue_server.client import HallClient, ServerError
from queue_server.protocol import commands as C
from queue_server.protocol.payloads import TicketView

REGISTRATION = "liuguan.residence_registration"  # queue E, walk-in only
PERMIT = "liuguan.residence_permit"  # takes appointments
SLOT = dt.datetime(2026, 11, 27, 9, 0, tzinfo=ZONE)  # Friday, the first bookable day after T0
ON_TIME = {"number": "110101199001010011", "doc_type": "id"}
LATE = {"number": "110101199202020022", "doc_type": "id"}


def granted(ticket: TicketView | dict) -> tuple[str, str, str]:
    """The class and its labels, of a reply's ticket view or a stream message's ticket."""
    if isinstance(ticket, TicketView):
        return ticket.priority, ticket.priority_label_zh, ticket.priority_label_en
    return ticket["priority"], ticket["priority_label_zh"], ticket["priority_label_en"]


async def test_walk_in_tickets_carry_their_class_with_the_halls_labels(tmp_path):
    async with running_server(tmp_path) as hall, hall.device("kiosk-1") as kiosk:
        normal = await kiosk.command(C.IssueTicket(service=REGISTRATION))
        assert granted(normal.ticket) == ("normal", "普通", "Normal")
        # The kiosk grants "elderly" by the hall's rule (the ID card's birth date; a
        # self-service class): the server keeps it, with its labels from the hall config.
        elderly = await kiosk.command(
            C.IssueTicket(service=REGISTRATION, priority="elderly"),
            resident_id={"number": "11010119500101001X", "doc_type": "id"},
        )
        assert granted(elderly.ticket) == ("elderly", "老年人优先", "Elderly")
        # A class staff must verify is not the kiosk's to grant: no ticket at all.
        with pytest.raises(ServerError):
            await kiosk.command(C.IssueTicket(service=REGISTRATION, priority="military"))
        # The resident's own view (the phone page's stream) and the public ticket query say
        # the same, and still carry nothing personal.
        async with HallClient(hall.url, P.ResidentAuth(token=elderly.resident_token)) as me:
            await me.subscribe("resident")
            snapshot = await me.next_message(5.0)
            while snapshot["type"] != "snapshot":
                snapshot = await me.next_message(5.0)
        mine = snapshot["state"]["ticket"]
        assert granted(mine) == ("elderly", "老年人优先", "Elderly")
        assert "resident_key" not in mine and "11010119500101001X" not in str(mine)
        asked = await kiosk.query("ticket", ticket=elderly.ticket.number)
        assert (
            asked.ticket.priority == "elderly" and "resident_key" not in asked.ticket.model_dump()
        )


async def test_a_booking_keeps_its_class_only_within_its_check_in_window(tmp_path):
    clock = Clock(T0)
    async with running_server(tmp_path, clock=clock) as hall:
        async with hall.device("navigator-1") as booker:
            for rid in (ON_TIME, LATE):
                await booker.command(
                    C.BookAppointment(service=PERMIT, slot_start=SLOT), resident_id=rid
                )
        async with hall.device("kiosk-1") as kiosk:
            clock.now = SLOT - dt.timedelta(minutes=5)  # within the early grace
            on_time = await kiosk.command(C.CheckIn(), resident_id=ON_TIME)
            assert granted(on_time.ticket) == ("appointment", "预约", "Appointment")

            clock.now = SLOT + dt.timedelta(minutes=11)  # past the 10-minute late grace
            with pytest.raises(ServerError) as refused:
                await kiosk.command(C.CheckIn(), resident_id=LATE)
            assert refused.value.code == "check_in_too_late"
            # The ordinary way, as the kiosk then offers: the same service, but normal.
            late = await kiosk.command(C.IssueTicket(service=PERMIT), resident_id=LATE)
            assert granted(late.ticket) == ("normal", "普通", "Normal")
            # The late one is served after the one that came on time.
            assert late.ticket.ahead >= 1
