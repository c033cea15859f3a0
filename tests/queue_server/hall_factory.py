"""Builders for engine tests: hall configurations, halls and a clock that only moves when told.

Shared by every test that needs a hall (engine, storage, console, server)::

    config = make_config(rules={"allow_call_specific": False})
    clock = Clock()  # Thursday 2026-11-26 09:00 in the hall's zone
    hall = make_hall(config)
    events = hall.handle(IssueTicket(service=BIRTH), clock.now)
    clock.advance(minutes=5)

``make_config`` starts from the example that ``python main.py init`` writes; each keyword replaces
one top-level section, except that a dict given for a table section (``hall``, ``hours``,
``rules``, ``appointments``, ...) is merged into the example's table key by key.

``Driver`` bundles a hall, its clock and the log of every event it emitted (a refusal's
housekeeping events included), with ``issue()`` and ``replay()`` shortcuts.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import tomllib
from typing import Any
from zoneinfo import ZoneInfo

from queue_server.config import HallConfig, parse_config
from queue_server.engine import events as V
from queue_server.engine.dispatch import DispatchPolicy
from queue_server.engine.hall import Hall
from queue_server.engine.model import Ticket
from queue_server.errors import EngineError
from queue_server.example_config import example_config
from queue_server.protocol import commands as C

ZONE = ZoneInfo("Asia/Shanghai")

# Services of the example configuration, by queue.
BIRTH = "jisheng.birth_registration"  # A, counter 1 (tier 0), counter 5 (tier 1); bookable
SENIOR_CARD = "laoling.senior_card"  # A, also counter 6 tier 0
EMPLOYMENT = "renshe.employment_registration"  # B, counter 2 (tier 0), counter 1 (tier 1)
SI_CARD = "renshe.social_insurance_card"  # B, also counter 6 tier 0
SUBSISTENCE = "minzheng.subsistence_allowance"  # C
RENTAL = "fangguan.public_rental_housing"  # D
PERMIT = "liuguan.residence_permit"  # E, daily quota 120, 2 bookings per slot
REGISTRATION = "liuguan.residence_registration"  # E


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    """An aware datetime in the example hall's zone."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZONE)


@functools.cache
def _example_data() -> dict[str, Any]:
    # Hashing the example's credentials takes a while; do it once per test run.
    text, _credentials = example_config()
    return tomllib.loads(text)


def config_data(**overrides: Any) -> dict[str, Any]:
    """The example configuration as a TOML-decoded dict, with ``overrides`` applied."""
    data = copy.deepcopy(_example_data())
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def make_config(**overrides: Any) -> HallConfig:
    """A validated ``HallConfig``: the example with ``overrides`` (see the module docstring)."""
    return parse_config(config_data(**overrides))


def make_hall(config: HallConfig | None = None, *, policy: DispatchPolicy | None = None) -> Hall:
    return Hall(config or make_config(), policy=policy)


class Clock:
    """Injected time: starts at ``start`` (default Thursday 2026-11-26 09:00 local) and moves
    only through ``advance``/``set``. Never reads the real clock."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or local(2026, 11, 26, 9, 0)
        if self.now.tzinfo is None:
            raise ValueError("the clock needs an aware start time")

    def advance(self, **delta: float) -> dt.datetime:
        """Move forward by ``timedelta(**delta)`` and return the new time."""
        step = dt.timedelta(**delta)
        if step < dt.timedelta(0):
            raise ValueError("the clock does not go back")
        self.now += step
        return self.now

    def set(self, when: dt.datetime) -> dt.datetime:
        if when < self.now:
            raise ValueError("the clock does not go back")
        self.now = when
        return self.now

    def __call__(self) -> dt.datetime:
        return self.now


class Driver:
    """A hall, its clock and the log of every event it emitted, refused commands included
    (the housekeeping events a refusal carries are part of the record too)."""

    def __init__(
        self,
        config: HallConfig | None = None,
        *,
        clock: Clock | None = None,
        policy: DispatchPolicy | None = None,
    ):
        self.hall = make_hall(config, policy=policy)
        self.clock = clock or Clock()
        self.log: list[V.Event] = []

    def do(self, command: C.Command) -> list[V.Event]:
        """Handle ``command`` at the clock's time; a refusal's events are logged, then re-raised."""
        try:
            events = self.hall.handle(command, self.clock.now)
        except EngineError as exc:
            self.log.extend(exc.events)
            raise
        self.log.extend(events)
        return events

    def issue(self, service: str = BIRTH, **fields: Any) -> Ticket:
        """Issue a ticket and return the hall's record of it."""
        events = self.do(C.IssueTicket(service=service, **fields))
        issued = [e for e in events if isinstance(e, V.TicketIssued)]
        return self.hall.tickets[issued[-1].ticket.id]

    def replay(self) -> Hall:
        """A fresh hall with the same config that applied every logged event."""
        twin = Hall(self.hall.config, policy=self.hall.policy)
        for event in self.log:
            twin.apply(event)
        return twin
