"""The one ID-reader interface the kiosk sees, and opening a reader by URL.

Reader URLs: ``samv://<pyserial URL>?baudrate=115200`` (``samv:///dev/ttyUSB0``,
``samv://socket://10.0.0.5:4001``), ``pcsc://`` (first reader) or ``pcsc://<reader name>``,
``sim://`` (``sim://?card=resident``; the cards are those of ``devices.sim.SAMPLE_CARDS``).
"""

from __future__ import annotations

import abc
import threading
import time
from urllib.parse import unquote

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


def open_reader(url: str) -> IdReader:
    from devices.scanner import split_device_url

    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{url}: a reader URL needs a scheme (samv://, pcsc://, sim://)")
    if scheme == "samv":
        from devices.samv import SamvReader

        port, opts = split_device_url(rest, ("baudrate", "timeout"))
        if not port:
            raise ValueError(f"{url}: samv:// needs a serial port, e.g. samv:///dev/ttyUSB0")
        return SamvReader(
            port,
            baudrate=int(opts.get("baudrate", 115200)),
            timeout=float(opts.get("timeout", 1.0)),
        )
    if scheme == "pcsc":
        from devices.pcsc import PcscReader

        return PcscReader(unquote(rest) or None)
    if scheme == "sim":
        from devices.sim import SAMPLE_CARDS, SimReader

        _, opts = split_device_url(rest, ("card",))
        card = opts.get("card")
        if card is not None and card not in SAMPLE_CARDS:
            raise ValueError(f"{url}: unknown sample card; known: {', '.join(SAMPLE_CARDS)}")
        return SimReader(SAMPLE_CARDS[card] if card else None)
    raise ValueError(f"{url}: unknown reader scheme; use samv, pcsc or sim")
