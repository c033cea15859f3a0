"""``main.py install --role navigator``: the template unit covers it; like the kiosk it speaks
sd_notify (READY, WATCHDOG), so it gets no drop-in that turns the watchdog off."""

from __future__ import annotations

import subprocess
import sys

from tests.signage.support import ROOT


def test_install_navigator_dry_run(tmp_path):
    done = subprocess.run(
        [sys.executable, "main.py", "install", "--role", "navigator", "--config",
         "/etc/yikou/hall.toml", "--dry-run", "--root", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    unit = (tmp_path / "etc/systemd/system/yikou@.service").read_text()
    assert "ExecStart=" in unit and "main.py %i --config /etc/yikou/hall.toml" in unit
    assert "Type=notify" in unit and "WatchdogSec=30" in unit
    assert not (tmp_path / "etc/systemd/system/yikou@navigator.service.d").exists()
    assert "would run: systemctl enable --now yikou@navigator.service" in done.stdout.splitlines()
