"""The signage's link to the hall: the public stream into SignageState, calls to the voice, the
screen's and the speaker's health to the server.

Kivy-free, and in two halves that may run on two threads:

* ``run()`` runs in the client's event loop (in the app, a ``ui.bridge.ClientThread`` of its own,
  so a slow frame never delays a read): it connects, subscribes, and hands every message and
  every connection change, in order, to ``deliver`` (in the app, ``Inbox.put``); it reports the
  health of the screen and the speaker on every (re)connection and on every change.
* ``receive(items)`` runs where the state lives (in the app, on the Kivy clock, once a frame with
  everything that came since the last): it applies the messages, announces the calls, and calls
  ``on_calls`` and ``on_change``.

Without ``deliver`` the items are received at once, in the client's loop (one thread: tests and
tools). The client library reconnects with backoff and resumes from the last seq, so each call
arrives once; a snapshot after a long outage replaces the state and announces nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queue_server.client import AuthFailed, ClientError, HallClient, ServerError
from signage.core import Call, SignageState
from signage.voice import Voice

log = logging.getLogger(__name__)

# The screen draws at least one frame a second (its clock); none for this long means it hangs.
SCREEN_STALL_S = 15.0
SCREEN_CHECK_S = 2.0


@dataclass(frozen=True)
class Message:
    """A message of the public stream, as HallClient.messages() gives it."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Connection:
    """The client's connection changed: "connected", "disconnected" or "reconnecting"."""

    state: str


Item = Message | Connection


class SignageFeed:
    def __init__(
        self,
        client: HallClient,
        state: SignageState,
        *,
        on_change: Callable[[], None] = lambda: None,
        on_calls: Callable[[list[Call]], None] = lambda calls: None,
        voice: Voice | None = None,
        deliver: Callable[[Item], None] | None = None,
        last_frame: Callable[[], float | None] | None = None,
    ):
        self.client = client
        self.state = state
        self.on_change = on_change
        self.on_calls = on_calls
        self.voice = voice
        self.deliver = deliver or (lambda item: self.receive([item]))
        # time.monotonic() of the last frame the screen drew (None: not drawn yet); read from
        # the client's thread to tell a hung screen (see _watch_screen).
        self.last_frame = last_frame
        self.calls_seen = 0
        self.failure: BaseException | None = None
        self.health = Health()
        self._health_dirty: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- the client's side (its event loop) ----------------------------------------------------

    async def run(self) -> None:
        """Connect (waiting for the server as long as it takes), subscribe, hand over forever."""
        self._loop = asyncio.get_running_loop()
        self._health_dirty = asyncio.Event()
        if self.health.parts():
            self._health_dirty.set()
        theirs = self.client.on_state

        def on_state(state: str) -> None:
            self._connection_changed(state)
            if theirs is not None:
                theirs(state)

        self.client.on_state = on_state
        helpers = [asyncio.create_task(self._report_health(), name="signage health")]
        if self.last_frame is not None:
            helpers.append(asyncio.create_task(self._watch_screen(), name="signage watchdog"))
        try:
            await self.client.connect(timeout=None)
            try:
                await self.client.subscribe("public")
            except ClientError as exc:  # dropped at once: the reconnect subscribes again
                log.info("subscribing failed (%s); the client retries on reconnect", exc)
            honour_cancel()
            async for message in self.client.messages():
                self.deliver(Message(message))
        except AuthFailed as exc:
            self.failure = exc
            log.error("the hall server refused this screen's device token: %s", exc)
            raise
        finally:
            for helper in helpers:
                helper.cancel()
            await self.client.close()
            self.client.on_state = theirs
            self._loop = None

    def _connection_changed(self, state: str) -> None:
        log.info("hall server: %s", state)
        self.deliver(Connection(state))
        if state == "connected" and self._health_dirty is not None:
            # The server may have restarted and forgotten: tell it everything again.
            self.health.forget_reported()
            self._health_dirty.set()

    def set_health(self, part: str, ok: bool, detail: str = "") -> None:
        """Record the health of a part ("screen", "speaker"); reported to the server as soon as
        it is connected. Any thread."""
        if not self.health.set(part, ok, detail):
            return
        if not ok:
            log.warning("%s: not ok (%s)", part, detail or "no detail")
        loop = self._loop
        if loop is not None and self._health_dirty is not None:
            try:
                loop.call_soon_threadsafe(self._health_dirty.set)
            except RuntimeError:  # the loop has just closed: nothing left to report to
                pass

    async def _report_health(self) -> None:
        assert self._health_dirty is not None
        while True:
            await self._health_dirty.wait()
            self._health_dirty.clear()
            await self.client.connected.wait()
            for part, ok, detail in self.health.unreported():
                try:
                    await self.client.device_status(part, ok, detail)
                    honour_cancel()
                except ServerError as exc:  # e.g. a device the server does not list: final
                    log.warning("the server refused the %s status: %s", part, exc)
                except ClientError as exc:  # dropped: the reconnect reports it again
                    log.info("reporting the %s status failed (%s)", part, exc)
                    continue
                self.health.reported(part, ok, detail)

    async def _watch_screen(self) -> None:
        """The screen is ok once it has drawn, and while it keeps drawing; this runs in the
        client's thread, so a hung screen is still reported."""
        assert self.last_frame is not None
        while True:
            last = self.last_frame()
            if last is not None:
                if time.monotonic() - last > SCREEN_STALL_S:
                    self.set_health("screen", False, "error")
                else:
                    self.set_health("screen", True)
            await asyncio.sleep(SCREEN_CHECK_S)

    # --- the state's side (the Kivy clock in the app) ------------------------------------------

    def receive(self, items: list[Item]) -> list[Call]:
        """Apply what the client handed over, in order; announce and show the calls."""
        calls: list[Call] = []
        for item in items:
            if isinstance(item, Connection):
                self.state.set_connected(item.state == "connected")
            else:
                calls.extend(self.state.apply(item.data))
        if calls:
            self.calls_seen += len(calls)
            if self.voice is not None:
                for call in calls:
                    self.voice.announce(call)
            self.on_calls(calls)
        self.on_change()
        return calls

    def handle(self, message: dict) -> list[Call]:
        """Apply one message at once (one thread)."""
        return self.receive([Message(message)])


def honour_cancel() -> None:
    """Raise CancelledError if the running task was asked to stop. Python 3.11's wait_for (in
    HallClient.request) returns the reply and drops a cancel that came just as the reply did;
    without this a feed asked to stop then would run on, and the app would not close."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Health:
    """The latest health of each part and what the server was last told (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: dict[str, tuple[bool, str]] = {}
        self._told: dict[str, tuple[bool, str]] = {}

    def set(self, part: str, ok: bool, detail: str = "") -> bool:
        """Record; True if it changed."""
        with self._lock:
            if self._now.get(part) == (ok, detail):
                return False
            self._now[part] = (ok, detail)
            return True

    def ok(self, part: str, default: bool = False) -> bool:
        with self._lock:
            return self._now[part][0] if part in self._now else default

    def parts(self) -> dict[str, tuple[bool, str]]:
        with self._lock:
            return dict(self._now)

    def unreported(self) -> list[tuple[str, bool, str]]:
        with self._lock:
            return [(p, *v) for p, v in self._now.items() if self._told.get(p) != v]

    def reported(self, part: str, ok: bool, detail: str) -> None:
        with self._lock:
            self._told[part] = (ok, detail)

    def forget_reported(self) -> None:
        with self._lock:
            self._told.clear()
