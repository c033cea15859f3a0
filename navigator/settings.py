"""The navigator's settings: the hall configuration's optional ``[navigator]`` section.

    [navigator]
    map = "hall-plan.png"        # the floor plan (relative to the config file); default: the
                                 # shipped plan of the demo hall (navigator/maps/demo-hall.png)
    terminal = [0.50, 0.86]      # where this terminal stands on the plan
    aisle = 0.30                 # the walkway in front of the windows (a height on the plan)
    idle_s = 60                  # no touch for this long: wipe and go home (elderly: idle_s_elderly)

    [navigator.windows]          # where a resident stands at each window
    "1" = [0.12, 0.22]
    "2" = [0.27, 0.22]

    [[navigator.places]]         # names written over the plan, in the resident's language
    name_zh = "入口"
    name_en = "Entrance"
    at = [0.5, 0.95]

Positions are fractions of the plan's width and height measured from its top-left corner, as
one reads a printed plan, so one configuration fits the plan at any resolution. Windows left
out are placed evenly along the top wall, so a hall with no section at all still gets a map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from queue_server.config import ConfigError, HallConfig

HERE = Path(__file__).resolve().parent
DEFAULT_MAP = HERE / "maps" / "demo-hall.png"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Fraction, Fraction]

# The shipped plan's windows (navigator/floorplan.py draws their desks at these places).
DEMO_WINDOWS: dict[str, Point] = {
    str(n): (round(0.13 + (n - 1) * 0.148, 3), 0.24) for n in range(1, 7)
}
DEMO_TERMINAL: Point = (0.5, 0.86)
DEMO_AISLE = 0.33


class Place(BaseModel):
    """A named spot written over the plan (the entrance, the information desk)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name_zh: str
    name_en: str
    at: Point


DEMO_PLACES = (
    Place(name_zh="入口", name_en="Entrance", at=(0.5, 0.955)),
    Place(name_zh="等候区", name_en="Waiting area", at=(0.27, 0.41)),
    Place(name_zh="自助填表机", name_en="Kiosks", at=(0.145, 0.77)),
    Place(name_zh="咨询台", name_en="Information desk", at=(0.83, 0.77)),
)


class NavigatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    map: str | None = None
    terminal: Point = DEMO_TERMINAL
    aisle: Fraction = DEMO_AISLE
    windows: dict[str, Point] = {}
    # Names over the plan; None: the demo plan's (none when a plan of one's own is set).
    places: list[Place] | None = None
    idle_s: Annotated[float, Field(ge=10, le=3600)] = 60.0
    idle_s_elderly: Annotated[float, Field(ge=10, le=3600)] = 150.0
    warn_s: Annotated[float, Field(ge=1, le=120)] = 15.0
    warn_s_elderly: Annotated[float, Field(ge=1, le=120)] = 30.0
    booked_s: Annotated[float, Field(ge=10, le=3600)] = 90.0  # the booking's QR stays this long
    page_size: Annotated[int, Field(ge=1, le=20)] = 8
    page_size_elderly: Annotated[int, Field(ge=1, le=20)] = 4
    help_desk_zh: str = "咨询台"
    help_desk_en: str = "information desk"

    @field_validator("windows")
    @classmethod
    def _window_numbers(cls, value: dict[str, Point]) -> dict[str, Point]:
        for key in value:
            if not key.isdigit():
                raise ValueError(f'window {key!r}: windows are keyed by their number, e.g. "3"')
        return value

    def map_path(self, base: Path | None = None) -> Path:
        """The floor plan's file (a relative path is relative to ``base``, the config's folder)."""
        if self.map is None:
            return DEFAULT_MAP
        path = Path(self.map)
        return path if path.is_absolute() or base is None else base / path

    def place_list(self) -> list[Place]:
        if self.places is not None:
            return list(self.places)
        return list(DEMO_PLACES) if self.map is None else []

    def window_positions(self, config: HallConfig) -> dict[int, tuple[float, float]]:
        """Every counter of the hall on the plan: configured, or placed along the top wall."""
        counters = [c.id for c in config.counters]
        unknown = sorted(set(self.windows) - {str(c) for c in counters}, key=int)
        if unknown:
            raise ConfigError(
                f"window {unknown[0]} is on the map but the hall has no such counter",
                field="navigator.windows",
            )
        given = self.windows or (DEMO_WINDOWS if self.map is None else {})
        missing = [c for c in counters if str(c) not in given]
        out = {c: tuple(given[str(c)]) for c in counters if str(c) in given}
        for i, counter in enumerate(missing):
            # Evenly along the top wall, right of any configured ones.
            x = 0.08 + (i + 0.5) * 0.84 / len(missing)
            out[counter] = (round(x, 3), 0.12 if given else DEMO_WINDOWS["1"][1])
        return out  # type: ignore[return-value]


def load_settings(config: HallConfig) -> NavigatorSettings:
    """The ``[navigator]`` section, validated; ConfigError names the bad field."""
    from pydantic import ValidationError

    try:
        settings = NavigatorSettings.model_validate(config.navigator)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(message, field=f"navigator.{where}" if where else "navigator") from exc
    settings.window_positions(config)  # unknown windows fail at start, not on first touch
    return settings
