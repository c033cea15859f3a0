"""QR scanners: the framer fed directly (time injected), then a serial scanner on a pty."""

from __future__ import annotations

import os

import pytest

from devices.errors import DeviceLost, DeviceUnavailable, ProtocolError
from devices.open import open_device, split_device_url
from devices.scanner import (
    CodeFramer,
    Deduplicator,
    EvdevScanner,
    KeyDecoder,
    SerialScanner,
    SimScanner,
)
from devices.sim import PtyPair, ScannerSimulator

# -- framing, no I/O ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix,wire",
    [("cr", b"A001\rhttps://x.cn/t?k=1\r"), ("crlf", b"A001\r\nhttps://x.cn/t?k=1\r\n")],
)
def test_framer_splits_on_the_suffix_whatever_the_chunking(suffix, wire):
    for size in (1, 2, 3, 5, len(wire)):
        framer = CodeFramer(suffix)
        codes = []
        for i in range(0, len(wire), size):
            codes += framer.feed(wire[i : i + size], now=0.0)
        assert codes == ["A001", "https://x.cn/t?k=1"], size
        assert not framer.pending


def test_framer_keeps_a_partial_code_until_its_suffix():
    framer = CodeFramer("crlf")
    assert framer.feed(b"A0", 0.0) == []
    assert framer.feed(b"01\r", 0.01) == []  # CR alone is not CRLF
    assert framer.feed(b"\n", 0.02) == ["A001"]


def test_framer_cr_mode_tolerates_a_scanner_left_on_crlf():
    framer = CodeFramer("cr")
    assert framer.feed(b"A001\r\nB002\r\n", 0.0) == ["A001", "B002"]


def test_framer_without_suffix_ends_a_code_on_an_idle_gap():
    framer = CodeFramer("none", idle_gap=0.08)
    assert framer.feed(b"A0", 0.00) == []
    assert framer.feed(b"01", 0.03) == []  # within the gap: same code
    assert framer.flush(0.10) == []  # 70 ms idle: not yet
    assert framer.flush(0.11) == ["A001"]
    # A new burst after a gap, with no flush in between, still ends the earlier code.
    assert framer.feed(b"B00", 0.50) == []
    assert framer.feed(b"2", 0.70) == ["B00"]
    assert framer.flush(0.80) == ["2"]


def test_framer_decodes_the_configured_encoding_and_rejects_junk():
    assert CodeFramer("cr").feed("预约A001\r".encode(), 0.0) == ["预约A001"]
    gb = CodeFramer("cr", encoding="gb18030")
    assert gb.feed("预约A001\r".encode("gb18030"), 0.0) == ["预约A001"]
    with pytest.raises(ProtocolError, match="utf-8"):
        CodeFramer("cr").feed(b"\xff\xfe\r", 0.0)


def test_framer_bounds_a_stream_without_its_suffix():
    framer = CodeFramer("crlf")
    with pytest.raises(ProtocolError, match="suffix"):
        framer.feed(b"x" * 5000, 0.0)
    assert framer.feed(b"OK\r\n", 0.0) == ["OK"]


def test_deduplicator_counts_a_held_code_once():
    d = Deduplicator(window=2.0)
    assert d.accept("A", 0.0)
    assert not d.accept("A", 1.5)
    assert not d.accept("A", 3.0)  # still held: 1.5 s after the last sighting
    assert d.accept("B", 3.1)
    assert d.accept("A", 5.5)  # put away and shown again


def test_key_decoder_with_shift_and_enter():
    ecodes = pytest.importorskip("evdev").ecodes
    dec = KeyDecoder()
    keys = [
        (ecodes.KEY_LEFTSHIFT, 1),
        (ecodes.KEY_A, 1),
        (ecodes.KEY_A, 0),
        (ecodes.KEY_LEFTSHIFT, 0),
        (ecodes.KEY_0, 1),
        (ecodes.KEY_0, 0),
        (ecodes.KEY_SLASH, 1),
        (ecodes.KEY_RIGHTSHIFT, 1),
        (ecodes.KEY_SEMICOLON, 1),
        (ecodes.KEY_RIGHTSHIFT, 0),
        (ecodes.KEY_Z, 1),
        (ecodes.KEY_Z, 2),  # auto-repeat is not a second keystroke
    ]
    assert [dec.feed(c, v) for c, v in keys] == [None] * len(keys)
    assert dec.feed(ecodes.KEY_ENTER, 1) == "A0/:z"
    assert dec.feed(ecodes.KEY_ENTER, 1) is None  # empty line: nothing


def test_evdev_scanner_on_a_missing_device():
    pytest.importorskip("evdev")
    with pytest.raises(DeviceUnavailable):
        EvdevScanner("/dev/input/event-yikou-none").read_code(0.1)


def test_sim_scanner():
    s = SimScanner(["A", "A", "B"])
    assert [s.read_code(0.1), s.read_code(0.1), s.read_code(0.05)] == ["A", "B", None]


