"""The kiosk app under Xvfb against a real queue server, with simulated devices behind their
real drivers: a resident's touches through every path, every screen screenshotted and checked.

Each scenario runs in a child process (tests/kiosk/driver.py): Kivy opens one window per
process. Screenshots go to a temporary folder; with YIKOU_UPDATE_SCREENSHOTS=1 they are also
copied to docs/screenshots/ (the committed copies come from such a run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.screens import ROOT, kivy_env
from harness.screens import run_scenario as run_driver_scenario
from queue_server.errors import ConfigError
from tests.support.terminal_app import check_shots


def run_scenario(scenario: str, display: str, tmp_path: Path) -> dict:
    return run_driver_scenario("tests.kiosk.driver", scenario, display, tmp_path, timeout=200)


def test_a_resident_goes_through_every_path(display, tmp_path):
    r = run_scenario("main", display, tmp_path)
    # Started with --demo: the sample-card buttons, and 演示 on every screen (check_shots).
    assert r["demo_buttons"] == {"shown": True, "enabled": True}
    # Card → bureau → service → guide → form (pre-filled from the card) → ticket.
    assert r["greeting"] == "您好，李*"
    assert all(r["prefilled"][k] for k in ("name", "id_number", "sex", "nation", "birth_date"))
    assert "*" in r["id_shown"] and len(r["id_shown"]) == 18  # the number is masked on screen
    assert r["form_errors"] == ["current_address", "phone"]
    # Chinese by pinyin on the on-screen keyboard: the candidate bar, tap to commit.
    assert r["ime_chinese_first"] is True
    assert r["typed"] == {"phone": "13800138000", "current_address": "朝阳区金盏1号"}
    assert r["composing_shown"] == "朝阳区金盏1 hao" and "号" in r["candidates_shown"]
    assert r["elderly_candidates"][0] == "朝阳" and len(r["elderly_candidates"]) == 4
    # Elderly mode: the list alone, then one field with the keyboard across the screen; its
    # keys at least as large as normal mode's on both sides, and 1.2× as tall or more.
    assert r["elderly_list_first"] and r["elderly_list_hidden"] and r["elderly_submit_hidden"]
    (w, h), (ew, eh) = r["key_size"], r["elderly_key_size"]
    assert ew >= w and eh >= h, (r["key_size"], r["elderly_key_size"])
    assert eh >= 1.2 * h and ew >= 1.5 * w, (r["key_size"], r["elderly_key_size"])
    assert r["elderly_typed"] == "朝阳区8号"
    assert r["elderly_next_field"] == "phone" and r["elderly_phone"] == "13900139000"
    assert r["elderly_done"]
    pw, ph = r["portrait_elderly_key_size"]
    assert pw >= w and ph >= h, (r["key_size"], r["portrait_elderly_key_size"])
    assert r["ticket1"] == "E001" and r["ticket1_ahead"] == "前面还有 0 人"
    assert r["wiped_after_finish"]
    # The form went with the ticket: the window that called it reads it.
    assert r["window_form"]["fields"]["current_address"] == "朝阳区金盏1号"
    assert r["window_form"]["fields"]["phone"] == "13800138000"
    assert r["window_form"]["materials"] == ["lease_contract"]
    # Filed by the window, marked on the resident's next guide (e-copies only).
    assert r["on_file_badges"] == ["lease_contract", "property_cert"]
    # Search by pinyin initials, a real-name service asks for the card, then issues.
    assert r["search"][0] == "liuguan.residence_permit"
    assert r["search_mode_key"] == "ABC"  # in pinyin mode the key offers the letters back
    assert r["search_chinese"]["text"] == "居住证"
    assert r["search_chinese"]["results"][0] == "liuguan.residence_permit"
    assert r["ticket2"] == "E002"
    # English one tap away, back to Chinese for the next resident.
    assert r["welcome_en"] == "Place your ID card, or touch Start"
    assert r["ticket3"] == "E003" and r["ahead_en"] == "People ahead of you: 1"  # E001 called
    assert r["lang_after"] == "zh"
    # A senior's card: elderly mode by itself, four choices a screen, elderly priority.
    assert r["elderly_auto"] and r["elderly_choices"] == 4
    assert r["ticket4"] == "E001" or r["ticket4"].startswith("E")
    assert "老年人优先" in r["priority4"]
    assert r["elderly_after"] is False
    # The next morning, the appointment's QR code checks the booking in.
    assert r["checkin"]["headline"] == "预约签到成功"
    assert r["checkin"]["number"].startswith("E") and "预约" in r["checkin"]["priority"]
    # Every ticket was printed by the (simulated) printer, confirmed.
    assert len(r["printed"]) == 5
    zh = {
        "welcome",
        "bureaus",
        "services",
        "search",
        "guide",
        "form",
        "form-errors",
        "need-card",
        "ticket",
        "checkin",
        "form-chinese",
        "guide-on-file",
        "search-chinese",
    }
    en = {"welcome", "bureaus", "services", "guide", "form", "need-card", "ticket"}
    elderly = {"bureaus", "services", "guide", "form", "form-chinese", "form-digits",
               "form-filled", "ticket", "ticket-elderly-en"}  # fmt: skip
    expected = {f"{n}-zh" for n in zh} | {f"{n}-en" for n in en}
    expected |= {f"{n}-elderly" if not n.endswith("-en") else n for n in elderly}
    expected |= {"portrait-welcome", "portrait-bureaus", "portrait-search"}
    expected |= {"portrait-form-elderly", "portrait-form-list-elderly"}
    check_shots(r["shots"], expected)


def test_faults_a_resident_must_never_suffer(display, tmp_path):
    r = run_scenario("faults", display, tmp_path)
    assert "缺纸" in r["paper_out"] and "咨询台" in r["paper_out"]
    assert r["waiting_after_paper_out"] == 0  # no ticket was issued
    assert "已作废" in r["print_failed"] and r["cancelled_state"] == "cancelled"
    assert "平放" in r["card_error"]
    assert r["refused"] == "您已领取本事项的 E002 号，请留意叫号"
    assert r["paused"] == "暂停取号" and r["reconnects"] >= 1
    assert r["countdown"].startswith("Back to the start in")
    assert r["wiped"] and r["lang_after_idle"] == "zh"
    assert "paper_out" in r["faults"]
    check_shots(
        r["shots"],
        {"printer-out-zh", "printer-out-en", "print-failed-zh", "card-error-zh", "refused-zh",
         "paused-zh", "countdown-en"},
    )  # fmt: skip


def test_a_hall_kiosk_uses_the_devices_its_configuration_names(display, tmp_path):
    r = run_scenario("production", display, tmp_path)
    # main.py kiosk --config hall.toml: the URLs of kiosk-1's [[devices]] entry, no simulator.
    urls = r["options"]
    assert urls["reader"].startswith("samv:///dev/pts/") and not urls["demo"]
    assert urls["printer"].startswith("tcp://127.0.0.1:") and urls["printer"].endswith("gb18030-80")
    assert urls["scanner"].startswith("serial:///dev/pts/")
    # No 演示 badge on any screen (check_shots), no demo button, and a demo card does nothing.
    assert r["app"] == [False, False]
    assert r["demo_buttons"] == {"shown": False, "enabled": False}
    assert r["after_demo_card"] == "welcome"
    # The card on the configured reader is read, the code on the configured scanner is seen.
    assert r["greeting"] == "您好，李*"
    assert r["scanned"] == "无法识别这个二维码"
    check_shots(
        r["shots"],
        {"production-welcome-zh", "production-bureaus-zh", "production-bureaus-en"},
        demo=False,
    )


def kiosk_command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    from harness.servers import write_hall_config

    config = tmp_path / "hall.toml"
    if not config.exists():
        write_hall_config(config, f"sqlite:///{tmp_path / 'h.db'}")
    return subprocess.run(
        [sys.executable, "main.py", "kiosk", "--config", str(config), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_kiosk_whose_devices_are_named_nowhere_refuses_to_start(tmp_path):
    # The example hall's kiosk-1 entry names no device: without --demo, no simulator stands in.
    result = kiosk_command(tmp_path)
    assert result.returncode == 2, result.stderr
    complaint = [line for line in result.stderr.splitlines() if line.startswith("kiosk:")]
    assert complaint == [
        "kiosk: devices[0].reader: this kiosk's ID reader is not set; set it with "
        'reader = "URL" (or pass --reader URL), or start with --demo to use simulators'
    ], result.stderr
    assert "Traceback" not in result.stderr
    # Flags name some devices: the first still missing is named.
    result = kiosk_command(tmp_path, "--reader", "samv:///dev/ttyUSB0", "--printer", "sim://")
    assert result.returncode == 2 and "devices[0].scanner: this kiosk's QR scanner" in result.stderr
    # Another device id, with no entry at all.
    result = kiosk_command(tmp_path, "--device-id", "kiosk-9")
    assert result.returncode == 2
    assert 'devices: no entry with id = "kiosk-9" names this kiosk\'s ID reader' in result.stderr
    # The navigator's entry is not a kiosk's.
    result = kiosk_command(tmp_path, "--device-id", "navigator-1", "--demo")
    assert result.returncode == 2
    assert "devices[1].role: navigator-1 is a navigator, not a kiosk" in result.stderr


def test_flags_override_the_configured_devices_and_demo_fills_only_the_gaps(tmp_path):
    import main
    from harness.servers import write_hall_config
    from kiosk.app import options_from_args
    from queue_server.config import load_config
    from tests.support.terminal_app import set_devices

    path = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'h.db'}")
    set_devices(path, "kiosk-1", reader="pcsc://", printer="tcp://192.0.2.9:9100")
    config = load_config(path)

    def options(*flags: str):
        args = main.build_parser().parse_args(["kiosk", "--config", str(path), *flags])
        o = options_from_args(args, config)
        return o.reader, o.printer, o.scanner, o.demo

    # The scanner is named nowhere: --demo simulates it, and only it.
    assert options("--demo") == ("pcsc://", "tcp://192.0.2.9:9100", "sim://", True)
    assert options("--scanner", "evdev:///dev/input/event3", "--printer", "file:///dev/usb/lp0") == (
        "pcsc://", "file:///dev/usb/lp0", "evdev:///dev/input/event3", False,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"devices\[0\]\.scanner"):
        options()


def test_the_command_line_needs_no_kivy_until_the_kiosk_starts(tmp_path):
    code = (
        "import sys, main\n"
        "parser = main.build_parser()\n"
        "args = parser.parse_args(['kiosk', '--config', 'x.toml', '--reader', 'sim://'])\n"
        "assert args.reader == 'sim://' and 'kivy' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    result = kiosk_command(tmp_path, "--demo")
    assert result.returncode == 2 and "no device token" in result.stderr


def test_demo_opens_the_kiosk_with_simulated_devices(display, tmp_path):
    env = kivy_env(display, tmp_path)
    env.pop("KIVY_NO_CONSOLELOG")  # the kiosk's own log is what we look at
    done = subprocess.run(
        [sys.executable, "main.py", "demo", "--no-console", "--duration", "15", "--kiosk",
         "--dir", str(tmp_path / "demo"), "--port", "0", "--speed", "5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "demo" / "kiosk.log").read_text(errors="replace")
    # The kiosk opened its window and its simulated printer answered; no error of its own
    # (Kivy's optional multi-touch library, libmtdev, may be missing: its traceback is fine).
    assert "[Window" in log and "printer sim:// status: ready" in log, log[-3000:]
    assert log.count("Traceback") == log.count("libmtdev.so.1: cannot open"), log[-3000:]
    # The demo stopped it by its pid: no process left behind.
    assert "kiosk app started (pid" in done.stderr
    pid = int(done.stderr.split("kiosk app started (pid ")[1].split(")")[0])
    assert not Path(f"/proc/{pid}").exists()
    # The main call screen came up beside it, connected, and was stopped by its pid too.
    screen_log = (tmp_path / "demo" / "signage.log").read_text(errors="replace")
    assert "[Window" in screen_log, screen_log[-3000:]
    assert screen_log.count("Traceback") == screen_log.count("libmtdev.so.1: cannot open"), (
        screen_log[-3000:]
    )
    screen_pid = int(done.stderr.split("call screen started (pid ")[1].split(")")[0])
    assert not Path(f"/proc/{screen_pid}").exists()


def test_a_bad_kiosk_section_stops_the_kiosk_with_its_name(tmp_path):
    from harness.servers import write_hall_config

    config = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'h.db'}")
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[kiosk]\nidel_s = 30\ncard_optional = ["liuguan.residence_permits"]\n')
    result = subprocess.run(
        [sys.executable, "main.py", "kiosk", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "kiosk.idel_s: Extra inputs are not permitted" in result.stderr
    assert "kiosk" in result.stderr and "Traceback" not in result.stderr
