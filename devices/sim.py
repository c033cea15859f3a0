"""Simulators: scripted ID cards, a SAM_V reader on the far end of a pty or socket, a sim:// reader.

The SAM_V simulator speaks the real byte protocol, so the driver under test cannot tell it from a
reader on a USB-serial adapter. It also misbehaves on request (split answers, bad checksums, read
failures, silence, unplugging), which is what the tests and the technician demo need.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from devices.errors import NoCard
from devices.identity import (
    NATIONS,
    TEXT_BLOCK_LEN,
    DocumentType,
    Identity,
    Sex,
    gb11643_check_char,
)
from devices.reader import IdReader
from devices.samv import (
    CMD_FIND,
    CMD_READ,
    CMD_READ_ADDRESS,
    CMD_RESET,
    CMD_SAM_ID,
    CMD_SELECT,
    CMD_STATUS,
    SW3_EMPTY,
    SW3_FOUND,
    SW3_NO_CARD,
    SW3_OK,
    FrameParser,
    build_frame,
)

log = logging.getLogger(__name__)

_NATION_CODES = {name: code for code, name in NATIONS.items()}


def make_number(first17: str) -> str:
    """A GB 11643 number with the right check character."""
    return first17 + gb11643_check_char(first17)


def _put(block: bytearray, start: int, end: int, text: str) -> None:
    raw = text.encode("utf-16-le")
    if len(raw) > end - start:
        raise ValueError(f"{text!r} does not fit in {end - start} bytes")
    block[start : start + len(raw)] = raw


def _ymd(d: date | None) -> str:
    return "长期" if d is None else d.strftime("%Y%m%d")


def encode_text_block(identity: Identity) -> bytes:
    """The 256-byte UCS-2 LE block a real card would hold for ``identity`` (inverse of decode)."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_BLOCK_LEN // 2))
    kind = identity.document_type
    sex = identity.sex.value
    if kind is DocumentType.FOREIGN_PR_2017:
        _put(block, 0, 120, identity.name_en or "")
        _put(block, 120, 122, sex)
        _put(block, 122, 152, identity.number)
        _put(block, 152, 158, identity.nationality or "")
        _put(block, 158, 188, identity.name)
        _put(block, 220, 236, identity.birth_date.strftime("%Y%m%d"))
        _put(block, 236, 240, "01")
        _put(block, 248, 250, "I")
    else:
        _put(block, 30, 32, sex)
        _put(block, 36, 52, identity.birth_date.strftime("%Y%m%d"))
        _put(block, 122, 158, identity.number)
        if kind is DocumentType.FOREIGN_PR_2023:
            _put(block, 0, 30, identity.name)
            _put(block, 32, 36, "00")
            en = identity.name_en or ""
            _put(block, 52, 122, en[:35])
            _put(block, 220, 242, en[35:])
            _put(block, 242, 248, identity.nationality or "")
            _put(block, 248, 250, "Y")
        else:
            _put(block, 0, 30, identity.name)
            _put(block, 52, 122, identity.address or "")
            _put(block, 158, 188, identity.authority or "")
            if kind is DocumentType.HMT_PERMIT:
                _put(block, 220, 238, "H01234567")
                _put(block, 238, 242, "01")
                _put(block, 248, 250, "J")
            else:
                _put(block, 32, 36, _NATION_CODES[identity.nation or "汉"])
    _put(block, 188, 204, _ymd(identity.valid_from))
    _put(block, 204, 220, _ymd(identity.valid_to))
    return bytes(block)


