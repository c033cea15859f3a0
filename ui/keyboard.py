"""An on-screen keyboard for touch terminals: big keys, no system keyboard, no IME.

    kb = OnScreenKeyboard(layout="letters")   # or "digits" (a phone pad with - and X)
    kb.bind(on_key=lambda kb, key: ...)       # key: one character, "delete", "clear", "space"

Keys are plain Buttons (so tests press them with a touch); ``key_font_size`` and the colours
are properties the app binds to its type scale. Importing this module imports Kivy.
"""

from __future__ import annotations

from kivy.properties import ColorProperty, DictProperty, NumericProperty, OptionProperty
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout

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
