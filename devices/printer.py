"""Ticket printers: ESC/POS via python-escpos back-ends, status by ``DLE EOT``, rendering.

A ticket counts as printed only when the printer confirmed it: status is polled before the job
(paper end, cover open, error, no answer -> typed error, nothing is sent) and after it (the same
checks; near end is only a warning). Chinese goes out either as GB18030 in ``FS &`` mode for
printers with Chinese firmware or as a raster image drawn with a CJK font for any printer; the
printer profile decides, together with the dot width and native QR support.

Opened by URL with ``devices.open.open_device("printer", url)``: ``usb://VID:PID``, ``tcp://HOST:PORT``, ``serial://<pyserial URL>?baudrate=19200``
(``serial:///dev/ttyS0``), ``file:///dev/usb/lp0``, ``sim://`` (``sim://?paper=near_end``).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# isort: off
from devices import escpos_cache  # first: it chooses where escpos keeps its parsed capabilities
from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, File, Network

# isort: on
from PIL import Image, ImageDraw, ImageFont

from devices.errors import (
    BackendMissing,
    CoverOpen,
    DeviceLost,
    DeviceUnavailable,
    PaperOut,
    PrinterError,
    PrinterFault,
    PrinterNoAnswer,
    ProtocolError,
)

escpos_cache.published()
log = logging.getLogger(__name__)

INIT = b"\x1b\x40"
CN_ON = b"\x1c\x26"  # FS &: two-byte GB codes print as Chinese
ALIGN_CENTER = b"\x1b\x61\x01"
ALIGN_LEFT = b"\x1b\x61\x00"
FEED_PAST_CUTTER = b"\x1b\x64\x04"  # ESC d 4
CUT = {"full": b"\x1d\x56\x00", "part": b"\x1d\x56\x01", "none": b""}


def size(width: int, height: int) -> bytes:
    """GS ! n for ASCII and FS ! n for Chinese (FS ! only knows double width/height)."""
    gs = bytes([0x1D, 0x21, (width - 1) << 4 | (height - 1)])
    fs = bytes([0x1C, 0x21, (0x04 if width > 1 else 0) | (0x08 if height > 1 else 0)])
    return gs + fs


@dataclass(frozen=True)
class PrinterProfile:
    """What a printer can do; never ``if model == ...`` in code."""

    name: str
    dots: int  # printable width in dots: 576 on 80 mm, 384 on 58 mm at 203 dpi
    chinese: str  # "gb18030" (FS & mode, Chinese firmware) or "raster" (any printer)
    native_qr: bool  # GS ( k
    cut: str = "full"  # "full", "part", "none"
    qr_module: int = 6  # dots per QR module
    font: str | None = None  # CJK font file for raster mode; None: look in the usual places

    @property
    def escpos_profile(self) -> str:
        """The python-escpos capability profile with the same dot width (it checks images)."""
        return {576: "NT-80-V-UL", 384: "NT-5890K", 512: "TM-T88V"}.get(self.dots, "default")


PROFILES: dict[str, PrinterProfile] = {
    p.name: p
    for p in (
        PrinterProfile("raster-80", 576, "raster", native_qr=False),
        PrinterProfile("raster-58", 384, "raster", native_qr=False, qr_module=4),
        PrinterProfile("gb18030-80", 576, "gb18030", native_qr=True, cut="part"),
        PrinterProfile("gb18030-58", 384, "gb18030", native_qr=False, qr_module=4),
    )
}
DEFAULT_PROFILE = "raster-80"

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def get_profile(name: str) -> PrinterProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown printer profile {name!r}; known: {', '.join(PROFILES)}"
        ) from None


@dataclass(frozen=True)
class Ticket:
    hall_name: str
    number: str
    service: str
    people_ahead: int
    wait_minutes: int | None
    issued_at: datetime
    qr_data: str
    note: str = ""


# A layout is the order of the ticket's parts; a cut always ends the ticket.
DEFAULT_LAYOUT: tuple[str, ...] = ("hall", "number", "service", "queue", "time", "qr", "note")


def _queue_line(ticket: Ticket) -> str:
    line = f"前面还有 {ticket.people_ahead} 人"
    if ticket.wait_minutes is not None:
        line += f"，预计等候约 {ticket.wait_minutes} 分钟"
    return line


# -- GB18030 rendering ---------------------------------------------------------------------------


def render_gb18030(
    p: Escpos, ticket: Ticket, profile: PrinterProfile, layout: Sequence[str]
) -> None:
    """Text in the printer's own Chinese font; QR native (GS ( k) or as an image."""

    def line(text: str) -> None:
        p._raw(text.encode("gb18030") + b"\n")

    p._raw(INIT + CN_ON + ALIGN_CENTER)
    for part in layout:
        if part == "hall":
            p._raw(size(2, 2))
            line(ticket.hall_name)
            p._raw(size(1, 1))
        elif part == "number":
            p._raw(size(4, 4))
            line(ticket.number)
            p._raw(size(1, 1))
        elif part == "service":
            p._raw(size(1, 2))
            line(ticket.service)
            p._raw(size(1, 1))
        elif part == "queue":
            line(_queue_line(ticket))
        elif part == "time":
            line(ticket.issued_at.strftime("%Y-%m-%d %H:%M"))
        elif part == "qr":
            if profile.native_qr:
                p.qr(ticket.qr_data, ec=QR_ECLEVEL_M, size=profile.qr_module, native=True)
                p._raw(b"\n")
            else:
                p.qr(ticket.qr_data, ec=QR_ECLEVEL_M, size=profile.qr_module, center=False)
        elif part == "note":
            if ticket.note:
                p._raw(ALIGN_LEFT)
                for note_line in ticket.note.splitlines():
                    line(note_line)
                p._raw(ALIGN_CENTER)
        else:
            raise ValueError(f"unknown ticket part {part!r}")
    p._raw(FEED_PAST_CUTTER + CUT[profile.cut])


