"""The Kivy app behaviour the kiosk's and the navigator's apps share (kiosk.gui.KioskApp,
navigator.gui.NavigatorApp): touches into the flow, device events, the simulated devices' demo
buttons, the half-second tick (idle timeout, visible countdown, the systemd watchdog) and the
window's type scale, and the properties both apps' kv files bind to. Each app keeps its own
other properties, screens, ``_restyle`` and ``refresh``. ``load_kv`` loads the widgets both
apps' kv files use (ui/terminal.kv) before the app's own.

Imported only by the two apps' gui modules, which import Kivy anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from terminal.devices import SAMPLE_CARDS, EventKind

SHARED_KV = Path(__file__).resolve().parent / "terminal.kv"


def load_kv(folder: Path, names: Iterable[str]) -> None:
    """The shared widgets (ui/terminal.kv), then the app's kv files (``folder/<name>.kv``)."""
    from kivy.lang import Builder

    Builder.load_file(str(SHARED_KV))
    for name in names:
        Builder.load_file(str(folder / f"{name}.kv"))


def warm_search(catalog) -> threading.Thread:
    """Build the catalog's pinyin order and search index in a background thread (an app calls
    this once its first frame is drawn), so neither the first frame nor the first keystroke
    waits for them."""
    thread = threading.Thread(target=catalog.prepare_search, name="search-index", daemon=True)
    thread.start()
    return thread


class TerminalAppMixin:
    """Mixed in before ``kivy.app.App``; the app sets ``flow``, ``runtime``, ``reader``,
    ``scanner``, ``simulated``, ``notifier``, ``_trigger``, ``_ticker`` and ``_stopped``, and
    the default of ``screen_name``."""

    # What the kv files bind to; the type sizes are set by _measure/_restyle.
    lang = StringProperty("zh")
    elderly = BooleanProperty(False)
    unit = NumericProperty(1080)
    portrait = BooleanProperty(False)
    scale = NumericProperty(1.0)
    fs_small = NumericProperty(28)
    fs_body = NumericProperty(34)
    fs_button = NumericProperty(44)
    fs_title = NumericProperty(58)
    fs_huge = NumericProperty(200)
    greeting = StringProperty("")
    countdown_text = StringProperty("")
    page_text = StringProperty("")
    has_pages = BooleanProperty(False)
    search_text = StringProperty("")
    # 演示 in the header of every screen: started with --demo, or any device simulated.
    demo = BooleanProperty(False)
    # The sample-card and scan buttons: only with --demo, and only for a simulated device.
    demo_buttons = BooleanProperty(False)
    hall_title = StringProperty("")

    def mark_devices(self, urls: dict[str, str], *, demo: bool) -> None:
        """Note which devices are simulators (by URL): a simulated terminal is marked 演示
        whatever the command line said, and only an explicit demo gets the demo buttons."""
        self.simulated = {kind: url.startswith("sim:") for kind, url in urls.items()}
        self.demo = demo or any(self.simulated.values())
        self.demo_buttons = demo and (self.simulated["reader"] or self.simulated["scanner"])

    def act(self, name: str, *args) -> None:
        """A touch handler from kv: one flow input, its effects to the runtime."""
        logging.getLogger(type(self).__module__).debug("touch: %s", name)
        effects = getattr(self.flow, name)(*args)
        self.runtime.do(effects)

    def changed(self) -> None:
        """The flow changed (from the runtime): redraw on the next frame."""
        self._trigger()

    def device_event(self, event) -> None:
        if event.kind == EventKind.CARD_READ and self.simulated.get("reader"):
            self.reader.remove()  # the simulated resident lifts the card after the read
        self.runtime.device_event(event)

    def demo_card(self, which: str = "resident_expiring") -> None:
        """Place a sample card on the simulated reader (the real worker reads it)."""
        if self.demo_buttons and self.simulated.get("reader"):
            self.reader.place(SAMPLE_CARDS[which])

    def toggle_elderly(self) -> None:
        self.act("set_elderly", not self.flow.elderly)

    def on_stop(self):
        self._stopped = True  # no more redraws: kv rules need a running app
        if self._ticker is not None:
            self._ticker.cancel()
        if self.notifier is not None:
            self.notifier.stopping()

    def _measure(self, *_):
        from kivy.core.window import Window

        width, height = Window.size
        self.unit = max(min(width, height), 1)
        self.portrait = height > width
        self._restyle()

    def _touched(self, *_):
        self.flow.touch()
        if self.countdown_text:
            self.countdown_text = ""

    def _tick(self, *_):
        if self._stopped:
            return
        if self.runtime is not None:
            self.runtime.tick()
        if self.notifier is not None:
            self.notifier.pet()  # the systemd watchdog: the UI clock is still turning
        left = self.flow.countdown()
        self.countdown_text = "" if left is None else self.flow.t("idle_countdown", s=left)
