"""Device health for the hall manager: the one reporter every terminal uses (kiosk, navigator,
signage).

A terminal records each part's health (``reporter.set("printer", False, "paper_out")``, from any
thread); ``sync()``, on the client's event loop, tells the server every part whose health
changed, and every part again after a (re)connect, so the manager's view neither keeps a fault
that has gone nor misses one. A report the connection lost is told again on the next sync; one
the server refused (a device it does not list) is not repeated on this connection.

The details are words a manager's console translates: ``offline`` (a device not answering or
unplugged), ``paper_out``, ``cover_open``, ``fault``, ``error`` (a screen that stopped drawing,
a speaker that cannot play). ``worker_health`` reads them off the device workers, so the kiosk
and the navigator say the same thing for the same fault.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from queue_server.client import ClientError, HallClient, ServerError

log = logging.getLogger(__name__)

State = tuple[bool, str]  # (ok, detail)

# The device workers' names (terminal.devices.open_workers) and the part each is.
PARTS = {"id": "reader", "qr": "scanner", "printer": "printer"}
# A flow's printer problems as the word a manager's console translates.
PRINTER_DETAIL = {"no_answer": "offline", "fault": "fault", "paper_out": "paper_out",
                  "cover_open": "cover_open"}  # fmt: skip


def worker_health(workers: Iterable, printer_problem: str | None) -> dict[str, State]:
    """Each device part's health as its worker knows it now; a part still starting is left out.
    The printer's "ok" is its paper and cover (the flow's ``printer_problem``), not merely an
    open port."""
    parts: dict[str, State] = {}
    for worker in workers:
        part = PARTS.get(worker.name)
        if part is None:
            continue
        state = worker.health().state
        if state == "starting":
            continue
        if state != "ok":
            parts[part] = (False, "offline")
        elif part == "printer":
            if printer_problem == "starting":
                continue  # opened, its first status not read yet
            ok = printer_problem is None
            parts[part] = (ok, PRINTER_DETAIL.get(printer_problem or "", "" if ok else "fault"))
        else:
            parts[part] = (True, "")
    return parts


class HealthReporter:
    """The parts' health and what the server was last told (thread-safe).

    ``spawn`` starts a report in the client's loop (a runtime passes its own, so waiting for
    the runtime waits for the reports); ``faults`` logs each fault told to the manager."""

    def __init__(
        self,
        client: HallClient,
        *,
        spawn: Callable[[Coroutine[Any, Any, None]], object] | None = None,
        faults: logging.Logger | None = None,
    ) -> None:
        self.client = client
        self._spawn = spawn or self._own_task
        self.faults = faults or log
        self._lock = threading.Lock()
        self._now: dict[str, State] = {}
        self._told: dict[str, State] = {}
        self._connection: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()
        self.sent: list[tuple[str, bool, str]] = []  # as the server took them (for tests)

    # --- what the terminal knows (any thread) ---------------------------------------------------

    def set(self, part: str, ok: bool, detail: str = "") -> bool:
        """Record a part's health; True if it changed. Told at the next sync (at once when
        called on the client's loop, soon when called from another thread)."""
        with self._lock:
            if self._now.get(part) == (ok, detail):
                return False
            self._now[part] = (ok, detail)
        self._wake()
        return True

    def update(self, parts: dict[str, State]) -> None:
        for part, (ok, detail) in parts.items():
            self.set(part, ok, detail)

    def get(self, part: str) -> State | None:
        with self._lock:
            return self._now.get(part)

    def ok(self, part: str, default: bool = False) -> bool:
        state = self.get(part)
        return default if state is None else state[0]

    def parts(self) -> dict[str, State]:
        with self._lock:
            return dict(self._now)

    def _wake(self) -> None:
        loop = self._loop
        if loop is None:
            return  # not synced yet: the first sync tells everything
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.sync()
            return
        try:
            loop.call_soon_threadsafe(self.sync)
        except RuntimeError:  # the loop has just closed: nothing left to report to
            pass

    # --- telling the server (the client's loop) ---------------------------------------------

    def sync(self) -> None:
        """Tell the server every part whose health changed since it was last told, and every
        part after a (re)connect: the server may have restarted and forgotten."""
        self._loop = asyncio.get_running_loop()
        if not self.client.connected.is_set():
            return
        connection = self.client.reconnects
        with self._lock:
            if connection != self._connection:
                self._connection = connection
                self._told = {}
            changed = [(p, s) for p, s in self._now.items() if self._told.get(p) != s]
            for part, state in changed:
                self._told[part] = state
        for part, (ok, detail) in changed:
            self._spawn(self._tell(connection, part, ok, detail))

    async def _tell(self, connection: int, part: str, ok: bool, detail: str) -> None:
        try:
            await self.client.device_status(part, ok, detail)
        except ServerError as exc:  # e.g. a device the server does not list: not repeated
            log.warning("the server refused the %s status: %s", part, exc)
            return
        except ClientError as exc:  # the connection dropped: told again on the next sync
            log.info("%s health not reported: %s", part, exc)
            with self._lock:
                if self._connection == connection and self._told.get(part) == (ok, detail):
                    del self._told[part]
            return
        self.sent.append((part, ok, detail))
        if not ok:
            self.faults.error("FAULT %s %s reported to the hall manager", part, detail)

    def _own_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel the reports still under way (those this reporter started itself)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
