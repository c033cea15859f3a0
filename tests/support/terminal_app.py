"""What the kiosk's and the navigator's app tests (tests/*/test_app.py) share: checking a
scenario's screenshots, and copying them to docs/screenshots/ when asked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.screens import ROOT

DOCS = ROOT / "docs" / "screenshots"


def check_shots(shots: dict, expected: set[str], *, demo: bool = True) -> None:
    """Every expected screen was taken, as a real PNG of the window's size with something
    drawn on it, with the 演示 badge in its header exactly when the terminal is a ``demo``; with
    YIKOU_UPDATE_SCREENSHOTS=1 each is also copied to docs/screenshots/."""
    assert expected <= set(shots), sorted(expected - set(shots))
    for name, shot in shots.items():
        badge = shot["badge"]
        assert badge["shown"] is demo, (name, badge)
        if demo:
            assert badge["text"] in ("演示", "Demo") and badge["fits"], (name, badge)
        path = Path(shot["path"])
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 15_000
        size = (1080, 1920) if name.startswith("portrait") else (1920, 1080)
        assert tuple(shot["size"]) == size, name
        # A blank or single-colour frame has no spread; a drawn screen has text and panels.
        assert shot["variance"] > 300 and shot["levels"] > 8, name
        if os.environ.get("YIKOU_UPDATE_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS / path.name)


def set_devices(config: Path, device_id: str, **urls: str) -> Path:
    """Name ``urls`` (reader=..., printer=..., scanner=...) in the ``[[devices]]`` entry of
    ``device_id`` in the hall configuration file ``config``, as a technician would."""
    text = config.read_text(encoding="utf-8")
    entry = f'id = "{device_id}"\n'
    assert text.count(entry) == 1, f"no single [[devices]] entry {device_id}"
    lines = "".join(f'{kind} = "{url}"\n' for kind, url in urls.items())
    config.write_text(text.replace(entry, entry + lines), encoding="utf-8")
    return config
