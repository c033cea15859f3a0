"""Ticket printing: exact bytes through python-escpos Dummy, the QR decoded back from the printed
image, and status handling against fake printers on 127.0.0.1 and on a pty."""

from __future__ import annotations

from datetime import datetime

import pytest
import zxingcpp
from escpos.printer import Dummy

from devices.errors import (
    CoverOpen,
    DeviceLost,
    DeviceUnavailable,
    PaperOut,
    PrinterError,
    PrinterFault,
    PrinterNoAnswer,
)
from devices.open import open_device
from devices.printer import (
    PROFILES,
    PrinterStatus,
    Ticket,
    print_error_kind,
    render_ticket,
    sample_ticket,
)
from devices.printer_sim import PrinterModel, PrinterState
from devices.sim import PtyPair
from harness.fake_printer import FakeFdPrinter, FakeTcpPrinter

NOW = datetime(2026, 11, 26, 9, 30)


def decode_qr(model: PrinterModel) -> list[str]:
    img = model.stacked_image()
    assert img is not None, "no raster image was printed"
    return [r.text for r in zxingcpp.read_barcodes(img.convert("L"))]


def small_ticket(**kw) -> Ticket:
    base = dict(
        hall_name="号",
        number="A001",
        service="办证",
        people_ahead=2,
        wait_minutes=8,
        issued_at=NOW,
        qr_data="A001",
    )
    return Ticket(**(base | kw))


# -- exact bytes --------------------------------------------------------------------------------


def test_gb18030_native_qr_exact_bytes():
    p = Dummy()
    render_ticket(p, small_ticket(), PROFILES["gb18030-80"], layout=("hall", "number", "qr"))
    expected = bytes.fromhex(
        "1B 40"  # ESC @
        "1C 26"  # FS & Chinese mode
        "1B 61 01"  # centre
        "1D 21 11 1C 21 0C"  # double width and height, ASCII and Chinese
        "BA C5 0A"  # 号 in GB18030, LF
        "1D 21 00 1C 21 00"
        "1D 21 33 1C 21 0C"  # quadruple ticket number
        "41 30 30 31 0A"  # A001
        "1D 21 00 1C 21 00"
        # GS ( k for "A001", model 2, module 6, EC level M: the reference's bytes
        "1D 28 6B 04 00 31 41 32 00"
        "1D 28 6B 03 00 31 43 06"
        "1D 28 6B 03 00 31 45 31"
        "1D 28 6B 07 00 31 50 30 41 30 30 31"
        "1D 28 6B 03 00 31 51 30"
        "0A"
        "1B 64 04"  # feed past the cutter
        "1D 56 01"  # partial cut (this profile)
    )
    assert p.output == expected


def test_gb18030_text_lines_and_full_width_punctuation():
    p = Dummy()
    ticket = small_ticket(hall_name="朝阳区政务服务中心", note="请携带：身份证（原件）")
    render_ticket(p, ticket, PROFILES["gb18030-80"])
    model = PrinterModel()
    model.feed(p.output)
    assert model.chinese_mode
    assert model.lines == [
        "朝阳区政务服务中心",
        "A001",
        "办证",
        "前面还有 2 人，预计等候约 8 分钟",
        "2026-11-26 09:30",
        "请携带：身份证（原件）",
    ]
    assert model.qr_codes == [b"A001"]
    assert b"?" not in p.output  # nothing fell back to a code page
    assert model.cuts == 1


