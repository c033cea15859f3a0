"""Shared pieces of Yikou's Kivy apps (signage now; kiosk and navigator later).

    ui.fonts   find and register the Chinese font (Noto Sans CJK SC) by path lookup
    ui.theme   colours and type scale for screens read from across a hall
    ui.bridge  run an asyncio client beside a Kivy app, handing updates to the Kivy clock
    ui.display start and stop a virtual X display (Xvfb) for tests, screenshots and benchmarks

Importing ``ui`` itself imports nothing heavy; ``ui.fonts`` and ``ui.theme`` need no Kivy
window, ``ui.bridge`` imports Kivy.
"""
