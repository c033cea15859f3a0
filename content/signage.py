"""Signage content: notices and media a hall shows on its screens, each on a schedule.

The file (default: the ``signage/signage.toml`` shipped with Yikou) holds ``[[items]]``; each
is shown from ``from`` (inclusive) until ``to`` (exclusive). Times without an offset are hall
time (Asia/Shanghai unless the file's ``timezone`` says otherwise); a plain date means the
start of that day for ``from`` and the end of that day for ``to``.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from content.errors import Problem, SignageError
from content.schema import Text

log = logging.getLogger(__name__)

DEFAULT_SIGNAGE = Path(__file__).resolve().parent / "signage" / "signage.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
MEDIA_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


class ItemKind(StrEnum):
    NOTICE = "notice"  # a short text (通知公告)
    IMAGE = "image"  # a picture: a poster, a policy leaflet


class Screen(StrEnum):
    """Where an item may be shown."""

    HALL = "hall"  # 综合屏: the big call-number screen
    COUNTER = "counter"  # 窗口屏: the small screen above a window
    NAVIGATOR = "navigator"  # 导航信息机
    KIOSK = "kiosk"  # 自助填表机, on its idle screen


class SignageItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    kind: ItemKind = ItemKind.NOTICE
    title: Text
    text: Text | None = None  # required for notices
    media: str | None = None  # image file, relative to the signage file; required for images
    valid_from: dt.datetime = Field(alias="from")
    valid_to: dt.datetime = Field(alias="to")
    screens: tuple[Screen, ...] = (Screen.HALL, Screen.NAVIGATOR, Screen.KIOSK)
    halls: tuple[str, ...] = ()  # hall ids; empty means every hall
    priority: Annotated[int, Field(ge=0, le=100)] = 50  # higher first
    seconds: Annotated[int, Field(ge=3, le=600)] = 15  # how long one showing lasts

    @model_validator(mode="after")
    def _consistent(self) -> SignageItem:
        if self.valid_to <= self.valid_from:
            raise ValueError("'to' must be later than 'from'")
        if self.kind is ItemKind.NOTICE and self.text is None:
            raise ValueError("a notice needs a text")
        if self.kind is ItemKind.IMAGE:
            if not self.media:
                raise ValueError("an image needs a media file")
            if Path(self.media).suffix.lower() not in MEDIA_SUFFIXES:
                raise ValueError(f"media must be one of {sorted(MEDIA_SUFFIXES)}")
        if not self.screens:
            raise ValueError("screens must name at least one screen")
        return self

    def active(self, now: dt.datetime) -> bool:
        return self.valid_from <= now < self.valid_to


class Signage:
    """The loaded signage items of a hall."""

    def __init__(self, items: list[SignageItem], *, tz: ZoneInfo, base: Path | None = None):
        self.items: tuple[SignageItem, ...] = tuple(
            sorted(items, key=lambda i: (-i.priority, i.valid_from, i.id))
        )
        self.tz = tz
        self.base = base

    def media_path(self, item: SignageItem) -> Path | None:
        """Where an image item's file is on disk."""
        if not item.media:
            return None
        return (self.base / item.media) if self.base else Path(item.media)

    def active_items(
        self,
        now: dt.datetime,
        *,
        screen: Screen | str | None = None,
        hall: str | None = None,
    ) -> list[SignageItem]:
        """Items to show at ``now`` (naive means hall time), highest priority first."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=self.tz)
        return [
            item
            for item in self.items
            if item.active(now)
            and (screen is None or Screen(screen) in item.screens)
            and (hall is None or not item.halls or hall in item.halls)
        ]


def load_signage(path: Path | str | None = None) -> Signage:
    """Load and validate a signage file; raises SignageError naming file, item and field."""
    file = Path(path) if path is not None else DEFAULT_SIGNAGE
    problems: list[Problem] = []
    try:
        with file.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SignageError([Problem(file, None, None, f"TOML syntax error: {exc}")]) from exc
    except OSError as exc:
        raise SignageError([Problem(file, None, None, f"cannot read: {exc}")]) from exc
    extra = set(data) - {"timezone", "items"}
    if extra:
        problems.append(Problem(file, None, None, f"unknown top-level keys {sorted(extra)}"))
    try:
        tz = ZoneInfo(str(data.get("timezone", DEFAULT_TIMEZONE)))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(file, None, "timezone", "unknown time zone"))
        tz = ZoneInfo(DEFAULT_TIMEZONE)
    items: list[SignageItem] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.get("items", []), start=1):
        entry = f"item {raw.get('id')!r}" if isinstance(raw, dict) else f"item #{number}"
        if not isinstance(raw, dict):
            problems.append(Problem(file, entry, None, "must be a table ([[items]])"))
            continue
        raw = dict(raw)
        for key, end in (("from", False), ("to", True)):
            if key in raw:
                raw[key] = _as_datetime(raw[key], tz, end_of_day=end)
        try:
            item = SignageItem.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or None
                problems.append(Problem(file, entry, loc, err["msg"].removeprefix("Value error, ")))
            continue
        if item.id in seen:
            problems.append(Problem(file, entry, "id", "duplicate id"))
        seen.add(item.id)
        if item.media and not (file.parent / item.media).is_file():
            problems.append(Problem(file, entry, "media", f"no such file: {item.media}"))
        items.append(item)
    if problems:
        raise SignageError(problems)
    log.info("loaded signage %s: %d items", file, len(items))
    return Signage(items, tz=tz, base=file.parent)


def _as_datetime(value: Any, tz: ZoneInfo, *, end_of_day: bool) -> Any:
    """TOML gives date, naive or aware datetime: make every one an aware datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end_of_day else value
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return value  # let the schema say what is wrong
