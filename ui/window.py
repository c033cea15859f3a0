"""The window every terminal opens: Kivy's environment and configuration, set before Kivy is
imported anywhere (Kivy reads them once, at its import)."""

from __future__ import annotations

import os


def setup_window(
    size: tuple[int, int], fullscreen: bool, maxfps: int, *, exit_on_escape: bool
) -> None:
    """Set Kivy's environment and window before Kivy is imported anywhere."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    from kivy.config import Config

    width, height = size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "resizable", "1")
    Config.set("graphics", "maxfps", str(maxfps))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "1" if exit_on_escape else "0")
