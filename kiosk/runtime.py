"""The flow's adapter: carries out its effects with the queue server and the printer (asyncio).

No Kivy here: the app calls ``runtime.do(flow.some_input())`` from the asyncio loop that also
runs Kivy (``App.async_run``), and re-renders when ``on_change`` fires. Device workers run in
their own threads and hand events over with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from devices.errors import PrinterError
from devices.printer import Ticket, print_error_kind
from devices.runner import DeviceEvent, EventKind
from kiosk.flow import (
    Cancel,
    CheckIn,
    Effect,
    Issue,
    KioskFlow,
    LookUpOnFile,
    Print,
    ReportFault,
)
from queue_server import protocol as P
from queue_server.client import (
    ClientError,
    Disconnected,
    HallClient,
    ServerError,
    new_request_key,
)
from queue_server.protocol import commands as C
from queue_server.protocol.payloads import CommandResult
from terminal.health import HealthReporter, worker_health
from terminal.runtime import EffectRunner

log = logging.getLogger(__name__)
faults = logging.getLogger("kiosk.faults")  # what the hall manager's log watch picks up

PRINT_TIMEOUT_S = 20.0
# A ticket's command is tried this often while the hall says `unavailable` or the reply is lost,
# pausing RETRY_PAUSE_S more each time, before the resident is told the outcome is unknown.
ISSUE_ATTEMPTS = 3
RETRY_PAUSE_S = 1.0


class KioskRuntime:
    def __init__(
        self,
        flow: KioskFlow,
        client: HallClient,
        printer,  # a devices.runner.PrinterWorker (or anything with submit(ticket) -> Future)
        *,
        on_change: Callable[[], None] = lambda: None,
        wall_clock: Callable[[], dt.datetime] = dt.datetime.now,
    ):
        self.flow = flow
        self.client = client
        self.printer = printer
        self.on_change = on_change
        self.wall_clock = wall_clock
        self.effects = EffectRunner(
            self._one,
            on_change=lambda: self.on_change(),
            # Issue and CheckIn leave the screen on "please wait": a bug there is answered as
            # the server gone, so the resident is not left waiting.
            on_failure=lambda e: flow.unreachable() if isinstance(e, Issue | CheckIn) else [],
            after_effect=lambda: self.sync_health(),  # a failed print changes the printer's state
            log=log,
        )
        self.printed: list[Ticket] = []  # tickets confirmed by the printer (count for tests)
        self.faults: list[ReportFault] = []
        # Device health for the hall manager: the workers (``health()``), plus parts the app
        # knows of itself (the screen).
        self.workers: list = []
        self.health = HealthReporter(client, spawn=self._spawn, faults=faults)

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
        """On the loop thread: one device event into the flow."""
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

    def tick(self) -> None:
        """About once a second: connection state and the idle timeout."""
        before = (self.flow.screen, self.flow.server_up)
        up = self.client.connected.is_set()
        if up != self.flow.server_up:
            log.warning("kiosk: queue server %s", "reachable again" if up else "unreachable")
            self.flow.connection(up)
        self.flow.tick()
        if (self.flow.screen, self.flow.server_up) != before:
            self.on_change()
        self.sync_health()

    # --- device health to the hall manager ------------------------------------------------------

    def set_part(self, part: str, ok: bool, detail: str = "") -> None:
        """A part the app watches itself (the screen)."""
        self.health.set(part, ok, detail)

    def sync_health(self) -> None:
        """The workers' health (and the printer's paper and cover) to the manager, if changed."""
        self.health.update(worker_health(self.workers, self.flow.printer_problem))
        self.health.sync()

    # --- effects --------------------------------------------------------------------------------

    async def _one(self, effect: Effect) -> list[Effect]:
        flow = self.flow
        if isinstance(effect, Issue | CheckIn):
            if isinstance(effect, Issue):
                command = C.IssueTicket(service=effect.service, priority=effect.priority)
            else:
                command = C.CheckIn(appointment=effect.appointment)
            form = effect.form if isinstance(effect, Issue) else None
            try:
                reply = await self._ticket_command(command, effect.resident_id, form)
            except ServerError as exc:
                log.info("kiosk: %s refused: %s", command.type, exc.code)
                return flow.refused(exc.code, exc.message_zh, exc.message_en)
            except ClientError as exc:
                log.warning("kiosk: %s not answered: %s", command.type, exc)
                return flow.unreachable()
            return flow.issued(reply)
        if isinstance(effect, Print):
            ticket = Ticket(
                hall_name=effect.hall_name,
                number=effect.number,
                service=effect.service,
                people_ahead=effect.people_ahead,
                wait_minutes=effect.wait_minutes,
                issued_at=self.wall_clock(),
                qr_data=effect.qr_data or effect.number,
                note=effect.note,
            )
            try:
                future = self.printer.submit(ticket)
                await asyncio.wait_for(asyncio.wrap_future(future), PRINT_TIMEOUT_S)
            except (PrinterError, TimeoutError) as exc:
                log.warning("kiosk: ticket %s not printed: %s", effect.number, exc)
                return flow.print_failed(print_error_kind(exc))
            self.printed.append(ticket)
            return flow.printed()
        if isinstance(effect, LookUpOnFile):
            try:
                reply = await self.client.query("materials_on_file", resident_id=effect.resident_id)
            except ClientError as exc:  # no marks is the safe answer: bring everything
                log.info("kiosk: materials on file not known: %s", exc)
                return []
            return flow.on_file_known(effect, reply.materials)
        if isinstance(effect, Cancel):
            return flow.cancelled(await self._cancel(effect))
        if isinstance(effect, ReportFault):
            self.faults.append(effect)
            faults.error("FAULT %s %s: %s", effect.device, effect.kind, effect.detail)
            return []
        raise TypeError(f"unknown effect {effect!r}")

    async def _ticket_command(
        self, command: C.Command, resident_id: dict[str, str] | None, form: dict | None
    ) -> CommandResult:
        """Send a command that makes a ticket, retried under ONE request key: an attempt the
        hall committed after its reply was lost (or said `unavailable`) is answered to the
        retry with that ticket, never a second one."""
        key = new_request_key()
        for attempt in range(1, ISSUE_ATTEMPTS + 1):
            try:
                return await self.client.command(
                    command, resident_id=resident_id, form=form, request_key=key
                )
            except ServerError as exc:
                if exc.code != "unavailable" or attempt == ISSUE_ATTEMPTS:
                    raise
                log.info("kiosk: %s unavailable, retrying", command.type)
            except ClientError as exc:
                if attempt == ISSUE_ATTEMPTS:
                    raise
                log.info("kiosk: %s not answered (%s), retrying", command.type, exc)
            await asyncio.sleep(RETRY_PAUSE_S * attempt)  # a pause that grows: back off
        raise AssertionError("unreachable")

    async def _cancel(self, effect: Cancel) -> bool:
        """Cancel with the ticket's own resident token (the kiosk role may not cancel)."""
        resident = HallClient(
            self.client.url,
            P.ResidentAuth(token=effect.resident_token),
            ssl=self.client.ssl,
            request_timeout=10,
        )
        try:
            await resident.connect(timeout=10)
            await resident.command(C.CancelTicket(ticket=effect.ticket, reason="printer failed"))
        except (ClientError, Disconnected) as exc:
            faults.error(
                "FAULT ticket %s printed nowhere and NOT cancelled: %s", effect.ticket, exc
            )
            return False
        finally:
            with contextlib.suppress(Exception):
                await resident.close()
        faults.error("ticket %s cancelled: its paper did not come out", effect.ticket)
        return True
