"""A simulated ESC/POS printer: a byte-stream model that answers ``DLE EOT`` and records the job.

``PrinterModel`` is sans-I/O: ``feed(bytes)`` returns the bytes the printer would send back. It
understands the commands our tickets use, including the length-prefixed ones (``GS v 0``,
``GS ( k``, ``GS ( L``) so that a ``10 04`` inside image data is not taken for a status query,
and it rebuilds raster images so that tests can decode the printed QR code. The ``sim://``
printer and the fake TCP printer in the tests both drive this model.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from PIL import Image

log = logging.getLogger(__name__)

ESC, GS, FS, DLE, EOT, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x04, 0x0A

# Commands with a fixed number of parameter bytes after the two command bytes.
_FIXED = {
    (ESC, 0x40): 0,  # ESC @ initialise
    (ESC, 0x32): 0,  # ESC 2 default line spacing
    (ESC, 0x61): 1,  # ESC a justification
    (ESC, 0x64): 1,  # ESC d feed n lines
    (ESC, 0x21): 1,  # ESC ! print mode
    (ESC, 0x45): 1,  # ESC E bold
    (ESC, 0x2D): 1,  # ESC - underline
    (ESC, 0x33): 1,  # ESC 3 line spacing
    (ESC, 0x74): 1,  # ESC t code page
    (ESC, 0x4D): 1,  # ESC M font
    (ESC, 0x47): 1,  # ESC G double strike
    (ESC, 0x7B): 1,  # ESC { upside down
    (ESC, 0x42): 2,  # ESC B buzzer
    (FS, 0x26): 0,  # FS & Chinese mode on
    (FS, 0x2E): 0,  # FS . Chinese mode off
    (FS, 0x21): 1,  # FS ! Chinese print mode
    (FS, 0x57): 1,  # FS W quadruple Chinese
    (GS, 0x21): 1,  # GS ! character size
    (GS, 0x42): 1,  # GS B reverse
    (GS, 0x4C): 2,  # GS L left margin
    (GS, 0x57): 2,  # GS W print area width
    (GS, 0x61): 1,  # GS a ASB
}


@dataclass
class PrinterState:
    """What the printer's sensors say. ``paper_left`` counts cuts until the roll runs out."""

    paper: str = "ok"  # "ok", "near_end", "out"
    cover_open: bool = False
    error: bool = False
    cutter_error: bool = False
    answers: bool = True  # False: a printer that never answers status queries
    paper_left: int | None = None


@dataclass
class PrinterModel:
    state: PrinterState = field(default_factory=PrinterState)
    lines: list[str] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)
    qr_codes: list[bytes] = field(default_factory=list)
    cuts: int = 0
    chinese_mode: bool = False
    status_queries: int = 0

    def __post_init__(self) -> None:
        self._buf = bytearray()
        self._line = bytearray()
        self._qr_pending = b""
        self._lock = threading.Lock()

    # -- status ----------------------------------------------------------------------------------

    def status_byte(self, n: int) -> int:
        s = self.state
        paper_out = s.paper == "out"
        value = 0x12
        if n == 1 and (paper_out or s.cover_open or s.error):
            value |= 0x08
        elif n == 2:
            value |= (0x04 if s.cover_open else 0) | (0x20 if paper_out else 0)
            value |= 0x40 if (s.error or s.cutter_error) else 0
        elif n == 3:
            value |= (0x08 if s.cutter_error else 0) | (0x20 if s.error else 0)
        elif n == 4:
            value |= 0x60 if paper_out else (0x0C if s.paper == "near_end" else 0)
        return value

    # -- stream ----------------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Consume bytes from the host; return what the printer answers."""
        with self._lock:
            self._buf += data
            out = bytearray()
            while self._buf:
                used, answer = self._step()
                if used == 0:
                    break  # incomplete command: wait for more bytes
                del self._buf[:used]
                out += answer
            return bytes(out)

    def _step(self) -> tuple[int, bytes]:
        b = self._buf
        c = b[0]
        if c == DLE:
            if len(b) < 3:
                return 0, b""
            if b[1] == EOT:
                self.status_queries += 1
                if self.state.answers:
                    return 3, bytes([self.status_byte(b[2])])
                return 3, b""
            return 1, b""
        if c in (ESC, FS, GS):
            if len(b) < 2:
                return 0, b""
            key = (c, b[1])
            if key in _FIXED:
                n = 2 + _FIXED[key]
                if len(b) < n:
                    return 0, b""
                self._command(key, bytes(b[2:n]))
                return n, b""
            if c == GS and b[1] == 0x56:  # GS V m [n]: cut
                if len(b) < 3:
                    return 0, b""
                n = 4 if b[2] in (0x41, 0x42) else 3
                if len(b) < n:
                    return 0, b""
                self._cut()
                return n, b""
            if c == GS and b[1] == 0x76:  # GS v 0 m xL xH yL yH data
                if len(b) < 8:
                    return 0, b""
                width_bytes = b[4] | b[5] << 8
                height = b[6] | b[7] << 8
                n = 8 + width_bytes * height
                if len(b) < n:
                    return 0, b""
                self._raster(width_bytes, height, bytes(b[8:n]))
                return n, b""
            if c == GS and b[1] == 0x28:  # GS ( k / GS ( L pL pH ...
                if len(b) < 5:
                    return 0, b""
                n = 5 + (b[3] | b[4] << 8)
                if len(b) < n:
                    return 0, b""
                if b[2] == 0x6B:
                    self._qr(bytes(b[5:n]))
                return n, b""
            log.debug("simulated printer: unknown command %02X %02X", c, b[1])
            return 2, b""
        if c == LF:
            self._end_line()
            return 1, b""
        self._line.append(c)
        return 1, b""

    def _command(self, key: tuple[int, int], params: bytes) -> None:
        if key == (FS, 0x26):
            self.chinese_mode = True
        elif key == (FS, 0x2E):
            self.chinese_mode = False
        elif key == (ESC, 0x40):
            self._end_line()
        elif key == (ESC, 0x64):
            self._end_line()

    def _end_line(self) -> None:
        if self._line:
            encoding = "gb18030" if self.chinese_mode else "ascii"
            self.lines.append(bytes(self._line).decode(encoding, errors="replace"))
            self._line.clear()

    def _cut(self) -> None:
        self._end_line()
        self.cuts += 1
        if self.state.paper_left is not None:
            self.state.paper_left -= 1
            if self.state.paper_left <= 0:
                self.state.paper = "out"

    def _raster(self, width_bytes: int, height: int, data: bytes) -> None:
        # Raster bits: 1 = black dot. PIL mode "1" stores 1 = white, hence the inversion.
        img = Image.frombytes("1", (width_bytes * 8, height), bytes(~x & 0xFF for x in data))
        self.images.append(img)

    def _qr(self, payload: bytes) -> None:
        # payload = cn fn [m] data; store (fn 0x50) holds m=0x30 then the data.
        if len(payload) >= 3 and payload[0] == 0x31 and payload[1] == 0x50:
            self._qr_pending = payload[3:]
        elif len(payload) >= 2 and payload[0] == 0x31 and payload[1] == 0x51:
            self.qr_codes.append(self._qr_pending)

    def stacked_image(self) -> Image.Image | None:
        """Every raster image received, stacked top to bottom as the paper would show them."""
        if not self.images:
            return None
        width = max(i.width for i in self.images)
        height = sum(i.height for i in self.images)
        page = Image.new("1", (width, height), 1)
        y = 0
        for img in self.images:
            page.paste(img, (0, y))
            y += img.height
        return page