# -- raster rendering ----------------------------------------------------------------------------


def find_cjk_font(profile: PrinterProfile) -> str:
    candidates = [profile.font] if profile.font else []
    candidates += [os.environ.get("YIKOU_CJK_FONT", ""), *FONT_CANDIDATES]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise BackendMissing(
        "no CJK font for raster tickets: install the Debian package fonts-wqy-microhei "
        "or set YIKOU_CJK_FONT to a .ttf/.ttc file"
    )


def _text_image(text: str, font: ImageFont.FreeTypeFont, width: int, *, wrap: bool) -> Image.Image:
    lines = [text]
    if wrap:
        lines = []
        for para in text.splitlines() or [""]:
            current = ""
            for ch in para:
                if font.getlength(current + ch) > width - 8 and current:
                    lines.append(current)
                    current = ch
                else:
                    current += ch
            lines.append(current)
    ascent, descent = font.getmetrics()
    line_h = ascent + descent + 4
    img = Image.new("1", (width, line_h * len(lines)), 1)
    draw = ImageDraw.Draw(img)
    for i, text_line in enumerate(lines):
        x = 4 if wrap else max(0, (width - int(font.getlength(text_line))) // 2)
        draw.text((x, i * line_h), text_line, font=font, fill=0)
    return img


def qr_image(data: str, module: int) -> Image.Image:
    import qrcode

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module, border=4
    )
    code.add_data(data)
    code.make(fit=True)
    return code.make_image().get_image().convert("1")


