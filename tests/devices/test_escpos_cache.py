"""python-escpos's parsed capabilities are kept in the user's cache folder, written whole once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = (
    "import os, devices.printer, escpos.capabilities as c\n"
    "print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'])\n"
    "print(len(c.CAPABILITIES['profiles']))\n"
)


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env.update(XDG_CACHE_HOME=str(cache), PYTHONPATH=str(ROOT), **extra)
    return env


def _run(cache: Path, **extra: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", CODE], env=_env(cache, **extra), capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.split()


def _together(cache: Path, n: int, **extra: str) -> list[list[str]]:
    """``n`` processes importing escpos at the same moment (two terminals, two test workers)."""
    procs = [
        subprocess.Popen([sys.executable, "-c", CODE], env=_env(cache, **extra),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]  # fmt: skip
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        outs.append(out.split())
    return outs


def test_the_first_process_writes_the_pickle_the_next_one_reads_it(tmp_path):
    first = _run(tmp_path)
    folder = Path(first[0])
    assert folder.parent == tmp_path / "yikou" / "escpos"  # not the private folder, now removed
    assert [p.name for p in folder.iterdir()] == [f"{sys.version.split()[0]}.capabilities.pickle"]
    second = _run(tmp_path)
    assert second == first and int(second[1]) > 10  # the same profiles, from the pickle
    assert len(list(folder.iterdir())) == 1


def test_processes_starting_together_never_read_half_a_pickle(tmp_path):
    import escpos

    # Another installation's capabilities file (here: a copy, newer than the first pickle).
    first = _together(tmp_path, 4)
    assert len({tuple(o) for o in first}) == 1
    other = tmp_path / "capabilities.json"
    shutil.copy(Path(escpos.__file__).with_name("capabilities.json"), other)
    os.utime(other, (time.time() + 60, time.time() + 60))
    again = _together(tmp_path, 4, ESCPOS_CAPABILITIES_FILE=str(other))
    # A pickle older than its file would be rewritten in place by escpos: each file gets its
    # own folder instead, written whole, and every process read the same profiles.
    assert {o[1] for o in again} == {first[0][1]}
    assert len({o[0] for o in again}) == 1 and again[0][0] != first[0][0]
