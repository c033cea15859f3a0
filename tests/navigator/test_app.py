"""The navigator app under Xvfb against a real queue server, with the scanner simulator on a
pty behind the real serial driver: a resident's touches through every path, every screen
screenshotted (zh, en, large print) and checked.

Each scenario runs in a child process (tests/navigator/driver.py): Kivy opens one window per
process. Screenshots go to a temporary folder; with YIKOU_UPDATE_SCREENSHOTS=1 they are also
copied to docs/screenshots/ (the committed copies come from such a run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from harness.screens import ROOT, kivy_env
from harness.screens import run_scenario as run_driver_scenario
from tests.support.terminal_app import check_shots

LIT = (26, 173, 77)  # navigator.gui.LIT as 8-bit RGB
DARK = (140, 148, 163)  # navigator.gui.DARK_WINDOW


def run_scenario(scenario: str, display: str, tmp_path: Path) -> dict:
    return run_driver_scenario("tests.navigator.driver", scenario, display, tmp_path, timeout=300)


def near(colour, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour[:3], expected, strict=True))


def test_a_resident_finds_the_way_books_and_checks_in(display, tmp_path):
    r = run_scenario("main", display, tmp_path)
    # The guide's live queue, updated in place when the kiosk issues one more ticket.
    assert r["live_before"] == "等候 3 人" and r["live_after"] == "等候 4 人"
    assert r["live_wait"].startswith("预计等")
    assert not r["rerendered"]
    # The map: the residence permit's own windows (5 and 6) lit, the way to the nearer one.
    assert r["lit"] == [5, 6] and r["target"] == 5
    assert r["path"][0] == [0.5, 0.86] and r["path"][-1][0] == r["path"][-2][0]
    assert "5、6" in r["map_detail"] and "请到 5 号窗口" in r["map_detail"]
    shot = Image.open(r["shots"]["map-service-zh"]["path"]).convert("RGB")
    pixels = r["map_pixels"]
    # The lit windows are drawn green, the others grey (sampled beside the number).
    for window, lit in (("5", True), ("6", True), ("1", False), ("3", False)):
        x, y = pixels[window]
        colour = shot.getpixel((x - 2, y + 18))
        assert near(colour, LIT if lit else DARK), (window, colour)
    # A real ticket's QR code: position and estimate; then called, its window, in place.
    number, headline, second = r["scanned"]
    assert number == "E001" and headline == "前面还有 0 人"
    assert second.startswith("预计") or second == "叫到号时本页会自动更新"
    assert "ticket_called" in r["called_event"]
    assert r["called"] == ["请到 5 号窗口", "已叫到您的号，请尽快前往"]
    assert r["ticket_map"] == {"target": 5, "heading": "请到 5 号窗口"}
    # Search by pinyin initials in every mode; the English tour is in English.
    for mode, tour in r["tours"].items():
        assert tour["search"][0] == "liuguan.residence_permit", mode
        assert tour["ticket"][0] == "E002", mode
    assert r["tours"]["en"]["guide_live"] == "3 waiting"  # E001 was called
    assert r["tours"]["en"]["bad_code"] == "This QR code is not recognised"
    assert r["tours"]["zh"]["ticket"][1] == "前面还有 0 人"
    # Booked: the QR code is the appointment id (what the kiosk scans), printed too.
    booking = r["booking"]
    assert booking["id"].startswith("AP") and booking["qr"] == booking["id"]
    assert booking["print"] == "预约凭证已打印，请取走"
    assert r["slip"]["number"] == booking["id"] and r["slip"]["qr"] == booking["id"]
    assert "预约时段" in r["slip"]["note"] and "签到" in r["slip"]["note"]
    assert r["wiped_after_booking"]
    # A senior's card turns large print on; the booking is cancelled on the spot.
    assert r["senior_elderly"] and r["cancelled"] == "Booking cancelled"
    # The booking, checked in at the kiosk on the day: an appointment-priority ticket.
    checkin = r["checkin"]
    assert checkin["checked_in"] and checkin["number"].startswith("E")
    assert checkin["priority"] == "appointment" and checkin["appointment"] == booking["id"]
    assert checkin["printed"] == 1
    names = ["home", "bureaus", "services", "guide", "map", "search", "queues", "hallmap",
             "ticket", "notice"]  # fmt: skip
    expected = {f"{n}-{m}" for n in names for m in ("zh", "en", "elderly")}
    expected |= {"map-service-zh", "ticket-waiting-zh", "ticket-called-zh", "map-ticket-zh",
                 "book_services-zh", "book-zh", "book-en", "book-elderly", "need_card-zh",
                 "need_card-en", "booked-zh", "booked-en", "booked-elderly", "appointment-zh",
                 "appointment-en", "appointment-elderly", "cancelled-en", "portrait-home",
                 "portrait-guide", "portrait-map"}  # fmt: skip
    check_shots(r["shots"], expected)


def test_faults_recover_and_nothing_personal_stays(display, tmp_path):
    r = run_scenario("faults", display, tmp_path)
    assert r["paused"] == "暂停服务" and r["reconnects"] >= 1
    assert r["recovered_elderly"] is False  # back home, wiped
    assert r["not_printed"] == "凭证没有打印出来，请用手机拍下本页二维码"
    assert r["printer_reported"]["detail"] in ("paper_out", "booking slip not printed")
    assert r["old_ticket"] == "这是以前的号票，今天已不能使用"
    assert r["countdown"].startswith("Back to the start in")
    assert r["wiped"] and r["lang_after_idle"] == "zh"
    assert "paper_out" in r["faults"]
    check_shots(
        r["shots"],
        {"paused-zh", "paused-en", "paused-elderly", "booked-not-printed-zh",
         "ticket-expired-zh", "countdown-en"},
    )  # fmt: skip


def test_the_command_line_needs_no_kivy_until_the_navigator_starts(tmp_path):
    code = (
        "import sys, main\n"
        "parser = main.build_parser()\n"
        "args = parser.parse_args(['navigator', '--config', 'x.toml', '--scanner', 'sim://'])\n"
        "assert args.scanner == 'sim://' and 'kivy' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    from harness.servers import write_hall_config

    config = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'h.db'}")
    result = subprocess.run(
        [sys.executable, "main.py", "navigator", "--config", str(config), "--demo"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "no device token" in result.stderr
    # A window on the map that the hall does not have stops the start, named.
    text = config.read_text() + '\n[navigator.windows]\n"99" = [0.5, 0.5]\n'
    config.write_text(text)
    result = subprocess.run(
        [sys.executable, "main.py", "navigator", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "navigator.windows" in result.stderr
    assert "window 99" in result.stderr


def navigator_command(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "navigator", "--config", str(config), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_navigator_whose_devices_are_named_nowhere_refuses_to_start(tmp_path):
    from harness.servers import write_hall_config
    from tests.support.terminal_app import set_devices

    config = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'h.db'}")
    result = navigator_command(config)
    assert result.returncode == 2, result.stderr
    complaint = [line for line in result.stderr.splitlines() if line.startswith("navigator:")]
    assert complaint == [
        "navigator: devices[1].reader: this navigator's ID reader is not set; set it with "
        'reader = "URL" (or pass --reader URL), or start with --demo to use simulators'
    ], result.stderr
    assert "Traceback" not in result.stderr
    # A terminal without a printer says so ("none"); the scanner is still named nowhere.
    set_devices(config, "navigator-1", reader="samv:///dev/ttyUSB0", printer="none")
    result = navigator_command(config)
    assert result.returncode == 2
    assert "devices[1].scanner: this navigator's QR scanner is not set" in result.stderr
    # Named on the command line, it gets as far as the device token.
    result = navigator_command(config, "--scanner", "serial:///dev/ttyACM0")
    assert result.returncode == 2 and "no device token" in result.stderr


def test_demo_opens_the_navigator_beside_the_kiosk(display, tmp_path):
    env = kivy_env(display, tmp_path)
    env.pop("KIVY_NO_CONSOLELOG")  # the navigator's own log is what we look at
    done = subprocess.run(
        [sys.executable, "main.py", "demo", "--no-console", "--duration", "15", "--kiosk",
         "--dir", str(tmp_path / "demo"), "--port", "0", "--speed", "5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "demo" / "navigator.log").read_text(errors="replace")
    # It opened its window and connected with the demo's device token; no error of its own
    # (Kivy's optional multi-touch library, libmtdev, may be missing: its traceback is fine).
    assert "[Window" in log and "navigator navigator-1 connected" in log, log[-3000:]
    assert log.count("Traceback") == log.count("libmtdev.so.1: cannot open"), log[-3000:]
    pid = int(done.stderr.split("navigation terminal started (pid ")[1].split(")")[0])
    assert not Path(f"/proc/{pid}").exists()  # stopped by its pid
