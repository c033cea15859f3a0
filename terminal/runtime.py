"""What the kiosk's and the navigator's runtimes share (no Kivy): carrying out a flow input's
effects in the background, one after another, without letting a bug freeze the screen.

kiosk.runtime.KioskRuntime and navigator.runtime.NavigatorRuntime extend ``TerminalRuntime``
with ``_one`` (one effect against the server or the printer) and their own device health.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any


class TerminalRuntime:
    """A subclass sets ``flow``, ``on_change`` and ``_tasks`` (a set) in ``__init__``, and
    ``waiting_effects``: the effect types that leave the screen on "please wait" (a failure
    there is answered as the server gone, so the resident is not left waiting)."""

    waiting_effects: Any = ()

    def do(self, effects: list) -> None:
        """Carry out a flow input's effects in the background; re-render now."""
        self.on_change()
        if effects:
            self._spawn(self._run(effects))

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, effects: list) -> None:
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            try:
                more = await self._one(effect)
            except Exception:  # a bug must not freeze the screen on "please wait"
                logging.getLogger(type(self).__module__).exception(
                    "%s: effect %s failed",
                    type(self).__module__.split(".")[0],
                    type(effect).__name__,
                )
                more = self.flow.unreachable() if isinstance(effect, self.waiting_effects) else []
            self.on_change()
            self._after_effect()
            queue.extend(more)

    def _after_effect(self) -> None:
        """After each effect, before the next: nothing unless a subclass says so."""

    async def _one(self, effect) -> list:
        raise NotImplementedError
