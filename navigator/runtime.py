"""The flow's adapter: carries out its effects with the queue server and the printer (asyncio),
keeps the live queue figures fresh from the public stream, and reports device health.

No Kivy here: the app calls ``runtime.do(flow.some_input())`` from the asyncio loop that also
runs Kivy (``App.async_run``) and re-renders when ``on_change`` fires. Device workers run in
their own threads and hand events over with ``loop.call_soon_threadsafe``.

Live figures: the public stream says *that* the hall changed (a call, a new ticket); the
estimates come from the server's engine, so on a change the runtime asks for the public
snapshot again, at most once per ``refresh_s`` however many events arrive (a burst of calls is
one query, never one per event).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from devices.printer import Ticket, print_error_kind
from devices.runner import DeviceEvent, EventKind
from navigator.flow import Book, CancelBooking, Effect, NavigatorFlow, Print, Query, ReportFault
from queue_server.client import ClientError, HallClient, ServerError
from queue_server.protocol import commands as C
from terminal.health import HealthReporter, worker_health
from terminal.runtime import EffectRunner

log = logging.getLogger(__name__)
faults = logging.getLogger("navigator.faults")  # what the hall manager's log watch picks up

PRINT_TIMEOUT_S = 20.0
REFRESH_S = 0.5
# The booking slip: no queue line (a booking has no place in a queue yet); "time" is the slot.
SLIP_LAYOUT = ("hall", "number", "service", "time", "qr", "note")
PARTS = ("printer", "scanner", "reader")


class NavigatorRuntime:
    def __init__(
        self,
        flow: NavigatorFlow,
        client: HallClient,
        printer=None,  # a devices.runner.PrinterWorker, or None (no printer fitted)
        *,
        on_change: Callable[[], None] = lambda: None,
        refresh_s: float = REFRESH_S,
    ):
        self.flow = flow
        self.client = client
        self.printer = printer
        self.on_change = on_change
        self.refresh_s = refresh_s
        self.effects = EffectRunner(
            self._one,
            on_change=lambda: self.on_change(),
            # Book and CancelBooking leave the screen on "please wait": a bug there is answered
            # as the server gone, so the resident is not left waiting.
            on_failure=lambda e: flow.unreachable() if isinstance(e, Book | CancelBooking) else [],
            after_effect=lambda: self.sync_health(),  # a failed print changes the printer's state
            log=log,
        )
        self._dirty = asyncio.Event()
        self.printed: list[Ticket] = []
        self.faults: list[ReportFault] = []
        self.health = HealthReporter(client, spawn=self._spawn, faults=faults)
        self.refreshes = 0
        self._was_up = False
        self.workers: list = []  # the device workers, whose health sync_health() passes on

    # --- running effects (terminal.runtime.EffectRunner) ----------------------------------------

    def do(self, effects: list) -> None:
        """Carry out a flow input's effects in the background; re-render now."""
        self.effects.do(effects)

    def _spawn(self, coro) -> asyncio.Task:
        return self.effects.spawn(coro)

    async def wait_idle(self) -> None:
        await self.effects.wait_idle()

    async def close(self) -> None:
        await self.effects.close()

    # --- inputs ---------------------------------------------------------------------------------

    def device_event(self, event: DeviceEvent) -> None:
        """On the loop thread: one device event into the flow (and its health to the server)."""
        flow = self.flow
        kind = event.kind
        if kind == EventKind.CARD_READ:
            self.do(flow.card_read(event.payload))
        elif kind == EventKind.CARD_ERROR:
            exc = event.payload
            self.do(flow.card_error(getattr(exc, "zh", ""), getattr(exc, "en", "")))
        elif kind == EventKind.CODE_SCANNED:
            self.do(flow.code_scanned(str(event.payload)))
        elif kind == EventKind.PRINTER_STATUS:
            self.do(flow.printer_status(event.payload.problem))
        elif kind == EventKind.DEVICE_LOST:
            faults.error("device %s lost: %s", event.device, event.payload)
            if event.device == "printer":
                self.do(flow.printer_status("no_answer"))
            else:
                self.on_change()
        elif kind == EventKind.DEVICE_BACK:
            faults.warning("device %s back", event.device)
        self.sync_health()

    def sync_health(self) -> None:
        """The workers' health (and the printer's paper and cover) to the manager, if changed."""
        self.health.update(worker_health(self.workers, self.flow.printer_problem))
        self.health.sync()

    def tick(self) -> None:
        """About once a second: connection state and the idle timeout."""
        flow = self.flow
        before = (flow.screen, flow.server_up)
        up = self.client.connected.is_set()
        if up != flow.server_up:
            log.warning("navigator: queue server %s", "reachable again" if up else "unreachable")
            flow.connection(up)
        if up and not self._was_up:
            self._dirty.set()  # a new connection: the live figures may be stale
        self._was_up = up
        flow.tick()
        if (flow.screen, flow.server_up) != before:
            self.on_change()
        self.sync_health()  # after a reconnect the reporter tells everything again

    async def follow(self) -> None:
        """Subscribe to the public stream and keep ``flow.live`` fresh, until cancelled."""
        reader = asyncio.create_task(self._read_stream())
        try:
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                try:
                    reply = await self.client.query("snapshot")
                except ClientError as exc:
                    log.info("navigator: live figures not refreshed: %s", exc)
                    await asyncio.sleep(self.refresh_s)  # never a tight retry loop
                    await self.client.connected.wait()
                    self._dirty.set()
                    continue
                self.refreshes += 1
                self.do(self.flow.live_update(reply.state))
                # However many events arrived meanwhile, the next refresh waits this long.
                await asyncio.sleep(self.refresh_s)
        finally:
            reader.cancel()

    async def _read_stream(self) -> None:
        while True:
            try:
                await self.client.connected.wait()
                await self.client.subscribe("public")
                break
            except ClientError as exc:  # dropped at once: try on the next connection
                log.info("navigator: subscribing failed (%s)", exc)
                await asyncio.sleep(self.refresh_s)
        async for message in self.client.messages():
            if message.get("type") in ("event", "snapshot"):
                self._dirty.set()

    # --- effects --------------------------------------------------------------------------------

    async def _one(self, effect: Effect) -> list[Effect]:
        flow = self.flow
        if isinstance(effect, Query):
            try:
                result = await self.client.query(effect.query, **dict(effect.fields))
            except ServerError as exc:
                log.info("navigator: query %s refused: %s", effect.query, exc.code)
                return flow.refused(exc.code, exc.message_zh, exc.message_en)
            except ClientError as exc:
                log.warning("navigator: query %s not answered: %s", effect.query, exc)
                return flow.unreachable()
            return flow.answered(effect.query, result)
        if isinstance(effect, Book | CancelBooking):
            if isinstance(effect, Book):
                command = C.BookAppointment(
                    service=effect.service,
                    slot_start=dt.datetime.fromisoformat(effect.slot_start),
                    channel="navigator",
                )
            else:
                command = C.CancelAppointment(appointment=effect.appointment)
            try:
                reply = await self.client.command(command, resident_id=effect.resident_id)
            except ServerError as exc:
                log.info("navigator: %s refused: %s", command.type, exc.code)
                return flow.refused(exc.code, exc.message_zh, exc.message_en)
            except ClientError as exc:
                log.warning("navigator: %s not answered: %s", command.type, exc)
                return flow.unreachable()
            if isinstance(effect, Book):
                return flow.booked(reply)
            return flow.booking_cancelled()
        if isinstance(effect, Print):
            slip = Ticket(
                hall_name=effect.hall_name,
                number=effect.appointment,
                service=effect.service,
                people_ahead=0,
                wait_minutes=None,
                issued_at=effect.slot_start,
                qr_data=effect.appointment,
                note=effect.note,
            )
            if self.printer is None:
                return flow.print_failed("fault")
            try:
                future = self.printer.submit(slip, SLIP_LAYOUT)
                await asyncio.wait_for(asyncio.wrap_future(future), PRINT_TIMEOUT_S)
            except Exception as exc:  # PrinterError, a timeout, a device gone
                log.warning("navigator: slip %s not printed: %s", effect.appointment, exc)
                return flow.print_failed(print_error_kind(exc))
            self.printed.append(slip)
            return flow.printed()
        if isinstance(effect, ReportFault):
            self.faults.append(effect)
            faults.error("FAULT %s %s: %s", effect.device, effect.kind, effect.detail)
            return []
        raise TypeError(f"unknown effect {effect!r}")
