"""On-screen keyboards for touch terminals: big keys, no system keyboard.

    kb = OnScreenKeyboard(layout="letters")   # or "digits" (a phone pad with - and X)
    kb.bind(on_key=lambda kb, key: ...)       # key: one character, "delete", "clear", "space"

    kb = ImeKeyboard(layout="letters")        # the same keys with pinyin input (中文/ABC) above
    kb.bind(on_key=lambda kb, key: ...)       # ... and chosen Chinese text ("北京")

Keys are plain Buttons (so tests press them with a touch); ``key_font_size`` and the colours
are properties the app binds to its type scale. Importing this module imports Kivy.
"""

from __future__ import annotations

from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    DictProperty,
    NumericProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

LAYOUTS: dict[str, list[list[str]]] = {
    "letters": [
        list("1234567890"),
        list("qwertyuiop"),
        list("asdfghjkl") + ["delete"],
        list("zxcvbnm") + ["-", "space", "clear"],
    ],
    "digits": [
        list("123"),
        list("456"),
        list("789"),
        ["-", "0", "X"],
        ["delete", "clear"],
    ],
}


class KeyButton(Button):
    key = ""


class OnScreenKeyboard(GridLayout):
    layout = OptionProperty("letters", options=list(LAYOUTS))
    key_font_size = NumericProperty(32)
    key_color = ColorProperty((1, 1, 1, 1))
    key_background = ColorProperty((0.25, 0.3, 0.4, 1))
    key_background_down = ColorProperty((0.1, 0.15, 0.25, 1))
    # What the special keys say (set per language by the app).
    labels = DictProperty({"delete": "删除", "clear": "清空", "space": "空格"})

    __events__ = ("on_key",)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(layout=self._build, labels=self._build)
        self.bind(key_font_size=self._style, key_color=self._style, key_background=self._style)
        self._build()

    def _build(self, *_):
        self.clear_widgets()
        rows = LAYOUTS[self.layout]
        self.cols = max(len(r) for r in rows)
        self.rows = len(rows)
        for row in rows:
            cells = list(row) + [""] * (self.cols - len(row))
            for key in cells:
                button = KeyButton(
                    text=self.labels.get(key, key.upper() if len(key) == 1 else key),
                    background_normal="",
                    background_down="",
                    disabled=not key,
                    opacity=1 if key else 0,
                )
                button.key = key
                button.bind(on_release=self._pressed, state=self._shade)
                self.add_widget(button)
        self._style()

    def _style(self, *_):
        for button in self.children:
            long = len(getattr(button, "key", "")) > 1
            button.font_size = self.key_font_size * (0.7 if long else 1)
            button.color = self.key_color
            button.background_color = self.key_background

    def _shade(self, button, state):
        button.background_color = (
            self.key_background_down if state == "down" else self.key_background
        )

    def _pressed(self, button):
        if button.key:
            self.dispatch("on_key", button.key)

    def on_key(self, key: str) -> None:
        pass


class CandidateButton(Button):
    """One candidate on the pinyin bar (``index`` on its page)."""

    index = NumericProperty(0)


