"""The flow with its adapter against a real queue server on 127.0.0.1 and the printer's
simulator behind the real worker thread: live figures from the public stream, a booking made
and printed, device health reported, the server lost and found again."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable

from content import default_catalog
from devices.open import open_device
from devices.runner import DeviceEvent, EventKind, Health, PrinterWorker
from devices.sim import SAMPLE_CARDS
from harness.halls import T0
from harness.screens import CuttableProxy
from harness.servers import Clock, running_server
from navigator.flow import NavigatorFlow, Screen
from navigator.runtime import NavigatorRuntime
from queue_server.protocol import commands as C
from queue_server.protocol.payloads import CommandResult

YOUNG = SAMPLE_CARDS["resident_expiring"]
SERVICE = "liuguan.residence_permit"


class Navigator:
    """A flow, its runtime (following the public stream) and a simulated printer."""

    def __init__(self, hall, client):
        self.changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.flow = NavigatorFlow(
            default_catalog(), hall.config, today=lambda: T0.date(), wall=lambda: T0.timestamp()
        )
        self.printer = open_device("printer", "sim://", profile="gb18030-80")
        self.model = self.printer.escpos.model
        self.client = client
        self.runtime = NavigatorRuntime(
            self.flow, client, None, on_change=self.changed.set, refresh_s=0.05
        )
        sink = lambda ev: loop.call_soon_threadsafe(self.runtime.device_event, ev)  # noqa: E731
        self.worker = PrinterWorker("printer", self.printer, sink, idle=0.05)
        self.runtime.printer = self.worker
        self.runtime.workers = [self.worker]  # whose health the runtime reports
        self.follower: asyncio.Task | None = None

    async def __aenter__(self):
        await self.client.connect()
        self.worker.start()
        self.follower = asyncio.create_task(self.runtime.follow())
        self.runtime.tick()
        await self.until(lambda: self.flow.printer_problem is None, "the printer ready")
        await self.until(lambda: self.flow.live.known, "the hall's figures")
        return self

    async def __aexit__(self, *exc):
        self.follower.cancel()
        await asyncio.gather(self.follower, return_exceptions=True)
        await self.runtime.close()
        self.worker.stop()
        await self.client.close()

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 10.0):
        async def wait():
            while not predicate():
                self.changed.clear()
                self.runtime.tick()  # the app's clock: connection state, idle timeout
                try:
                    await asyncio.wait_for(self.changed.wait(), 0.1)
                except TimeoutError:
                    pass

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; {self.flow.screen}") from None

    def do(self, effects):
        self.runtime.do(effects)


async def issue(hall, count: int) -> list[CommandResult]:
    kiosk = hall.device("kiosk-1")
    async with kiosk:
        return [await kiosk.command(C.IssueTicket(service=SERVICE)) for _ in range(count)]


def waiting(nav: Navigator) -> int | None:
    info = nav.flow.queue_info(SERVICE)
    return None if info is None else info.waiting


async def test_live_figures_follow_the_public_stream(tmp_path):
    async with running_server(tmp_path) as hall, Navigator(hall, hall.device("navigator-1")) as n:
        assert waiting(n) == 0
        before = n.runtime.refreshes
        await issue(hall, 5)
        await n.until(lambda: waiting(n) == 5, "five waiting")
        # Five events, far fewer snapshot queries: a burst is coalesced.
        assert n.runtime.refreshes - before <= 5
        staff = hall.staff("w5", 5)
        async with staff:
            await staff.command(C.CallNext(counter=5))
        await n.until(lambda: waiting(n) == 4, "one called")
        assert n.flow.queue_info(SERVICE).serving == [("E001", 5)]


async def test_a_scanned_ticket_is_called(tmp_path):
    async with running_server(tmp_path) as hall, Navigator(hall, hall.device("navigator-1")) as n:
        [first, _second] = await issue(hall, 2)
        n.runtime.device_event(DeviceEvent("qr", EventKind.CODE_SCANNED, first.ticket_url))
        await n.until(lambda: n.flow.visit.ticket is not None, "the ticket")
        assert n.flow.ticket_status()[0].zh == "前面还有 0 人"
        staff = hall.staff("w5", 5)
        async with staff:
            await staff.command(C.CallNext(counter=5))
        await n.until(lambda: n.flow.visit.ticket.state == "called", "the call")
        assert n.flow.ticket_status()[0].zh == "请到 5 号窗口"


async def test_booking_is_made_printed_and_reported(tmp_path):
    clock = Clock(T0)
    async with (
        running_server(tmp_path, clock=clock) as hall,
        Navigator(hall, hall.device("navigator-1")) as n,
    ):
        manager = hall.staff("manager", None)
        await manager.connect()
        await manager.subscribe("manager")
        try:
            n.do(n.flow.open("book_services"))
            n.do(n.flow.choose_service(SERVICE))
            await n.until(lambda: bool(n.flow.free_slots()), "free slots")
            slot = n.flow.free_slots()[0]
            n.do(n.flow.choose_slot(slot.start.isoformat()))
            assert n.flow.screen == Screen.NEED_CARD
            n.runtime.device_event(DeviceEvent("id", EventKind.CARD_READ, YOUNG))
            await n.until(lambda: n.flow.visit.print_state == "printed", "the slip")
            booking = n.flow.visit.booking
            assert booking.slot_start == slot.start
            [slip] = n.runtime.printed
            assert slip.number == slip.qr_data == booking.id
            assert any(booking.id.encode() in code for code in n.model.qr_codes)
            # The booking is in the hall's books: the same resident cannot book that day again.
            n.do(n.flow.home())
            n.do(n.flow.open("book_services"))
            n.do(n.flow.choose_service(SERVICE))
            await n.until(lambda: bool(n.flow.free_slots()), "free slots")
            n.flow.visit.identity = YOUNG
            n.do(n.flow.choose_slot(n.flow.free_slots()[1].start.isoformat()))
            await n.until(lambda: n.flow.screen == Screen.NOTICE, "the refusal")
            assert n.flow.visit.notice_body.zh and "AP" not in n.flow.visit.notice_body.zh
            # Paper out: the managers' device list says so.
            n.model.state.paper = "out"
            await n.until(lambda: n.flow.printer_problem == "paper_out", "paper out")

            async def printer_down():
                while True:
                    message = await manager.next_message(10)
                    if message["type"] != "devices":
                        continue
                    entry = next(d for d in message["devices"] if d["terminal"] == "navigator-1")
                    part = entry["parts"].get("printer")
                    if part and not part["ok"]:
                        return part

            part = await asyncio.wait_for(printer_down(), 10)
            assert part["detail"] == "paper_out"
        finally:
            await manager.close()


@dataclasses.dataclass
class LostWorker:
    """A device worker whose device was unplugged."""

    name: str

    def health(self) -> Health:
        return Health(self.name, "lost", "unplugged", 0.0, 0)


async def test_the_scanner_s_health_reaches_the_managers(tmp_path):
    from devices.open import open_device
    from devices.runner import ScannerWorker

    async with running_server(tmp_path) as hall, Navigator(hall, hall.device("navigator-1")) as n:
        manager = hall.staff("manager", None)
        await manager.connect()
        await manager.subscribe("manager")
        loop = asyncio.get_running_loop()
        sink = lambda ev: loop.call_soon_threadsafe(n.runtime.device_event, ev)  # noqa: E731
        worker = ScannerWorker("qr", open_device("scanner", "sim://"), sink, idle=0.05)
        n.runtime.workers = [worker]
        worker.start()
        try:
            await n.until(lambda: n.runtime.health.get("scanner"), "the scanner's health")

            async def scanner_reported():
                while True:
                    message = await manager.next_message(10)
                    if message["type"] == "devices":
                        entry = next(
                            d for d in message["devices"] if d["terminal"] == "navigator-1"
                        )
                        if "scanner" in entry["parts"]:
                            return entry["parts"]["scanner"]

            part = await asyncio.wait_for(scanner_reported(), 10)
            assert part["ok"] is True
            # Lost: said with the worker's own event, in the word the kiosk uses too.
            worker.stop()
            n.runtime.workers = [LostWorker("qr")]
            n.runtime.device_event(DeviceEvent("qr", EventKind.DEVICE_LOST, "unplugged"))
            assert n.runtime.health.get("scanner") == (False, "offline")
        finally:
            worker.stop()
            await manager.close()


async def test_server_away_pauses_and_recovers(tmp_path):
    async with running_server(tmp_path) as hall:
        port = int(hall.url.rsplit(":", 1)[1].split("/")[0])
        proxy = CuttableProxy("127.0.0.1", port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        client = hall.device("navigator-1", backoff_min=0.05, backoff_max=0.2, request_timeout=2)
        client.url = url
        try:
            async with Navigator(hall, client) as n:
                await proxy.cut()
                await n.until(lambda: n.flow.screen == Screen.PAUSED, "暂停服务")
                assert n.flow.queue_info(SERVICE) is None
                await proxy.start()
                await n.until(lambda: n.flow.screen == Screen.HOME, "recovered")
                await issue(hall, 1)
                await n.until(lambda: waiting(n) == 1, "live again after the outage")
        finally:
            await proxy.close()


async def test_slots_of_a_day_are_asked_for_again_when_the_day_changes(tmp_path):
    async with running_server(tmp_path) as hall, Navigator(hall, hall.device("navigator-1")) as n:
        n.do(n.flow.open("book_services"))
        n.do(n.flow.choose_service(SERVICE))
        await n.until(lambda: bool(n.flow.free_slots()), "free slots")
        days = n.flow.visit.days
        assert len(days) >= 2 and all(dt.date.fromisoformat(d) > T0.date() for d in days)
        n.do(n.flow.choose_day(days[1]))
        await n.until(lambda: bool(n.flow.free_slots()), "the second day's slots")
        assert all(s.start.isoformat().startswith(days[1]) for s in n.flow.free_slots())
