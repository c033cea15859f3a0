"""The bridge between an asyncio client and a Kivy app: one event loop for both.

    await run_app_with(app, feed.run())

Kivy runs in the asyncio loop (``App.async_run``), so a message the client receives is handled
on the UI thread with no locks; handlers only update plain state and pull a trigger made with
``coalesced(callback)``, so a burst of events is drawn once, in the next frame. When the app
stops, the background coroutine is cancelled; when the coroutine fails, the app is stopped and
the error is raised to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


def coalesced(callback: Callable[..., Any]) -> Callable[[], None]:
    """A function that schedules ``callback`` once for the next frame, however often called."""
    from kivy.clock import Clock

    return Clock.create_trigger(callback)


async def run_app_with(app, background: Coroutine[Any, Any, Any]) -> None:
    """Run the Kivy ``app`` and ``background`` in the running loop until the app stops."""
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
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if failure:
        raise failure[0]
