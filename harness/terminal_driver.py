"""What the kiosk's and the navigator's scenario drivers share: waiting on the Kivy clock,
touching widgets as a finger would, and screenshots (tests/kiosk/driver.py,
tests/navigator/driver.py).

Waiting is done on the Kivy clock with a timeout, never by sleeping, and every wait fails at
once if the app itself ends: a driver sets ``APP_TASK`` (via ``start_app``) to the task running
the app.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

T0 = time.monotonic()

APP_TASK: asyncio.Task | None = None  # the app: every wait fails at once if it ends


async def start_app(run: Coroutine[Any, Any, object], built: asyncio.Future) -> asyncio.Task:
    """Run the app (``run``, which calls ``built.set_result(app)``) and wait until it is built."""
    global APP_TASK
    app_task = APP_TASK = asyncio.create_task(run)
    done, _ = await asyncio.wait({built, app_task}, return_when=asyncio.FIRST_COMPLETED)
    if built not in done:
        app_task.result()
        raise AssertionError("the app ended before it was built")
    return app_task


async def guarded(future: asyncio.Future, timeout: float | None = None) -> None:
    """Await ``future``; if the app stops first, raise what stopped it."""
    waits = {future} if APP_TASK is None else {future, APP_TASK}
    done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if future in done:
        return future.result()
    if APP_TASK in done:
        APP_TASK.result()
        raise AssertionError("the app stopped")
    raise TimeoutError


def log(text: str) -> None:
    print(f"{time.monotonic() - T0:7.2f}s {text}", file=sys.__stderr__, flush=True)


async def until(app, predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait until ``predicate`` holds, checked on every Kivy clock frame."""
    from kivy.clock import Clock

    future = asyncio.get_running_loop().create_future()

    def check(_dt) -> bool:
        if future.done():
            return False
        try:
            if predicate():
                future.set_result(None)
                return False
        except Exception as exc:  # a broken predicate fails the wait
            future.set_exception(exc)
            return False
        return True

    event = Clock.schedule_interval(check, 0)
    started = time.monotonic()
    try:
        await guarded(future, timeout)
        log(f"waited {time.monotonic() - started:.2f}s for {what}")
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what} (screen {app.flow.screen})"
        ) from None
    finally:
        event.cancel()


async def frames(n: int = 3) -> None:
    """Let the clock run ``n`` frames (layouts settle), counted, not timed."""
    from kivy.clock import Clock

    for _ in range(n):
        future = asyncio.get_running_loop().create_future()
        Clock.schedule_once(lambda _dt, f=future: f.done() or f.set_result(None), 0)
        await guarded(future, 30)


async def on_screen(app, name: str) -> None:
    await until(app, lambda: app.screen_name == name and app.flow.screen.value == name, name)
    await frames()


def screen(app, name: str):
    return app.root.ids.manager.get_screen(name)


async def press(app, widget, what: str = "") -> None:
    """Touch the widget's centre and lift, as a finger would."""
    from kivy.tests.common import UnitTestTouch
    from kivy.uix.scrollview import ScrollView

    if widget.get_root_window() is None:
        chain, w = [], widget
        while w is not None and w is not w.parent:
            chain.append(type(w).__name__)
            w = w.parent
        raise AssertionError(f"{what or widget} is not on screen: {chain}")
    assert not widget.disabled, f"{what or widget} is disabled"
    parent = widget.parent
    while parent is not None and parent is not parent.parent:
        if isinstance(parent, ScrollView):  # scroll it into view first, as a finger would
            parent.scroll_to(widget, animate=False)
            await frames(2)
            break
        parent = parent.parent
    x, y = widget.to_window(*widget.center)
    log(f"press {what or widget} at {x:.0f},{y:.0f} size {widget.size} pos {widget.pos}")
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    await frames(1)


def find(parent, **attrs):
    for child in parent.walk(restrict=True):
        if all(getattr(child, k, None) == v for k, v in attrs.items()):
            return child
    raise AssertionError(f"no widget with {attrs} under {parent}")


async def type_keys(app, keyboard: Callable, keys: str) -> None:
    """Press the keys of ``keyboard()`` (looked up again for each key) one by one."""
    for key in keys:
        await press(app, find(keyboard(), key=key), f"key {key}")


def image_stats(app) -> dict:
    image = app.root.export_as_image()
    pixels = image.texture.pixels
    sample = [pixels[i] + pixels[i + 1] + pixels[i + 2] for i in range(0, len(pixels) - 4, 4 * 211)]
    return {
        "size": list(image.texture.size),
        "variance": statistics.pvariance(sample),
        "levels": len(set(sample)),
    }


def badge_state(app) -> dict:
    """The header's 演示 badge as a resident sees it: shown (drawn, with room) and its words."""
    badge = app.root.ids.demo_badge
    on_window = badge.get_root_window() is not None
    return {
        "shown": on_window and badge.opacity == 1 and badge.width > 0,
        "text": badge.text,
        "fits": badge.texture_size[0] <= badge.width and badge.texture_size[1] <= badge.height,
    }


def demo_buttons_state(app, buttons) -> dict:
    """Whether any demo button is there to touch: drawn with an area, and enabled."""
    return {
        "shown": any(b.opacity > 0 and b.width > 0 and b.height > 0 for b in buttons),
        "enabled": any(not b.disabled for b in buttons),
    }


class Shots:
    """``await shots(name)``: the whole window to ``<outdir>/<prefix>-<name>.png``, with the
    state of the 演示 badge at that moment."""

    prefix = "terminal"
    settle = 3  # frames to let the layout settle first

    def __init__(self, app, outdir: Path):
        self.app, self.outdir, self.taken = app, outdir, {}

    async def __call__(self, name: str) -> None:
        await frames(self.settle)
        path = self.outdir / f"{self.prefix}-{name}.png"
        self.app.root.export_to_png(str(path))
        self.taken[name] = {
            "path": str(path),
            "badge": badge_state(self.app),
            **image_stats(self.app),
        }
