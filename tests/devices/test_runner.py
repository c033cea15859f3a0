"""Workers in their threads delivering events to an asyncio consumer; loss and recovery."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from datetime import date, datetime

import pytest

from devices.errors import CardReadFailed, PaperOut, PrinterError
from devices.open import open_device
from devices.printer import sample_ticket
from devices.runner import (
    EventKind,
    PrinterWorker,
    ReaderWorker,
    ScannerWorker,
    asyncio_sink,
)
from devices.samv import SamvReader
from devices.scanner import SimScanner
from devices.sim import SAMPLE_CARDS, PtyPair, SamvSimulator, SimReader
from harness.fake_printer import FakeTcpPrinter


async def next_event(events: asyncio.Queue, kind: EventKind, timeout: float = 5.0):
    """The next event of ``kind``; other kinds in between fail the test."""
    event = await asyncio.wait_for(events.get(), timeout)
    assert event.kind is kind, event
    return event


def test_reader_worker_on_a_pty():
    async def main():
        events: asyncio.Queue = asyncio.Queue()
        pair = PtyPair()
        sim = SamvSimulator(pair.master, hang_up=pair.close_master).start()
        reader = SamvReader(pair.path, timeout=0.5, today=lambda: date(2026, 11, 26))
        reader.poll_interval = 0.02
        worker = ReaderWorker("id", reader, asyncio_sink(asyncio.get_running_loop(), events))
        worker.start()
        try:
            sim.place(SAMPLE_CARDS["hmt"])
            event = await next_event(events, EventKind.CARD_READ)
            assert event.payload == SAMPLE_CARDS["hmt"] and event.device == "id"
            sim.remove()
            await next_event(events, EventKind.CARD_REMOVED)
            sim.inject("read_fail")
            sim.place(SAMPLE_CARDS["resident"])
            event = await next_event(events, EventKind.CARD_ERROR)
            assert isinstance(event.payload, CardReadFailed)
            sim.remove()
            await next_event(events, EventKind.CARD_REMOVED)
            sim.place(SAMPLE_CARDS["resident"])
            assert (await next_event(events, EventKind.CARD_READ)).payload == SAMPLE_CARDS[
                "resident"
            ]
            assert worker.health().state == "ok"
            sim.hang_up()
            await next_event(events, EventKind.DEVICE_LOST)
            assert worker.health().state == "lost"
        finally:
            worker.stop()
            sim.stop()
            pair.close()
        assert worker.health().state == "stopped"

    asyncio.run(main())


class SerialOverTcp:
    """A SAM_V reader behind a serial-to-Ethernet converter: pyserial's socket:// reaches it.
    Switching it off closes the connection and the port; switching it on listens again."""

    def __init__(self) -> None:
        self.port = 0
        self.card = None
        self._switch_on()

    def _switch_on(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        self.sims: list[SamvSimulator] = []
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            if select.select([self.server], [], [], 0.05)[0]:
                conn, _ = self.server.accept()
                self._conns.append(conn)
                sim = SamvSimulator(conn.fileno(), hang_up=lambda: None)
                if self.card:
                    sim.place(self.card)
                self.sims.append(sim.start())

    def switch_off(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sim in self.sims:
            sim.stop()
        for conn in self._conns:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.server.close()

    switch_on = _switch_on


def test_reader_worker_reconnects_after_the_device_comes_back():
    async def main():
        events: asyncio.Queue = asyncio.Queue()
        box = SerialOverTcp()
        reader = SamvReader(f"socket://127.0.0.1:{box.port}", timeout=0.5)
        reader.poll_interval = 0.02
        worker = ReaderWorker(
            "id", reader, asyncio_sink(asyncio.get_running_loop(), events), backoff=(0.05, 0.2)
        )
        worker.start()
        try:
            box.card = SAMPLE_CARDS["foreign2017"]
            box.switch_off()
            await next_event(events, EventKind.DEVICE_LOST)
            box.switch_on()
            await next_event(events, EventKind.DEVICE_BACK)
            event = await next_event(events, EventKind.CARD_READ)
            assert event.payload == SAMPLE_CARDS["foreign2017"]
            assert worker.health().reconnects == 1
        finally:
            worker.stop()
            box.switch_off()

    asyncio.run(main())


def test_scanner_worker_and_sim_reader():
    async def main():
        events: asyncio.Queue = asyncio.Queue()
        sink = asyncio_sink(asyncio.get_running_loop(), events)
        scanner = SimScanner()
        reader = SimReader()
        reader.poll_interval = 0.02
        workers = [
            ScannerWorker("qr", scanner, sink, idle=0.05).start(),
            ReaderWorker("id", reader, sink).start(),
        ]
        try:
            scanner.scan("APPT-1")
            scanner.scan("APPT-1")  # held in front of the scanner: once
            scanner.scan("APPT-2")
            assert (await next_event(events, EventKind.CODE_SCANNED)).payload == "APPT-1"
            assert (await next_event(events, EventKind.CODE_SCANNED)).payload == "APPT-2"
            reader.place(SAMPLE_CARDS["foreign2023"])
            assert (await next_event(events, EventKind.CARD_READ)).payload.name == "玛丽"
        finally:
            for w in workers:
                w.stop()

    asyncio.run(main())


def test_printer_worker_prints_and_reports_status():
    async def main():
        events: asyncio.Queue = asyncio.Queue()
        fake = FakeTcpPrinter()
        fake.model.state.paper_left = 2
        printer = open_device("printer", fake.url, profile="gb18030-80", status_timeout=0.5)
        worker = PrinterWorker(
            "printer", printer, asyncio_sink(asyncio.get_running_loop(), events), idle=0.05
        )
        worker.start()
        try:
            status = (await next_event(events, EventKind.PRINTER_STATUS)).payload
            assert status.ok
            ticket = sample_ticket(datetime(2026, 11, 26, 10, 0))
            result = await asyncio.wrap_future(worker.submit(ticket))
            assert result.after.ok
            with pytest.raises(PaperOut):
                await asyncio.wrap_future(worker.submit(ticket))  # the roll ran out on it
            status = (await next_event(events, EventKind.PRINTER_STATUS)).payload
            assert status.paper_end
            assert fake.model.cuts == 2
        finally:
            worker.stop()
            fake.close()

    asyncio.run(main())


def test_no_worker_thread_outlives_stop():
    reader = SimReader()
    worker = ReaderWorker("id", reader, lambda ev: None).start()
    worker.stop()
    assert not any(t.name == "device-id" for t in threading.enumerate())
    assert worker.health().state == "stopped"


def test_printer_worker_fails_jobs_fast_while_the_printer_is_away():
    async def main():
        events: asyncio.Queue = asyncio.Queue()
        fake = FakeTcpPrinter()
        printer = open_device("printer", fake.url, profile="gb18030-80", status_timeout=0.3)
        worker = PrinterWorker(
            "printer",
            printer,
            asyncio_sink(asyncio.get_running_loop(), events),
            idle=0.05,
            backoff=(5.0, 5.0),
        )
        worker.start()
        try:
            await next_event(events, EventKind.PRINTER_STATUS)
            fake.drop_connections()
            await next_event(events, EventKind.DEVICE_LOST)
            with pytest.raises(PrinterError, match="lost"):
                await asyncio.wrap_future(worker.submit(sample_ticket(datetime(2026, 1, 1))))
        finally:
            worker.stop()

    asyncio.run(main())


class _Exploding:
    """A scanner whose driver has a bug: the worker must survive it and say so."""

    def __init__(self) -> None:
        self.opened = 0

    def open(self) -> None:
        self.opened += 1

    def close(self) -> None:
        pass

    def read_code(self, timeout: float) -> str | None:
        raise KeyError("bug")


def test_a_bug_in_a_driver_does_not_kill_the_worker():
    got = threading.Event()
    events = []

    def sink(ev):
        events.append(ev)
        got.set()

    scanner = _Exploding()
    worker = ScannerWorker("qr", scanner, sink, backoff=(0.01, 0.04)).start()
    try:
        assert got.wait(5)
        assert events[0].kind is EventKind.DEVICE_LOST and "KeyError" in str(events[0].payload)
        assert worker.health().state == "lost"
        assert worker._thread.is_alive()
    finally:
        worker.stop()
