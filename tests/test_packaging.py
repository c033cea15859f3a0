"""What an install pulls and what a command imports: a server needs no screens and no plots."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _names(requirements: list[str]) -> list[str]:
    return [re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in requirements]


def test_no_dependency_twice_and_screens_and_plots_are_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _names(project["dependencies"])
    assert len(core) == len(set(core)), core
    assert not {"kivy", "fonttools", "matplotlib"} & set(core)
    extras = project["optional-dependencies"]
    assert _names(extras["screens"]) == ["kivy", "fonttools"]
    assert _names(extras["plots"]) == ["matplotlib"]
    for name, requirements in extras.items():
        listed = _names(requirements)
        assert len(listed) == len(set(listed)) and not set(listed) & set(core), name
    assert project["scripts"]["yikou"] == "main:main"


def test_help_and_the_server_import_no_screen_plot_or_image_library():
    code = (
        "import sys, main\n"
        "main.build_parser([])\n"
        "assert not {'kivy', 'PIL', 'matplotlib', 'sqlalchemy'} & set(sys.modules), 'help'\n"
        "main.build_parser(['server'])\n"
        "import queue_server.server\n"
        "heavy = {'kivy', 'PIL', 'matplotlib'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