def render_ticket_image(
    ticket: Ticket, profile: PrinterProfile, layout: Sequence[str]
) -> Image.Image:
    """The whole ticket as one 1-bit image exactly ``profile.dots`` wide."""
    font_path = find_cjk_font(profile)
    scale = profile.dots / 576

    def font(px: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(font_path, max(12, int(px * scale)), index=0)

    width = profile.dots
    parts: list[Image.Image] = []
    for part in layout:
        if part == "hall":
            parts.append(_text_image(ticket.hall_name, font(40), width, wrap=False))
        elif part == "number":
            parts.append(_text_image(ticket.number, font(150), width, wrap=False))
        elif part == "service":
            parts.append(_text_image(ticket.service, font(40), width, wrap=False))
        elif part == "queue":
            parts.append(_text_image(_queue_line(ticket), font(28), width, wrap=False))
        elif part == "time":
            stamp = ticket.issued_at.strftime("%Y-%m-%d %H:%M")
            parts.append(_text_image(stamp, font(28), width, wrap=False))
        elif part == "qr":
            code = qr_image(ticket.qr_data, profile.qr_module)
            if code.width > width:
                raise ValueError(f"QR code is {code.width} dots wide, paper has {width}")
            row = Image.new("1", (width, code.height), 1)
            row.paste(code, ((width - code.width) // 2, 0))
            parts.append(row)
        elif part == "note":
            if ticket.note:
                parts.append(_text_image(ticket.note, font(26), width, wrap=True))
        else:
            raise ValueError(f"unknown ticket part {part!r}")
    page = Image.new("1", (width, sum(i.height for i in parts)), 1)
    y = 0
    for img in parts:
        page.paste(img, (0, y))
        y += img.height
    return page


def render_raster(
    p: Escpos, ticket: Ticket, profile: PrinterProfile, layout: Sequence[str]
) -> None:
    p._raw(INIT)
    p.image(render_ticket_image(ticket, profile, layout), impl="bitImageRaster")
    p._raw(FEED_PAST_CUTTER + CUT[profile.cut])


def render_ticket(
    p: Escpos, ticket: Ticket, profile: PrinterProfile, layout: Sequence[str] = DEFAULT_LAYOUT
) -> None:
    """Send one ticket to ``p`` in the way its profile asks."""
    if profile.chinese == "gb18030":
        render_gb18030(p, ticket, profile, layout)
    elif profile.chinese == "raster":
        render_raster(p, ticket, profile, layout)
    else:
        raise ValueError(f"profile {profile.name}: unknown Chinese mode {profile.chinese!r}")


# -- status --------------------------------------------------------------------------------------


def print_error_kind(exc: BaseException) -> str:
    """A failed print as the same words as ``PrinterStatus.problem`` (plus ``no_answer``)."""
    if isinstance(exc, PaperOut):
        return "paper_out"
    if isinstance(exc, CoverOpen):
        return "cover_open"
    if isinstance(exc, PrinterNoAnswer | TimeoutError):
        return "no_answer"
    return "fault"


@dataclass(frozen=True)
class PrinterStatus:
    """The four ``DLE EOT`` answers, decoded."""

    raw: bytes

    @property
    def offline(self) -> bool:
        return bool(self.raw[0] & 0x08)

    @property
    def cover_open(self) -> bool:
        return bool(self.raw[1] & 0x04)

    @property
    def paper_end(self) -> bool:
        return bool(self.raw[1] & 0x20) or (self.raw[3] & 0x60) == 0x60

    @property
    def error(self) -> bool:
        return bool(self.raw[1] & 0x40)

    @property
    def cutter_error(self) -> bool:
        return bool(self.raw[2] & 0x08)

    @property
    def unrecoverable(self) -> bool:
        return bool(self.raw[2] & 0x20)

    @property
    def auto_recoverable(self) -> bool:
        return bool(self.raw[2] & 0x40)

    @property
    def near_end(self) -> bool:
        return (self.raw[3] & 0x0C) == 0x0C and not self.paper_end

    @property
    def ok(self) -> bool:
        return not (self.offline or self.cover_open or self.paper_end or self.error)

    def summary(self) -> str:
        flags = [
            name
            for name in ("offline", "cover_open", "paper_end", "near_end", "error", "cutter_error")
            if getattr(self, name)
        ]
        return ", ".join(flags) or "ready"

    @property
    def problem(self) -> str | None:
        """What stops printing, as the word terminals and consoles use (None: ready)."""
        if self.cover_open:
            return "cover_open"
        if self.paper_end:
            return "paper_out"
        if self.error or self.cutter_error or self.unrecoverable or self.offline:
            return "fault"
        return None

    def raise_for_problem(self, when: str) -> None:
        if self.cover_open:
            raise CoverOpen(f"printer cover open ({when})")
        if self.paper_end:
            raise PaperOut(f"printer out of paper ({when})")
        if self.error or self.cutter_error or self.unrecoverable:
            raise PrinterFault(f"printer reports an error ({when}): {self.summary()}")
        if self.offline:
            raise PrinterFault(f"printer offline ({when})")


@dataclass(frozen=True)
class PrintResult:
    before: PrinterStatus
    after: PrinterStatus
    warnings: list[str] = field(default_factory=list)


# -- back-ends: python-escpos classes that can also read a status byte within a bound -----------


class TcpPrinter(Network):
    """``tcp://HOST:PORT`` (port 9100 by default)."""

    def read_byte(self, timeout: float) -> bytes:
        sock: socket.socket = self.device
        sock.settimeout(timeout)
        try:
            data = sock.recv(1)
        except TimeoutError:
            return b""
        finally:
            sock.settimeout(self.timeout)
        if not data:
            raise DeviceLost(f"printer {self.host}:{self.port} closed the connection")
        return data

    def drain(self) -> None:
        sock: socket.socket = self.device
        sock.setblocking(False)
        try:
            while sock.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            sock.settimeout(self.timeout)


class SerialPrinter(Escpos):
    """``serial://<pyserial URL>?baudrate=19200``: any port ``serial_for_url`` opens."""

    def __init__(self, url: str, baudrate: int = 19200, timeout: float = 5.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout

    def open(self, raise_not_found: bool = True) -> None:
        import serial

        try:
            self.device = serial.serial_for_url(
                self.url, baudrate=self.baudrate, timeout=0.1, write_timeout=self.timeout
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self.device = None
            raise DeviceNotFoundError(f"cannot open serial printer {self.url}: {exc}") from exc

    def _raw(self, msg: bytes) -> None:
        self.device.write(msg)
        self.device.flush()

    def read_byte(self, timeout: float) -> bytes:
        self.device.timeout = timeout
        return self.device.read(1)

    def drain(self) -> None:
        self.device.reset_input_buffer()

    def close(self) -> None:
        if self._device:
            self._device.close()
        self._device = False


class FilePrinter(File):
    """``file:///dev/usb/lp0``: the kernel's printer device, read back for status when it can."""

    def open(self, raise_not_found: bool = True) -> None:
        try:
            fd = os.open(self.devfile, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            self.device = None
            raise DeviceNotFoundError(f"cannot open printer device {self.devfile}: {exc}") from exc
        self.device = os.fdopen(fd, "r+b", buffering=0)

    def read_byte(self, timeout: float) -> bytes:
        fd = self.device.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(fd, 1)
        except OSError as exc:
            raise DeviceLost(f"printer device {self.devfile} went away: {exc}") from exc
        if not data:
            raise DeviceLost(f"printer device {self.devfile} went away")
        return data

    def drain(self) -> None:
        fd = self.device.fileno()
        while select.select([fd], [], [], 0)[0]:
            try:
                if not os.read(fd, 64):
                    return
            except OSError:
                return


def usb_printer_class():
    try:
        import usb.core  # noqa: F401
        from escpos.printer import Usb
    except ImportError as exc:
        raise BackendMissing(
            "usb:// printers need pyusb (pip install 'yikou[hardware]') "
            "and the Debian package libusb-1.0-0"
        ) from exc

    class UsbPrinter(Usb):
        """``usb://VID:PID``; not exercised by the tests: no USB printer on CI machines."""

        def read_byte(self, timeout: float) -> bytes:
            import usb.core

            try:
                return bytes(self.device.read(self.in_ep, 16, int(timeout * 1000))[:1])
            except usb.core.USBTimeoutError:
                return b""

        def drain(self) -> None:
            import usb.core

            try:
                self.device.read(self.in_ep, 64, 1)
            except usb.core.USBError:
                pass

    return UsbPrinter


class SimPrinter(Dummy):
    """``sim://``: records the job like Dummy and answers status from a PrinterModel."""

    def __init__(self, model=None, **kwargs) -> None:
        from devices.printer_sim import PrinterModel

        super().__init__(**kwargs)
        self.model = model if model is not None else PrinterModel()
        self._answers = bytearray()
        self.device = self.model  # "open" from the start, as python-escpos expects

    def _raw(self, msg: bytes) -> None:
        super()._raw(msg)
        self._answers += self.model.feed(msg)

    def read_byte(self, timeout: float) -> bytes:
        # In process the answer is there at once or never: no need to wait out the bound.
        if not self._answers:
            return b""
        b = bytes(self._answers[:1])
        del self._answers[:1]
        return b

    def drain(self) -> None:
        self._answers.clear()


# -- the ticket printer --------------------------------------------------------------------------


class TicketPrinter:
    """A printer plus its profile: status checks around every ticket."""

    def __init__(
        self,
        escpos: Escpos,
        profile: PrinterProfile,
        *,
        url: str = "",
        status_timeout: float = 0.5,
    ) -> None:
        self.escpos = escpos
        self.profile = profile
        self.url = url or type(escpos).__name__
        self.status_timeout = status_timeout

    def open(self) -> None:
        try:
            _ = self.escpos.device  # python-escpos opens on first use
        except DeviceNotFoundError as exc:
            raise DeviceUnavailable(f"cannot open printer {self.url}: {exc}") from exc
        if self.escpos.device is None:
            raise DeviceUnavailable(f"cannot open printer {self.url}")

    def close(self) -> None:
        try:
            self.escpos.close()
        except OSError:
            pass

    def _io(self, what: str, func, *args):
        try:
            return func(*args)
        except DeviceLost:
            self.escpos.close()
            raise
        except TimeoutError as exc:
            raise PrinterNoAnswer(f"printer {self.url} stopped taking data ({what})") from exc
        except OSError as exc:
            self.escpos.close()
            raise DeviceLost(f"printer {self.url} went away ({what}): {exc}") from exc
        except Exception as exc:
            # pyserial and pyusb raise their own classes; treat any transport failure as loss.
            if type(exc).__module__.split(".")[0] in ("serial", "usb"):
                self.escpos.close()
                raise DeviceLost(f"printer {self.url} went away ({what}): {exc}") from exc
            raise

    def status(self) -> PrinterStatus:
        """Ask ``DLE EOT 1..4``; no answer within ``status_timeout`` is PrinterNoAnswer."""
        self.open()
        answers = bytearray()
        for n in (1, 2, 3, 4):
            self._io("status", self.escpos.drain)
            self._io("status", self.escpos._raw, b"\x10\x04" + bytes([n]))
            b = self._io("status", self.escpos.read_byte, self.status_timeout)
            if not b:
                raise PrinterNoAnswer(
                    f"printer {self.url} gave no status (DLE EOT {n}) within "
                    f"{self.status_timeout} s"
                )
            if b[0] & 0x93 != 0x12:
                raise ProtocolError(f"printer {self.url}: {b[0]:02X} is not a status byte")
            answers += b
        status = PrinterStatus(bytes(answers))
        log.debug("printer %s status: %s", self.url, status.summary())
        return status

    def check(self, when: str = "before printing") -> PrinterStatus:
        """Status, raising a typed PrinterError for anything that stops a ticket."""
        status = self.status()
        status.raise_for_problem(when)
        if status.near_end:
            log.warning("printer %s: paper near end", self.url)
        return status

    def print_ticket(self, ticket: Ticket, layout: Sequence[str] = DEFAULT_LAYOUT) -> PrintResult:
        """Print one ticket; returns only when the printer confirmed it, else raises."""
        before = self.check("before printing")
        self._io("printing", render_ticket, self.escpos, ticket, self.profile, layout)
        try:
            after = self.check("after printing")
        except PrinterError as exc:
            raise type(exc)(f"{exc}; ticket {ticket.number} not confirmed") from exc
        warnings = ["paper near end"] if after.near_end else []
        log.info("printer %s: ticket %s printed", self.url, ticket.number)
        return PrintResult(before, after, warnings)


def sample_ticket(now: datetime) -> Ticket:
    """The ticket ``devices print-test`` prints."""
    return Ticket(
        hall_name="朝阳区政务服务中心",
        number="A001",
        service="社保卡办理",
        people_ahead=3,
        wait_minutes=12,
        issued_at=now,
        qr_data="https://yikou.example/t/A001?s=demo",
        note=textwrap.dedent(
            """\
            请携带：身份证原件、一寸照片
            过号请重新取号，谢谢！"""
        ),
    )
