"""Deployment: the systemd template unit, rendered by ``main.py install --dry-run --root``,
checked by ``systemd-analyze verify``; the sd_notify helper against a real datagram socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.notify import Notifier
from tests.signage.support import ROOT


def install(tmp_path: Path, role: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "install", "--role", role, "--config",
         "/etc/yikou/hall.toml", "--dry-run", "--root", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_install_dry_run_renders_the_unit_and_runs_nothing(tmp_path):
    done = install(tmp_path, "kiosk")
    assert done.returncode == 0, done.stderr
    unit = (tmp_path / "etc/systemd/system/yikou@.service").read_text()
    assert "@" + "REPO@" not in unit and "@PYTHON@" not in unit
    assert (
        f"ExecStart={sys.executable} {ROOT}/main.py %i --config /etc/yikou/hall.toml $YIKOU_ARGS"
        in unit
    )
    assert "User=yikou" in unit and "WatchdogSec=30" in unit and "Restart=on-failure" in unit
    assert "Type=notify" in unit and "StandardOutput=journal" in unit
    # The kiosk speaks sd_notify: no drop-in. Every command is only printed.
    assert not (tmp_path / "etc/systemd/system/yikou@kiosk.service.d").exists()
    lines = done.stdout.splitlines()
    assert "would run: systemctl enable --now yikou@kiosk.service" in lines
    assert "would run: systemctl daemon-reload" in lines
    assert all(not line.startswith("running:") for line in lines)


def test_roles_without_sd_notify_get_no_watchdog(tmp_path):
    assert install(tmp_path, "signage").returncode == 0
    conf = tmp_path / "etc/systemd/system/yikou@signage.service.d/10-role.conf"
    assert "Type=simple" in conf.read_text() and "WatchdogSec=0" in conf.read_text()


def test_install_refuses_without_root_unless_dry_run(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: the refusal cannot be seen")
    done = subprocess.run(
        [sys.executable, "main.py", "install", "--role", "kiosk", "--config", "x.toml"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "run as root" in done.stderr


def test_systemd_analyze_verifies_the_rendered_unit(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    assert install(tmp_path, "kiosk").returncode == 0
    template = tmp_path / "etc/systemd/system/yikou@.service"
    units = tmp_path / "units"
    units.mkdir()
    instance = units / "yikou@kiosk.service"
    shutil.copy(template, instance)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(instance)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if "Failed to" in done.stderr and "bus" in done.stderr.lower():
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    # verify exits 0 even for unknown keys; any complaint about our file fails the test.
    complaints = [line for line in done.stderr.splitlines() if str(instance) in line]
    assert done.returncode == 0 and not complaints, done.stderr
    # It does catch mistakes (so the check above could fail).
    broken = units / "broken" / "yikou@kiosk.service"
    broken.parent.mkdir()
    broken.write_text(instance.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    bad = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(broken)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "restart specifier" in bad.stderr


def test_notifier_sends_ready_and_watchdog(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "30000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        notifier = Notifier.from_environment()
        assert notifier.enabled and notifier.interval == 15.0
        assert notifier.ready("up") and notifier.pet()
        assert server.recv(256) == b"READY=1\nSTATUS=up"
        assert server.recv(256) == b"WATCHDOG=1"
        notifier.close()
    finally:
        server.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not Notifier.from_environment().pet()  # outside systemd: nothing, no error
