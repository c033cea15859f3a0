"""The import rules of docs/architecture.md are import-linter contracts: they hold on the tree,
and a planted violation is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _copy_tree(to: Path) -> None:
    """The packages the contracts name, as they are, and the configuration."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for package in config["root_packages"]:
        shutil.copytree(ROOT / package, to / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")


def _lint(where: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT)], cwd=where, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_every_package_keeps_to_its_imports_and_a_planted_violation_is_caught(tmp_path):
    _copy_tree(tmp_path)
    clean = _lint(tmp_path)
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert "0 broken" in clean.stdout

    # The catalog reaching up into the server, and the Kivy layer into an app.
    (tmp_path / "content" / "_planted.py").write_text("import queue_server.server\n")
    (tmp_path / "ui" / "_planted.py").write_text("from kiosk import flow\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "content may import nothing of ours BROKEN" in broken.stdout
    assert "content._planted -> queue_server.server" in broken.stdout
    assert "ui may import terminal BROKEN" in broken.stdout
    assert "ui._planted -> kiosk" in broken.stdout


def test_every_package_of_the_tree_is_under_a_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    named = {m.split(".")[0] for c in config["contracts"] for m in c["source_modules"]}
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - {"tests"}
    assert packages <= named, packages - named
