"""``HallClient``: the asyncio connection to the queue server.

    client = HallClient(url, DeviceAuth(device_id="kiosk-1", token=...))
    await client.connect()                       # authenticates; raises AuthFailed if refused
    await client.subscribe("public")             # kept across reconnects
    reply = await client.command(IssueTicket(service="liuguan.residence_permit"))
    reply.ticket.number                          # typed: CommandResult, TicketView
    async for message in client.messages():      # events, snapshots, status, ticket updates
        ...

It reconnects by itself with exponential backoff and jitter, and resumes every stream from the
last seq it saw, so the application sees each event exactly once, in order. A snapshot message
means "start again from this state" (the server no longer held what was missed).

``on_state`` (optional) hears the connection change, in the client's event loop:
"connected" (authenticated, streams subscribed again), "disconnected" (the connection dropped,
or the client closed or was refused), "reconnecting" (about to try again after a backoff).
Its errors are in ``queue_server.client.errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import ssl as ssl_module
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, overload

from pydantic import TypeAdapter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from queue_server import protocol as P
from queue_server.client.errors import AuthFailed, Disconnected, ServerError
from queue_server.protocol.commands import Command
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

ConnectionState = Literal["connected", "disconnected", "reconnecting"]


QueryResult = (
    SnapshotResult
    | ServicesResult
    | TicketResult
    | BookableDaysResult
    | SlotsResult
    | MaterialsOnFileResult
    | TicketFormResult
    | StatsResult
    | CounterStatsResult
)

# Each query's result model (a TypeAdapter, as ``stats`` has two: a window's, a manager's).
QUERY_RESULTS: dict[str, TypeAdapter[Any]] = {
    "snapshot": TypeAdapter(SnapshotResult),
    "services": TypeAdapter(ServicesResult),
    "ticket": TypeAdapter(TicketResult),
    "bookable_days": TypeAdapter(BookableDaysResult),
    "slots": TypeAdapter(SlotsResult),
    "materials_on_file": TypeAdapter(MaterialsOnFileResult),
    "ticket_form": TypeAdapter(TicketFormResult),
    "stats": TypeAdapter(StatsResult | CounterStatsResult),
}


def new_request_key() -> str:
    """A fresh request key for one attempt to do something (see ``HallClient.command``)."""
    return uuid.uuid4().hex


class HallClient:
    def __init__(
        self,
        url: str,
        auth: P.DeviceAuth | P.StaffAuth | P.ResidentAuth,
        *,
        lang: str = "zh",
        backoff_min: float = 0.2,
        backoff_max: float = 10.0,
        request_timeout: float = 15.0,
        ssl: ssl_module.SSLContext | None = None,
        on_state: Callable[[ConnectionState], None] | None = None,
    ):
        self.url = url
        self.auth = auth
        self.lang = lang
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.ssl = ssl
        self.welcome: dict[str, Any] | None = None
        self.last_seq: dict[str, int] = {}
        self.streams: list[str] = []
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.on_state = on_state
        self.connection_state: ConnectionState = "disconnected"
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._closing = False
        self._first: asyncio.Future | None = None

    # --- life cycle ------------------------------------------------------------------------

    async def connect(self, timeout: float = 15.0) -> dict[str, Any]:
        """Connect and authenticate; return the server's welcome. Retries with backoff until
        ``timeout``, then raises Disconnected; AuthFailed at once if the server refuses."""
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._task = asyncio.create_task(self._run(), name=f"hall-client {self.url}")
        try:
            return await asyncio.wait_for(asyncio.shield(self._first), timeout)
        except TimeoutError:
            await self.close()
            raise Disconnected(f"could not reach the hall server at {self.url}") from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._fail_pending(Disconnected("client closed"))
        self._set_state("disconnected")

    async def __aenter__(self) -> HallClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _run(self) -> None:
        delay = self.backoff_min
        while not self._closing:
            try:
                async with connect(
                    self.url, ssl=self.ssl, open_timeout=10, max_size=1 << 22, max_queue=None
                ) as ws:
                    self._ws = ws
                    welcome = await self._handshake(ws)
                    delay = self.backoff_min
                    self.welcome = welcome
                    if self._first is not None and not self._first.done():
                        self._first.set_result(welcome)
                    reader = asyncio.create_task(self._read(ws))
                    for stream in self.streams:
                        await self._send_subscribe(ws, stream)
                    self.connected.set()
                    self._set_state("connected")
                    try:
                        await reader
                    finally:
                        # At once, not after the close handshake below: until then a caller
                        # retrying on Disconnected would find "connected" and spin.
                        self.connected.clear()
            except AuthFailed as exc:
                if self._first is not None and not self._first.done():
                    self._first.set_exception(exc)
                log.error("authentication refused by %s: %s", self.url, exc)
                self._set_state("disconnected")
                return
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.info("connection to %s lost: %s", self.url, exc)
            finally:
                self.connected.clear()
                self._ws = None
                self._fail_pending(Disconnected("connection lost before the reply"))
                if self.connection_state == "connected" or self._closing:
                    self._set_state("disconnected")  # a failed retry stays "reconnecting"
            if self._closing:
                return
            self.reconnects += 1
            self._set_state("reconnecting")
            await self._backoff(delay)
            delay = min(delay * 2, self.backoff_max)

    def _set_state(self, state: ConnectionState) -> None:
        if state == self.connection_state:
            return
        self.connection_state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:  # the application's callback must not break the connection
                log.exception("on_state(%r) failed", state)

    async def _backoff(self, delay: float) -> None:
        # Jitter: after a server restart, a hall's screens must not all knock at once.
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))

    async def _handshake(self, ws: ClientConnection) -> dict[str, Any]:
        hello = P.Hello(id=0, auth=self.auth, lang=self.lang)
        await ws.send(hello.model_dump_json())
        data = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if data.get("type") == "welcome":
            return data
        if data.get("type") == "error":
            raise AuthFailed(f"{data.get('code')}: {data.get('message_en')}")
        raise AuthFailed(f"unexpected answer to hello: {data.get('type')}")

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                data = json.loads(raw)
            except ValueError:
                log.warning("server sent something that is not JSON")
                continue
            kind = data.get("type")
            if kind in ("reply", "error", "pong"):
                future = self._pending.pop(data.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(data)
                elif kind == "error":  # not an answer to a request: a notice such as rate limits
                    log.warning("server: %s %s", data.get("code"), data.get("message_en"))
                continue
            if kind == "event":
                stream, seq = data["stream"], data["seq"]
                if seq <= self.last_seq.get(stream, -1):
                    continue  # already seen (a resume overlapping what arrived before a drop)
                self.last_seq[stream] = seq
            elif kind == "snapshot":
                self.last_seq[data["stream"]] = data["seq"]
            elif kind == "status" and "public" in self.last_seq:
                # Sent after all of its batch's events: nothing public before it is missing.
                self.last_seq["public"] = max(self.last_seq["public"], data["seq"])
            self._inbox.put_nowait(data)

    def _fail_pending(self, exc: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()

    # --- requests --------------------------------------------------------------------------

    async def _send_subscribe(self, ws: ClientConnection, stream: str) -> None:
        msg_id = next(self._ids)
        since = self.last_seq.get(stream)
        await ws.send(P.Subscribe(id=msg_id, streams=[stream], since=since).model_dump_json())

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one message with a fresh id; return the reply's result or raise ServerError."""
        if self._closing or (self._task is not None and self._task.done()):
            # Closed, or refused for good: no reconnect is coming to wait for.
            raise Disconnected("the client is closed")
        # asyncio.timeout rather than wait_for: on Python 3.11 wait_for can swallow a cancel
        # that races the awaited result, and a stopping app would then wait for ever.
        try:
            async with asyncio.timeout(self.request_timeout):
                await self.connected.wait()
        except TimeoutError:
            raise Disconnected("not connected to the hall server") from None
        ws = self._ws
        if ws is None:
            raise Disconnected("not connected to the hall server")
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await ws.send(json.dumps({"v": P.VERSION, "id": msg_id, **message}, default=str))
            async with asyncio.timeout(self.request_timeout):
                data = await future
        except ConnectionClosed:
            raise Disconnected("connection lost before the reply") from None
        except TimeoutError:
            raise Disconnected("no reply in time") from None
        finally:
            self._pending.pop(msg_id, None)
        if data["type"] == "error":
            raise ServerError(
                data["code"], data["message_zh"], data["message_en"], data.get("details")
            )
        return data.get("result", data)

    async def command(
        self,
        command: Command | dict[str, Any],
        *,
        resident_id: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        request_key: str | None = None,
    ) -> CommandResult:
        """Run an engine command; its result typed (``reply.ticket.number``). ``resident_id`` ({"number": ..., "doc_type": "id"}) is turned
        into the resident key by the server; the clear number goes no further. ``form``
        ({"fields": {key: value}, "materials": [key, ...]}, with ``issue_ticket`` from a kiosk
        or navigator) is stored sealed under the issued ticket, for the window that serves it;
        the reply then says ``form_stored``. ``request_key`` (``new_request_key()``): the same
        on every retry of one attempt, so a retry after ``unavailable`` or a lost reply gets the
        first attempt's result instead of doing it twice."""
        body = command.model_dump(mode="json") if not isinstance(command, dict) else command
        message: dict[str, Any] = {"type": "command", "command": body}
        if resident_id:
            message["resident_id"] = resident_id
        if form is not None:
            message["form"] = form
        if request_key is not None:
            message["request_key"] = request_key
        return CommandResult.model_validate(await self.request(message))

    @overload
    async def query(self, query: Literal["snapshot"], **fields: Any) -> SnapshotResult: ...
    @overload
    async def query(self, query: Literal["services"], **fields: Any) -> ServicesResult: ...
    @overload
    async def query(self, query: Literal["ticket"], **fields: Any) -> TicketResult: ...
    @overload
    async def query(self, query: Literal["bookable_days"], **fields: Any) -> BookableDaysResult: ...
    @overload
    async def query(self, query: Literal["slots"], **fields: Any) -> SlotsResult: ...
    @overload
    async def query(
        self, query: Literal["materials_on_file"], **fields: Any
    ) -> MaterialsOnFileResult: ...
    @overload
    async def query(self, query: Literal["ticket_form"], **fields: Any) -> TicketFormResult: ...
    @overload
    async def query(
        self, query: Literal["stats"], **fields: Any
    ) -> StatsResult | CounterStatsResult: ...
    @overload
    async def query(self, query: str, **fields: Any) -> QueryResult | dict[str, Any]: ...
    async def query(self, query: str, **fields: Any) -> QueryResult | dict[str, Any]:
        """Ask a query; its result as its model (``QUERY_RESULTS``; ``stats`` is a window's own
        row for a window, the whole day for a manager), or the JSON's dict for a query this
        client does not know."""
        result = await self.request({"type": "query", "query": query, **fields})
        adapter = QUERY_RESULTS.get(query)
        return result if adapter is None else adapter.validate_python(result)

    async def device_status(self, part: str, ok: bool, detail: str = "") -> dict[str, Any]:
        """Report the health of one of this terminal's parts (printer, reader, scanner, screen,
        speaker) to the managers' consoles."""
        return await self.request(
            {"type": "device_status", "part": part, "ok": ok, "detail": detail}
        )

    async def ping(self) -> dict[str, Any]:
        return await self.request({"type": "ping"})

    async def subscribe(self, *streams: str) -> None:
        """Receive these streams from now on (and again after every reconnect)."""
        for stream in streams:
            if stream not in self.streams:
                self.streams.append(stream)
            await self.request(
                {"type": "subscribe", "streams": [stream], "since": self.last_seq.get(stream)}
            )

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self._inbox.get()

    async def next_message(self, timeout: float | None = None) -> dict[str, Any]:
        return await asyncio.wait_for(self._inbox.get(), timeout)

    def pending_messages(self) -> int:
        return self._inbox.qsize()