class ImeKeyboard(BoxLayout):
    """The on-screen keyboard with a pinyin input method above it (ui/ime.py).

        kb = ImeKeyboard(layout="letters", chinese=True)
        kb.bind(on_key=lambda kb, text: ...)   # as OnScreenKeyboard's, and committed text:
                                               # "北京" (one or more characters) when a
                                               # candidate is chosen

    The bar above the keys: the mode key (ABC in pinyin mode, 中文 in letter mode: what a touch
    switches to), the candidates of this page (large buttons: touch one to put it in the field)
    and the page arrows. In letter mode the letters go straight to the field, as on
    OnScreenKeyboard. The digit layout has no bar.
    """

    layout = OptionProperty("letters", options=list(LAYOUTS))
    chinese = BooleanProperty(True)  # 中 (pinyin) or 英 (letters as typed)
    key_font_size = NumericProperty(32)
    key_color = ColorProperty((1, 1, 1, 1))
    key_background = ColorProperty((0.25, 0.3, 0.4, 1))
    key_background_down = ColorProperty((0.1, 0.15, 0.25, 1))
    candidate_color = ColorProperty((0.05, 0.36, 0.75, 1))
    candidate_text_color = ColorProperty((1, 1, 1, 1))
    labels = DictProperty({"delete": "删除", "clear": "清空", "space": "空格"})
    candidates_per_page = NumericProperty(6)
    bar_share = NumericProperty(0.2)  # of the keyboard's height
    composing = StringProperty("")  # the pinyin typed and not yet turned into characters

    __events__ = ("on_key",)

    def __init__(self, **kw):
        from ui.ime import PinyinIME

        super().__init__(orientation="vertical", **kw)
        self.ime = PinyinIME(page_size=int(self.candidates_per_page))
        self.bar = BoxLayout(orientation="horizontal", size_hint_y=self.bar_share)
        self.keys = OnScreenKeyboard(
            layout=self.layout,
            labels=self.labels,
            key_font_size=self.key_font_size,
            key_color=self.key_color,
            key_background=self.key_background,
            key_background_down=self.key_background_down,
        )
        self.keys.bind(on_key=lambda _kb, key: self._key(key))
        self.add_widget(self.bar)
        self.add_widget(self.keys)
        for name in ("layout", "labels", "key_font_size", "key_color", "key_background",
                     "key_background_down"):  # fmt: skip
            self.bind(**{name: self._forward})
        self.bind(spacing=self._forward)
        self.bind(chinese=self._draw_bar, candidate_color=self._draw_bar)
        self.bind(bar_share=self._draw_bar, layout=self._draw_bar)
        self.bind(candidates_per_page=self._page_size)
        self._forward()
        self._draw_bar()

    def _forward(self, *_):
        self.keys.spacing = self.spacing
        for name in ("layout", "labels", "key_font_size", "key_color", "key_background",
                     "key_background_down"):  # fmt: skip
            value = getattr(self, name)
            if getattr(self.keys, name) != value:
                setattr(self.keys, name, value)
        self.bar.spacing = self.spacing

    def _page_size(self, *_):
        self.ime.page_size = int(self.candidates_per_page)
        self.ime.page = 0
        self._draw_bar()

    # --- keys -------------------------------------------------------------------------------------

    def _key(self, key: str) -> None:
        ime = self.ime
        pinyin = self.chinese and self.layout == "letters"
        if pinyin and len(key) == 1 and key.isalpha():
            ime.type(key)
        elif key == "delete" and ime.backspace():
            pass
        elif key == "space" and ime.composing:
            text = ime.first()
            for part in [text] if not text.isascii() else list(text):
                self._commit(part)
        elif key == "clear":
            ime.clear()
            self.dispatch("on_key", key)
        else:
            self.dispatch("on_key", key)
        self._draw_bar()

    def toggle(self, *_):
        """中 ⇄ 英: pinyin still being typed goes into the field as letters."""
        if self.ime.composing:
            text = self.ime.buffer
            self.ime.clear()
            for letter in text:  # one key each: "space" typed in pinyin is not the space key
                self._commit(letter)
        self.chinese = not self.chinese

    def reset(self, chinese: bool | None = None) -> None:
        """Forget the pinyin being typed (a new resident, a new field); set the mode."""
        self.ime.clear()
        if chinese is not None:
            self.chinese = chinese
        self._draw_bar()

    def choose(self, index: int) -> None:
        self._commit(self.ime.choose(index))
        self._draw_bar()

    def _commit(self, text: str) -> None:
        if text:
            self.dispatch("on_key", text)

    def on_key(self, key: str) -> None:
        pass

    # --- the candidate bar ------------------------------------------------------------------------

    def _draw_bar(self, *_):
        bar, ime = self.bar, self.ime
        bar.clear_widgets()
        self.composing = ime.buffer
        shown = self.layout == "letters"
        bar.size_hint_y = self.bar_share if shown else None
        if not shown:
            bar.height = 0
        if not shown:
            return
        toggle = KeyButton(
            # What a touch switches to, as phone keyboards do: ABC (letters) or 中文 (pinyin).
            text="ABC" if self.chinese else "中文",
            background_normal="",
            background_down="",
            background_color=self.candidate_color,
            color=self.candidate_text_color,
            bold=True,
            size_hint_x=1.2,
        )
        toggle.key = "lang"
        toggle.bind(on_release=self.toggle, size=self._fit)
        bar.add_widget(toggle)
        # The pinyin itself is not repeated here: ``composing`` is for the field's display.
        shown = ime.page_candidates() if ime.composing else []
        for index, text in enumerate(shown):
            button = CandidateButton(
                text=text,
                index=index,
                background_normal="",
                background_down="",
                background_color=self.key_background,
                color=self.key_color,
                size_hint_x=max(1.0, 0.75 * len(text)),  # a word gets room for its characters
            )
            button.bind(on_release=lambda b: self.choose(int(b.index)), size=self._fit)
            bar.add_widget(button)
        free = int(self.candidates_per_page) - len(shown)
        if free > 0:
            bar.add_widget(Widget(size_hint_x=free))
        for key, arrow, enabled in (
            ("prev_candidates", "◀", ime.page > 0),
            ("next_candidates", "▶", ime.page + 1 < ime.pages() and ime.composing),
        ):
            button = KeyButton(
                text=arrow,
                background_normal="",
                background_down="",
                background_color=self.key_background,
                color=self.key_color,
                size_hint_x=0.8,
                disabled=not enabled,
                opacity=1 if enabled else 0.3,
            )
            button.key = key
            button.bind(on_release=self._turn, size=self._fit)
            bar.add_widget(button)
        for button in bar.children:
            self._fit(button)

    def _fit(self, button, *_):
        """As large as the keys' type, but never wider or taller than the button."""
        if not isinstance(button, Button):
            return
        chars = max(1, len(button.text))
        button.font_size = max(
            1, min(self.key_font_size * 1.1, button.width * 0.85 / chars, button.height * 0.75)
        )

    def _turn(self, button):
        if button.key == "next_candidates":
            self.ime.next_page()
        else:
            self.ime.prev_page()
        self._draw_bar()
