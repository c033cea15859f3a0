"""What every terminal (kiosk, navigator, signage) shares, without Kivy.

    terminal.text     the two-language Text type and the words the kiosk and navigator share
    terminal.flow     catalog browsing, language, elderly mode, idle wipe (TerminalFlow)
    terminal.runtime  carrying out a flow's effects in the background
    terminal.health   device health for the hall manager: one reporter for every terminal
    terminal.devices  which URL each device comes from; opening them in their workers
    terminal.app      running a terminal app beside its client and workers; its main command
    terminal.loop     the client's loop on a thread (LoopThread), for the Kivy side (ui.bridge)
    terminal.notify   sd_notify (READY, WATCHDOG) to systemd

Nothing here imports Kivy (a test checks it); the Kivy side is ``ui``. Of ours, this package
imports ``queue_server.client``/``protocol``/``config``, ``devices`` and ``content``.
"""