# Scripted cards: made-up people whose numbers pass the check digit.
SAMPLE_CARDS: dict[str, Identity] = {
    "resident": Identity(
        document_type=DocumentType.RESIDENT_ID,
        number=make_number("11010519491231002"),
        name="张三",
        sex=Sex.FEMALE,
        nation="汉",
        birth_date=date(1949, 12, 31),
        address="北京市朝阳区东三环北路1号院2号楼3单元401号",
        authority="北京市公安局朝阳分局",
        valid_from=date(2015, 3, 1),
        valid_to=None,
    ),
    "resident_expiring": Identity(
        document_type=DocumentType.RESIDENT_ID,
        number=make_number("11010819900307251"),
        name="李四",
        sex=Sex.MALE,
        nation="蒙古",
        birth_date=date(1990, 3, 7),
        address="北京市海淀区中关村大街27号",
        authority="北京市公安局海淀分局",
        valid_from=date(2016, 5, 10),
        valid_to=date(2036, 5, 10),
    ),
    "resident_expired": Identity(
        document_type=DocumentType.RESIDENT_ID,
        number=make_number("11010119800101003"),
        name="王五",
        sex=Sex.MALE,
        nation="回",
        birth_date=date(1980, 1, 1),
        address="北京市东城区王府井大街1号",
        authority="北京市公安局东城分局",
        valid_from=date(2005, 6, 1),
        valid_to=date(2025, 6, 1),
    ),
    "hmt": Identity(
        document_type=DocumentType.HMT_PERMIT,
        number=make_number("81000019850612004"),
        name="陈大文",
        sex=Sex.FEMALE,
        nation=None,
        birth_date=date(1985, 6, 12),
        address="北京市西城区金融大街7号",
        authority="北京市公安局西城分局",
        valid_from=date(2021, 1, 4),
        valid_to=date(2031, 1, 4),
    ),
    "foreign2017": Identity(
        document_type=DocumentType.FOREIGN_PR_2017,
        number="USA110075091501",
        name="史密斯",
        name_en="SMITH, JOHN",
        sex=Sex.MALE,
        nation=None,
        nationality="USA",
        birth_date=date(1975, 9, 15),
        address=None,
        authority=None,
        valid_from=date(2018, 2, 1),
        valid_to=date(2028, 2, 1),
    ),
    "foreign2023": Identity(
        document_type=DocumentType.FOREIGN_PR_2023,
        number=make_number("93311019880304001"),
        name="玛丽",
        name_en="MARTIN, MARIE CLAIRE ELISABETH ANNE-SOPHIE",
        sex=Sex.FEMALE,
        nation=None,
        nationality="FRA",
        birth_date=date(1988, 3, 4),
        address=None,
        authority=None,
        valid_from=date(2024, 1, 2),
        valid_to=date(2034, 1, 2),
    ),
}

SAM_ID_DATA = (
    bytes([5, 0, 1, 0])
    + (20161227).to_bytes(4, "little")
    + (123456789).to_bytes(4, "little")
    + (987654321).to_bytes(4, "little")
)

# A fake WLT photo: the driver must drop it, and tests check it never surfaces.
FAKE_PHOTO = bytes(range(256)) * 4


@dataclass
class SimCard:
    """A card placed on the simulated reader: a decoded identity or a raw text block."""

    text: bytes
    card_type_ok: bool = True  # False: SW3 40 (wrong card type, e.g. a bank card)

    @classmethod
    def of(cls, identity: Identity) -> SimCard:
        return cls(encode_text_block(identity))


