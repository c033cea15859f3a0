"""``main.py install --role navigator``: the template unit covers it; like the kiosk it speaks
sd_notify (READY, WATCHDOG), so it gets no drop-in that turns the watchdog off; like the kiosk
it is installed only with real devices named in its [[devices]] entry, or with --demo."""

from __future__ import annotations

import sys

from harness.screens import ROOT
from tests.support.deploy import hall_config, install

REAL_NAVIGATOR = {
    "reader": "samv:///dev/ttyUSB0",
    "printer": "none",  # a navigator may have no printer: the booking's QR code is shown
    "scanner": "serial:///dev/ttyACM0?suffix=crlf",
}


def test_install_navigator_dry_run(tmp_path):
    config = hall_config(tmp_path / "etc", "navigator-1", **REAL_NAVIGATOR)
    done = install(tmp_path, "navigator", config=config)
    assert done.returncode == 0, done.stderr
    units = tmp_path / "root/etc/systemd/system"
    unit = (units / "yikou@.service").read_text()
    assert "ExecStart=" in unit and f"main.py %i --config {config} $YIKOU_ARGS" in unit
    assert "Type=notify" in unit and "WatchdogSec=30" in unit
    assert not (units / "yikou@navigator.service.d").exists()
    assert "would run: systemctl enable --now yikou@navigator.service" in done.stdout.splitlines()


def test_install_refuses_a_navigator_without_real_devices_unless_demo(tmp_path):
    partial = hall_config(tmp_path / "etc", "navigator-1", reader="sim://", printer="none")
    done = install(tmp_path, "navigator", config=partial)
    assert done.returncode == 2, done.stderr
    assert (
        "navigator navigator-1 needs real devices (devices[1].reader is sim://, "
        "devices[1].scanner is not set)" in done.stderr
    )
    assert not (tmp_path / "root").exists()
    done = install(tmp_path, "navigator", "--demo", config=partial)
    assert done.returncode == 0, done.stderr
    conf = tmp_path / "root/etc/systemd/system/yikou@navigator.service.d/20-command.conf"
    assert conf.read_text().splitlines()[-1] == (
        f"ExecStart={sys.executable} {ROOT}/main.py %i --config {partial} --demo $YIKOU_ARGS"
    )
