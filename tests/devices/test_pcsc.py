"""pyscard against a real pcscd with vsmartcard's vpcd driver and a virtual card of our own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from datetime import date

import pytest

from devices.errors import (
    CardExpired,
    DeviceUnavailable,
    InvalidCardData,
    NoCard,
    UnsupportedCard,
)
from devices.identity import DocumentType, Sex
from devices.pcsc import PcscReader, identity_from_records, list_readers, parse_tlv_record
from devices.pcsc_sim import VPCD_PORT, VirtualCard, VirtualCardConnection, social_security_files
from devices.sim import SAMPLE_CARDS

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
TODAY = date(2026, 11, 26)


def _virtual_readers() -> list[str]:
    try:
        return [r for r in list_readers() if r.startswith("Virtual PCD")]
    except Exception:
        return []


def _free_port_pair() -> int:
    """A port p with p and p+1 free, below Linux's ephemeral range (32768-60999), so that busy
    client sockets of other programs cannot take vpcd's ports while pcscd starts."""
    for port in range(21000, 32000, 2):
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port pair for vpcd")


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory):
    """The vpcd port: a pcscd that already offers the virtual readers is used as it is (its
    port is vpcd's default); otherwise one is started on a reader.conf.d of our own with a free
    port, and stopped by its PID at the end."""
    pytest.importorskip("smartcard", reason="pyscard is not installed (pip install pyscard)")
    if _virtual_readers():
        yield VPCD_PORT
        return
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not os.path.exists(binary) or not os.path.exists(VPCD_DRIVER):
        pytest.skip("pcscd or its vpcd driver is not installed (apt install pcscd vsmartcard-vpcd)")
    try:
        list_readers()
        pytest.skip("a pcscd without the vpcd readers is already running: stop it to run these")
    except DeviceUnavailable:
        pass  # no pcscd yet: start ours
    port = _free_port_pair()
    conf = tmp_path_factory.mktemp("reader.conf.d")
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:{port:#x}\n'
        f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    {port:#x}\n"
    )
    proc = subprocess.Popen(
        [binary, "--foreground", "--config", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    waiter = threading.Event()
    deadline = time.monotonic() + 15
    try:
        while not _virtual_readers():
            if proc.poll() is not None:
                pytest.skip(
                    f"pcscd could not start here (exit {proc.returncode}): "
                    f"{proc.stderr.read().decode(errors='replace')[-300:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail("pcscd started but offered no Virtual PCD reader within 15 s")
            waiter.wait(0.05)  # polling pcscd for readiness; it has no ready signal
        yield port
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def _ssc(identity=SAMPLE_CARDS["resident_expiring"], expires=date(2030, 1, 1)):
    return VirtualCard(
        "social_security",
        social_security_files(identity, issued=date(2020, 1, 1), expires=expires),
    )


@pytest.fixture
def reader(pcscd):
    r = PcscReader("Virtual PCD 00 00", today=lambda: TODAY)
    r.poll_interval = 0.05
    r.open()
    # pcscd notices a card taken out by the previous test a moment later: start from empty.
    assert r.wait_for_removal(10)
    yield r
    r.close()


@pytest.fixture
def port(pcscd):
    return pcscd


def test_the_virtual_readers_are_listed(pcscd):
    assert {"Virtual PCD 00 00", "Virtual PCD 00 01"} <= set(list_readers())


def test_no_card(reader):
    assert reader.card_present() is False
    with pytest.raises(NoCard):
        reader.wait_for_card(0.3)


def test_social_security_card_insert_read_remove(reader, port):
    card = _ssc()
    slot = VirtualCardConnection(card, port)
    try:
        ident = reader.wait_for_card(10)
    finally:
        slot.remove()
    person = SAMPLE_CARDS["resident_expiring"]
    assert ident.document_type is DocumentType.SOCIAL_SECURITY
    assert (ident.number, ident.name, ident.sex, ident.nation, ident.birth_date) == (
        person.number,
        person.name,
        Sex.MALE,
        "蒙古",
        person.birth_date,
    )
    assert (ident.valid_from, ident.valid_to) == (date(2020, 1, 1), date(2030, 1, 1))
    # The T=0 dance went through pcscd: GET RESPONSE after 61xx, a resend after 6Cxx.
    assert any(a[:2] == b"\x00\xc0" for a in card.apdus)
    reads = [a for a in card.apdus if a[1] == 0xB2]
    assert reads[0][4] == 0 and reads[1][4] == len(card.files[0xEF05][0x05]) + 2
    assert reader.wait_for_removal(10)


def test_bank_card_is_refused_politely(reader, port):
    slot = VirtualCardConnection(VirtualCard("bank"), port)
    try:
        with pytest.raises(UnsupportedCard) as info:
            reader.wait_for_card(10)
    finally:
        slot.remove()
    assert "银行卡" in info.value.zh and "bank card" in info.value.en


def test_unknown_card_is_refused(reader, port):
    slot = VirtualCardConnection(VirtualCard("other"), port)
    try:
        with pytest.raises(UnsupportedCard):
            reader.wait_for_card(10)
    finally:
        slot.remove()


def test_expired_social_security_card(reader, port):
    slot = VirtualCardConnection(_ssc(expires=date(2025, 12, 31)), port)
    try:
        with pytest.raises(CardExpired):
            reader.wait_for_card(10)
    finally:
        slot.remove()


def test_first_reader_when_no_name_given(pcscd):
    with PcscReader() as r:
        assert str(r._reader) == "Virtual PCD 00 00"
        assert r.wait_for_removal(10)  # the last test's card is gone, as far as pcscd knows


# -- record decoding without pcscd ---------------------------------------------------------------


def test_tlv_and_record_decoding():
    assert parse_tlv_record(0x0A, b"\x0a\x01\x31") == b"1"
    with pytest.raises(InvalidCardData):
        parse_tlv_record(0x0A, b"\x0b\x01\x31")
    files = social_security_files(
        SAMPLE_CARDS["resident"], issued=date(2020, 1, 1), expires=date(2030, 1, 1)
    )
    ident = identity_from_records(files[0xEF05], files[0xEF06])
    assert ident.name == "张三" and ident.sex is Sex.FEMALE and ident.nation == "汉"
    bad = files[0xEF06] | {0x08: b"110105194912310021"}
    with pytest.raises(InvalidCardData, match="GB 11643"):
        identity_from_records(files[0xEF05], bad)


def test_insert_and_remove_events_through_the_worker(pcscd, port):
    import asyncio

    from devices.runner import EventKind, ReaderWorker, asyncio_sink

    async def main():
        events: asyncio.Queue = asyncio.Queue()
        reader = PcscReader("Virtual PCD 00 00", today=lambda: TODAY)
        reader.poll_interval = 0.05
        worker = ReaderWorker("ssc", reader, asyncio_sink(asyncio.get_running_loop(), events))
        worker.start()
        try:
            slot = VirtualCardConnection(_ssc(), port)
            event = await asyncio.wait_for(events.get(), 10)
            assert event.kind is EventKind.CARD_READ
            assert event.payload.document_type is DocumentType.SOCIAL_SECURITY
            slot.remove()
            event = await asyncio.wait_for(events.get(), 10)
            assert event.kind is EventKind.CARD_REMOVED
            slot = VirtualCardConnection(VirtualCard("bank"), port)
            event = await asyncio.wait_for(events.get(), 10)
            assert event.kind is EventKind.CARD_ERROR and isinstance(event.payload, UnsupportedCard)
            slot.remove()
            assert (await asyncio.wait_for(events.get(), 10)).kind is EventKind.CARD_REMOVED
        finally:
            worker.stop()

    asyncio.run(main())
