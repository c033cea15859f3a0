"""The bridge between asyncio clients and a Kivy app.

    with LoopThread("signage-client") as network:    # the client's loop on a thread
        feed.deliver = Inbox(feed.receive).put        # receive: on the Kivy clock, in order
        await run_app_with(app, feed.run(), thread=network)

Two ways to run a background coroutine (a HallClient and what reads it) beside the app:

* ``run_app_with(app, coro)``: in the loop that runs Kivy (``App.async_run``). Simple, no locks,
  but every step of the coroutine waits for the frame being drawn: on a screen without a GPU
  (Mesa's software OpenGL) a frame takes a few hundred milliseconds, and reading one websocket
  message takes several turns of the loop.
* ``run_app_with(app, coro, thread=LoopThread())``: in an asyncio loop of its own, in its own
  thread (the client's ``LoopThread``, which ``ui`` takes through ``terminal.loop``). The
  coroutine must touch no widget: it hands what it receives to the Kivy side through an
  ``Inbox``, which calls its handler on the Kivy clock with everything that came since the last
  frame, in order, so a burst is drawn once, in the next frame.

Either way, when the app stops the coroutine is cancelled (and awaited: its ``finally`` closes
the client); when the coroutine fails, the app is stopped and the error is raised to the caller.

A swap of a software-rendered frame holds the GIL (Kivy calls ``SDL_GL_SwapWindow`` with it), so
the thread does not read *during* a swap; it reads as soon as the swap ends, instead of after
the next one.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from terminal.loop import RECANCEL_S, LoopThread

log = logging.getLogger(__name__)

T = TypeVar("T")


def coalesced(callback: Callable[..., Any]) -> Callable[[], None]:
    """A function that schedules ``callback`` once before the next frame is drawn, however
    often it is called (also from a callback the clock is running: timeout -1).

    Kivy's clock is thread-safe: the function may be called from any thread."""
    from kivy.clock import Clock

    return Clock.create_trigger(callback, -1)


class Inbox(Generic[T]):
    """Items put from any thread, handed to ``handler`` on the Kivy clock, in order, none lost.

    Everything put since the handler last ran goes to one call (``handler(items)``), made in the
    next frame: a burst of server messages is applied, and drawn, once. ``schedule`` turns a
    callback into a trigger (default: a Kivy clock trigger; tests without Kivy pass their own).
    A handler that raises is logged; the items after it are still delivered."""

    def __init__(
        self,
        handler: Callable[[list[T]], Any],
        *,
        schedule: Callable[[Callable[..., Any]], Callable[[], Any]] | None = None,
    ):
        self.handler = handler
        self._items: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._trigger = (schedule or coalesced)(self.drain)
        self.delivered = 0

    def put(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
        self._trigger()

    def pending(self) -> int:
        with self._lock:
            return len(self._items)

    def drain(self, *_: Any) -> int:
        """Hand everything waiting to the handler (on the Kivy thread); return how many."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        if not items:
            return 0
        try:
            self.handler(items)
        except Exception:  # one bad message must not stop the screen
            log.exception("handling %d item(s) from the client thread failed", len(items))
        self.delivered += len(items)
        return len(items)


async def run_app_with(
    app, background: Coroutine[Any, Any, Any], *, thread: LoopThread | None = None
) -> None:
    """Run the Kivy ``app`` in the running loop and ``background`` beside it until the app stops:
    in the same loop, or in ``thread``'s loop (not closed here: it may serve other work, and
    ``with LoopThread()`` closes it)."""
    if thread is None:
        await _run_in_loop(app, background)
    else:
        await _run_in_thread(app, background, thread)


async def _run_in_loop(app, background: Coroutine[Any, Any, Any]) -> None:
    failure: list[BaseException] = []

    async def guarded() -> None:
        try:
            await background
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            failure.append(exc)
            app.stop()

    task = asyncio.create_task(guarded(), name=f"{type(app).__name__} background")
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=RECANCEL_S)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if failure:
        raise failure[0]


async def _run_in_thread(app, background: Coroutine[Any, Any, Any], thread: LoopThread) -> None:
    if not thread.running:
        background.close()  # it will never run: no "never awaited" warning
        raise RuntimeError(f"{thread.name} is not running")
    from kivy.clock import Clock

    failure: list[BaseException] = []
    # Set when the task has really ended (its finally blocks included), also when it is
    # cancelled before its first step: cancelling only asks the task to stop.
    ended: concurrent.futures.Future[None] = concurrent.futures.Future()
    tasks: list[asyncio.Task] = []

    async def guarded() -> None:
        try:
            await background
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            failure.append(exc)
            Clock.schedule_once(lambda _dt: app.stop())  # thread-safe; stops on the UI thread

    def finished(_task: asyncio.Task) -> None:
        background.close()  # no-op once it has run; a never-started coroutine must not warn
        ended.set_result(None)

    def spawn() -> None:
        task = asyncio.get_running_loop().create_task(guarded(), name=f"{thread.name} background")
        task.add_done_callback(finished)
        tasks.append(task)

    thread.call_soon(spawn)
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        waiting = asyncio.wrap_future(ended)
        while not ended.done():
            # Callbacks run in order: the cancel comes after the spawn.
            thread.call_soon(lambda: tasks[0].cancel())
            await asyncio.wait({waiting}, timeout=RECANCEL_S)
        await waiting
    if failure:
        raise failure[0]
