"""Colours and type for screens read from across a hall (5 m away): high contrast, huge type.

Colours are RGBA tuples of floats, as Kivy wants them. Type sizes are fractions of the
window's shorter side, so one layout reads the same on a 55" TV and a small window display.
"""

from __future__ import annotations

BACKGROUND = (0.02, 0.05, 0.12, 1)  # near-black navy
PANEL = (0.07, 0.13, 0.26, 1)
PANEL_ALT = (0.05, 0.10, 0.21, 1)
TEXT = (1, 1, 1, 1)
TEXT_DIM = (0.78, 0.84, 0.93, 1)
ACCENT = (1.0, 0.80, 0.0, 1)  # the number residents look for: amber
CALL = (0.75, 0.05, 0.05, 1)  # the newest call's panel: deep red
FLASH = (1.0, 0.85, 0.0, 1)  # what it flashes to
FLASH_TEXT = (0.1, 0.0, 0.0, 1)
OK = (0.2, 0.8, 0.35, 1)
WARN = (1.0, 0.35, 0.2, 1)
PAUSED = (0.35, 0.35, 0.38, 1)
