"""SAM_V ID-card readers over serial or USB-CDC (any pyserial URL).

Framing is kept apart from reading: ``FrameParser`` turns a byte stream into frames by the length
field and checks the XOR checksum, and is tested by feeding it bytes; ``SamvReader`` only moves
bytes through a pyserial port and runs the find -> select -> read sequence.

Frame: ``AA AA AA 96 69 | Len1 Len2 | body | CHK`` where Len counts body + CHK and CHK is the XOR
of Len1..last body byte. Host body = CMD Para Data; reader body = SW1 SW2 SW3 Data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from devices.errors import (
    BackendMissing,
    CardReadFailed,
    DeviceError,
    DeviceLost,
    DeviceTimeout,
    DeviceUnavailable,
    InvalidCardData,
    NoCard,
    ProtocolError,
    ReaderFault,
    UnsupportedCard,
)
from devices.identity import TEXT_BLOCK_LEN, Identity, decode_text_block
from devices.reader import IdReader

log = logging.getLogger(__name__)

try:  # a pty whose far end closed fails tcflush with termios.error, not OSError
    import termios

    _TERMIOS_ERRORS: tuple[type[Exception], ...] = (termios.error,)
except ImportError:  # pragma: no cover - not POSIX
    _TERMIOS_ERRORS = ()

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_LEN = 4096  # the longest real answer (text+photo+fingerprint) is 2314

CMD_RESET = (0x10, 0xFF)
CMD_STATUS = (0x11, 0xFF)
CMD_SAM_ID = (0x12, 0xFF)
CMD_FIND = (0x20, 0x01)
CMD_SELECT = (0x20, 0x02)
CMD_READ = (0x30, 0x01)
CMD_READ_ADDRESS = (0x30, 0x03)

SW3_OK = 0x90
SW3_FOUND = 0x9F
SW3_EMPTY = 0x91
SW3_NO_CARD = 0x80


def _xor(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def build_frame(body: bytes) -> bytes:
    """A complete frame around ``body`` (CMD Para Data, or SW1 SW2 SW3 Data)."""
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([_xor(length + body)])


def command(cmd: tuple[int, int], data: bytes = b"") -> bytes:
    return build_frame(bytes(cmd) + data)


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes


def parse_response_body(body: bytes) -> Response:
    if len(body) < 3:
        raise ProtocolError(f"response body of {len(body)} bytes has no SW1 SW2 SW3")
    return Response(body[0], body[1], body[2], body[3:])


class FrameParser:
    """Sans-I/O: ``feed(bytes)`` returns the bodies of every complete, checked frame.

    Bytes before a preamble are skipped. A frame whose checksum or length is wrong is dropped and
    reported by raising ProtocolError after the buffer has moved past it, so the next feed resumes
    cleanly.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                # Keep a possible partial preamble at the tail.
                del self._buf[: max(0, len(self._buf) - (len(PREAMBLE) - 1))]
                return frames
            if start:
                log.debug("skipping %d bytes of garbage before a preamble", start)
                del self._buf[:start]
            if len(self._buf) < 7:
                return frames
            length = int.from_bytes(self._buf[5:7], "big")
            if length < 1 or length > MAX_LEN:
                del self._buf[:1]  # resynchronise on the next preamble
                raise ProtocolError(f"frame length {length} out of range")
            if len(self._buf) < 7 + length:
                return frames
            frame = bytes(self._buf[: 7 + length])
            del self._buf[: 7 + length]
            if _xor(frame[5:-1]) != frame[-1]:
                raise ProtocolError(
                    f"bad checksum: got {frame[-1]:02X}, computed {_xor(frame[5:-1]):02X}"
                )
            frames.append(frame[7:-1])

    @property
    def pending(self) -> int:
        return len(self._buf)


# SW3 -> (error class, technician's description). 90 and 9F are successes; 80 and 91 are
# errors only where the caller did not expect them (no card to find, an empty item).
_SW3_ERRORS: dict[int, tuple[type[DeviceError], str]] = {
    0x10: (ReaderFault, "reader rejected our frame: checksum error"),
    0x11: (ReaderFault, "reader rejected our frame: length error"),
    0x21: (ReaderFault, "reader rejected our frame: command error"),
    0x23: (ReaderFault, "unauthorised operation"),
    0x24: (ReaderFault, "unrecognised error"),
    0x31: (CardReadFailed, "card failed to authenticate the SAM"),
    0x32: (CardReadFailed, "SAM failed to authenticate the card"),
    0x33: (CardReadFailed, "information check error"),
    0x40: (UnsupportedCard, "wrong card type"),
    0x41: (CardReadFailed, "reading the card failed"),
    0x47: (CardReadFailed, "getting a random number failed"),
    0x60: (ReaderFault, "SAM self-test failed"),
    0x66: (ReaderFault, "SAM not authorised"),
    0x80: (NoCard, "no card found"),
    0x81: (CardReadFailed, "select card failed"),
    0x91: (InvalidCardData, "this item is empty on the card"),
}


