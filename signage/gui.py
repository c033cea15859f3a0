"""The signage's Kivy screens: they only render SignageState (Python owns state, KV owns layout).

Imported by ``signage.app.run`` only, after the Kivy environment is set: importing this module
imports Kivy.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.stencilview import StencilView

from signage.core import Call, SignageState, format_clock, format_wait
from ui import theme
from ui.bridge import coalesced
from ui.fonts import register_fonts

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
FLASHES = 4  # how many times the newest call blinks
TICKER_SPEED = 0.12  # notice ticker speed: this fraction of its width per second


class RecentRow(BoxLayout):
    number = StringProperty("")
    window = StringProperty("")
    unit = NumericProperty(100)


class QueueRow(BoxLayout):
    letter = StringProperty("")
    name = StringProperty("")
    waiting = StringProperty("")
    estimate = StringProperty("")
    unit = NumericProperty(100)
    alt = BooleanProperty(False)


class NoticeTicker(StencilView):
    """One line of notices scrolling right to left, one notice after another."""

    texts = ListProperty([])
    unit = NumericProperty(100)
    label = ObjectProperty(None, allownone=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        self._index = 0
        self._anim: Animation | None = None
        self.label = Label(
            font_size=self.unit * 0.055, color=theme.TEXT, size_hint=(None, None), markup=False
        )
        self.label.bind(texture_size=self._fit)
        self.add_widget(self.label)
        self.bind(texts=self._restart, size=self._restart, pos=self._restart, unit=self._restart)

    def _fit(self, *_):
        self.label.size = self.label.texture_size

    def _restart(self, *_):
        if self._anim is not None:
            self._anim.cancel(self.label)
            self._anim = None
        self.label.font_size = self.unit * 0.055
        self._next()

    def _next(self, *_):
        if not self.texts:
            self.label.text = ""
            return
        self._index %= len(self.texts)
        self.label.text = self.texts[self._index]
        self._index += 1
        self.label.texture_update()
        self._fit()
        self.label.center_y = self.center_y
        self.label.x = self.right
        distance = self.width + self.label.width
        speed = max(self.width * TICKER_SPEED, 1)
        self._anim = Animation(x=self.x - self.label.width, duration=distance / speed)
        self._anim.bind(on_complete=lambda *_: Clock.schedule_once(self._next))
        self._anim.start(self.label)


class _Screen(BoxLayout):
    unit = NumericProperty(100)  # the shorter side: type sizes are fractions of it
    portrait = BooleanProperty(False)
    flash = NumericProperty(0.0)  # 0: normal colours, 1: flashed colours
    date_text = StringProperty("")
    time_text = StringProperty("")
    connection_text = StringProperty("")
    hall_name = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(size=self._measure)
        self._flash_anim: Animation | None = None

    def _measure(self, *_):
        self.unit = max(min(self.width, self.height), 1)
        self.portrait = self.height > self.width

    def start_flash(self) -> None:
        if self._flash_anim is not None:
            self._flash_anim.cancel(self)
        step = Animation(flash=1.0, duration=0.25) + Animation(flash=0.0, duration=0.35)
        anim = step
        for _ in range(FLASHES - 1):
            anim = anim + step
        self._flash_anim = anim
        self.flash = 0.0
        anim.start(self)

    def show_clock(self, now: dt.datetime) -> None:
        self.date_text, self.time_text = format_clock(now)


class MainScreen(_Screen):
    """综合屏: the newest call, recent calls, waiting per queue, clock, notices.

    The rows are made once and then only given new texts: a call changes a few labels, and
    only a label whose text changed renders its texture again (rebuilding the rows made every
    call re-apply their kv rules and re-render every text on the screen)."""

    call_number = StringProperty("")
    call_window = StringProperty("")
    call_service = StringProperty("")
    notices = ListProperty([])
    max_recent = NumericProperty(6)  # recent calls shown besides the newest (3 rows of 2)

    def show(self, state: SignageState, notices: list[str]) -> None:
        newest = state.newest
        self.call_number = newest.number if newest else ""
        self.call_window = str(newest.counter) if newest else ""
        self.call_service = state.service_name(newest.service) if newest else ""
        recent = list(state.recent)[1 : 1 + int(self.max_recent)]
        rows = self._rows(self.ids.recent_box, RecentRow, len(recent))
        for row, call in zip(rows, recent, strict=True):
            row.number, row.window = call.number, f"{call.counter}号窗口"
        queues = state.queues()
        rows = self._rows(self.ids.queue_box, QueueRow, len(queues))
        for i, (row, q) in enumerate(zip(rows, queues, strict=True)):
            row.letter, row.name, row.waiting = q.prefix, q.name, f"{q.waiting}人"
            row.estimate = format_wait(q.estimated_wait_s) if q.waiting else "—"
            row.alt = bool(i % 2)
        if list(self.notices) != notices:
            self.notices = notices

    def _rows(self, box, kind: type, count: int) -> list:
        """``count`` rows of ``kind`` in ``box``, top first: reused, added or removed."""
        rows = list(reversed(box.children))  # Kivy keeps the last added first
        for row in rows[count:]:
            box.remove_widget(row)
        while len(rows) < count:
            row = kind(unit=self.unit)
            box.add_widget(row)
            rows.append(row)
        return rows[:count]

    def on_unit(self, _screen, unit: float) -> None:
        for name in ("recent_box", "queue_box"):
            box = self.ids.get(name)
            for row in box.children if box is not None else ():
                row.unit = unit


class WindowScreen(_Screen):
    """窗口屏: this window's current number and service; 暂停服务 while paused."""

    window = NumericProperty(1)
    window_name = StringProperty("")
    number = StringProperty("")
    service = StringProperty("")
    paused = BooleanProperty(False)

    def show(self, state: SignageState, notices: list[str]) -> None:
        counter = state.counter(self.window)
        self.paused = counter.paused
        self.number = counter.ticket or ""
        self.service = state.service_name(counter.service) if counter.ticket else ""


