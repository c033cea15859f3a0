"""The flow with its adapter against a real queue server on 127.0.0.1 and the printer's
simulator behind the real worker thread: tickets issued, printed, refused, cancelled."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable

from content import default_catalog
from devices.errors import DeviceLost
from devices.open import open_device
from devices.runner import DeviceEvent, EventKind, PrinterWorker, ReaderWorker
from devices.sim import SAMPLE_CARDS, SimReader
from harness.halls import T0, ZONE
from harness.screens import CuttableProxy
from harness.servers import Clock, running_server
from kiosk.flow import KioskFlow, Screen
from kiosk.runtime import KioskRuntime
from queue_server.protocol import commands as C

YOUNG = SAMPLE_CARDS["resident_expiring"]
ELDER = SAMPLE_CARDS["resident"]
DAY = T0.date()
SERVICE = "liuguan.residence_registration"


class UnpluggableReader(SimReader):
    """The simulated reader, whose USB cable a test can pull out and put back."""

    def __init__(self):
        super().__init__()
        self.plugged = threading.Event()
        self.plugged.set()

    def open(self):
        if not self.plugged.is_set():
            raise DeviceLost("reader not plugged in")

    def card_present(self):
        if not self.plugged.is_set():
            raise DeviceLost("reader unplugged")
        return super().card_present()


class Kiosk:
    """A flow, its runtime and a simulated printer, on the running loop."""

    def __init__(self, hall, client, *, today: dt.date = DAY, printer_url="sim://"):
        self.changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.flow = KioskFlow(default_catalog(), hall.config, today=lambda: today)
        self.printer = open_device("printer", printer_url, profile="gb18030-80")
        self.model = self.printer.escpos.model
        self.client = client
        self.runtime = KioskRuntime(self.flow, client, None, on_change=self.changed.set)
        sink = lambda ev: loop.call_soon_threadsafe(self.runtime.device_event, ev)  # noqa: E731
        self.worker = PrinterWorker("printer", self.printer, sink, idle=0.05)
        self.runtime.printer = self.worker
        self.reader = UnpluggableReader()
        self.reader_worker = ReaderWorker("id", self.reader, sink, backoff=(0.05, 0.2))
        self.runtime.workers = [self.reader_worker, self.worker]

    async def __aenter__(self):
        await self.client.connect()
        self.worker.start()
        self.reader_worker.start()
        await self.until(lambda: self.flow.printer_problem is None, "the printer ready")
        return self

    async def __aexit__(self, *exc):
        await self.runtime.close()
        self.worker.stop()
        self.reader_worker.stop()
        await self.client.close()

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 10.0):
        async def wait():
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what}; screen {self.flow.screen}"
            ) from None

    def card(self, identity):
        self.runtime.device_event(DeviceEvent("id", EventKind.CARD_READ, identity))

    def do(self, effects):
        self.runtime.do(effects)

    async def to_guide(self, service=SERVICE):
        if self.flow.screen == Screen.WELCOME:
            self.do(self.flow.start())
        self.do(self.flow.choose_bureau(service.split(".")[0]))
        self.do(self.flow.choose_service(service))
        assert self.flow.screen == Screen.GUIDE


async def waiting(hall, number: str) -> str:
    manager = hall.staff("manager", None)
    async with manager:
        return (await manager.query("ticket", ticket=number)).ticket.state


async def test_card_service_ticket_printed(tmp_path):
    async with running_server(tmp_path) as hall, Kiosk(hall, hall.device()) as k:
        k.card(ELDER)
        await k.until(lambda: k.flow.screen == Screen.BUREAUS, "no booking: the bureaus")
        assert k.flow.elderly
        await k.to_guide()
        k.do(k.flow.take_ticket())
        await k.until(lambda: k.flow.screen == Screen.TICKET, "the ticket screen")
        ticket = k.flow.visit.ticket
        assert ticket["number"] == "E001" and ticket["ahead"] == 0
        # The class the server granted (its reply), shown and printed as the hall words it.
        assert ticket["priority"] == "elderly"
        assert k.flow.priority_label(ticket["priority"]).zh == "老年人优先"
        [printed] = k.runtime.printed
        assert printed.note.startswith("【老年人优先】")
        assert printed.number == "E001" and printed.qr_data.endswith(ticket["token"])
        assert any("E001" in line for line in k.model.lines) and k.model.cuts == 1
        assert k.model.qr_codes and ticket["token"].encode() in k.model.qr_codes[0]
        # The same resident again: the server's refusal, in its words.
        k.do(k.flow.home())
        k.card(ELDER)
        await k.until(lambda: k.flow.screen == Screen.BUREAUS, "the bureaus")
        await k.to_guide()
        k.do(k.flow.take_ticket())
        await k.until(lambda: k.flow.screen == Screen.NOTICE, "the refusal")
        assert "E001" in k.flow.visit.notice_body.zh and "E001" in k.flow.visit.notice_body.en
        assert len(k.runtime.printed) == 1


async def test_paper_out_before_issue_issues_nothing(tmp_path):
    async with running_server(tmp_path) as hall, Kiosk(hall, hall.device()) as k:
        k.model.state.paper = "out"
        await k.until(lambda: k.flow.printer_problem == "paper_out", "the printer's status")
        k.card(YOUNG)  # no booking probe either: nothing could be printed
        assert k.flow.screen == Screen.BUREAUS
        await k.to_guide()
        k.do(k.flow.take_ticket())
        await k.until(lambda: k.flow.screen == Screen.NOTICE, "the notice")
        assert "缺纸" in k.flow.visit.notice_body.zh
        assert [f.kind for f in k.runtime.faults] == ["paper_out", "paper_out"]
        manager = hall.staff("manager", None)
        async with manager:
            services = (await manager.query("services")).services
        assert sum(s.waiting for s in services) == 0  # nothing was issued
        k.model.state.paper = "ok"  # refilled: tickets again
        await k.until(lambda: k.flow.printer_problem is None, "the printer back")


async def test_paper_running_out_mid_ticket_cancels_it(tmp_path):
    async with running_server(tmp_path) as hall, Kiosk(hall, hall.device()) as k:
        k.model.state.paper_left = 1  # the roll ends with this ticket's cut
        k.card(YOUNG)
        await k.until(lambda: k.flow.screen == Screen.BUREAUS, "no booking: the bureaus")
        await k.to_guide()
        k.do(k.flow.take_ticket())
        await k.until(lambda: k.flow.screen == Screen.NOTICE, "the notice")
        assert "已作废" in k.flow.visit.notice_body.zh
        assert k.runtime.printed == []
        assert await waiting(hall, "E001") == "cancelled"


async def test_appointment_check_in_by_qr_and_by_card(tmp_path):
    clock = Clock(T0)
    async with running_server(tmp_path, clock=clock) as hall:
        booker = hall.device("navigator-1")
        slot = dt.datetime(2026, 11, 27, 9, 0, tzinfo=ZONE)
        async with booker:
            rid = {"number": YOUNG.number, "doc_type": "id"}
            booked = await booker.command(
                C.BookAppointment(service="liuguan.residence_permit", slot_start=slot),
                resident_id=rid,
            )
            rid2 = {"number": ELDER.number, "doc_type": "id"}
            booked2 = await booker.command(
                C.BookAppointment(service="liuguan.residence_permit", slot_start=slot),
                resident_id=rid2,
            )
        appointment = booked.appointment.id
        clock.now = slot - dt.timedelta(minutes=40)  # too early
        async with Kiosk(hall, hall.device(), today=slot.date()) as k:
            k.card(YOUNG)
            await k.until(lambda: k.flow.screen == Screen.NOTICE, "too early")
            assert "签到" in k.flow.visit.notice_body.zh
            k.do(k.flow.notice_next())
            assert k.flow.screen == Screen.BUREAUS  # and the ordinary way is open
            k.do(k.flow.home())
            clock.now = slot - dt.timedelta(minutes=5)
            k.runtime.device_event(
                DeviceEvent(
                    "qr", EventKind.CODE_SCANNED, f"https://hall.example.cn/a/{appointment}"
                )
            )
            await k.until(lambda: k.flow.screen == Screen.TICKET, "checked in by QR")
            assert k.flow.visit.checked_in and k.flow.visit.ticket["number"].startswith("E")
            k.card(ELDER)  # the next resident checks in with the card
            await k.until(lambda: k.flow.screen == Screen.TICKET, "checked in by card")
            assert len(k.runtime.printed) == 2
        assert booked2.appointment.id != appointment


async def test_the_ticket_shows_the_class_the_server_granted_not_the_one_assumed(tmp_path):
    """A kiosk whose own copy of the hall config is stale (it thinks a booking checks in as
    "elderly", and knows no "appointment" class) still shows and prints what the hall granted,
    in the hall's words; a booking past its check-in window ends as an ordinary ticket."""
    clock = Clock(T0)
    async with running_server(tmp_path, clock=clock) as hall:
        slot = dt.datetime(2026, 11, 27, 9, 0, tzinfo=ZONE)
        async with hall.device("navigator-1") as booker:
            for card in (YOUNG, ELDER):
                await booker.command(
                    C.BookAppointment(service="liuguan.residence_permit", slot_start=slot),
                    resident_id={"number": card.number, "doc_type": "id"},
                )
        config = hall.config
        stale = config.model_copy(
            update={
                "appointments": config.appointments.model_copy(update={"priority": "elderly"}),
                "priority_classes": [c for c in config.priority_classes if c.name != "appointment"],
            }
        )
        clock.now = slot - dt.timedelta(minutes=5)
        async with Kiosk(hall, hall.device(), today=slot.date()) as k:
            k.flow.config = stale
            k.flow.priority_labels.pop("appointment")
            k.card(YOUNG)
            await k.until(lambda: k.flow.screen == Screen.TICKET, "checked in by card")
            ticket = k.flow.visit.ticket
            assert k.flow.visit.checked_in and ticket["priority"] == "appointment"
            label = k.flow.priority_label(ticket["priority"])
            assert (label.zh, label.en) == ("预约优先", "Priority: Appointment")
            assert k.runtime.printed[-1].note.startswith("【预约优先】")
            k.do(k.flow.home())

            clock.now = slot + dt.timedelta(minutes=11)  # past the late grace
            k.card(ELDER)
            await k.until(lambda: k.flow.screen == Screen.NOTICE, "too late")
            k.do(k.flow.notice_next())
            await k.to_guide("liuguan.residence_permit")
            k.do(k.flow.take_ticket())
            await k.until(lambda: k.flow.screen == Screen.TICKET, "the ordinary ticket")
            ticket = k.flow.visit.ticket
            # Not the booking's class: the elderly one the kiosk asked for, granted as such.
            assert not k.flow.visit.checked_in and ticket["priority"] == "elderly"
            assert k.runtime.printed[-1].note.startswith("【老年人优先】")
            assert "预约" not in k.runtime.printed[-1].note


