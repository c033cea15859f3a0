"""The signage's link to the hall: the public stream into SignageState, calls to the voice.

Kivy-free: ``on_change`` and ``on_calls`` are plain callables (the app passes a Kivy clock
trigger). The client library reconnects with backoff and resumes from the last seq, so each
call arrives once; a snapshot after a long outage replaces the state and announces nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from queue_server.client import AuthFailed, ClientError, HallClient
from signage.core import Call, SignageState
from signage.voice import Voice

log = logging.getLogger(__name__)

# How often the connection state is looked at, for the "连接中断" badge (display only).
CONNECTION_POLL_S = 0.5


class SignageFeed:
    def __init__(
        self,
        client: HallClient,
        state: SignageState,
        *,
        on_change: Callable[[], None] = lambda: None,
        on_calls: Callable[[list[Call]], None] = lambda calls: None,
        voice: Voice | None = None,
    ):
        self.client = client
        self.state = state
        self.on_change = on_change
        self.on_calls = on_calls
        self.voice = voice
        self.calls_seen = 0
        self.failure: BaseException | None = None

    async def run(self) -> None:
        """Connect (waiting for the server as long as it takes), subscribe, apply forever."""
        watcher = asyncio.create_task(self._watch_connection())
        try:
            await self.client.connect(timeout=None)
            try:
                await self.client.subscribe("public")
            except ClientError as exc:  # dropped at once: the reconnect subscribes again
                log.info("subscribing failed (%s); the client retries on reconnect", exc)
            async for message in self.client.messages():
                self.handle(message)
        except AuthFailed as exc:
            self.failure = exc
            log.error("the hall server refused this screen's device token: %s", exc)
            raise
        finally:
            watcher.cancel()
            await self.client.close()

    def handle(self, message: dict) -> list[Call]:
        calls = self.state.apply(message)
        self.state.set_connected(True)
        if calls:
            self.calls_seen += len(calls)
            if self.voice is not None:
                for call in calls:
                    self.voice.announce(call)
            self.on_calls(calls)
        self.on_change()
        return calls

    async def _watch_connection(self) -> None:
        while True:
            if self.state.set_connected(self.client.connected.is_set()):
                log.info("hall server %s", "connected" if self.state.connected else "lost")
                self.on_change()
            await asyncio.sleep(CONNECTION_POLL_S)