def error_for_sw3(sw3: int, step: str) -> DeviceError:
    cls, what = _SW3_ERRORS.get(sw3, (ReaderFault, "unknown status"))
    return cls(f"SAM_V {step}: SW3={sw3:02X} ({what})")


def format_sam_id(data: bytes) -> str:
    """The SAM module's serial, as HslCommunication prints it (data starts at frame byte 10)."""
    if len(data) < 16:
        raise ProtocolError(f"SAM id answer has {len(data)} data bytes, expected 16")
    le = int.from_bytes
    return (
        f"{data[0]:02d}.{data[2]:02d}-{le(data[4:8], 'little')}-"
        f"{le(data[8:12], 'little'):09d}-{le(data[12:16], 'little'):09d}"
    )


def _open_serial(url: str, baudrate: int):
    try:
        import serial
    except ImportError as exc:  # pragma: no cover - pyserial is a core dependency
        raise BackendMissing("pyserial is not installed: pip install pyserial") from exc
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=1.0)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceUnavailable(f"cannot open serial port {url}: {exc}") from exc


class SamvReader(IdReader):
    """An ID reader speaking SAM_V on a serial port (``/dev/ttyUSB0``, ``socket://…``, ...).

    ``read_card()`` returns an Identity or raises: NoCard when nothing is on the reader, a
    CardError the resident can act on, or a DeviceError the technician must.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        timeout: float = 1.0,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self._today = today
        self._serial = None
        self._parser = FrameParser()
        self._lock = threading.Lock()
        self.sam_id: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        if self._serial is None:
            self._serial = _open_serial(self.port, self.baudrate)
            self._parser = FrameParser()

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except OSError:
                pass
            self._serial = None

    def __enter__(self) -> SamvReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------------

    def transact(self, cmd: tuple[int, int], data: bytes = b"") -> Response:
        """Send one command and return the reader's answer, framed by its length field."""
        import serial

        with self._lock:
            self.open()
            port = self._serial
            try:
                port.reset_input_buffer()  # a late answer to an earlier command is stale
                port.write(command(cmd, data))
                deadline = time.monotonic() + self.timeout
                while True:
                    chunk = port.read(port.in_waiting or 1)
                    if chunk:
                        bodies = self._parser.feed(chunk)
                        if bodies:
                            return parse_response_body(bodies[0])
                    elif time.monotonic() >= deadline:
                        raise DeviceTimeout(
                            f"SAM_V reader on {self.port} gave no complete answer to "
                            f"{cmd[0]:02X} {cmd[1]:02X} within {self.timeout} s"
                        )
            except ProtocolError:
                self._parser = FrameParser()
                raise
            except (serial.SerialException, OSError, *_TERMIOS_ERRORS) as exc:
                self.close()
                raise DeviceLost(f"SAM_V reader on {self.port} went away: {exc}") from exc

    # -- commands --------------------------------------------------------------------------------

    def check_status(self) -> None:
        resp = self.transact(CMD_STATUS)
        if resp.sw3 != SW3_OK:
            raise error_for_sw3(resp.sw3, "status check")

    def read_sam_id(self) -> str:
        resp = self.transact(CMD_SAM_ID)
        if resp.sw3 != SW3_OK:
            raise error_for_sw3(resp.sw3, "read SAM id")
        self.sam_id = format_sam_id(resp.data)
        return self.sam_id

    def card_present(self) -> bool:
        """One find-card poll: True when a card answers (9F), False on the idle 80."""
        resp = self.transact(CMD_FIND)
        if resp.sw3 == SW3_FOUND:
            return True
        if resp.sw3 == SW3_NO_CARD:
            return False
        raise error_for_sw3(resp.sw3, "find card")

    def read_card(self) -> Identity:
        """find -> select -> read (30 01); the photo is dropped here and never stored."""
        if not self.card_present():
            raise NoCard("no card on the reader")
        resp = self.transact(CMD_SELECT)
        if resp.sw3 != SW3_OK:
            raise error_for_sw3(resp.sw3, "select card")
        resp = self.transact(CMD_READ)
        if resp.sw3 != SW3_OK:
            raise error_for_sw3(resp.sw3, "read card")
        text = _text_block(resp.data)
        identity = decode_text_block(text)
        log.info(
            "card read: %s on SAM %s",
            identity.document_type.value,
            self.sam_id or "(id not read)",
        )
        identity.check_valid(self._today())
        return identity

    def poll(self) -> Identity | None:
        """A card's identity if one is on the reader now, None if none is."""
        try:
            return self.read_card()
        except NoCard:
            return None


def _text_block(data: bytes) -> bytes:
    """The 256-byte text block out of a 30 01 answer; photo bytes are never copied out."""
    if len(data) < 4:
        raise ProtocolError("read answer too short for its length fields")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if text_len != TEXT_BLOCK_LEN or len(data) != 4 + text_len + photo_len:
        raise ProtocolError(
            f"read answer lengths disagree: text {text_len}, photo {photo_len}, data {len(data)}"
        )
    return data[4 : 4 + text_len]
