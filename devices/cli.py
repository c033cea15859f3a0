"""Technician tools: ``python main.py devices list|check|read-card|scan|print-test``.

Every failure ends with a non-zero exit status and a message saying what to do. The ID number is
masked unless ``--show-number`` is given.

The terminal configuration read by ``check`` is TOML with a ``[devices]`` table::

    [devices]
    id_reader = "samv:///dev/ttyUSB0"
    scanner = "serial:///dev/ttyACM0?suffix=crlf"
    printer = "tcp://192.168.1.50:9100"
    printer_profile = "gb18030-80"
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import tomllib
from datetime import datetime
from pathlib import Path

from devices.errors import DeviceError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    sub.add_parser("list", help="serial ports with USB ids, PC/SC readers, USB printers")

    check = sub.add_parser("check", help="open every device a terminal configuration names")
    check.add_argument("--config", required=True, type=Path, help="terminal configuration (TOML)")

    read = sub.add_parser("read-card", help="wait for an ID card and print it as JSON")
    read.add_argument("--reader", required=True, help="samv://PORT, pcsc://[NAME] or sim://")
    read.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a card")
    read.add_argument(
        "--show-number", action="store_true", help="print the full ID number (default: masked)"
    )

    scan = sub.add_parser("scan", help="print each scanned code as it arrives")
    scan.add_argument(
        "--scanner", required=True, help="serial://PORT?suffix=crlf, evdev://, sim://"
    )
    scan.add_argument("--count", type=int, default=0, help="stop after this many codes")
    scan.add_argument(
        "--timeout", type=float, default=None, help="stop after this many seconds (default: never)"
    )

    test = sub.add_parser("print-test", help="print a sample ticket and report the status")
    test.add_argument("--printer", required=True, help="usb://, tcp://, serial://, file://, sim://")
    test.add_argument("--profile", default=None, help="printer profile (default: raster-80)")


def run(args: argparse.Namespace) -> int:
    action = {
        "list": _list,
        "check": _check,
        "read-card": _read_card,
        "scan": _scan,
        "print-test": _print_test,
    }[args.devices_command]
    try:
        return action(args)
    except DeviceError as exc:
        _fail(f"{exc}\n  {exc.instruction}")
        return EXIT_FAILED
    except ValueError as exc:  # a malformed URL or option
        _fail(str(exc))
        return EXIT_USAGE


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


# -- list ----------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    print("Serial ports:")
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    for port in ports:
        ids = f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None else "no USB id"
        print(f"  {port.device}  {ids}  {port.description}")
    if not ports:
        print("  (none)")

    print("PC/SC readers:")
    for line in _pcsc_lines():
        print(f"  {line}")

    print("USB printers:")
    for line in _usb_printer_lines():
        print(f"  {line}")
    return EXIT_OK


def _pcsc_lines() -> list[str]:
    try:
        from devices.pcsc import list_readers

        names = list_readers()
    except DeviceError as exc:
        return [f"(unavailable: {exc})"]
    return names or ["(none)"]


def _usb_printer_lines() -> list[str]:
    try:
        import usb.core
    except ImportError:
        return ["(unavailable: pip install pyusb and apt install libusb-1.0-0)"]
    try:
        found = []
        for dev in usb.core.find(find_all=True):
            is_printer = any(
                intf.bInterfaceClass == 7 for cfg in dev for intf in cfg
            )  # USB class 7 = printer
            if is_printer:
                found.append(f"usb://{dev.idVendor:04x}:{dev.idProduct:04x}")
    except usb.core.NoBackendError:
        return ["(unavailable: apt install libusb-1.0-0)"]
    except usb.core.USBError as exc:
        return [f"(unavailable: {exc})"]
    return found or ["(none)"]


# -- check ---------------------------------------------------------------------------------------


def load_device_config(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    section = data.get("devices", {})
    if not isinstance(section, dict):
        raise ValueError(f"{path}: [devices] must be a table")
    return {k: str(v) for k, v in section.items()}


def _check(args: argparse.Namespace) -> int:
    from devices.open import open_device

    config = load_device_config(args.config)
    names = [k for k in ("id_reader", "scanner", "printer") if config.get(k)]
    if not names:
        _fail(f"{args.config}: [devices] names no id_reader, scanner or printer")
        return EXIT_FAILED
    failures = 0
    for key in names:
        url = config[key]
        try:
            if key == "id_reader":
                with open_device("reader", url) as reader:
                    state = "card on reader" if reader.card_present() else "ready, no card"
                    sam = getattr(reader, "read_sam_id", None)
                    if sam is not None:
                        state += f", SAM {sam()}"
            elif key == "scanner":
                scanner = open_device("scanner", url)
                scanner.open()
                scanner.close()
                state = "opened"
            else:
                printer = open_device("printer", url, profile=config.get("printer_profile"))
                try:
                    status = printer.status()
                finally:
                    printer.close()
                state = status.summary()
                if not status.ok:
                    failures += 1
            print(f"{key:10} {url}: {state}")
        except (DeviceError, ValueError) as exc:
            failures += 1
            print(f"{key:10} {url}: FAILED: {exc}")
    return EXIT_FAILED if failures else EXIT_OK


# -- read-card -----------------------------------------------------------------------------------


def _read_card(args: argparse.Namespace) -> int:
    from devices.open import open_device

    reader = open_device("reader", args.reader)
    with reader:
        print(f"waiting up to {args.timeout:g} s for a card on {args.reader} ...", file=sys.stderr)
        identity = reader.wait_for_card(args.timeout)
    print(json.dumps(identity.to_dict(show_number=args.show_number), ensure_ascii=False, indent=2))
    return EXIT_OK


# -- scan ----------------------------------------------------------------------------------------


def _scan(args: argparse.Namespace) -> int:
    from devices.open import open_device

    scanner = open_device("scanner", args.scanner)
    scanner.open()
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    seen = 0
    try:
        scanner.arm()
        while not args.count or seen < args.count:
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                break
            code = scanner.read_code(wait)
            if code is not None:
                seen += 1
                print(code, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            scanner.disarm()
        except DeviceError:
            pass
        scanner.close()
    if seen == 0:
        _fail("no code was scanned: check the scanner's interface mode and suffix setting")
        return EXIT_FAILED
    return EXIT_OK


# -- print-test ----------------------------------------------------------------------------------


def _print_test(args: argparse.Namespace) -> int:
    from devices.open import open_device
    from devices.printer import sample_ticket

    printer = open_device("printer", args.printer, profile=args.profile)
    try:
        result = printer.print_ticket(
            sample_ticket(datetime.now().replace(second=0, microsecond=0))
        )
    finally:
        printer.close()
    print(f"printed a sample ticket on {args.printer} ({printer.profile.name})")
    print(f"status before: {result.before.summary()}; after: {result.after.summary()}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    return EXIT_OK
