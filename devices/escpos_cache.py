"""Where python-escpos keeps its parsed printer capabilities: a cache folder, once.

python-escpos parses its ``capabilities.json`` (with PyYAML) when it is imported (about 0.2 s,
the largest import before a kiosk's first frame) and pickles the result into
``ESCPOS_CAPABILITIES_PICKLE_DIR``, by default a new ``mkdtemp()`` folder: every process parsed
the file again and left a folder behind in /tmp. Importing this module before escpos
(devices/printer.py does) points it at a per-user cache folder instead. A process that finds no
pickle there lets escpos write one in a private folder, and ``published()`` moves it in whole
(``os.replace``): two terminals starting at once never read half a file.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"
_private: Path | None = None


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yikou" / "escpos"


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
