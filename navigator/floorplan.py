"""The demo hall's floor plan, drawn with Pillow: ``python -m navigator.floorplan [OUT.png]``.

The plan carries no words (the terminal writes the window numbers, "you are here" and the
place names over it, in the resident's language and size); it shows walls, the entrance, the
windows' desks, the waiting seats, the kiosks and the information desk where
navigator.settings places them. A real hall configures its own plan (``[navigator] map``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

from navigator.settings import DEFAULT_MAP, DEMO_WINDOWS

SIZE = (1600, 1000)
FLOOR = (246, 244, 238)
WALL = (70, 78, 92)
DESK = (196, 170, 128)
DESK_EDGE = (140, 112, 72)
STAFF_AREA = (226, 230, 236)
SEAT = (150, 176, 208)
MAT = (214, 206, 190)
PLANT = (120, 170, 110)
KIOSK = (90, 130, 190)


def draw_plan(size: tuple[int, int] = SIZE) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, FLOOR)
    d = ImageDraw.Draw(img)

    def box(x0, y0, x1, y1, fill, outline=None, width=1):
        d.rectangle((x0 * w, y0 * h, x1 * w, y1 * h), fill=fill, outline=outline, width=width)

    # Behind the windows: the staff area.
    box(0.03, 0.04, 0.97, 0.16, STAFF_AREA)
    # One desk per window, with a partition between neighbours.
    for key, (x, _y) in DEMO_WINDOWS.items():
        box(x - 0.06, 0.15, x + 0.06, 0.2, DESK, DESK_EDGE, 3)
        if key != "1":
            box(x - 0.076, 0.1, x - 0.072, 0.2, DESK_EDGE)
    # Waiting seats: two blocks with the centre aisle between them.
    for left in (0.12, 0.58):
        for row in range(5):
            y = 0.45 + row * 0.055
            for seat in range(9):
                x = left + seat * 0.034
                box(x, y, x + 0.026, y + 0.032, SEAT)
    # Kiosks (left of the entrance) and the information desk (right).
    for i in range(3):
        box(0.1 + i * 0.045, 0.8, 0.13 + i * 0.045, 0.84, KIOSK, WALL, 2)
    box(0.74, 0.8, 0.92, 0.85, DESK, DESK_EDGE, 3)
    # Plants in the corners.
    for x, y in ((0.05, 0.3), (0.95, 0.3), (0.05, 0.9), (0.95, 0.9)):
        d.ellipse(((x - 0.02) * w, (y - 0.03) * h, (x + 0.02) * w, (y + 0.03) * h), fill=PLANT)
    # The doormat, then the walls with the entrance gap at the bottom centre.
    box(0.42, 0.93, 0.58, 0.985, MAT)
    t = 14
    d.rectangle((0, 0, w, t), fill=WALL)
    d.rectangle((0, 0, t, h), fill=WALL)
    d.rectangle((w - t, 0, w, h), fill=WALL)
    d.rectangle((0, h - t, 0.42 * w, h), fill=WALL)
    d.rectangle((0.58 * w, h - t, w, h), fill=WALL)
    return img


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_MAP
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_plan().save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
