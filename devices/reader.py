"""The one ID-reader interface the terminals see (``IdReader``).

The back-ends (``devices.samv``, ``devices.pcsc``, ``devices.sim``) import this module; it
imports none of them: ``devices.open.open_device("reader", url)`` picks one by URL.
"""

from __future__ import annotations

import abc
import threading
import time

from devices.errors import NoCard
from devices.identity import Identity


class IdReader(abc.ABC):
    """``card_present()`` is a cheap poll; ``read_card()`` reads the card that is there."""

    poll_interval = 0.3  # SAM_V readers are polled about every 300 ms

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def card_present(self) -> bool: ...

    @abc.abstractmethod
    def read_card(self) -> Identity: ...

    def wait_for_card(self, timeout: float, stop: threading.Event | None = None) -> Identity:
        """Poll until a card is there and read it; NoCard after ``timeout`` seconds."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        while not self.card_present():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stop.wait(min(self.poll_interval, remaining)):
                raise NoCard(f"no card within {timeout} s")
        return self.read_card()

    def wait_for_removal(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Poll until the card has been taken away; False if it is still there at ``timeout``."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        while self.card_present():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stop.wait(min(self.poll_interval, remaining)):
                return False
        return True

    def __enter__(self) -> IdReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
