"""pyscard against a real pcscd with vsmartcard's vpcd driver and a virtual card of our own."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import date

import pytest

from devices.errors import CardExpired, InvalidCardData, NoCard, UnsupportedCard
from devices.identity import DocumentType, Sex
from devices.pcsc import PcscReader, identity_from_records, list_readers, parse_tlv_record
from devices.pcsc_sim import VirtualCard, VirtualCardConnection, social_security_files
from devices.sim import SAMPLE_CARDS

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
TODAY = date(2026, 11, 26)


def _virtual_readers() -> list[str]:
    try:
        return [r for r in list_readers() if r.startswith("Virtual PCD")]
    except Exception:
        return []


@pytest.fixture(scope="module")
def pcscd():
    """Use a pcscd that already offers the vpcd readers, or start one and stop it by its PID."""
    pytest.importorskip("smartcard", reason="pyscard is not installed (pip install pyscard)")
    if _virtual_readers():
        yield None
        return
    binary = shutil.which("pcscd") or (
        "/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else None
    )
    if binary is None or not os.path.exists(VPCD_DRIVER):
        pytest.skip("pcscd or its vpcd driver is not installed (apt install pcscd vsmartcard-vpcd)")
    proc = subprocess.Popen(
        [binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
        yield proc
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
    yield r
    r.close()


def test_the_virtual_readers_are_listed(pcscd):
    assert {"Virtual PCD 00 00", "Virtual PCD 00 01"} <= set(list_readers())


def test_no_card(reader):
    assert reader.card_present() is False
    with pytest.raises(NoCard):
        reader.wait_for_card(0.3)


def test_social_security_card_insert_read_remove(reader):
    card = _ssc()
    slot = VirtualCardConnection(card)
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


def test_bank_card_is_refused_politely(reader):
    slot = VirtualCardConnection(VirtualCard("bank"))
    try:
        with pytest.raises(UnsupportedCard) as info:
            reader.wait_for_card(10)
    finally:
        slot.remove()
    assert "银行卡" in info.value.zh and "bank card" in info.value.en


def test_unknown_card_is_refused(reader):
    slot = VirtualCardConnection(VirtualCard("other"))
    try:
        with pytest.raises(UnsupportedCard):
            reader.wait_for_card(10)
    finally:
        slot.remove()


def test_expired_social_security_card(reader):
    slot = VirtualCardConnection(_ssc(expires=date(2025, 12, 31)))
    try:
        with pytest.raises(CardExpired):
            reader.wait_for_card(10)
    finally:
        slot.remove()


def test_first_reader_when_no_name_given(pcscd):
    with PcscReader() as r:
        assert r.card_present() in (True, False)
        assert str(r._reader).startswith("Virtual PCD")


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