def test_url_parsing_keeps_pyserial_options():
    assert split_device_url("socket://h:1?logging=debug&suffix=cr", ["suffix"]) == (
        "socket://h:1?logging=debug",
        {"suffix": "cr"},
    )
    s = open_device("scanner", "serial:///dev/ttyACM0?suffix=cr&trigger=honeywell")
    assert isinstance(s, SerialScanner) and s.port == "/dev/ttyACM0" and s.trigger == "honeywell"
    assert isinstance(open_device("scanner", "evdev:///dev/input/event3"), EvdevScanner)
    with pytest.raises(ValueError):
        open_device("scanner", "bluetooth://x")


# -- a serial scanner on a pty ------------------------------------------------------------------


@pytest.fixture
def pty_scanner():
    made = []

    def make(suffix="crlf", wire_suffix=b"\r\n", chunk=0, triggered=False, **kw):
        pair = PtyPair()
        sim = ScannerSimulator(pair.master, suffix=wire_suffix, chunk=chunk, triggered=triggered)
        scanner = SerialScanner(pair.path, suffix=suffix, **kw)
        scanner.open()
        made.append((pair, sim, scanner))
        return pair, sim, scanner

    yield make
    for pair, sim, scanner in made:
        scanner.close()
        sim.stop()
        pair.close()


@pytest.mark.parametrize("suffix,wire", [("cr", b"\r"), ("crlf", b"\r\n")])
@pytest.mark.parametrize("chunk", [1, 3, 0])
def test_serial_scanner_each_suffix_and_chunking(pty_scanner, suffix, wire, chunk):
    _, sim, scanner = pty_scanner(suffix, wire, chunk)
    sim.scan("https://yikou.example/a/8F3K2")
    sim.scan("A001")
    assert scanner.read_code(2.0) == "https://yikou.example/a/8F3K2"
    assert scanner.read_code(2.0) == "A001"
    assert scanner.read_code(0.1) is None


def test_serial_scanner_without_suffix(pty_scanner):
    _, sim, scanner = pty_scanner("none", b"", idle_gap=0.05)
    sim.scan("A001")
    assert scanner.read_code(2.0) == "A001"
    sim.scan("B002")  # written after the first was delivered, so after an idle gap
    assert scanner.read_code(2.0) == "B002"


def test_serial_scanner_repeated_code_counts_once(pty_scanner):
    _, sim, scanner = pty_scanner(clock=lambda: 100.0)  # every read at the same instant
    for code in ("A001", "A001", "A001", "B002"):
        sim.scan(code)
    assert scanner.read_code(2.0) == "A001"
    assert scanner.read_code(2.0) == "B002"
    assert scanner.read_code(0.1) is None


def test_serial_scanner_host_trigger(pty_scanner):
    _, sim, scanner = pty_scanner(triggered=True, trigger="honeywell")
    sim.scan("APPT-42")
    assert scanner.read_code(0.1) is None  # not armed: the scanner stays quiet
    scanner.arm()
    assert scanner.read_code(2.0) == "APPT-42"
    scanner.disarm()
    assert sim.wait_received(b"\x16T\r\x16U\r", timeout=2.0)


def test_serial_scanner_unplugged(pty_scanner):
    pair, sim, scanner = pty_scanner()
    sim.stop()
    pair.close_master()
    with pytest.raises(DeviceLost):
        scanner.read_code(1.0)


def test_serial_scanner_missing_port():
    with pytest.raises(DeviceUnavailable):
        SerialScanner("/dev/ttyYIKOU-none").read_code(0.1)


def test_scanner_over_loop_url():
    # pyserial's loop:// echoes writes back: a scanner-free check of the URL path.
    scanner = open_device("scanner", "serial://loop://?suffix=cr")
    scanner.open()
    try:
        scanner._serial.write(b"LOOP1\r")
        assert scanner.read_code(1.0) == "LOOP1"
    finally:
        scanner.close()


@pytest.mark.skipif(
    not os.access("/dev/uinput", os.W_OK),
    reason="needs /dev/uinput to create a virtual keyboard (absent in this container)",
)
def test_evdev_scanner_reads_a_virtual_keyboard_and_grabs_it():
    evdev = pytest.importorskip("evdev")
    e = evdev.ecodes
    keyboard = evdev.UInput({e.EV_KEY: [e.KEY_A, e.KEY_1, e.KEY_LEFTSHIFT, e.KEY_ENTER]})
    scanner = EvdevScanner(keyboard.device.path)
    try:
        scanner.open()
        for code, value in [
            (e.KEY_LEFTSHIFT, 1),
            (e.KEY_A, 1),
            (e.KEY_A, 0),
            (e.KEY_LEFTSHIFT, 0),
            (e.KEY_1, 1),
            (e.KEY_1, 0),
            (e.KEY_ENTER, 1),
        ]:
            keyboard.write(e.EV_KEY, code, value)
            keyboard.syn()
        assert scanner.read_code(5.0) == "A1"
    finally:
        scanner.close()
        keyboard.close()
