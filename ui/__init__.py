"""Shared pieces of Yikou's Kivy apps (signage now; kiosk and navigator later).

    ui.fonts   find and register the Chinese font (Noto Sans CJK SC) by path lookup
    ui.theme   colours and type scale for screens read from across a hall
    ui.bridge  run an asyncio client beside a Kivy app, handing updates to the Kivy clock

Importing ``ui`` itself imports nothing heavy; ``ui.theme`` is plain data, ``ui.fonts`` and
``ui.bridge`` import Kivy only inside the functions that need it.
"""
