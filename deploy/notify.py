"""sd_notify lives in ``terminal.notify`` (the running terminals use it); kept importable here
for installation scripts written against the old name."""

from terminal.notify import Notifier

__all__ = ["Notifier"]
