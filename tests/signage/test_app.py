"""The signage app under Xvfb against a real queue server: calls appear, every layout is
screenshotted and checked.

Each scenario runs in a child process (tests/signage/driver.py): Kivy opens one window per
process. The screenshots go to a temporary folder; with YIKOU_UPDATE_SCREENSHOTS=1 they are
also copied to docs/screenshots/ (the committed copies come from such a run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.screens import ROOT
from harness.screens import run_scenario as run_driver_scenario

DOCS = ROOT / "docs" / "screenshots"


def run_scenario(scenario: str, display: str, tmp_path: Path) -> dict:
    return run_driver_scenario("tests.signage.driver", scenario, display, tmp_path, timeout=240)


def check_image(shot: dict, size: tuple[int, int]) -> None:
    path = Path(shot["path"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    assert tuple(shot["size"]) == size
    # A blank or single-colour frame has no spread; a drawn screen has text and panels.
    assert shot["variance"] > 1000 and shot["levels"] > 20
    if os.environ.get("YIKOU_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def test_main_screen_shows_calls_in_landscape_and_portrait_and_survives_a_cut(display, tmp_path):
    r = run_scenario("main", display, tmp_path)
    order = r["order"]  # A001 B001 C001 D001 E001, C001 recalled, then A002 at window 1
    assert r["number"] == order[-1] == "A002" and r["window"] == "请到 1 号窗口"
    assert r["peak_flash"] >= 0.99  # the new call flashed
    # The recalled C001 is listed once, at the top of the recent calls.
    assert r["recent"] == ["C001", "E001", "D001", "B001", "A001"]
    assert dict(r["queues"]) == {"A": "1人", "B": "2人", "C": "2人", "D": "2人", "E": "4人"}
    assert r["notices"][-1].startswith("今天下午15:00") and len(r["notices"]) >= 2
    assert r["spoken"] == order  # every call and the recall spoken, in order
    assert r["spoken_text"][0] == "请 A 零 零 一 号到 一 号窗口办理"
    check_image(r["landscape"], (1920, 1080))

    assert r["portrait"]["number"] == "A002" and r["portrait"]["recent"] == r["recent"]
    check_image(r["portrait"], (1080, 1920))

    down = r["while_down"]
    assert down["badge"] == "● 连接中断" and down["number"] == "A002"  # last state kept
    assert down["recent"] == r["recent"]
    check_image(down, (1920, 1080))
    # The calls made while the screen was cut off arrive after the reconnect: each once.
    assert r["after"]["number"] == r["during"][-1]
    assert r["after"]["recent"][:1] == r["during"][:1]
    assert r["spoken_after"] == order + r["during"]
    assert r["calls_seen"] == len(order) + len(r["during"]) and r["reconnects"] >= 1
    # Each call the feed handed to the screen was on it in the next frame swapped (at least
    # the burst before the cut and the calls resumed after it).
    assert r["next_frame"]["late"] == [] and len(r["next_frame"]["checked"]) >= 2


def test_window_screen_shows_its_number_and_pause(display, tmp_path):
    r = run_scenario("window", display, tmp_path)
    assert r["number"] == r["called"] == "E001" and r["service"] == "居住登记"
    check_image(r["screenshot"], (1024, 600))
    assert r["paused_text"] == "暂停服务"
    check_image(r["paused_screenshot"], (1024, 600))
    assert r["resumed_text"] == "等候叫号"


def test_the_command_line_needs_no_kivy_until_the_screen_starts(tmp_path):
    code = (
        "import sys, main\n"
        "parser = main.build_parser()\n"
        "args = parser.parse_args(['signage', '--config', 'x.toml', '--mode', 'window',"
        " '--window', '3'])\n"
        "assert args.window == 3 and 'kivy' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    # A missing token is a clear error before any window opens.
    from harness.servers import write_hall_config

    config = write_hall_config(tmp_path / "hall.toml", f"sqlite:///{tmp_path / 'h.db'}")
    result = subprocess.run(
        [sys.executable, "main.py", "signage", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "no device token" in result.stderr
    assert "kivy" not in result.stderr.lower()
