"""PC/SC readers through pyscard: the social security card as an identity source.

Only the PIN-free files are read: EF05 (issuer data: validity) and EF06 (holder: ID number, name,
sex, nation, birth date), each record a TLV (tag = record number, length, value). A bank card is
recognised by its payment directory (PSE "1PAY.SYS.DDF01" / PPSE "2PAY.SYS.DDF01") and refused
politely without reading anything else. APDUs and layout: shared reference "devices.md" §3.

Inferences, to verify on real cards: the name is GBK padded with 00; sex is one ASCII digit (or
the binary 1/2); nation and dates are BCD.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date

from devices.errors import (
    BackendMissing,
    DeviceLost,
    DeviceUnavailable,
    InvalidCardData,
    NoCard,
    ProtocolError,
    UnsupportedCard,
)
from devices.identity import NATIONS, DocumentType, Identity, Sex, is_valid_gb11643
from devices.reader import IdReader

log = logging.getLogger(__name__)

SSSE_NAME = b"sx1.sh." + "社会保障".encode("gbk")
PSE_NAME = b"1PAY.SYS.DDF01"
PPSE_NAME = b"2PAY.SYS.DDF01"


def select_by_name(name: bytes) -> list[int]:
    return [0x00, 0xA4, 0x04, 0x00, len(name), *name]


def select_ef(fid: int) -> list[int]:
    return [0x00, 0xA4, 0x02, 0x00, 0x02, fid >> 8, fid & 0xFF]


def read_record(n: int, le: int = 0) -> list[int]:
    return [0x00, 0xB2, n, 0x04, le]


def _pyscard():
    try:
        import smartcard  # noqa: F401
        from smartcard import System
    except ImportError as exc:
        raise BackendMissing(
            "pcsc:// readers need pyscard (pip install 'yikou[hardware]'; it builds with the "
            "Debian packages libpcsclite-dev and swig) and the pcscd service"
        ) from exc
    return System


def list_readers() -> list[str]:
    System = _pyscard()
    from smartcard.Exceptions import ListReadersException
    from smartcard.pcsc.PCSCExceptions import BaseSCardException

    try:
        return [str(r) for r in System.readers()]
    except (ListReadersException, BaseSCardException) as exc:
        raise DeviceUnavailable(f"PC/SC unavailable (is pcscd running?): {exc}") from exc


def _release(connection) -> None:
    """Free a pyscard connection now; left to the GC it fails noisily once pcscd has gone."""
    try:
        connection.disconnect()
    except Exception:  # the card may already be gone
        log.debug("PC/SC disconnect failed", exc_info=True)
    try:
        connection.release()
    except Exception:
        log.debug("PC/SC release failed", exc_info=True)


def _bcd(data: bytes) -> str:
    return data.hex().upper()


def _bcd_date(data: bytes, what: str) -> date:
    text = _bcd(data)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise InvalidCardData(f"{what} is not a BCD date") from exc


def parse_tlv_record(tag: int, data: bytes) -> bytes:
    """The value of a record answered as ``tag len value``."""
    if len(data) < 2 or data[0] != tag or len(data) < 2 + data[1]:
        raise InvalidCardData(f"record {tag:02X} is not a TLV with its own tag")
    return data[2 : 2 + data[1]]


def identity_from_records(ef05: dict[int, bytes], ef06: dict[int, bytes]) -> Identity:
    """Build the identity from the TLV values of EF05 and EF06."""
    try:
        number = ef06[0x08].rstrip(b"\x00 ").decode("ascii")
        name = ef06[0x09].rstrip(b"\x00 ").decode("gbk")
        sex_raw = ef06[0x0A]
        nation_raw = ef06[0x0B]
        birth = _bcd_date(ef06[0x0D], "birth date")
    except KeyError as exc:
        raise InvalidCardData(f"social security card lacks record {exc.args[0]:02X}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidCardData("social security card text is not GBK") from exc
    if not is_valid_gb11643(number):
        raise InvalidCardData("social security number fails the GB 11643 check")
    sex_code = {b"1": "1", b"2": "2", b"\x01": "1", b"\x02": "2"}.get(sex_raw[:1], "0")
    nation = NATIONS.get(_bcd(nation_raw[:1]))
    return Identity(
        document_type=DocumentType.SOCIAL_SECURITY,
        number=number,
        name=name,
        sex=Sex(sex_code),
        nation=nation,
        birth_date=birth,
        address=None,
        authority=None,
        valid_from=_bcd_date(ef05[0x05], "issue date") if 0x05 in ef05 else None,
        valid_to=_bcd_date(ef05[0x06], "expiry date") if 0x06 in ef05 else None,
    )


class PcscReader(IdReader):
    """``pcsc://`` (the first reader) or ``pcsc://<reader name>`` (a substring is enough)."""

    poll_interval = 0.2

    def __init__(self, name: str | None = None, *, today: Callable[[], date] = date.today) -> None:
        self.name = name
        self._today = today
        self._reader = None
        self._context = None
        self._connection = None

    def open(self) -> None:
        if self._reader is not None:
            return
        _pyscard()
        from smartcard import scard
        from smartcard.System import readers

        try:
            found = readers()
        except Exception as exc:  # pyscard raises several unrelated classes here
            raise DeviceUnavailable(f"PC/SC unavailable (is pcscd running?): {exc}") from exc
        matches = [r for r in found if self.name is None or self.name in str(r)]
        if not matches:
            wanted = f"named {self.name!r}" if self.name else "at all"
            raise DeviceUnavailable(f"no PC/SC reader {wanted}; readers: {found}")
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise DeviceUnavailable(f"PC/SC: {scard.SCardGetErrorMessage(hresult)}")
        self._context = context
        self._reader = matches[0]

    def close(self) -> None:
        self._disconnect()
        if self._context is not None:
            from smartcard import scard

            scard.SCardReleaseContext(self._context)
            self._context = None
        self._reader = None

    def _disconnect(self) -> None:
        if self._connection is not None:
            _release(self._connection)
            self._connection = None

    def card_present(self) -> bool:
        """Ask pcscd for the slot's state: no APDU, so polling never disturbs a card."""
        from smartcard import scard

        self.open()
        hresult, states = scard.SCardGetStatusChange(
            self._context, 0, [(str(self._reader), scard.SCARD_STATE_UNAWARE)]
        )
        if hresult != scard.SCARD_S_SUCCESS:
            self.close()
            raise DeviceLost(f"PC/SC reader gone: {scard.SCardGetErrorMessage(hresult)}")
        state = states[0][1]
        if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            self.close()
            raise DeviceLost(f"PC/SC reader {self._reader} is unavailable")
        return bool(state & scard.SCARD_STATE_PRESENT)

    def _connect(self) -> None:
        from smartcard.Exceptions import CardConnectionException, NoCardException

        self._disconnect()
        # Right after insertion pcscd may still be powering the card ("unpowered", "reset"):
        # give it a few short tries before calling the read failed.
        pause = threading.Event()
        for attempt in range(4):
            connection = self._reader.createConnection()
            try:
                connection.connect()
            except (NoCardException, CardConnectionException) as exc:
                _release(connection)
                if attempt == 3:
                    raise NoCard(f"cannot connect to the card: {exc}") from exc
                pause.wait(0.1 * (attempt + 1))
            else:
                self._connection = connection
                return

    def _transmit_raw(self, apdu: list[int]) -> tuple[bytes, int, int]:
        data, sw1, sw2 = self._connection.transmit(apdu)
        return bytes(data), sw1, sw2

    def transmit(self, apdu: list[int]) -> tuple[bytes, int]:
        """Send an APDU, following T=0's 61xx (GET RESPONSE) and 6Cxx (wrong Le) answers."""
        from smartcard.Exceptions import CardConnectionException

        try:
            data, sw1, sw2 = self._transmit_raw(apdu)
            if sw1 == 0x6C:
                data, sw1, sw2 = self._transmit_raw(apdu[:-1] + [sw2])
            while sw1 == 0x61:
                more, sw1, sw2 = self._transmit_raw([0x00, 0xC0, 0x00, 0x00, sw2])
                data += more
        except CardConnectionException as exc:
            self._disconnect()
            raise NoCard(f"card went away during the read: {exc}") from exc
        return data, (sw1 << 8) | sw2

    def read_card(self) -> Identity:
        if not self.card_present():
            raise NoCard("no card in the PC/SC reader")
        self._connect()
        try:
            return self._read_connected()
        finally:
            self._disconnect()

    def _read_connected(self) -> Identity:
        _, sw = self.transmit(select_by_name(SSSE_NAME))
        if sw != 0x9000:
            if self._is_bank_card():
                raise UnsupportedCard(
                    "bank card presented",
                    zh="这是银行卡，本机不读取银行卡。请使用社保卡或身份证。",
                    en="This is a bank card; it is not read here. "
                    "Please use a social security card or an ID card.",
                )
            raise UnsupportedCard(f"card has no social security application (SW {sw:04X})")
        ef05 = self._read_file(0xEF05, (0x05, 0x06))
        ef06 = self._read_file(0xEF06, (0x08, 0x09, 0x0A, 0x0B, 0x0D))
        identity = identity_from_records(ef05, ef06)
        log.info("card read: %s on PC/SC reader %s", identity.document_type.value, self._reader)
        identity.check_valid(self._today())
        return identity

    def _is_bank_card(self) -> bool:
        for name in (PSE_NAME, PPSE_NAME):
            _, sw = self.transmit(select_by_name(name) + [0x00])
            if sw == 0x9000:
                return True
        return False

    def _read_file(self, fid: int, records: tuple[int, ...]) -> dict[int, bytes]:
        _, sw = self.transmit(select_ef(fid))
        if sw != 0x9000:
            raise InvalidCardData(f"cannot select EF{fid & 0xFF:02X} (SW {sw:04X})")
        values: dict[int, bytes] = {}
        for n in records:
            data, sw = self.transmit(read_record(n))
            if sw != 0x9000:
                raise ProtocolError(f"EF{fid & 0xFF:02X} record {n:02X}: SW {sw:04X}")
            values[n] = parse_tlv_record(n, data)
        return values
