"""Deployment: the systemd template unit, rendered by ``main.py install --dry-run --root``,
checked by ``systemd-analyze verify`` (sd_notify itself: tests/terminal/test_notify.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from harness.screens import ROOT
from tests.support.deploy import REAL_KIOSK, hall_config, install


def test_install_dry_run_renders_the_unit_and_runs_nothing(tmp_path):
    done = install(tmp_path, "kiosk")
    assert done.returncode == 0, done.stderr
    units = tmp_path / "root/etc/systemd/system"
    unit = (units / "yikou@.service").read_text()
    assert "@" + "REPO@" not in unit and "@PYTHON@" not in unit
    config = tmp_path / "etc/hall.toml"
    assert f"ExecStart={sys.executable} {ROOT}/main.py %i --config {config} $YIKOU_ARGS" in unit
    assert "User=yikou" in unit and "WatchdogSec=30" in unit and "Restart=on-failure" in unit
    assert "Type=notify" in unit and "StandardOutput=journal" in unit
    # A configuration the app refused (exit 2) is not restarted in a loop.
    assert "RestartPreventExitStatus=2" in unit
    # The kiosk speaks sd_notify and names its devices: no drop-in. Commands are only printed.
    assert not (units / "yikou@kiosk.service.d").exists()
    lines = done.stdout.splitlines()
    assert "would run: systemctl enable --now yikou@kiosk.service" in lines
    assert "would run: systemctl daemon-reload" in lines
    assert all(not line.startswith("running:") for line in lines)


def test_roles_without_sd_notify_get_no_watchdog(tmp_path):
    assert install(tmp_path, "signage").returncode == 0
    conf = tmp_path / "root/etc/systemd/system/yikou@signage.service.d/10-role.conf"
    assert "Type=simple" in conf.read_text() and "WatchdogSec=0" in conf.read_text()


def test_install_refuses_a_kiosk_without_real_devices(tmp_path):
    # The example hall names no device for kiosk-1: a service would run it on nothing.
    done = install(tmp_path, "kiosk", config=hall_config(tmp_path / "bare"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"install: {tmp_path / 'bare/hall.toml'}: kiosk kiosk-1 needs real devices "
        "(devices[0].reader is not set, devices[0].printer is not set, devices[0].scanner is "
        "not set); set its reader, printer and scanner in its [[devices]] entry, or install a "
        "demonstration kiosk with --demo"
    ]
    assert not (tmp_path / "root").exists() and "would run" not in done.stdout  # nothing done
    # Simulators named on purpose are no real devices either.
    simulated = hall_config(tmp_path / "sim", **{**REAL_KIOSK, "printer": "sim://"})
    done = install(tmp_path, "kiosk", config=simulated)
    assert done.returncode == 2 and "(devices[0].printer is sim://)" in done.stderr
    # Nor is an entry of another id, or none at all.
    done = install(tmp_path, "kiosk", "--device-id", "kiosk-2")
    assert done.returncode == 2
    assert 'kiosk kiosk-2 needs real devices (no [[devices]] entry with id = "kiosk-2")' in (
        done.stderr
    )
    # A misspelt URL is the configuration's own error, named.
    bad = hall_config(tmp_path / "bad", reader="samvv:///dev/ttyUSB0")
    done = install(tmp_path, "kiosk", config=bad)
    assert done.returncode == 2 and "devices[0].reader: 'samvv:///dev/ttyUSB0' is not a" in (
        done.stderr
    )
    # --demo is for terminals with devices only.
    done = install(tmp_path, "signage", "--demo")
    assert done.returncode == 2 and "--demo is for the kiosk and the navigator" in done.stderr


def test_install_demo_puts_demo_on_the_kiosks_command_line(tmp_path):
    done = install(tmp_path, "kiosk", "--demo", config=hall_config(tmp_path / "bare"))
    assert done.returncode == 0, done.stderr
    units = tmp_path / "root/etc/systemd/system"
    config = tmp_path / "bare/hall.toml"
    # The shared template is unchanged; the kiosk's own drop-in replaces its ExecStart.
    template = (units / "yikou@.service").read_text().splitlines()
    assert [line for line in template if line.startswith("ExecStart=")] == [
        f"ExecStart={sys.executable} {ROOT}/main.py %i --config {config} $YIKOU_ARGS"
    ]
    lines = (units / "yikou@kiosk.service.d/20-command.conf").read_text().splitlines()
    assert lines[1:] == [
        "[Service]",
        "ExecStart=",
        f"ExecStart={sys.executable} {ROOT}/main.py %i --config {config} --demo $YIKOU_ARGS",
    ]
    # A device id other than the default goes there too, and is the entry that is checked.
    kiosk2 = hall_config(tmp_path / "k2", "kiosk-1", **REAL_KIOSK)
    kiosk2.write_text(kiosk2.read_text().replace('id = "kiosk-1"', 'id = "kiosk-2"'))
    assert install(tmp_path, "kiosk", config=kiosk2).returncode == 2  # kiosk-1: no entry now
    done = install(tmp_path, "kiosk", "--device-id", "kiosk-2", config=kiosk2)
    assert done.returncode == 0, done.stderr
    conf = (units / "yikou@kiosk.service.d/20-command.conf").read_text()
    assert f"--config {kiosk2} --device-id kiosk-2 $YIKOU_ARGS" in conf


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
    assert install(tmp_path, "kiosk", "--demo").returncode == 0
    template = tmp_path / "root/etc/systemd/system/yikou@.service"
    units = tmp_path / "units"
    units.mkdir()
    instance = units / "yikou@kiosk.service"
    shutil.copy(template, instance)
    # The --demo drop-in beside it: verify reads it too (two ExecStart= without the reset
    # line would be refused).
    shutil.copytree(
        tmp_path / "root/etc/systemd/system/yikou@kiosk.service.d", units / "yikou@kiosk.service.d"
    )
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
