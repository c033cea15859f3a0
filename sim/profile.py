"""Day profiles: what a simulated hall day looks like, read from a TOML file.

A profile says how many residents come, when, for what, with which priority, how long each
service takes and how residents behave when called. It holds no hall layout: the windows, their
skills and the opening hours come from the hall configuration, so one profile can be run
against several skill matrices. ``load_profile(path)`` validates the file; ``resolve`` turns it
into the flat per-service numbers the simulator draws from, with the catalog filling gaps.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from queue_server.config import HallConfig
from queue_server.errors import ConfigError

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceTime(_Model):
    """A service-time distribution. ``mean_minutes`` unset: the catalog's estimate."""

    dist: Literal["exponential", "lognormal", "fixed"] | None = None
    mean_minutes: float | None = Field(default=None, gt=0)
    # Coefficient of variation (standard deviation / mean); lognormal only.
    cv: float | None = Field(default=None, gt=0)


class ServiceDemand(_Model):
    # Relative share of the day's walk-in tickets.
    weight: float = Field(ge=0)
    # Mean bookings a day for this service (taken the day before, into the hall's slots).
    appointments_per_day: float = Field(default=0, ge=0)
    time: ServiceTime = ServiceTime()


class Arrivals(_Model):
    # Mean walk-in tickets a day (a Poisson number).
    per_day: float = Field(gt=0)
    # Hour of day (hall time, "9" or "09") -> relative weight of the tickets taken in that hour.
    # Within an hour arrivals are a Poisson process at a constant rate; only the part of the
    # hour within ticket hours counts.
    hourly: dict[str, float] = Field(min_length=1)
    # Tickets taken in the first this-many minutes of the day are left out of the statistics
    # (0 for a real hall day, which starts empty; steady-state experiments discard a warm-up).
    warmup_minutes: float = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _hours(self) -> Arrivals:
        for key, weight in self.hourly.items():
            if not key.isdigit() or not 0 <= int(key) <= 23:
                raise ValueError(f"hourly: {key!r} is not an hour 0-23")
            if weight < 0:
                raise ValueError(f"hourly[{key}]: negative weight")
        return self


class Behaviour(_Model):
    """What residents do when their number is called."""

    # Seconds from the call to the resident sitting at the window (uniform between the two).
    walk_seconds: tuple[float, float] = (20, 60)
    # Share of called residents who miss the first call and come at the recall.
    recall_share: float = Field(default=0.0, ge=0, le=1)
    recall_interval_s: float = Field(default=60, ge=0)
    # Calls before the window gives up on a resident (过号): the first call plus this many.
    max_recalls: int = Field(default=2, ge=0)
    # Share of tickets whose holder has left when called (过号).
    no_show_share: float = Field(default=0.0, ge=0, le=1)
    # Share of those who come back and are put back in the queue (within the hall's grace).
    requeue_share: float = Field(default=0.0, ge=0, le=1)
    # Minutes after the no-show when they come back (uniform).
    requeue_after_minutes: tuple[float, float] = (5, 20)


class AppointmentBehaviour(_Model):
    # Share of bookings whose holder never comes (爽约).
    no_show_share: float = Field(default=0.0, ge=0, le=1)
    # Share who come after the late grace: the booking is void, they take an ordinary ticket.
    late_share: float = Field(default=0.0, ge=0, le=1)


class Profile(_Model):
    name: str
    description: str = ""
    arrivals: Arrivals
    # Priority class -> share of walk-in tickets; the rest are "normal".
    priority: dict[str, float] = {}
    # The default distribution; a service's own [services.X.time] overrides it field by field.
    service_time: ServiceTime = ServiceTime(dist="lognormal", cv=0.6)
    services: dict[str, ServiceDemand] = Field(min_length=1)
    behaviour: Behaviour = Behaviour()
    appointments: AppointmentBehaviour = AppointmentBehaviour()
    # Keep the hall's daily quotas? Off by default: a quota would truncate the demand studied.
    respect_quotas: bool = False

    @model_validator(mode="after")
    def _shares(self) -> Profile:
        total = sum(self.priority.values())
        if any(v < 0 for v in self.priority.values()) or total > 1:
            raise ValueError("priority shares must be >= 0 and sum to at most 1")
        if "normal" in self.priority:
            raise ValueError("priority: 'normal' is the remainder; do not list it")
        if not any(s.weight > 0 for s in self.services.values()):
            raise ValueError("services: at least one needs a positive weight")
        return self


def parse_profile(data: dict, *, source: str | None = None) -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise ConfigError(first["msg"], field=field, source=source) from exc


def load_profile(path: str | Path) -> Profile:
    """Read a profile file; a bare name ("chaoyang_street") means a shipped profile."""
    path = Path(path)
    if not path.suffix and not path.exists():
        path = PROFILES_DIR / f"{path.name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the profile: {exc.strerror}", source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from exc
    return parse_profile(data, source=str(path))


@dataclass(frozen=True)
class ServiceModel:
    """One service's numbers, resolved: what the simulator draws from."""

    id: str
    weight: float
    appointments_per_day: float
    dist: str
    mean_s: float
    cv: float


@dataclass(frozen=True)
class Resolved:
    """A profile checked against one hall: every number the simulator needs, flat."""

    profile: Profile
    services: tuple[ServiceModel, ...]
    priority: tuple[tuple[str, float], ...]  # (class, share), "normal" last with the remainder
    hourly: tuple[tuple[int, float], ...]  # (hour, weight / total)


def resolve(profile: Profile, config: HallConfig) -> Resolved:
    """Check the profile against the hall and fill in each service's mean time.

    Every service the profile names must be one the hall offers, and every priority class one
    the hall defines. A mean service time the profile leaves unset is the hall's
    ``service_minutes``: its own figure, or the catalog's ``avg_service_minutes`` once the
    config went through ``apply_catalog`` (as every running hall's does).
    """
    offered = config.service_settings()
    classes = {c.name for c in config.priority_classes}
    for service in profile.services:
        if service not in offered:
            raise ConfigError(f"the hall offers no service {service!r}", field="services")
    for name in profile.priority:
        if name not in classes:
            raise ConfigError(f"the hall has no priority class {name!r}", field="priority")
    default = profile.service_time
    models = []
    for service_id, demand in profile.services.items():
        mean_minutes = demand.time.mean_minutes or default.mean_minutes
        if mean_minutes is None:
            mean_minutes = offered[service_id].service_minutes
        models.append(
            ServiceModel(
                id=service_id,
                weight=demand.weight,
                appointments_per_day=demand.appointments_per_day,
                dist=demand.time.dist or default.dist or "exponential",
                mean_s=mean_minutes * 60,
                cv=demand.time.cv or default.cv or 1.0,
            )
        )
    shares = [(name, share) for name, share in profile.priority.items() if share > 0]
    shares.append(("normal", 1 - sum(s for _, s in shares)))
    total = sum(profile.arrivals.hourly.values())
    hourly = tuple(sorted((int(h), w / total) for h, w in profile.arrivals.hourly.items()))
    return Resolved(profile=profile, services=tuple(models), priority=tuple(shares), hourly=hourly)
