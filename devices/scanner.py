"""QR/barcode scanners: serial or USB-CDC (pyserial URL), HID keyboard wedge (evdev), simulator.

Framing is apart from reading: ``CodeFramer`` splits a byte stream into codes by the configured
suffix (CR, CRLF, or none with an idle gap; time is passed in, so it is tested without waiting),
``KeyDecoder`` turns key events into codes, and ``Deduplicator`` makes repeated reads of the same
code within a short window count once (a phone held in front of a continuous-mode scanner).

Opened by URL with ``devices.open.open_device("scanner", url)``: ``serial://<pyserial URL>?suffix=crlf&baudrate=9600&trigger=honeywell``
(also ``&encoding=gb18030``; ``serial:///dev/ttyACM0``, ``serial://socket://host:port``), ``evdev:///dev/input/eventN``,
``sim://?codes=A001,B002``.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from devices.errors import BackendMissing, DeviceLost, DeviceUnavailable, ProtocolError

log = logging.getLogger(__name__)

SUFFIXES: dict[str, bytes | None] = {"cr": b"\r", "crlf": b"\r\n", "lf": b"\n", "none": None}
MAX_CODE = 4096  # longer than any QR payload; a stream without a suffix must not grow forever

# Honeywell serial trigger: SYN T CR arms, SYN U CR disarms (the scanner must be in manual mode).
TRIGGERS: dict[str, tuple[bytes, bytes]] = {"honeywell": (b"\x16T\r", b"\x16U\r")}


def _decode(raw: bytes, encoding: str) -> str:
    # No guessing between encodings: many GB18030 byte strings are also valid UTF-8.
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"scanned bytes are not {encoding}: check the scanner's setting"
        ) from exc


class CodeFramer:
    """Sans-I/O: bytes in, complete codes out."""

    def __init__(
        self, suffix: str = "crlf", idle_gap: float = 0.08, encoding: str = "utf-8"
    ) -> None:
        if suffix not in SUFFIXES:
            raise ValueError(f"suffix must be one of {', '.join(SUFFIXES)}")
        self.terminator = SUFFIXES[suffix]
        self.encoding = encoding
        self.idle_gap = idle_gap
        self._buf = bytearray()
        self._last = 0.0

    def feed(self, data: bytes, now: float) -> list[str]:
        codes: list[str] = []
        if self.terminator is None and self._buf and now - self._last >= self.idle_gap:
            codes += self.flush(now)
        self._buf += data
        self._last = now
        if self.terminator is not None:
            while True:
                i = self._buf.find(self.terminator)
                if i < 0:
                    break
                raw = bytes(self._buf[:i])
                del self._buf[: i + len(self.terminator)]
                # A scanner left on CRLF while we expect CR leaves a stray LF in front.
                raw = raw.strip(b"\r\n")
                if raw:
                    codes.append(_decode(raw, self.encoding))
        if len(self._buf) > MAX_CODE:
            self._buf.clear()
            raise ProtocolError(f"no code terminator within {MAX_CODE} bytes: check the suffix")
        return codes

    def flush(self, now: float) -> list[str]:
        """With no suffix: the pending code once the line has been idle for ``idle_gap``."""
        if self.terminator is not None or not self._buf or now - self._last < self.idle_gap:
            return []
        raw = bytes(self._buf).strip(b"\r\n")
        self._buf.clear()
        return [_decode(raw, self.encoding)] if raw else []

    @property
    def pending(self) -> bool:
        return bool(self._buf)


class Deduplicator:
    """The same code seen again within ``window`` seconds of its last sighting counts once."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._seen: dict[str, float] = {}

    def accept(self, code: str, now: float) -> bool:
        last = self._seen.get(code)
        self._seen[code] = now
        # Forget old sightings so the table stays small on a busy day.
        for old in [c for c, t in self._seen.items() if now - t > self.window]:
            del self._seen[old]
        return last is None or now - last > self.window


