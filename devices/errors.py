"""The one exception tree of the device layer.

Every error carries two plain instructions for the resident standing at the kiosk, one in Chinese
(``zh``) and one in English (``en``); the kiosk shows them as they are. ``str(exc)`` is the
technician's message and goes to the log. No error ever holds a clear ID number.

::

    DeviceError
    ├── BackendMissing            optional library or system package not installed
    ├── DeviceUnavailable         cannot open the device, or it went away
    │   ├── DeviceLost            unplugged / connection closed while in use
    │   └── DeviceTimeout         the device did not answer within its bound
    │       └── PrinterNoAnswer   (also a PrinterError)
    ├── ProtocolError             malformed frame or bad checksum from the device
    ├── ReaderFault               the ID reader itself is unwell (SAM faults, rejected command)
    ├── CardError                 something about the card the resident presented
    │   ├── NoCard
    │   ├── CardReadFailed        lift and re-place the card
    │   ├── UnsupportedCard       wrong card type, bank card
    │   ├── InvalidCardData       undecodable text, bad check digit
    │   └── CardExpired
    └── PrinterError
        ├── PaperOut
        ├── CoverOpen
        ├── PrinterFault          error bit, cutter error, unrecoverable error
        └── PrinterNoAnswer
"""

from __future__ import annotations

# What the resident reads whenever a device, rather than their card, is at fault.
_ASK_STAFF_ZH = "设备暂时无法使用，请到咨询台办理。"
_ASK_STAFF_EN = "This machine cannot do this right now. Please go to the information desk."


class DeviceError(Exception):
    """Base of every device error; ``zh``/``en`` are the resident-facing instructions."""

    zh: str = _ASK_STAFF_ZH
    en: str = _ASK_STAFF_EN

    def __init__(self, message: str = "", *, zh: str | None = None, en: str | None = None):
        super().__init__(message or self.__class__.__name__)
        if zh is not None:
            self.zh = zh
        if en is not None:
            self.en = en

    @property
    def instruction(self) -> str:
        """Both instructions, Chinese first, as a kiosk banner shows them."""
        return f"{self.zh} / {self.en}"


class BackendMissing(DeviceError):
    """A hardware back-end's library or system package is not installed."""


class DeviceUnavailable(DeviceError):
    """The device cannot be opened or has gone away."""


class DeviceLost(DeviceUnavailable):
    """The device disappeared while in use (unplugged, connection closed)."""


class DeviceTimeout(DeviceUnavailable):
    """The device did not answer within its time bound."""


class ProtocolError(DeviceError):
    """The device sent bytes that do not form a valid frame."""

    zh = "读取出错，请重新操作一次。"
    en = "Something went wrong while reading. Please try once more."


class ReaderFault(DeviceError):
    """The ID reader reported a fault of its own (not of the card)."""


class CardError(DeviceError):
    """Something about the presented card prevents reading it."""

    zh = "无法读取证件，请将证件取下后重新放置。"
    en = "The card could not be read. Please lift the card and place it again."


class NoCard(CardError):
    zh = "请将证件放在读卡区。"
    en = "Please place your ID card on the reader."


class CardReadFailed(CardError):
    zh = "读卡失败，请将证件取下后重新平放在读卡区。"
    en = "Reading failed. Please lift the card and lay it flat on the reader again."


class UnsupportedCard(CardError):
    zh = "本机不能读取此类卡片，请使用身份证、居住证、永久居留身份证或社保卡。"
    en = (
        "This card cannot be used here. Please use an ID card, a residence permit, "
        "a permanent residence card or a social security card."
    )


class InvalidCardData(CardError):
    zh = "证件信息无法识别，请到咨询台办理。"
    en = "The card's information could not be recognised. Please go to the information desk."


class CardExpired(CardError):
    zh = "证件已过有效期，请到咨询台办理。"
    en = "This card has expired. Please go to the information desk."


class PrinterError(DeviceError):
    """The ticket printer cannot print right now."""

    zh = "暂时无法打印号票，请到咨询台取号。"
    en = "Tickets cannot be printed right now. Please get a ticket at the information desk."


class PaperOut(PrinterError):
    """Paper end: the printer stopped or will not start."""


class CoverOpen(PrinterError):
    """The printer's cover is open."""


class PrinterFault(PrinterError):
    """The printer reports an error (cutter, head temperature, unrecoverable)."""


class PrinterNoAnswer(PrinterError, DeviceTimeout):
    """The printer did not answer a status query within its bound."""

    zh = PrinterError.zh
    en = PrinterError.en
