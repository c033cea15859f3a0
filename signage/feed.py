"""The signage's link to the hall: the public stream into SignageState, calls to the voice, the
screen's and the speaker's health to the server.

Kivy-free, and in two halves that may run on two threads:

* ``run()`` runs in the client's event loop (in the app, a ``LoopThread`` of its own, so a
  slow frame never delays a read): it connects, subscribes, and hands every message and
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queue_server.client import AuthFailed, ClientError, HallClient
from signage.core import Call, SignageState
from signage.voice import Voice
from terminal.health import HealthReporter

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
        # The one reporter every terminal uses (terminal.health); synced in the client's loop.
        self.health = HealthReporter(client)

    # --- the client's side (its event loop) ----------------------------------------------------

    async def run(self) -> None:
        """Connect (waiting for the server as long as it takes), subscribe, hand over forever."""
        self.health.sync()  # binds the reporter to this loop; it tells all once connected
        theirs = self.client.on_state

        def on_state(state: str) -> None:
            self._connection_changed(state)
            if theirs is not None:
                theirs(state)

        self.client.on_state = on_state
        helpers = []
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
            await self.health.close()
            await self.client.close()
            self.client.on_state = theirs

    def _connection_changed(self, state: str) -> None:
        log.info("hall server: %s", state)
        self.deliver(Connection(state))
        if state == "connected":
            self.health.sync()  # a new connection: the reporter tells everything again

    def set_health(self, part: str, ok: bool, detail: str = "") -> None:
        """Record the health of a part ("screen", "speaker"); reported to the server as soon as
        it is connected. Any thread."""
        if self.health.set(part, ok, detail) and not ok:
            log.warning("%s: not ok (%s)", part, detail or "no detail")

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
