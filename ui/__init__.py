"""Shared pieces of Yikou's Kivy apps (signage, kiosk, navigator).

    ui.fonts   find and register the Chinese font (Noto Sans CJK SC) by path lookup
    ui.theme   colours and type scale for screens read from across a hall
    ui.bridge  run an asyncio client beside a Kivy app, handing updates to the Kivy clock
    ui.text    the two-language Text type and the words the kiosk and navigator share (no Kivy)
    ui.terminal  the part of the kiosk's and the navigator's flows they share (no Kivy)
    ui.terminal_app  window setup (also signage's), running a terminal app, its main command
    ui.terminal_gui  the Kivy app behaviour the kiosk and navigator share (a mixin)
    ui.terminal_runtime  carrying out a terminal flow's effects in the background (no Kivy)

Importing ``ui`` itself imports nothing heavy; ``ui.theme`` is plain data, ``ui.fonts`` and
``ui.bridge`` import Kivy only inside the functions that need it.
"""