class SerialScanner:
    """A scanner on a serial or USB-CDC port."""

    def __init__(
        self,
        port: str,
        *,
        suffix: str = "crlf",
        baudrate: int = 9600,
        idle_gap: float = 0.08,
        trigger: str | None = None,
        dedup_window: float = 2.0,
        encoding: str = "utf-8",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if trigger is not None and trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}")
        self.port = port
        self.baudrate = baudrate
        self.trigger = trigger
        self._framer = CodeFramer(suffix, idle_gap, encoding)
        self._dedup = Deduplicator(dedup_window)
        self._clock = clock
        self._ready: deque[str] = deque()
        self._serial = None

    def open(self) -> None:
        if self._serial is not None:
            return
        import serial

        try:
            self._serial = serial.serial_for_url(
                self.port,
                baudrate=self.baudrate,
                timeout=min(0.05, self._framer.idle_gap / 2),
                write_timeout=1.0,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceUnavailable(f"cannot open scanner port {self.port}: {exc}") from exc

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except OSError:
                pass
            self._serial = None

    def _write(self, data: bytes) -> None:
        import serial

        self.open()
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise DeviceLost(f"scanner on {self.port} went away: {exc}") from exc

    def arm(self) -> None:
        """Host trigger: start a scan (only with a ``trigger``; continuous scanners need none)."""
        if self.trigger:
            self._write(TRIGGERS[self.trigger][0])

    def disarm(self) -> None:
        if self.trigger:
            self._write(TRIGGERS[self.trigger][1])

    def read_code(self, timeout: float) -> str | None:
        """The next new code, or None when none arrived within ``timeout`` seconds."""
        import serial

        self.open()
        deadline = time.monotonic() + timeout
        while True:
            while self._ready:
                code = self._ready.popleft()
                if self._dedup.accept(code, self._clock()):
                    return code
                log.debug("scanner %s: repeated code ignored", self.port)
            now = time.monotonic()
            if now >= deadline:
                return None
            try:
                chunk = self._serial.read(self._serial.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                self.close()
                raise DeviceLost(f"scanner on {self.port} went away: {exc}") from exc
            now = time.monotonic()
            if chunk:
                self._ready.extend(self._framer.feed(chunk, now))
            else:
                self._ready.extend(self._framer.flush(now))


# -- HID keyboard wedge through evdev ------------------------------------------------------------

# Linux key codes (linux/input-event-codes.h) -> (plain, shifted). Only what a code can contain.
_KEYS: dict[int, tuple[str, str]] = {}
for _row, _codes in (
    ("1234567890", range(2, 12)),
    ("qwertyuiop", range(16, 26)),
    ("asdfghjkl", range(30, 39)),
    ("zxcvbnm", range(44, 51)),
):
    for _ch, _code in zip(_row, _codes, strict=True):
        _KEYS[_code] = (
            _ch,
            _ch.upper() if _ch.isalpha() else "!@#$%^&*()"["1234567890".index(_ch)],
        )
_KEYS.update(
    {
        12: ("-", "_"),
        13: ("=", "+"),
        26: ("[", "{"),
        27: ("]", "}"),
        39: (";", ":"),
        40: ("'", '"'),
        41: ("`", "~"),
        43: ("\\", "|"),
        51: (",", "<"),
        52: (".", ">"),
        53: ("/", "?"),
        57: (" ", " "),
    }
)
KEY_ENTER, KEY_KPENTER, KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 28, 96, 42, 54
EV_KEY = 1


class KeyDecoder:
    """Sans-I/O: key events (code, value: 1 down, 0 up, 2 repeat) in, a code at Enter out."""

    def __init__(self) -> None:
        self._shift = False
        self._chars: list[str] = []

    def feed(self, code: int, value: int) -> str | None:
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            self._shift = value != 0
            return None
        if value != 1:
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            text, self._chars = "".join(self._chars), []
            return text or None
        if code in _KEYS:
            self._chars.append(_KEYS[code][1 if self._shift else 0])
        else:
            log.debug("HID scanner: key code %d ignored", code)
        return None


class EvdevScanner:
    """A keyboard-wedge scanner read through ``/dev/input/eventN``, grabbed so that the scan is
    not also typed into the kiosk UI."""

    def __init__(self, path: str, *, grab: bool = True, dedup_window: float = 2.0) -> None:
        self.path = path
        self.grab = grab
        self._device = None
        self._decoder = KeyDecoder()
        self._dedup = Deduplicator(dedup_window)

    def open(self) -> None:
        if self._device is not None:
            return
        try:
            import evdev
        except ImportError as exc:
            raise BackendMissing(
                "evdev:// scanners need python-evdev: pip install 'yikou[hardware]'"
            ) from exc
        try:
            self._device = evdev.InputDevice(self.path)
            if self.grab:
                self._device.grab()
        except OSError as exc:
            self._device = None
            raise DeviceUnavailable(f"cannot open input device {self.path}: {exc}") from exc

    def close(self) -> None:
        if self._device is not None:
            try:
                if self.grab:
                    self._device.ungrab()
            except OSError:
                pass
            self._device.close()
            self._device = None

    def read_code(self, timeout: float) -> str | None:
        self.open()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not select.select([self._device.fd], [], [], remaining)[0]:
                return None
            try:
                events = list(self._device.read())
            except OSError as exc:
                self.close()
                raise DeviceLost(f"input device {self.path} went away: {exc}") from exc
            for event in events:
                if event.type != EV_KEY:
                    continue
                code = self._decoder.feed(event.code, event.value)
                if code and self._dedup.accept(code, time.monotonic()):
                    return code

    def arm(self) -> None:
        """HID scanners cannot be triggered by the host."""

    disarm = arm


class SimScanner:
    """``sim://``: codes put in by hand (or from ``?codes=``), with the same de-duplication."""

    def __init__(self, codes: Iterable[str] = (), *, dedup_window: float = 2.0) -> None:
        self._codes: deque[str] = deque(codes)
        self._cond = threading.Condition()
        self._dedup = Deduplicator(dedup_window)

    def scan(self, code: str) -> None:
        with self._cond:
            self._codes.append(code)
            self._cond.notify_all()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def arm(self) -> None:
        pass

    disarm = arm

    def read_code(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._codes:
                    code = self._codes.popleft()
                    if self._dedup.accept(code, time.monotonic()):
                        return code
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    return None