class SamvSimulator:
    """A SAM_V reader behind a file descriptor (a pty master, a socket's fileno).

    Faults are one-shot and queued with ``inject``: ``"bad_checksum"`` (corrupt the next answer),
    ``"silent"`` (ignore the next command), ``"read_fail"`` (SW3 41 to the next read),
    ``"select_fail"`` (81), ``"garbage"`` (noise before the next answer), ``"sam_fault"`` (60).
    ``split`` writes every answer in chunks of that many bytes. ``hang_up()`` closes the fd, which
    is what pulling a USB-serial adapter looks like from the host.
    """

    def __init__(
        self, fd: int, *, split: int = 0, hang_up: Callable[[], None] | None = None
    ) -> None:
        self.fd = fd
        self._hang_up = hang_up or (lambda: os.close(fd))
        self.split = split
        self.card: SimCard | None = None
        self.commands: list[tuple[int, int]] = []
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="samv-sim", daemon=True)
        self._parser = FrameParser()

    def start(self) -> SamvSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering; the fd stays open (its owner closes it)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def place(self, card: Identity | SimCard) -> None:
        with self._lock:
            self.card = card if isinstance(card, SimCard) else SimCard.of(card)

    def remove(self) -> None:
        with self._lock:
            self.card = None

    def inject(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    def hang_up(self) -> None:
        """Close the device side, as pulling the adapter does."""
        self.stop()
        self._hang_up()

    def _take_fault(self, name: str) -> bool:
        with self._lock:
            if name in self._faults:
                self._faults.remove(name)
                return True
            return False

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            if not data:
                return
            try:
                bodies = self._parser.feed(data)
            except Exception:  # a real reader answers SW3 10 to a frame it cannot check
                self._send(bytes([0, 0, 0x10]))
                continue
            for body in bodies:
                self._answer(body)

    def _answer(self, body: bytes) -> None:
        cmd = (body[0], body[1]) if len(body) >= 2 else (0, 0)
        self.commands.append(cmd)
        if self._take_fault("silent"):
            return
        if self._take_fault("sam_fault"):
            self._send(bytes([0, 0, 0x60]))
            return
        with self._lock:
            card = self.card
        if cmd in (CMD_RESET, CMD_STATUS):
            self._send(bytes([0, 0, SW3_OK]))
        elif cmd == CMD_SAM_ID:
            self._send(bytes([0, 0, SW3_OK]) + SAM_ID_DATA)
        elif cmd == CMD_FIND:
            if card is None:
                self._send(bytes([0, 0, SW3_NO_CARD]))
            else:
                self._send(bytes([0, 0, SW3_FOUND, 0, 0, 0, 0]))
        elif cmd == CMD_SELECT:
            if card is None or self._take_fault("select_fail"):
                self._send(bytes([0, 0, 0x81]))
            else:
                self._send(bytes([0, 0, SW3_OK]) + bytes(8))
        elif cmd == CMD_READ:
            if card is None or self._take_fault("read_fail"):
                self._send(bytes([0, 0, 0x41]))
            elif not card.card_type_ok:
                self._send(bytes([0, 0, 0x40]))
            else:
                data = (
                    len(card.text).to_bytes(2, "big")
                    + len(FAKE_PHOTO).to_bytes(2, "big")
                    + card.text
                    + FAKE_PHOTO
                )
                self._send(bytes([0, 0, SW3_OK]) + data)
        elif cmd == CMD_READ_ADDRESS:
            self._send(bytes([0, 0, SW3_EMPTY]))
        else:
            self._send(bytes([0, 0, 0x21]))

    def _send(self, body: bytes) -> None:
        frame = build_frame(body)
        if self._take_fault("bad_checksum"):
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        if self._take_fault("garbage"):
            frame = b"\x00\x13\x37\xaa" + frame
        step = self.split or len(frame)
        try:
            for i in range(0, len(frame), step):
                os.write(self.fd, frame[i : i + step])
        except OSError:
            log.debug("simulated reader: host side went away")


class ScannerSimulator:
    """A serial QR scanner behind a file descriptor (a pty master).

    Untriggered it sends each code as soon as ``scan`` is called, in ``chunk``-byte writes with
    the configured suffix. With ``triggered=True`` it behaves like a Honeywell in manual trigger
    mode: codes wait until the host sends ``SYN T CR``.
    """

    def __init__(
        self, fd: int, *, suffix: bytes = b"\r\n", chunk: int = 0, triggered: bool = False
    ) -> None:
        self.fd = fd
        self.suffix = suffix
        self.chunk = chunk
        self.triggered = triggered
        self.received = bytearray()
        self._waiting: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._got = threading.Condition()
        self._thread = threading.Thread(target=self._listen, name="scanner-sim", daemon=True)
        self._thread.start()

    def scan(self, code: str, encoding: str = "utf-8") -> None:
        data = code.encode(encoding) + self.suffix
        if self.triggered:
            with self._lock:
                self._waiting.append(data)
            return
        self._write(data)

    def _write(self, data: bytes) -> None:
        step = self.chunk or len(data)
        for i in range(0, len(data), step):
            os.write(self.fd, data[i : i + step])

    def wait_received(self, expected: bytes, timeout: float) -> bool:
        """Wait until the host has sent exactly ``expected`` so far."""
        with self._got:
            return self._got.wait_for(lambda: bytes(self.received) == expected, timeout)

    def _listen(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.fd], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.fd, 256)
            except OSError:
                return
            with self._got:
                self.received += data
                self._got.notify_all()
            if b"\x16T\r" in data:
                with self._lock:
                    pending, self._waiting = self._waiting[:1], self._waiting[1:]
                for code in pending:
                    self._write(code)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class SimReader(IdReader):
    """The ``sim://`` ID reader, in process: ``place()`` a card on it, ``remove()`` it."""

    def __init__(self, card: Identity | None = None) -> None:
        self._card = card
        self._lock = threading.Lock()

    def place(self, identity: Identity) -> None:
        with self._lock:
            self._card = identity

    def remove(self) -> None:
        with self._lock:
            self._card = None

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def card_present(self) -> bool:
        with self._lock:
            return self._card is not None

    def read_card(self) -> Identity:
        with self._lock:
            if self._card is None:
                raise NoCard("no card on the simulated reader")
            return self._card


class PtyPair:
    """A raw pty: ``master`` is the device side, ``path`` the port the host opens.

    The slave stays open here too, so the master never sees EIO before the host opens the port.
    """

    def __init__(self) -> None:
        import pty
        import tty

        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._open = {self.master, self._slave}

    def close_master(self) -> None:
        """Hang up the device side (idempotent, so an fd number is never closed twice)."""
        if self.master in self._open:
            self._open.discard(self.master)
            os.close(self.master)

    def close(self) -> None:
        for fd in list(self._open):
            self._open.discard(fd)
            os.close(fd)
