"""Running devices: each in its own thread, events out to an asyncio or Kivy consumer.

A worker owns its device: it opens it, does the blocking I/O, turns what happens into
``DeviceEvent`` values and hands them to a *sink*, a callable that must be safe to call from the
worker thread. ``asyncio_sink(loop, queue)`` is the one for asyncio; a Kivy app passes
``lambda ev: Clock.schedule_once(lambda dt: handle(ev))`` (this package never imports Kivy).
When the device goes away the worker reports DEVICE_LOST, retries with exponential back-off and
reports DEVICE_BACK once it answers again. ``health()`` is what the hall manager sees.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from devices.errors import CardError, DeviceError, DeviceUnavailable, PrinterError, ProtocolError
from devices.printer import DEFAULT_LAYOUT, PrintResult, Ticket, TicketPrinter
from devices.reader import IdReader

log = logging.getLogger(__name__)


class EventKind(enum.Enum):
    CARD_READ = "card_read"  # payload: Identity
    CARD_ERROR = "card_error"  # payload: CardError (show its zh/en to the resident)
    CARD_REMOVED = "card_removed"
    CODE_SCANNED = "code_scanned"  # payload: str
    PRINTER_STATUS = "printer_status"  # payload: PrinterStatus, on every change
    DEVICE_LOST = "device_lost"  # payload: DeviceError
    DEVICE_BACK = "device_back"


@dataclass(frozen=True)
class DeviceEvent:
    device: str
    kind: EventKind
    payload: object = None


@dataclass(frozen=True)
class Health:
    device: str
    state: str  # "starting", "ok", "lost", "stopped"
    detail: str
    since: float  # time.monotonic() of the last state change
    reconnects: int


Sink = Callable[[DeviceEvent], None]


def asyncio_sink(loop: asyncio.AbstractEventLoop, events: asyncio.Queue[DeviceEvent]) -> Sink:
    """Deliver events into an asyncio queue from any thread."""
    return lambda event: loop.call_soon_threadsafe(events.put_nowait, event)


class DeviceWorker:
    """Base: a thread that calls ``_step()`` until stopped, reconnecting after device loss."""

    def __init__(
        self,
        name: str,
        sink: Sink,
        *,
        idle: float = 0.3,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.name = name
        self.sink = sink
        self.idle = idle
        self.backoff = backoff
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"device-{name}", daemon=True)
        self._lock = threading.Lock()
        self._health = Health(name, "starting", "", time.monotonic(), 0)

    # -- subclass hooks --------------------------------------------------------------------------

    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _step(self) -> None:
        """One round of blocking I/O; at most about ``idle`` seconds long."""
        raise NotImplementedError

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> DeviceWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def health(self) -> Health:
        with self._lock:
            return self._health

    def _set_health(self, state: str, detail: str = "", *, reconnect: bool = False) -> None:
        with self._lock:
            h = self._health
            self._health = Health(
                self.name,
                state,
                detail,
                time.monotonic() if state != h.state else h.since,
                h.reconnects + (1 if reconnect else 0),
            )

    def emit(self, kind: EventKind, payload: object = None) -> None:
        self.sink(DeviceEvent(self.name, kind, payload))

    def _run(self) -> None:
        delay = self.backoff[0]
        lost = False
        while not self._stop.is_set():
            try:
                self._open()
                if lost:
                    log.info("device %s is back", self.name)
                    self._set_health("ok", reconnect=True)
                    self.emit(EventKind.DEVICE_BACK)
                    lost = False
                else:
                    self._set_health("ok")
                delay = self.backoff[0]
                while not self._stop.is_set():
                    self._step()
            except (DeviceUnavailable, ProtocolError) as exc:
                # ProtocolError: a garbled line; reopening resynchronises it.
                self._safe_close()
                if not lost:
                    log.warning("device %s lost: %s", self.name, exc)
                    self._set_health("lost", str(exc))
                    self.emit(EventKind.DEVICE_LOST, exc)
                    lost = True
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.backoff[1])
            except Exception as exc:
                # A device that is there but unwell (a SAM fault), or a bug of ours: the worker
                # must outlive it, so report, back off and retry.
                self._safe_close()
                if isinstance(exc, DeviceError):
                    log.error("device %s: %s", self.name, exc)
                    error = exc
                else:
                    log.exception("device %s: unexpected error", self.name)
                    error = DeviceError(f"unexpected error: {exc!r}")
                self._set_health("lost", str(error))
                if not lost:
                    self.emit(EventKind.DEVICE_LOST, error)
                    lost = True
                if self._stop.wait(self.backoff[1] / 4):
                    break
        self._safe_close()
        self._set_health("stopped")

    def _safe_close(self) -> None:
        try:
            self._close()
        except Exception:  # closing a device that is already gone must not kill the worker
            log.debug("device %s: error while closing", self.name, exc_info=True)


class ReaderWorker(DeviceWorker):
    """CARD_READ when a card arrives, CARD_REMOVED when it leaves, CARD_ERROR for a bad read.

    Inference: a real SAM_V reader keeps answering find-card (9F) while the card lies there; a
    model that does not would show as a removal right after each read.
    """

    def __init__(self, name: str, reader: IdReader, sink: Sink, **kw) -> None:
        super().__init__(name, sink, **kw)
        self.reader = reader
        self._present = False

    def _open(self) -> None:
        self.reader.open()
        self._present = False
        check_status = getattr(self.reader, "check_status", None)
        if check_status is not None:
            check_status()  # a SAM that failed its self-test answers 60 here
        read_sam_id = getattr(self.reader, "read_sam_id", None)
        if read_sam_id is not None:
            # Logged so that every read can be traced to the physical SAM module.
            log.info("reader %s: SAM %s", self.name, read_sam_id())

    def _close(self) -> None:
        self.reader.close()

    def _step(self) -> None:
        present = self.reader.card_present()
        if present and not self._present:
            self._present = True
            try:
                identity = self.reader.read_card()
            except CardError as exc:
                log.info("reader %s: card not read: %s", self.name, exc)
                self.emit(EventKind.CARD_ERROR, exc)
                # Let the resident lift and re-place it: read again on the next arrival only.
            else:
                self.emit(EventKind.CARD_READ, identity)
        elif not present and self._present:
            self._present = False
            self.emit(EventKind.CARD_REMOVED)
        self._stop.wait(self.reader.poll_interval)


class ScannerWorker(DeviceWorker):
    def __init__(self, name: str, scanner, sink: Sink, **kw) -> None:
        super().__init__(name, sink, **kw)
        self.scanner = scanner

    def _open(self) -> None:
        self.scanner.open()

    def _close(self) -> None:
        self.scanner.close()

    def _step(self) -> None:
        code = self.scanner.read_code(self.idle)
        if code is not None:
            self.emit(EventKind.CODE_SCANNED, code)


class PrinterWorker(DeviceWorker):
    """Owns the printer: polls its status every ``idle`` seconds and prints submitted tickets."""

    def __init__(self, name: str, printer: TicketPrinter, sink: Sink, **kw) -> None:
        super().__init__(name, sink, **kw)
        self.printer = printer
        self._jobs: queue.Queue[tuple[Ticket, tuple[str, ...], Future[PrintResult]]] = queue.Queue()
        self._last_status = None

    def submit(self, ticket: Ticket, layout: tuple[str, ...] = DEFAULT_LAYOUT) -> Future:
        """Queue a ticket; the future gives the PrintResult or the PrinterError.

        From asyncio: ``await asyncio.wrap_future(worker.submit(ticket))``.
        """
        future: Future[PrintResult] = Future()
        health = self.health()
        if health.state in ("lost", "stopped"):
            # Fail at once: a ticket printed after the outage would find nobody to take it.
            future.set_exception(
                PrinterError(f"printer {self.name} is {health.state}: {health.detail}")
            )
            return future
        self._jobs.put((ticket, layout, future))
        return future

    def _open(self) -> None:
        self.printer.open()
        self._last_status = None

    def _close(self) -> None:
        self.printer.close()
        # Jobs still queued cannot be printed now: fail them rather than print them late.
        while True:
            try:
                _, _, future = self._jobs.get_nowait()
            except queue.Empty:
                break
            if future.set_running_or_notify_cancel():
                future.set_exception(PrinterError(f"printer {self.name} went away"))

    def _publish(self, status) -> None:
        if self._last_status is None or status.raw != self._last_status.raw:
            self._last_status = status
            self.emit(EventKind.PRINTER_STATUS, status)

    def _step(self) -> None:
        try:
            ticket, layout, future = self._jobs.get(timeout=self.idle)
        except queue.Empty:
            self._publish(self.printer.status())
            return
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = self.printer.print_ticket(ticket, layout)
        except PrinterError as exc:
            future.set_exception(exc)
            if isinstance(exc, DeviceUnavailable):
                raise
            return
        except DeviceError as exc:
            future.set_exception(exc)
            raise
        future.set_result(result)
        self._publish(result.after)
