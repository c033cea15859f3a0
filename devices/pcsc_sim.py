"""A virtual smart card for pcscd's ``vpcd`` driver (Debian ``vsmartcard-vpcd``).

vpcd adds the readers "Virtual PCD 00 00"/"… 00 01" to pcscd and waits on 127.0.0.1:35963 (and
35964) for a card to connect. Every message either way is a 2-byte big-endian length and a
payload; a 1-byte payload from vpcd is a control code (0 power off, 1 power on, 2 reset, 4 send
the ATR), anything longer a command APDU answered with the response APDU. Connecting is inserting
the card, closing the connection is removing it.

The cards answer like T=0 cards do: 61xx after SELECT of the social security application (so the
host must GET RESPONSE) and 6Cxx to a READ RECORD with Le = 0 (so the host must resend with Le).
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import date

from devices.identity import Identity
from devices.pcsc import PPSE_NAME, PSE_NAME, SSSE_NAME

log = logging.getLogger(__name__)

VPCD_PORT = 35963
ATR = bytes.fromhex("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A")


def _bcd(text: str) -> bytes:
    return bytes.fromhex(text)


def social_security_files(identity: Identity, *, issued: date, expires: date) -> dict[int, dict]:
    """EF05/EF06 records (record number -> value) for a card holding ``identity``."""
    return {
        0xEF05: {
            0x01: b"110000D15600000500B8F6A1C5F1D2A3"[:16],
            0x05: _bcd(issued.strftime("%Y%m%d")),
            0x06: _bcd(expires.strftime("%Y%m%d")),
            0x07: b"A12345678",
        },
        0xEF06: {
            0x08: identity.number.encode("ascii"),
            0x09: identity.name.encode("gbk").ljust(30, b"\x00"),
            0x0A: identity.sex.value.encode("ascii"),
            0x0B: _bcd(next(code for code, name in _nations().items() if name == identity.nation)),
            0x0C: _bcd("110105"),
            0x0D: _bcd(identity.birth_date.strftime("%Y%m%d")),
        },
    }


def _nations() -> dict[str, str]:
    from devices.identity import NATIONS

    return NATIONS


class VirtualCard:
    """``kind`` is "social_security", "bank" or "other"."""

    def __init__(self, kind: str, files: dict[int, dict] | None = None) -> None:
        self.kind = kind
        self.files = files or {}
        self.apdus: list[bytes] = []
        self._selected_app = False
        self._ef: dict | None = None
        self._pending = b""

    def answer(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4 and p1 == 0x04:
            return self._select_app(body)
        if ins == 0xA4 and p1 in (0x00, 0x02) and len(body) == 2:
            fid = int.from_bytes(body, "big")
            if self._selected_app and fid in self.files:
                self._ef = self.files[fid]
                return b"\x90\x00"
            return b"\x6a\x82"
        if ins == 0xB2:
            if self._ef is None or p1 not in self._ef:
                return b"\x6a\x83"
            record = bytes([p1, len(self._ef[p1])]) + self._ef[p1]
            le = apdu[4] if len(apdu) == 5 else 0
            if le != len(record):
                return bytes([0x6C, len(record)])
            return record + b"\x90\x00"
        if ins == 0xC0:
            data, self._pending = self._pending, b""
            return data + b"\x90\x00"
        return b"\x6d\x00"

    def _select_app(self, name: bytes) -> bytes:
        if self.kind == "social_security" and name == SSSE_NAME:
            self._selected_app = True
            self._pending = bytes.fromhex("6F 0A 84 08") + SSSE_NAME[:8]
            return bytes([0x61, len(self._pending)])
        if self.kind == "bank" and name in (PSE_NAME, PPSE_NAME):
            self._pending = b""
            return bytes.fromhex("6F 10 84 0E") + name + b"\x90\x00"
        return b"\x6a\x82"


class VirtualCardConnection:
    """Inserts ``card`` into a vpcd slot by connecting to it; ``remove()`` takes it out."""

    def __init__(self, card: VirtualCard, port: int = VPCD_PORT, host: str = "127.0.0.1") -> None:
        self.card = card
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._serve, name="vicc", daemon=True)
        self._thread.start()

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("vpcd closed the connection")
            data += chunk
        return data

    def _serve(self) -> None:
        try:
            while True:
                length = int.from_bytes(self._recv_exact(2), "big")
                payload = self._recv_exact(length)
                if len(payload) == 1:
                    if payload[0] == 4:
                        self._send(ATR)
                    continue
                self._send(self.card.answer(payload))
        except (OSError, ConnectionError):
            return

    def _send(self, data: bytes) -> None:
        self.sock.sendall(len(data).to_bytes(2, "big") + data)

    def remove(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=5)
