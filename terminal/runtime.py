"""Carrying out a terminal flow's effects in the background (no Kivy), for the kiosk's and the
navigator's runtimes alike: one after another, re-rendering after each, without letting a bug
freeze the screen.

``EffectRunner`` is a collaborator: kiosk.runtime.KioskRuntime and navigator.runtime.
NavigatorRuntime each make one in their constructor, giving it their ``one`` (one effect against
the server or the printer, returning the flow's next effects) and what a failed effect turns
into (``on_failure``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

Effects = list


class EffectRunner:
    def __init__(
        self,
        one: Callable[[Any], Awaitable[Effects]],
        *,
        on_change: Callable[[], None],
        on_failure: Callable[[Any], Effects] = lambda effect: [],
        after_effect: Callable[[], None] = lambda: None,
        log: logging.Logger | None = None,
    ) -> None:
        """``on_failure(effect)``: the flow's answer to an effect that raised (a bug); an effect
        that leaves the screen on "please wait" should answer it as the server gone, so the
        resident is not left waiting. ``after_effect`` runs after each effect, before the next."""
        self.one = one
        self.on_change = on_change
        self.on_failure = on_failure
        self.after_effect = after_effect
        self.log = log or logging.getLogger(__name__)
        self.tasks: set[asyncio.Task] = set()

    def do(self, effects: Effects) -> None:
        """Carry out a flow input's effects in the background; re-render now."""
        self.on_change()
        if effects:
            self.spawn(self._run(effects))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """A task of this terminal's, awaited by ``wait_idle`` and cancelled by ``close``."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def wait_idle(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _run(self, effects: Effects) -> None:
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            try:
                more = await self.one(effect)
            except Exception:  # a bug must not freeze the screen on "please wait"
                self.log.exception("effect %s failed", type(effect).__name__)
                more = self.on_failure(effect)
            self.on_change()
            self.after_effect()
            queue.extend(more)
