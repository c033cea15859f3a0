"""``python main.py devices ...`` against the simulators, a pty and a fake TCP printer."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from devices import cli
from devices.sim import SAMPLE_CARDS, PtyPair, SamvSimulator, ScannerSimulator
from harness.fake_printer import FakeTcpPrinter

ROOT = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    # The same wiring main.py does for its "devices" command.
    p = argparse.ArgumentParser(prog="main.py devices")
    cli.configure(p)
    return p


def devices(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.run(parser().parse_args(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_read_card_masks_the_number(capsys):
    rc, out, _ = devices(capsys, "read-card", "--reader", "sim://?card=resident", "--timeout", "1")
    assert rc == 0
    data = json.loads(out)
    number = SAMPLE_CARDS["resident"].number
    assert data["number"] == number[:3] + "*" * 13 + number[-2:]
    assert number not in out
    assert data["name"] == "张三" and data["valid_to"] == "长期"


def test_read_card_show_number(capsys):
    rc, out, _ = devices(
        capsys, "read-card", "--reader", "sim://?card=foreign2017", "--show-number"
    )
    assert rc == 0
    assert json.loads(out)["number"] == "USA110075091501"


def test_read_card_without_a_card_fails_clearly(capsys):
    rc, out, err = devices(capsys, "read-card", "--reader", "sim://", "--timeout", "0.2")
    assert rc == 1 and out == ""
    assert "请将证件放在读卡区" in err and "Please place your ID card" in err


def test_read_card_from_a_samv_reader_on_a_pty(capsys):
    pair = PtyPair()
    sim = SamvSimulator(pair.master).start()
    sim.place(SAMPLE_CARDS["foreign2023"])
    try:
        rc, out, _ = devices(capsys, "read-card", "--reader", f"samv://{pair.path}")
    finally:
        sim.stop()
        pair.close()
    assert rc == 0
    data = json.loads(out)
    assert data["document_type"] == "foreign_pr_2023" and data["nationality"] == "FRA"
    assert SAMPLE_CARDS["foreign2023"].number not in out


def test_read_card_unknown_scheme_is_a_usage_error(capsys):
    rc, _, err = devices(capsys, "read-card", "--reader", "nfc://0")
    assert rc == 2 and "unknown reader scheme" in err


def test_scan_sim(capsys):
    rc, out, _ = devices(capsys, "scan", "--scanner", "sim://?codes=A1,A1,B2", "--count", "2")
    assert rc == 0 and out.splitlines() == ["A1", "B2"]


def test_scan_serial_pty(capsys):
    pair = PtyPair()
    # Host-triggered, so the codes go out only once the CLI has opened the port and armed it
    # (opening a port discards what arrived before).
    sim = ScannerSimulator(pair.master, suffix=b"\r", chunk=2, triggered=True)
    sim.scan("https://yikou.example/a/1")
    try:
        rc, out, _ = devices(
            capsys,
            "scan",
            "--scanner",
            f"serial://{pair.path}?suffix=cr&trigger=honeywell",
            "--count",
            "1",
            "--timeout",
            "20",
        )
    finally:
        sim.stop()
        pair.close()
    assert rc == 0 and out.splitlines() == ["https://yikou.example/a/1"]
    assert sim.wait_received(b"\x16T\r\x16U\r", timeout=5)  # armed, then disarmed


def test_scan_nothing_within_timeout(capsys):
    rc, _, err = devices(capsys, "scan", "--scanner", "sim://", "--timeout", "0.2")
    assert rc == 1 and "no code" in err


def test_print_test_sim(capsys):
    rc, out, _ = devices(capsys, "print-test", "--printer", "sim://", "--profile", "raster-58")
    assert rc == 0 and "status before: ready; after: ready" in out


def test_print_test_paper_out(capsys):
    rc, _, err = devices(capsys, "print-test", "--printer", "sim://?paper=out")
    assert rc == 1
    assert "out of paper" in err and "请到咨询台取号" in err


def test_print_test_tcp_near_end(capsys):
    fake = FakeTcpPrinter()
    fake.model.state.paper = "near_end"
    try:
        rc, out, _ = devices(capsys, "print-test", "--printer", fake.url, "--profile", "gb18030-80")
    finally:
        fake.close()
    assert rc == 0 and "warning: paper near end" in out
    assert fake.model.cuts == 1 and fake.model.qr_codes


def test_check_reports_every_device(capsys, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(
        "[devices]\n"
        'id_reader = "sim://?card=hmt"\n'
        'scanner = "sim://"\n'
        'printer = "sim://?cover=open"\n',
        encoding="utf-8",
    )
    rc, out, _ = devices(capsys, "check", "--config", str(config))
    assert rc == 1  # the cover is open
    lines = out.splitlines()
    assert lines[0].startswith("id_reader") and "card on reader" in lines[0]
    assert "scanner" in lines[1] and "opened" in lines[1]
    assert "printer" in lines[2] and "cover_open" in lines[2]


def test_check_all_good_and_missing_file(capsys, tmp_path):
    config = tmp_path / "ok.toml"
    config.write_text('[devices]\nprinter = "sim://"\n', encoding="utf-8")
    assert devices(capsys, "check", "--config", str(config))[0] == 0
    rc, _, err = devices(capsys, "check", "--config", str(tmp_path / "none.toml"))
    assert rc == 2 and "no such configuration file" in err


def test_list_runs(capsys):
    rc, out, _ = devices(capsys, "list")
    assert rc == 0
    for heading in ("Serial ports:", "PC/SC readers:", "USB printers:"):
        assert heading in out


def test_entry_point_as_a_process():
    proc = subprocess.run(
        [sys.executable, "main.py", "devices", "read-card", "--reader", "sim://?card=hmt"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["document_type"] == "hmt_residence_permit"


@pytest.mark.parametrize("action", ["list", "check", "read-card", "scan", "print-test"])
def test_help_for_every_action(action):
    with pytest.raises(SystemExit) as info:
        parser().parse_args([action, "--help"])
    assert info.value.code == 0
