"""python-escpos's parsed capabilities are kept in the user's cache folder, written whole once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = (
    "import os, devices.printer, escpos.capabilities as c\n"
    "print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'])\n"
    "print(len(c.CAPABILITIES['profiles']))\n"
)


def _run(cache: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env.update(XDG_CACHE_HOME=str(cache), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_the_first_process_writes_the_pickle_the_next_one_reads_it(tmp_path):
    folder = tmp_path / "yikou" / "escpos"
    first = _run(tmp_path)
    assert first[0] == str(folder)  # not the private folder escpos wrote into, now removed
    assert [p.name for p in folder.iterdir()] == [f"{sys.version.split()[0]}.capabilities.pickle"]
    second = _run(tmp_path)
    assert second == first and int(second[1]) > 10  # the same profiles, from the pickle
    assert len(list(folder.iterdir())) == 1