async def test_server_away_pauses_and_recovers(tmp_path):
    async with running_server(tmp_path) as hall:
        port = int(hall.url.rsplit(":", 1)[1].split("/")[0])
        proxy = CuttableProxy("127.0.0.1", port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        client = hall.device(backoff_min=0.05, backoff_max=0.2, request_timeout=2)
        client.url = url
        try:
            async with Kiosk(hall, client) as k:
                await proxy.cut()
                await until_ticked(k, lambda: k.flow.screen == Screen.PAUSED, "暂停取号")
                await proxy.start()
                await until_ticked(k, lambda: k.flow.screen == Screen.WELCOME, "recovered")
                k.card(YOUNG)
                await k.until(lambda: k.flow.screen == Screen.BUREAUS, "no booking")
                await k.to_guide()
                k.do(k.flow.take_ticket())
                await k.until(lambda: k.flow.screen == Screen.TICKET, "a ticket after recovery")
        finally:
            await proxy.close()


async def test_a_ticket_committed_after_its_reply_was_lost_is_the_one_the_retry_gets(tmp_path):
    """The hall's database is locked when the resident takes a ticket: the kiosk hears
    `unavailable`, while the command waits on, and commits as the lock goes. The kiosk's retry
    carries the same request key, so it gets that ticket: one ticket, printed once."""
    settings = {"command_timeout_s": 1.0, "tick_seconds": 3600}
    async with running_server(tmp_path, server=settings) as hall, Kiosk(hall, hall.device()) as k:
        k.card(YOUNG)
        await k.until(lambda: k.flow.screen == Screen.BUREAUS, "no booking")
        await k.to_guide()
        holder = sqlite3.connect(tmp_path / "hall.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than a reply
        keys: list[str | None] = []
        send = k.client.command

        async def command(*args, request_key=None, **kw):
            keys.append(request_key)
            if len(keys) == 2:  # the retry: the first attempt was refused, let it commit
                holder.execute("ROLLBACK")
            return await send(*args, request_key=request_key, **kw)

        k.client.command = command
        try:
            k.do(k.flow.take_ticket())
            await k.until(lambda: k.flow.screen == Screen.TICKET, "the ticket", timeout=20)
        finally:
            holder.close()
        assert len(keys) == 2 and keys[0] is not None and keys[0] == keys[1]
        assert hall.server.m_commands.labels("issue_ticket", "replayed")._value.get() == 1
        assert len(k.runtime.printed) == 1
        tickets = sqlite3.connect(tmp_path / "hall.db").execute("SELECT count(*) FROM tickets")
        assert tickets.fetchone() == (1,)


async def until_ticked(k: Kiosk, predicate, what: str, timeout: float = 10.0):
    """Tick the runtime (as the app's one-second clock does) until ``predicate`` holds."""

    async def ticking():
        while not predicate():
            k.runtime.tick()
            await asyncio.sleep(0.05)  # the app's tick interval, shortened: a clock, not a sync

    try:
        await asyncio.wait_for(ticking(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def manager_view(manager, want: Callable[[dict], bool], what: str) -> dict:
    """The manager stream's ``devices`` messages until kiosk-1's parts satisfy ``want``."""

    async def wait():
        while True:
            message = await manager.next_message()
            if message["type"] == "devices":
                kiosk = next(d for d in message["devices"] if d["terminal"] == "kiosk-1")
                parts = {p: (v["ok"], v["detail"]) for p, v in kiosk["parts"].items()}
                if want(parts):
                    return parts

    try:
        return await asyncio.wait_for(wait(), 10)
    except TimeoutError:
        raise AssertionError(f"the manager never saw {what}") from None


async def test_the_hall_manager_sees_each_parts_health(tmp_path):
    async with running_server(tmp_path) as hall:
        port = int(hall.url.rsplit(":", 1)[1].split("/")[0])
        proxy = CuttableProxy("127.0.0.1", port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        client = hall.device(backoff_min=0.05, backoff_max=0.2, request_timeout=2)
        client.url = url
        manager = hall.staff("manager", None)
        try:
            async with manager, Kiosk(hall, client) as k:
                await manager.subscribe("manager")
                k.runtime.set_part("screen", True)
                # On start: every part, as soon as its worker knows.
                seen = await manager_view(
                    manager, lambda p: {"printer", "reader", "screen"} <= set(p), "the start"
                )
                assert seen["printer"] == (True, "") and seen["reader"] == (True, "")
                # The printer runs out of paper, then its cover is opened: each change told.
                k.model.state.paper = "out"
                await manager_view(manager, lambda p: p["printer"] == (False, "paper_out"), "out")
                k.model.state.paper = "ok"
                k.model.state.cover_open = True
                await manager_view(
                    manager, lambda p: p["printer"] == (False, "cover_open"), "cover open"
                )
                k.model.state.cover_open = False
                await manager_view(manager, lambda p: p["printer"] == (True, ""), "closed")
                # The reader's cable pulled out, then back.
                k.reader.plugged.clear()
                await manager_view(manager, lambda p: p["reader"] == (False, "offline"), "pulled")
                k.reader.plugged.set()
                await manager_view(manager, lambda p: p["reader"] == (True, ""), "plugged back")
                # The kiosk's link drops while the paper runs out: told after the reconnect.
                await proxy.cut()
                await until_ticked(k, lambda: not k.client.connected.is_set(), "the cut")
                k.model.state.paper = "out"
                await k.until(lambda: k.flow.printer_problem == "paper_out", "paper out seen")
                await proxy.start()
                await until_ticked(k, lambda: k.client.connected.is_set(), "the reconnect")
                k.runtime.tick()  # the app's clock notices the new connection
                seen = await manager_view(
                    manager,
                    lambda p: p["printer"] == (False, "paper_out"),
                    "the fault after the reconnect",
                )
                assert seen["reader"] == (True, "") and seen["screen"] == (True, "")
                await k.runtime.wait_idle()  # the server pushes to managers before it replies
                sent = [r for r in k.runtime.health.sent if r[0] == "printer"]
                assert sent[-1] == ("printer", False, "paper_out")
        finally:
            await proxy.close()


async def test_the_form_goes_with_the_ticket_and_filed_materials_are_marked(tmp_path):
    async with running_server(tmp_path) as hall, Kiosk(hall, hall.device()) as k:
        # A resident fills the form, ticks what they bring, takes the ticket.
        k.card(YOUNG)
        await k.until(lambda: k.flow.screen == Screen.BUREAUS, "no booking: the bureaus")
        await k.until(lambda: k.flow.visit.on_file is not None, "the on-file answer")
        assert k.flow.visit.on_file == set()  # nothing filed yet
        await k.to_guide()
        k.do(k.flow.toggle_material("lease_contract"))
        k.do(k.flow.open_form())
        k.do(k.flow.set_field("phone", "13800138000"))
        k.do(k.flow.set_field("current_address", "朝阳区金盏1号"))
        k.do(k.flow.submit_form())
        await k.until(lambda: k.flow.screen == Screen.TICKET, "the ticket")
        ticket = k.flow.visit.ticket
        # The window that calls it reads the form; it files the lease it checked.
        window = hall.staff("w5", 5)
        async with window:
            await window.command(C.CallTicket(counter=5, ticket=ticket["id"]))
            form = await window.query("ticket_form", ticket_id=ticket["id"])
            assert form.fields["phone"] == "13800138000"
            assert form.fields["current_address"] == "朝阳区金盏1号"
            assert form.fields["id_number"] == YOUNG.number  # from the card
            assert form.materials == ["lease_contract"]
            await window.request(
                {"type": "file_materials", "ticket_id": ticket["id"],
                 "materials": ["lease_contract", "marriage_cert"]}
            )  # fmt: skip
        k.do(k.flow.home())
        # The same resident next time: the guide marks what is on file (e-copies only).
        k.card(YOUNG)
        await k.until(lambda: bool(k.flow.visit.on_file), "the on-file answer")
        await k.to_guide("jisheng.birth_registration")
        lines = {line.key: line for line in k.flow.materials()}
        assert lines["marriage_cert"].on_file
        assert not lines["id_card"].on_file
        # Another resident sees nothing of it.
        k.do(k.flow.home())
        k.card(ELDER)
        await k.until(lambda: k.flow.visit.on_file is not None, "the elder's answer")
        assert k.flow.visit.on_file == set()
