"""Signage: schedules, screens, validation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from content import SignageError, load_signage

BEIJING = ZoneInfo("Asia/Shanghai")

ITEMS = """\
[[items]]
id = "spring"
title = { zh = "春节放假", en = "Spring Festival" }
text = { zh = "2月16日至22日闭厅。", en = "Closed 16-22 February." }
from = 2026-02-01
to = 2026-02-22
priority = 90

[[items]]
id = "poster"
kind = "image"
title = { zh = "政策海报", en = "Policy poster" }
media = "poster.png"
from = 2026-02-10T09:00:00
to = 2026-03-01T00:00:00+08:00
screens = ["counter"]
halls = ["chaoyang-jinsong"]
"""


@pytest.fixture
def signage_file(tmp_path):
    (tmp_path / "poster.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    path = tmp_path / "signage.toml"
    path.write_text(ITEMS, encoding="utf-8")
    return path


def test_schedule_bounds(signage_file):
    signage = load_signage(signage_file)
    at = lambda *a: dt.datetime(*a, tzinfo=BEIJING)  # noqa: E731
    assert [i.id for i in signage.active_items(at(2026, 1, 31, 23, 59))] == []
    assert [i.id for i in signage.active_items(at(2026, 2, 1))] == ["spring"]
    # A plain date as `to` includes that whole day.
    assert [i.id for i in signage.active_items(at(2026, 2, 22, 23, 59))] == ["spring", "poster"]
    assert [i.id for i in signage.active_items(at(2026, 2, 23))] == ["poster"]
    assert [i.id for i in signage.active_items(at(2026, 2, 15))] == ["spring", "poster"]
    assert [i.id for i in signage.active_items(at(2026, 3, 1))] == []


def test_naive_now_is_hall_time_and_utc_is_converted(signage_file):
    signage = load_signage(signage_file)
    assert [i.id for i in signage.active_items(dt.datetime(2026, 2, 10, 9, 0))] == [
        "spring",
        "poster",
    ]
    # 00:59 UTC is 08:59 in Beijing: the poster (from 09:00 local) is not yet on.
    utc = dt.datetime(2026, 2, 10, 0, 59, tzinfo=dt.UTC)
    assert [i.id for i in signage.active_items(utc)] == ["spring"]


def test_screen_and_hall_filters(signage_file):
    signage = load_signage(signage_file)
    now = dt.datetime(2026, 2, 15, tzinfo=BEIJING)
    assert [i.id for i in signage.active_items(now, screen="hall")] == ["spring"]
    assert [i.id for i in signage.active_items(now, screen="counter")] == ["poster"]
    assert [i.id for i in signage.active_items(now, hall="other")] == ["spring"]
    assert signage.media_path(signage.items[1]) == signage_file.parent / "poster.png"


@pytest.mark.parametrize(
    "change, field, message",
    [
        (("to = 2026-02-22", "to = 2026-01-01"), None, "'to' must be later than 'from'"),
        (('media = "poster.png"', 'media = "missing.png"'), "media", "no such file"),
        (('screens = ["counter"]', 'screens = ["toilet"]'), "screens.0", "Input should be"),
        (
            ('text = { zh = "2月16日至22日闭厅。", en = "Closed 16-22 February." }\n', ""),
            None,
            "a notice needs a text",
        ),
    ],
)
def test_bad_items_are_rejected(signage_file, change, field, message):
    signage_file.write_text(ITEMS.replace(*change), encoding="utf-8")
    with pytest.raises(SignageError) as info:
        load_signage(signage_file)
    assert info.value.file == signage_file
    assert info.value.entry in ("item 'spring'", "item 'poster'")
    assert info.value.field == field
    assert message in str(info.value)


def test_shipped_signage_loads():
    signage = load_signage()
    assert signage.items
    assert signage.active_items(dt.datetime(2026, 6, 1, 10, 0, tzinfo=BEIJING))
