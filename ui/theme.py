"""Colours for every terminal, in one place.

The module's own names are the signage's: screens read from across a hall (5 m away), high
contrast, huge type. ``Touch`` holds the touch terminals' (kiosk, navigator): read at arm's
length in a bright hall, dark text on light panels, big blue buttons; their kv files import it
as ``C`` (``#:import C ui.theme.Touch``).

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


class Touch:
    """The kiosk's and the navigator's colours."""

    BACKGROUND = (0.94, 0.95, 0.97, 1)
    PANEL = (1, 1, 1, 1)
    HEADER = (0.04, 0.22, 0.48, 1)
    TEXT = (0.08, 0.10, 0.14, 1)
    TEXT_DIM = (0.30, 0.33, 0.40, 1)
    PRIMARY = (0.05, 0.36, 0.75, 1)
    PRIMARY_DOWN = (0.02, 0.20, 0.45, 1)
    SECONDARY = (0.86, 0.89, 0.94, 1)
    SECONDARY_DOWN = (0.70, 0.75, 0.83, 1)
    GOOD = (0.05, 0.55, 0.25, 1)
    WARN = (0.80, 0.30, 0.0, 1)
    NUMBER = (0.78, 0.08, 0.08, 1)
    ERROR = (0.75, 0.05, 0.05, 1)
    # The navigator's hall map: lit windows, dark ones, the route.
    LIT = (0.10, 0.68, 0.30, 1)
    DARK_WINDOW = (0.55, 0.58, 0.64, 1)
    ROUTE = (0.85, 0.10, 0.10, 1)
