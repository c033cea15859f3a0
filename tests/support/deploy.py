"""What the deployment tests share (tests/kiosk/test_deploy.py, tests/navigator/test_deploy.py):
a hall configuration naming a terminal's devices, and ``main.py install --dry-run --root``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.screens import ROOT

REAL_KIOSK = {
    "reader": "samv:///dev/ttyUSB0",
    "printer": "usb://0416:5011?profile=gb18030-80",
    "scanner": "serial:///dev/ttyACM0?suffix=crlf",
}


def hall_config(folder: Path, device_id: str = "kiosk-1", **urls: str) -> Path:
    """The example hall's configuration in ``folder``, ``urls`` named for ``device_id``."""
    from harness.servers import write_hall_config
    from tests.support.terminal_app import set_devices

    folder.mkdir(parents=True, exist_ok=True)
    config = write_hall_config(folder / "hall.toml", f"sqlite:///{folder / 'h.db'}")
    return set_devices(config, device_id, **urls) if urls else config


def install(
    tmp_path: Path, role: str, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess:
    if config is None:
        config = hall_config(tmp_path / "etc", **REAL_KIOSK)
    return subprocess.run(
        [sys.executable, "main.py", "install", "--role", role, "--config", str(config),
         "--dry-run", "--root", str(tmp_path / "root"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
