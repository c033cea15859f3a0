"""The Chinese font of every screen: Noto Sans CJK (Debian ``fonts-noto-cjk``).

Debian ships the font as a collection (``NotoSansCJK-Regular.ttc``) whose first face is the
Japanese one; Kivy's SDL2 text provider always opens the first face, which would draw many
shared characters with Japanese shapes. So the Simplified Chinese face is copied out of the
collection once (fontTools) into a cache folder and registered under the name ``CJK``.

    from ui.fonts import register_fonts
    register_fonts()          # before the kv files load; raises FontMissing if not installed
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

FONT_NAME = "CJK"
PACKAGE = "fonts-noto-cjk"
# Where Debian and other distributions put the collections.
SEARCH_DIRS = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
    Path("/usr/share/fonts/truetype/noto"),
    Path("/usr/local/share/fonts"),
)
FILES = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
FACE = "Noto Sans CJK SC"


class FontMissing(RuntimeError):
    """The CJK font is not installed."""


def find_collection(style: str = "regular") -> Path:
    """The path of Noto Sans CJK's collection file for ``style`` (regular or bold)."""
    name = FILES[style]
    for folder in SEARCH_DIRS:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    # Anywhere else fontconfig knows about.
    if shutil.which("fc-list"):
        out = subprocess.run(
            ["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, check=False
        ).stdout
        for line in out.splitlines():
            if Path(line).name == name:
                return Path(line)
    raise FontMissing(
        f"the Chinese font {name} was not found (looked in "
        f"{', '.join(str(d) for d in SEARCH_DIRS)} and fontconfig); install the Debian "
        f"package {PACKAGE}: apt-get install {PACKAGE}"
    )


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yikou" / "fonts"


def simplified_face(style: str = "regular", *, cache: Path | None = None) -> Path:
    """A single-face font file with the Simplified Chinese face of the collection (made once)."""
    source = find_collection(style)
    folder = cache or cache_dir()
    target = folder / f"NotoSansCJKsc-{style}-{source.stat().st_size}.otf"
    if target.is_file():
        return target
    try:
        from fontTools.ttLib import TTCollection
    except ImportError:  # fall back to the collection's first face, and say so
        log.warning("fontTools is missing: using %s's first face (Japanese shapes)", source)
        return source
    folder.mkdir(parents=True, exist_ok=True)
    collection = TTCollection(str(source), lazy=True)
    face = next(
        (f for f in collection.fonts if f["name"].getDebugName(1) == FACE), collection.fonts[0]
    )
    partial = target.with_suffix(f".{os.getpid()}.part")
    face.save(str(partial), reorderTables=False)
    partial.replace(target)  # atomic: a second app starting at once never reads half a file
    log.info("extracted %s from %s to %s", FACE, source, target)
    return target


def register_fonts(*, cache: Path | None = None) -> str:
    """Register the CJK font with Kivy as ``CJK`` and make it the default; return its name."""
    from kivy.core.text import LabelBase

    regular = simplified_face("regular", cache=cache)
    bold = simplified_face("bold", cache=cache)
    LabelBase.register(FONT_NAME, fn_regular=str(regular), fn_bold=str(bold))
    LabelBase.register("Roboto", fn_regular=str(regular), fn_bold=str(bold))  # the default
    return FONT_NAME
