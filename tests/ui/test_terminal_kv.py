"""The shared widgets' heights have one rule each (ui/terminal.kv): a screen that sizes a KLabel,
KTitle, KButton or KButton2 itself sets ``fixed_height``. A ``height:`` of its own would bind
beside the class rule's, and the last to fire would win, so a screen could come out differently
from run to run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("KLabel", "KTitle", "KButton", "KButton2")
KV_FILES = [ROOT / "ui" / "terminal.kv", *sorted(ROOT.glob("*/kv/*.kv"))]


def own_properties(lines: list[str], start: int) -> dict[str, str]:
    """The properties the widget declared on line ``start`` sets directly (its block's first
    level), by name."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    found: dict[str, str] = {}
    child_indent = None
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= indent:
            break
        child_indent = child_indent or depth
        match = re.match(r"\s*(\w+)\s*:", line)
        if depth == child_indent and match:
            found[match.group(1)] = line.split(":", 1)[1].strip()
    return found


def test_no_screen_sets_a_shared_widgets_height_itself():
    assert len(KV_FILES) > 20
    widget = re.compile(r"^\s*(" + "|".join(SHARED) + r"):\s*$")
    offenders, sized = [], 0
    for path in KV_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if widget.match(line):
                props = own_properties(lines, number)
                sized += "fixed_height" in props
                if "height" in props or "size" in props:
                    offenders.append(f"{path.relative_to(ROOT)}:{number + 1}")
    assert not offenders, offenders
    assert sized >= 29  # the footers, page bars and bar titles that fill their bar


def test_the_class_rules_give_way_to_fixed_height():
    lines = (ROOT / "ui" / "terminal.kv").read_text(encoding="utf-8").splitlines()
    for name in ("KLabel@Label", "KButton@Button"):
        start = lines.index(f"<{name}>:")
        props = own_properties(lines, start)
        assert props["fixed_height"] == "None", name
        body = "\n".join(lines[start : start + 30])
        assert "if self.fixed_height is None" in body, name
