"""Opening any device by URL, as pyserial's ``serial_for_url`` opens a port.

    open_device("reader", "samv:///dev/ttyUSB0")
    open_device("scanner", "serial:///dev/ttyACM0?suffix=cr")
    open_device("printer", "usb://0416:5011?profile=gb18030-80", status_timeout=0.5)

The kind is named because the schemes overlap (``sim://`` and ``serial://`` open readers,
scanners and printers alike). The URLs of each kind:

- reader: ``samv://<pyserial URL>?baudrate=115200`` (``samv:///dev/ttyUSB0``,
  ``samv://socket://10.0.0.5:4001``), ``pcsc://`` (first reader) or ``pcsc://<reader name>``,
  ``sim://`` (``sim://?card=resident``; the cards are those of ``devices.sim.SAMPLE_CARDS``).
- scanner: ``serial://<pyserial URL>?suffix=crlf&baudrate=9600&trigger=…&idle_gap=…&dedup=…``,
  ``evdev:///dev/input/eventN?grab=1``, ``sim://?codes=A,B``.
- printer: ``usb://VID:PID``, ``tcp://host:9100``, ``serial://<pyserial URL>?baudrate=19200``,
  ``file:///dev/usb/lp0``, ``sim://?paper=out&cover=open&error=1&silent=1``; each may carry
  ``?profile=NAME`` (or the ``profile`` option).

A back-end's library (pyserial, pyscard, pyusb, evdev, python-escpos) is imported only when a
device of its kind is opened. A URL that cannot be used raises ValueError naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    from devices.printer import TicketPrinter
    from devices.reader import IdReader
    from devices.scanner import EvdevScanner, SerialScanner, SimScanner

KINDS = ("reader", "scanner", "printer")


def open_device(kind: str, url: str, **options: Any) -> Any:
    """The device of ``kind`` ("reader", "scanner" or "printer") at ``url``, not yet opened
    (its worker opens it). ``options`` go to the kind's opener (printers: ``profile``,
    ``status_timeout``)."""
    try:
        opener = _OPENERS[kind]
    except KeyError:
        raise ValueError(f"unknown device kind {kind!r}; use {', '.join(KINDS)}") from None
    return opener(url, **options)


def split_device_url(rest: str, our_keys: Iterable[str]) -> tuple[str, dict[str, str]]:
    """Split ``<pyserial URL>?a=1&b=2`` into the pyserial URL (keeping its own query keys)
    and our options."""
    target, _, query = rest.partition("?")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    keys = set(our_keys)
    for k, v in parse_qsl(query):
        (ours.__setitem__(k, v) if k in keys else theirs.append((k, v)))
    if theirs:
        target += "?" + urlencode(theirs)
    return target, ours


def _reader(url: str) -> IdReader:
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


def _scanner(url: str) -> SerialScanner | EvdevScanner | SimScanner:
    from devices.scanner import EvdevScanner, SerialScanner, SimScanner

    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{url}: a scanner URL needs a scheme (serial://, evdev://, sim://)")
    if scheme == "serial":
        port, opts = split_device_url(
            rest, ("suffix", "baudrate", "trigger", "idle_gap", "dedup", "encoding")
        )
        return SerialScanner(
            port,
            suffix=opts.get("suffix", "crlf"),
            baudrate=int(opts.get("baudrate", 9600)),
            idle_gap=float(opts.get("idle_gap", 0.08)),
            trigger=opts.get("trigger"),
            dedup_window=float(opts.get("dedup", 2.0)),
            encoding=opts.get("encoding", "utf-8"),
        )
    if scheme == "evdev":
        path, opts = split_device_url(rest, ("grab",))
        return EvdevScanner(path, grab=opts.get("grab", "1") != "0")
    if scheme == "sim":
        _, opts = split_device_url(rest, ("codes",))
        codes = [c for c in opts.get("codes", "").split(",") if c]
        return SimScanner(codes)
    raise ValueError(f"{url}: unknown scanner scheme; use serial, evdev or sim")


def _printer(url: str, profile: str | None = None, *, status_timeout: float = 0.5) -> TicketPrinter:
    """A TicketPrinter for a printer URL; the profile may also come as ``?profile=NAME``."""
    from devices import printer as p

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prof = p.get_profile(profile or query.get("profile", p.DEFAULT_PROFILE))
    scheme = parts.scheme
    if scheme == "tcp":
        if not parts.hostname:
            raise ValueError(f"{url}: tcp:// needs a host")
        escpos = p.TcpPrinter(
            parts.hostname,
            parts.port or 9100,
            timeout=float(query.get("timeout", 5)),
            profile=prof.escpos_profile,
        )
    elif scheme == "serial":
        # Keep pyserial's own query keys on its URL (serial://socket://h:p?logging=debug).
        target, _ = split_device_url(url.partition("://")[2], ("baudrate", "profile", "timeout"))
        escpos = p.SerialPrinter(
            target, baudrate=int(query.get("baudrate", 19200)), profile=prof.escpos_profile
        )
    elif scheme == "file":
        escpos = p.FilePrinter(unquote(parts.path), profile=prof.escpos_profile)
    elif scheme == "usb":
        vid, _, pid = parts.netloc.partition(":")
        escpos = p.usb_printer_class()(int(vid, 16), int(pid, 16), profile=prof.escpos_profile)
    elif scheme == "sim":
        from devices.printer_sim import PrinterModel, PrinterState

        state = PrinterState(
            paper=query.get("paper", "ok"),
            cover_open=query.get("cover") == "open",
            error=query.get("error") == "1",
            answers=query.get("silent") != "1",
        )
        escpos = p.SimPrinter(PrinterModel(state=state), profile=prof.escpos_profile)
    else:
        raise ValueError(f"{url}: unknown printer scheme; use usb, tcp, serial, file or sim")
    return p.TicketPrinter(escpos, prof, url=url, status_timeout=status_timeout)


_OPENERS = {"reader": _reader, "scanner": _scanner, "printer": _printer}
