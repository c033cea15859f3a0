"""The SAM_V driver byte for byte: the parser fed directly, then the reader against a simulated
reader on the other end of a pty."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import (
    CardExpired,
    CardReadFailed,
    DeviceLost,
    DeviceTimeout,
    DeviceUnavailable,
    InvalidCardData,
    NoCard,
    ProtocolError,
    ReaderFault,
    UnsupportedCard,
)
from devices.samv import (
    CMD_FIND,
    CMD_READ,
    CMD_SELECT,
    FrameParser,
    SamvReader,
    build_frame,
    command,
    error_for_sw3,
    format_sam_id,
)
from devices.sim import SAM_ID_DATA, SAMPLE_CARDS, PtyPair, SamvSimulator, SimCard

TODAY = date(2026, 11, 26)

# Complete frames printed by the sources in the reference (see devices.md §1).
KNOWN_COMMANDS = {
    (0x10, 0xFF): "AA AA AA 96 69 00 03 10 FF EC",
    (0x11, 0xFF): "AA AA AA 96 69 00 03 11 FF ED",
    (0x12, 0xFF): "AA AA AA 96 69 00 03 12 FF EE",
    (0x20, 0x01): "AA AA AA 96 69 00 03 20 01 22",
    (0x20, 0x02): "AA AA AA 96 69 00 03 20 02 21",
    (0x30, 0x01): "AA AA AA 96 69 00 03 30 01 32",
    (0x30, 0x03): "AA AA AA 96 69 00 03 30 03 30",
    (0x30, 0x10): "AA AA AA 96 69 00 03 30 10 23",
    (0x60, 0x00): "AA AA AA 96 69 00 03 60 00 63",
}


@pytest.mark.parametrize("cmd,hex_frame", sorted(KNOWN_COMMANDS.items()))
def test_command_frames_match_the_protocol_document(cmd, hex_frame):
    assert command(cmd) == bytes.fromhex(hex_frame)


def test_parser_reads_documented_answers():
    find_ok = bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    select_ok = bytes.fromhex("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C")
    no_card = bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84")
    parser = FrameParser()
    bodies = parser.feed(find_ok + select_ok + no_card)
    assert [b[2] for b in bodies] == [0x9F, 0x90, 0x80]
    assert bodies[1][3:] == bytes(8)
    assert parser.pending == 0


def test_parser_reassembles_a_read_answer_fed_one_byte_at_a_time():
    body = bytes([0, 0, 0x90]) + b"\x01\x00\x04\x00" + bytes(256) + bytes(1024)
    frame = build_frame(body)
    assert len(frame) == 1295 and frame[5:7] == b"\x05\x08"
    parser = FrameParser()
    out = []
    for i in range(len(frame)):
        out += parser.feed(frame[i : i + 1])
        if i < len(frame) - 1:
            assert out == []
    assert out == [body]


def test_parser_skips_garbage_and_drops_a_frame_with_a_bad_checksum():
    good = build_frame(b"\x00\x00\x80")
    bad = good[:-1] + bytes([good[-1] ^ 1])
    parser = FrameParser()
    with pytest.raises(ProtocolError, match="checksum"):
        parser.feed(b"\x13\x37" + bad)
    # The bad frame is gone; the parser resumes on the next one.
    assert parser.feed(good) == [b"\x00\x00\x80"]


def test_parser_rejects_an_absurd_length_and_resynchronises():
    parser = FrameParser()
    with pytest.raises(ProtocolError, match="length"):
        parser.feed(b"\xaa\xaa\xaa\x96\x69\xff\xff")
    assert parser.feed(build_frame(b"\x00\x00\x90")) == [b"\x00\x00\x90"]


def test_every_sw3_maps_to_a_typed_error_with_instructions():
    expected = {
        0x10: ReaderFault,
        0x11: ReaderFault,
        0x21: ReaderFault,
        0x23: ReaderFault,
        0x24: ReaderFault,
        0x31: CardReadFailed,
        0x32: CardReadFailed,
        0x33: CardReadFailed,
        0x40: UnsupportedCard,
        0x41: CardReadFailed,
        0x47: CardReadFailed,
        0x60: ReaderFault,
        0x66: ReaderFault,
        0x80: NoCard,
        0x81: CardReadFailed,
        0x91: InvalidCardData,
        0x55: ReaderFault,  # undocumented
    }
    for sw3, cls in expected.items():
        err = error_for_sw3(sw3, "test")
        assert type(err) is cls, hex(sw3)
        assert f"{sw3:02X}" in str(err)
        assert err.zh and err.en
    assert "重新" in error_for_sw3(0x41, "read").zh  # lift and re-place the card


def test_sam_id_format():
    assert format_sam_id(SAM_ID_DATA) == "05.01-20161227-123456789-987654321"


# -- against a simulated reader on a pty ---------------------------------------------------------


@pytest.fixture
def rig():
    pair = PtyPair()
    sim = SamvSimulator(pair.master, split=0, hang_up=pair.close_master).start()
    reader = SamvReader(pair.path, timeout=0.5, today=lambda: TODAY)
    yield sim, reader
    reader.close()
    sim.stop()
    pair.close()


def test_no_card_is_the_idle_answer(rig):
    sim, reader = rig
    assert reader.card_present() is False
    assert reader.poll() is None
    with pytest.raises(NoCard):
        reader.read_card()


@pytest.mark.parametrize(
    "key", ["resident", "resident_expiring", "hmt", "foreign2017", "foreign2023"]
)
def test_reads_every_card_type(rig, key):
    sim, reader = rig
    sim.place(SAMPLE_CARDS[key])
    assert reader.read_sam_id() == "05.01-20161227-123456789-987654321"
    ident = reader.read_card()
    assert ident == SAMPLE_CARDS[key]
    assert sim.commands[-3:] == [CMD_FIND, CMD_SELECT, CMD_READ]


def test_the_clear_number_never_reaches_the_log(rig, caplog):
    sim, reader = rig
    caplog.set_level("DEBUG")
    for key in ("resident", "foreign2017", "resident_expired"):
        sim.place(SAMPLE_CARDS[key])
        try:
            reader.read_card()
        except CardExpired as exc:
            assert SAMPLE_CARDS[key].number not in str(exc)
        assert SAMPLE_CARDS[key].number not in caplog.text
    assert "card read: resident_id" in caplog.text


def test_photo_is_not_kept(rig):
    sim, reader = rig
    sim.place(SAMPLE_CARDS["resident"])
    ident = reader.read_card()
    # Nothing in the identity holds photo bytes.
    for value in vars(ident).values():
        assert not isinstance(value, bytes | bytearray)


def test_split_answers_are_reassembled():
    pair = PtyPair()
    sim = SamvSimulator(pair.master, split=7).start()
    reader = SamvReader(pair.path, timeout=0.5, today=lambda: TODAY)
    try:
        sim.place(SAMPLE_CARDS["foreign2023"])
        assert reader.read_card() == SAMPLE_CARDS["foreign2023"]
    finally:
        reader.close()
        sim.stop()
        pair.close()


def test_bad_checksum_raises_then_reader_recovers(rig):
    sim, reader = rig
    sim.place(SAMPLE_CARDS["resident"])
    sim.inject("bad_checksum")
    with pytest.raises(ProtocolError):
        reader.read_card()
    assert reader.read_card() == SAMPLE_CARDS["resident"]


def test_garbage_before_an_answer_is_skipped(rig):
    sim, reader = rig
    sim.inject("garbage")
    assert reader.card_present() is False


@pytest.mark.parametrize(
    "fault,error",
    [("read_fail", CardReadFailed), ("select_fail", CardReadFailed), ("sam_fault", ReaderFault)],
)
def test_read_failures_are_typed(rig, fault, error):
    sim, reader = rig
    sim.place(SAMPLE_CARDS["resident"])
    sim.inject(fault)
    with pytest.raises(error) as info:
        reader.read_card()
    assert info.value.zh and info.value.en
    assert reader.read_card() == SAMPLE_CARDS["resident"]  # the process carries on


def test_wrong_card_type(rig):
    sim, reader = rig
    sim.place(SimCard(SimCard.of(SAMPLE_CARDS["resident"]).text, card_type_ok=False))
    with pytest.raises(UnsupportedCard):
        reader.read_card()


def test_expired_card_is_refused(rig):
    sim, reader = rig
    sim.place(SAMPLE_CARDS["resident_expired"])
    with pytest.raises(CardExpired):
        reader.read_card()


def test_silent_reader_times_out_instead_of_hanging(rig):
    sim, reader = rig
    sim.inject("silent")
    with pytest.raises(DeviceTimeout):
        reader.card_present()
    assert reader.card_present() is False


def test_unplugged_reader_raises_device_lost(rig):
    sim, reader = rig
    assert reader.card_present() is False
    sim.hang_up()
    with pytest.raises(DeviceLost):
        reader.card_present()
    # The next use tries to reopen the port, which is gone for good here: still a typed error.
    with pytest.raises(DeviceUnavailable):
        reader.card_present()


def test_missing_port_is_device_unavailable():
    reader = SamvReader("/dev/does-not-exist-yikou", timeout=0.2)
    with pytest.raises(DeviceUnavailable):
        reader.card_present()


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(min_size=3, max_size=300), min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=20),
    noise=st.binary(max_size=8).filter(lambda b: b"\xaa" not in b),
)
def test_parser_yields_every_body_whatever_the_chunking(bodies, cuts, noise):
    stream = noise + b"".join(build_frame(b) for b in bodies)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    parser = FrameParser()
    out = []
    for a, b in zip(points, points[1:], strict=False):
        out += parser.feed(stream[a:b])
    assert out == bodies


def test_reader_urls():
    from devices.open import open_device
    from devices.sim import SimReader

    reader = open_device("reader", "samv:///dev/ttyUSB0?baudrate=9600")
    assert isinstance(reader, SamvReader)
    assert (reader.port, reader.baudrate) == ("/dev/ttyUSB0", 9600)
    assert open_device("reader", "samv://socket://10.0.0.5:4001").port == "socket://10.0.0.5:4001"
    assert isinstance(open_device("reader", "sim://?card=hmt"), SimReader)
    with pytest.raises(ValueError, match="sample card"):
        open_device("reader", "sim://?card=passport")
    with pytest.raises(ValueError, match="serial port"):
        open_device("reader", "samv://")