class SignageApp(App):
    """Builds one screen and refreshes it from the state at most once per frame.

    Everything here runs on the Kivy thread: the feed hands the server's messages over through
    a ``ui.bridge.Inbox`` whose handler (``SignageFeed.receive``) runs on the Kivy clock."""

    def __init__(
        self,
        *,
        state: SignageState,
        mode: str = "main",
        window: int = 1,
        window_name: str = "",
        hall_name: str = "",
        notices: Callable[[dt.datetime], list[str]] = lambda now: [],
        clock: Callable[[], dt.datetime] = dt.datetime.now,
        on_built: Callable[[SignageApp], None] | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.state = state
        self.mode = mode
        self.window_id = window
        self.window_name = window_name
        self.hall_name = hall_name
        self.notices_at = notices
        self.clock = clock
        self.on_built = on_built
        self.title = "一口受理 叫号屏"
        self._flash_pending = False
        self._shown_version = -1
        self._stopped = False
        self.frame_listeners: list[Callable[[], None]] = []
        # time.monotonic() of the last frame drawn; read by the feed's watchdog in its thread.
        self.last_frame: float | None = None

    def build(self):
        register_fonts()
        Window.clearcolor = theme.BACKGROUND
        if self.mode == "window":
            Builder.load_file(str(HERE / "window_screen.kv"))
            screen = WindowScreen(window=self.window_id, window_name=self.window_name)
        else:
            Builder.load_file(str(HERE / "main_screen.kv"))
            screen = MainScreen()
        screen.hall_name = self.hall_name
        self._refresh_trigger = coalesced(self.refresh)
        Clock.schedule_interval(self._tick, 1.0)
        Window.bind(on_flip=self._on_flip)
        self._tick()
        return screen

    def on_start(self):
        self.refresh()
        if self.on_built is not None:
            self.on_built(self)

    # Called by the feed's receive(), on the Kivy clock.
    def state_changed(self) -> None:
        self._refresh_trigger()

    def calls_arrived(self, calls: list[Call]) -> None:
        if self.mode == "window" and not any(c.counter == self.window_id for c in calls):
            return
        self._flash_pending = True
        self._refresh_trigger()

    def on_stop(self):
        self._stopped = True

    def refresh(self, *_) -> None:
        root = self.root
        if root is None or self._stopped:  # kv rules need the running app
            return
        if self.state.version != self._shown_version:
            self._shown_version = self.state.version
            root.show(self.state, self.notices_at(self.clock()))
            root.connection_text = "" if self.state.connected else "● 连接中断"
        if self._flash_pending:
            self._flash_pending = False
            root.start_flash()

    def _tick(self, *_) -> None:
        if self.root is not None and not self._stopped:
            self.root.show_clock(self.clock())
            if self.mode == "main":
                notices = self.notices_at(self.clock())
                if list(self.root.notices) != notices:
                    self.root.notices = notices

    def _on_flip(self, *_) -> None:
        self.last_frame = time.monotonic()
        for listener in list(self.frame_listeners):
            listener()
