"""The asyncio client from synchronous code: one event loop on a thread of its own.

    loop = LoopThread("hall-client")                 # its thread runs the loop from now on
    hall = SyncClient(url, auth, loop=loop)           # a HallClient that lives in that loop
    hall.connect()                                    # blocks until authenticated
    reply = hall.command(CallNext(counter=3))         # blocks until the reply
    hall.close(); loop.close()

``LoopThread`` is the only bridge between threads and the client's event loop: the staff console
and the demo's simulated terminals block on ``run``; an app with a loop of its own (Kivy's)
awaits ``run_async``; any thread may ``submit`` or ``call_soon``. ``SyncClient`` wraps one
``HallClient`` for blocking callers: a typed error of the server comes back as the engine error
of its code (``engine_error``), no connection as ``LinkDown`` while the client reconnects by
itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar, overload

from queue_server import protocol as P
from queue_server.client.connection import HallClient, QueryResult
from queue_server.client.errors import AuthFailed, ClientError, ServerError, engine_error
from queue_server.errors import YikouError
from queue_server.protocol import commands as C
from queue_server.protocol.payloads import (
    BookableDaysResult,
    CommandResult,
    CounterStatsResult,
    MaterialsOnFileResult,
    ServicesResult,
    SlotsResult,
    SnapshotResult,
    StatsResult,
    TicketFormResult,
    TicketResult,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# A task still running this long after it was cancelled is cancelled again: on Python 3.11,
# asyncio.wait_for drops a cancel that arrives just as its result does.
RECANCEL_S = 1.0


class LoopThread:
    """An asyncio event loop running in a thread of its own, started by the constructor.

    ``run(coro, timeout)`` runs a coroutine there and blocks the calling thread until it is done;
    ``submit(coro)`` returns a ``concurrent.futures.Future`` at once; ``await run_async(coro)``
    waits for it from another event loop; ``call_soon(callback, *args)`` calls a function there.
    ``close()`` cancels what still runs, lets it finish its ``finally`` blocks, closes the loop
    and joins the thread (as ``asyncio.run`` does at its end). An object such as a
    ``HallClient`` must be used in this loop only, once it has started using it.
    """

    def __init__(self, name: str = "hall-client"):
        self.name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._loop.is_closed()

    def _main(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                while pending := {t for t in tasks if not t.done()}:
                    for task in pending:  # again if a cancel was dropped (see RECANCEL_S)
                        task.cancel()
                    loop.run_until_complete(asyncio.wait(pending, timeout=RECANCEL_S))
                for task in tasks:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("%s: %r ended with %r", self.name, task, task.exception())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` in this loop (call from any thread)."""
        if not self.running:
            coroutine.close()  # it will never run: no "never awaited" warning
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` in this loop and block until its result; ``TimeoutError`` (the
        coroutine cancelled) if ``timeout`` passes first."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError(f"{self.name}: run() from the loop's own thread would deadlock")
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{self.name}: no answer in time") from None

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` in this loop and await its result from another event loop."""
        return await asyncio.wrap_future(self.submit(coroutine))

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` in this loop (call from any thread); ``RuntimeError`` once
        the loop is closed, as ``submit``."""
        if not self.running:
            raise RuntimeError(f"{self.name} is not running")
        self._loop.call_soon_threadsafe(callback, *args)

    def close(self, timeout: float = 15.0) -> None:
        """Cancel what still runs in the loop, let it finish, close the loop, join the thread."""
        if self._thread.is_alive() and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._loop.stop)
        if threading.current_thread() is self._thread:
            return  # called from the loop itself: it closes once this callback returns
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("%s did not stop within %.0f s", self.name, timeout)

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LinkDown(YikouError):
    """No connection to the hall server right now (the client is reconnecting by itself), or the
    server said it could not reach its database. A command's outcome is then unknown: the next
    status shows what really happened."""


class SyncClient:
    """One authenticated ``HallClient`` used from synchronous code.

    Requests block until the reply; a typed error comes back as the matching engine error
    (``engine_error``), and no connection as ``LinkDown`` while the client reconnects by itself.
    Several ``SyncClient`` may share one ``LoopThread`` (the demo's simulated terminals do).
    """

    def __init__(
        self,
        url: str,
        auth: P.DeviceAuth | P.StaffAuth | P.ResidentAuth,
        *,
        lang: str = "zh",
        loop: LoopThread | None = None,
        request_timeout: float = 10.0,
    ):
        self._own_loop = loop is None
        self.loop = loop or LoopThread(f"hall-client {getattr(auth, 'login', '')}".strip())
        self.request_timeout = request_timeout
        self.client = HallClient(url, auth, lang=lang, request_timeout=request_timeout)

    def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Connect and authenticate. ``AuthFailed`` if the server refused the credentials,
        ``LinkDown`` if it could not be reached within ``timeout``."""
        try:
            return self.loop.run(self.client.connect(timeout), timeout + 5)
        except AuthFailed:
            raise
        except (TimeoutError, ClientError, OSError) as exc:
            raise LinkDown(f"cannot reach the hall server at {self.client.url}") from exc

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the client is connected (again); False if ``timeout`` passed first."""

        async def wait() -> bool:
            try:
                await asyncio.wait_for(self.client.connected.wait(), timeout)
            except TimeoutError:
                return False
            return True

        return self.loop.run(wait())

    def _request(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if not self.client.connected.is_set():
            coroutine.close()
            raise LinkDown("not connected")
        try:
            return self.loop.run(coroutine, self.request_timeout + 5)
        except ServerError as exc:
            if exc.code == "unavailable":
                raise LinkDown(exc.message_en) from exc
            raise engine_error(exc) from exc
        except (ClientError, TimeoutError) as exc:
            raise LinkDown(str(exc)) from exc

    def command(
        self, command: C.Command, *, resident_id: dict[str, str] | None = None
    ) -> CommandResult:
        return self._request(self.client.command(command, resident_id=resident_id))

    @overload
    def query(self, name: Literal["snapshot"], **fields: Any) -> SnapshotResult: ...
    @overload
    def query(self, name: Literal["services"], **fields: Any) -> ServicesResult: ...
    @overload
    def query(self, name: Literal["ticket"], **fields: Any) -> TicketResult: ...
    @overload
    def query(self, name: Literal["bookable_days"], **fields: Any) -> BookableDaysResult: ...
    @overload
    def query(self, name: Literal["slots"], **fields: Any) -> SlotsResult: ...
    @overload
    def query(self, name: Literal["materials_on_file"], **fields: Any) -> MaterialsOnFileResult: ...
    @overload
    def query(self, name: Literal["ticket_form"], **fields: Any) -> TicketFormResult: ...
    @overload
    def query(self, name: Literal["stats"], **fields: Any) -> StatsResult | CounterStatsResult: ...
    @overload
    def query(self, name: str, **fields: Any) -> QueryResult | dict[str, Any]: ...
    def query(self, name: str, **fields: Any) -> QueryResult | dict[str, Any]:
        """As ``HallClient.query``: typed where the query's result has a model."""
        return self._request(self.client.query(name, **fields))

    def close(self) -> None:
        if self.loop.running:
            with contextlib.suppress(Exception):
                self.loop.run(self.client.close(), timeout=10)
        if self._own_loop:
            self.loop.close()
