"""devices.open: one function opens every kind by URL; the reader interface imports no back-end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devices.open import open_device
from devices.printer import TicketPrinter
from devices.scanner import SimScanner
from devices.sim import SimReader


def test_every_kind_opens_by_url():
    assert isinstance(open_device("reader", "sim://?card=hmt"), SimReader)
    assert isinstance(open_device("scanner", "sim://?codes=A001"), SimScanner)
    printer = open_device("printer", "sim://", profile="gb18030-58")
    assert isinstance(printer, TicketPrinter) and printer.profile.name == "gb18030-58"


def test_an_unknown_kind_or_scheme_is_named():
    with pytest.raises(ValueError, match="camera"):
        open_device("camera", "sim://")
    with pytest.raises(ValueError, match="unknown reader scheme"):
        open_device("reader", "usb://1:2")


def test_the_reader_interface_imports_no_back_end():
    code = (
        "import sys, devices.reader; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('devices.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["devices.errors", "devices.identity", "devices.reader"]
