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


def test_help_and_the_server_import_no_screen_plot_or_image_library(tmp_path):
    # pypinyin too: the server checks its hall's services against the catalog by id, and only
    # a search (the catalog's pinyin order and index) needs the readings.
    code = (
        "import asyncio, sys, main\n"
        "main.build_parser([])\n"
        "assert not {'kivy', 'PIL', 'matplotlib', 'sqlalchemy', 'pypinyin'} & set(sys.modules)\n"
        "main.build_parser(['server'])\n"
        "import queue_server.server\n"
        "from harness.servers import running_server\n"
        "from pathlib import Path\n"
        "async def start():\n"
        "    async with running_server(Path(sys.argv[1])) as hall:\n"
        "        assert hall.config.services\n"
        "asyncio.run(start())\n"
        "heavy = {'kivy', 'PIL', 'matplotlib', 'pypinyin'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "from content import default_catalog\n"
        "assert default_catalog().search('jzz'), 'a search still finds'\n"
        "assert 'pypinyin' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, check=True, timeout=60)
