"""Where python-escpos keeps its parsed printer capabilities: a cache folder, once.

python-escpos parses its ``capabilities.json`` (with PyYAML) when it is imported (about 0.2 s,
the largest import before a kiosk's first frame) and pickles the result into
``ESCPOS_CAPABILITIES_PICKLE_DIR``, by default a new ``mkdtemp()`` folder: every process parsed
the file again and left a folder behind in /tmp. Importing this module before escpos
(devices/printer.py does) points it at a per-user cache folder instead. A process that finds no
pickle there lets escpos write one in a private folder, and ``published()`` moves it in whole
(``os.replace``): two terminals starting at once never read half a file. The folder is keyed by
the capabilities file's path and time: escpos rewrites a pickle older than that file IN PLACE
(truncate, then write), so a pickle left by another installation must never be the one found.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import tempfile
from pathlib import Path

ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"
_private: Path | None = None


def _capabilities_file() -> Path | None:
    """The file escpos parses (its own ``capabilities.json`` unless the environment names one),
    found without importing escpos."""
    named = os.environ.get("ESCPOS_CAPABILITIES_FILE")
    if named:
        return Path(named)
    spec = importlib.util.find_spec("escpos")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "capabilities.json"


def cache_folder() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yikou" / "escpos"
    source = _capabilities_file()
    try:
        stamp = f"{source.resolve()}:{source.stat().st_mtime_ns}" if source else "none"
    except OSError:
        stamp = "none"
    return base / hashlib.sha256(stamp.encode()).hexdigest()[:16]


def _name() -> str:
    return f"{platform.python_version()}.capabilities.pickle"  # escpos's own file name


def prepare() -> None:
    """Set escpos's pickle folder, unless the environment already chose one."""
    global _private
    if ENV in os.environ:
        return
    folder = cache_folder()
    try:
        if (folder / _name()).is_file():
            os.environ[ENV] = str(folder)
            return
        folder.mkdir(parents=True, exist_ok=True)
        _private = Path(tempfile.mkdtemp(dir=folder, prefix=".new-"))
    except OSError:
        return  # no writable cache: escpos's own temporary folder, as before
    os.environ[ENV] = str(_private)


def published() -> None:
    """After escpos's import: move the pickle it wrote into the shared folder."""
    global _private
    if _private is None:
        return
    folder, private, _private = cache_folder(), _private, None
    try:
        os.replace(private / _name(), folder / _name())
    except OSError:
        pass  # escpos could not write one; the next process tries again
    shutil.rmtree(private, ignore_errors=True)
    os.environ[ENV] = str(folder)  # not the removed folder, for any child process


prepare()
