"""The Kivy side of Yikou's terminals (signage, kiosk, navigator): Kivy only.

    ui.fonts     find and register the Chinese font (Noto Sans CJK SC) by path lookup
    ui.theme     colours and type scale, one set for every terminal
    ui.window    Kivy's environment and window, set before Kivy is imported
    ui.bridge    run an asyncio client beside a Kivy app, handing updates to the Kivy clock
    ui.keyboard  the on-screen keyboards; ui.ime the pinyin input method
    ui.app       the Kivy app behaviour the kiosk and navigator share
    ui/terminal.kv  the widgets the kiosk's and the navigator's kv files share

What every terminal shares without Kivy (texts, flows, runtime, device health, running the app)
is in ``terminal``. ``ui`` never imports an app, and of ours imports only ``terminal``.
Importing ``ui`` itself imports nothing heavy; ``ui.theme`` is plain data, ``ui.fonts`` and
``ui.bridge`` import Kivy only inside the functions that need it.
"""