@pytest.mark.parametrize("name,dots", [("raster-80", 576), ("raster-58", 384)])
def test_raster_ticket_width_and_qr_decodes(name, dots):
    p = Dummy(profile=PROFILES[name].escpos_profile)
    ticket = sample_ticket(NOW)
    render_ticket(p, ticket, PROFILES[name])
    out = p.output
    # ESC @, then GS v 0 with the width in bytes (little-endian).
    assert out.startswith(b"\x1b\x40\x1d\x76\x30\x00" + (dots // 8).to_bytes(2, "little"))
    assert out.endswith(b"\x1b\x64\x04\x1d\x56\x00")
    assert b"\x1c\x26" not in out  # no Chinese mode: the text is pixels
    model = PrinterModel()
    model.feed(out)
    assert model.stacked_image().width == dots
    assert decode_qr(model) == [ticket.qr_data]
    assert model.cuts == 1


def test_qr_as_image_where_the_profile_has_no_native_qr():
    p = Dummy(profile=PROFILES["gb18030-58"].escpos_profile)
    render_ticket(p, small_ticket(qr_data="https://yikou.example/t/B042"), PROFILES["gb18030-58"])
    assert b"\x1d\x28\x6b" not in p.output  # no GS ( k
    model = PrinterModel()
    model.feed(p.output)
    assert decode_qr(model) == ["https://yikou.example/t/B042"]
    assert "办证" in model.lines


def test_unknown_layout_part_is_refused():
    with pytest.raises(ValueError, match="barcode"):
        render_ticket(Dummy(), small_ticket(), PROFILES["raster-80"], layout=("barcode",))


# -- status decoding ----------------------------------------------------------------------------


def test_status_bits():
    idle = PrinterStatus(bytes([0x12, 0x12, 0x12, 0x12]))
    assert idle.ok and idle.summary() == "ready"
    cover = PrinterStatus(bytes([0x1A, 0x16, 0x12, 0x12]))
    assert cover.cover_open and cover.offline and not cover.paper_end
    with pytest.raises(CoverOpen):
        cover.raise_for_problem("test")
    out = PrinterStatus(bytes([0x1A, 0x32, 0x12, 0x72]))
    assert out.paper_end and not out.near_end
    with pytest.raises(PaperOut):
        out.raise_for_problem("test")
    near = PrinterStatus(bytes([0x12, 0x12, 0x12, 0x1E]))
    assert near.near_end and near.ok
    near.raise_for_problem("test")  # near end is not an error
    cutter = PrinterStatus(bytes([0x1A, 0x52, 0x1A, 0x12]))
    with pytest.raises(PrinterFault):
        cutter.raise_for_problem("test")
    # The word terminals report: the cover before the paper, the paper before a bare error.
    assert [s.problem for s in (idle, cover, out, near, cutter)] == [
        None, "cover_open", "paper_out", None, "fault"
    ]  # fmt: skip


def test_print_error_kinds():
    kinds = [PaperOut("x"), CoverOpen("x"), PrinterNoAnswer("x"), TimeoutError(), PrinterFault("x")]
    assert [print_error_kind(e) for e in kinds] == [
        "paper_out", "cover_open", "no_answer", "no_answer", "fault"
    ]  # fmt: skip


# -- a fake network printer on 127.0.0.1 --------------------------------------------------------


@pytest.fixture
def tcp_printer():
    fakes = []

    def make(state=None, profile="gb18030-80"):
        fake = FakeTcpPrinter(state)
        fakes.append(fake)
        return fake, open_device("printer", fake.url, profile=profile, status_timeout=0.3)

    yield make
    for fake in fakes:
        fake.close()


def test_ticket_printed_and_confirmed_over_tcp(tcp_printer):
    fake, printer = tcp_printer()
    result = printer.print_ticket(sample_ticket(NOW))
    assert result.before.ok and result.after.ok and result.warnings == []
    assert fake.model.cuts == 1
    assert fake.model.qr_codes == [b"https://yikou.example/t/A001?s=demo"]
    assert "社保卡办理" in fake.model.lines
    assert fake.model.status_queries == 8  # 4 before, 4 after
    printer.close()


def test_raster_ticket_over_tcp_decodes(tcp_printer):
    fake, printer = tcp_printer(profile="raster-58")
    printer.print_ticket(small_ticket(qr_data="T-0007"))
    assert decode_qr(fake.model) == ["T-0007"]
    printer.close()


@pytest.mark.parametrize(
    "state,error",
    [
        (PrinterState(paper="out"), PaperOut),
        (PrinterState(cover_open=True), CoverOpen),
        (PrinterState(error=True), PrinterFault),
        (PrinterState(cutter_error=True), PrinterFault),
    ],
)
def test_problems_before_printing_send_no_ticket(tcp_printer, state, error):
    fake, printer = tcp_printer(state)
    with pytest.raises(error) as info:
        printer.print_ticket(sample_ticket(NOW))
    assert info.value.zh and info.value.en
    assert fake.model.cuts == 0 and fake.model.lines == []
    printer.close()


def test_near_end_prints_with_a_warning(tcp_printer):
    fake, printer = tcp_printer(PrinterState(paper="near_end"))
    result = printer.print_ticket(sample_ticket(NOW))
    assert result.warnings == ["paper near end"]
    assert fake.model.cuts == 1
    printer.close()


def test_paper_running_out_during_the_ticket_is_not_confirmed(tcp_printer):
    fake, printer = tcp_printer(PrinterState(paper_left=1))
    with pytest.raises(PaperOut, match="not confirmed"):
        printer.print_ticket(sample_ticket(NOW))
    # The next ticket is refused before anything is sent.
    with pytest.raises(PaperOut):
        printer.print_ticket(sample_ticket(NOW))
    assert fake.model.cuts == 1
    printer.close()


def test_printer_that_never_answers(tcp_printer):
    fake, printer = tcp_printer(PrinterState(answers=False))
    with pytest.raises(PrinterNoAnswer) as info:
        printer.print_ticket(sample_ticket(NOW))
    assert isinstance(info.value, PrinterError)
    assert fake.model.cuts == 0
    printer.close()


def test_printer_switched_off(tcp_printer):
    fake, printer = tcp_printer()
    printer.status()
    fake.drop_connections()
    with pytest.raises(DeviceLost):
        printer.status()
    with pytest.raises(DeviceUnavailable):  # and it stays away: connection refused
        printer.status()


def test_nothing_listening_is_device_unavailable():
    fake = FakeTcpPrinter()
    url = fake.url
    fake.close()
    printer = open_device("printer", url, profile="raster-80", status_timeout=0.3)
    with pytest.raises(DeviceUnavailable):
        printer.print_ticket(sample_ticket(NOW))


# -- serial:// and file:// against a printer on a pty -------------------------------------------


@pytest.mark.parametrize("scheme", ["serial", "file"])
def test_printer_on_a_pty(scheme):
    pair = PtyPair()
    fake = FakeFdPrinter(pair.master, PrinterState(paper="near_end"))
    printer = open_device(
        "printer", f"{scheme}://{pair.path}", profile="gb18030-58", status_timeout=0.5
    )
    try:
        result = printer.print_ticket(small_ticket(qr_data="P-9"))
        assert result.warnings == ["paper near end"]
        assert fake.model.cuts == 1
        assert decode_qr(fake.model) == ["P-9"]
    finally:
        printer.close()
        fake.stop()
        pair.close()


# -- sim:// --------------------------------------------------------------------------------------


def test_sim_printer_states():
    assert open_device("printer", "sim://").print_ticket(sample_ticket(NOW)).after.ok
    with pytest.raises(PaperOut):
        open_device("printer", "sim://?paper=out").status().raise_for_problem("test")
    with pytest.raises(PrinterNoAnswer):
        open_device("printer", "sim://?silent=1").status()


def test_bad_urls():
    with pytest.raises(ValueError, match="scheme"):
        open_device("printer", "lpt://1")
    with pytest.raises(ValueError, match="profile"):
        open_device("printer", "sim://", profile="epson-9000")
