"""Shared helpers for the storage, crash and concurrency tests: hall configs on a given database.

The example hall's hours are widened to every day, all day, so these tests never depend on when
they run; the clock is injected wherever a test needs a particular time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import tomllib
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from queue_server.config import HallConfig, parse_config
from queue_server.example_config import example_config

ZONE = ZoneInfo("Asia/Shanghai")
# A Thursday morning in the hall's time zone.
T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=ZONE)

_HOURS = """[hours]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
open = 00:00:00
close = 23:59:59
holidays = []
"""

_cached_text: str | None = None


def config_text(*, hall_id: str, url: str, synchronous: str = "full") -> str:
    """The example config on database ``url`` for hall ``hall_id``, open around the clock."""
    global _cached_text
    if _cached_text is None:  # hashing the example's passwords is slow; do it once per process
        _cached_text = example_config()[0]
    text = re.sub(r"\[hours\].*?(?=\n\[rules\])", _HOURS, _cached_text, flags=re.S)
    text = text.replace('id = "chaoyang-demo"', f'id = "{hall_id}"')
    text = re.sub(r'^url = "[^"]*"', f'url = "{url}"', text, flags=re.M)
    return text.replace('synchronous = "full"', f'synchronous = "{synchronous}"')


def make_config(*, hall_id: str, url: str, **kw) -> HallConfig:
    return parse_config(tomllib.loads(config_text(hall_id=hall_id, url=url, **kw)))


def write_config(path: Path, *, hall_id: str, url: str, **kw) -> Path:
    path.write_text(config_text(hall_id=hall_id, url=url, **kw), encoding="utf-8")
    return path


def anchored_clock(origin: float):
    """A clock that reads T0 at wall time ``origin`` and runs at wall speed: processes sharing
    the origin agree on the time, and a test never crosses the hall's midnight (which would
    start a new day and hide the previous day's tickets) whenever it runs."""
    start = T0.astimezone(dt.UTC)

    def now() -> dt.datetime:
        return start + dt.timedelta(seconds=time.time() - origin)

    return now


CLOCK_ORIGIN_ENV = "YIKOU_TEST_CLOCK_ORIGIN"


def new_hall_id() -> str:
    return "t" + uuid.uuid4().hex[:12]


def pg_url() -> str:
    """The test PostgreSQL server's URL (scripts/test.sh starts it); skips (fails under CI) a
    test without one."""
    import pytest

    url = os.environ.get("YIKOU_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("YIKOU_TEST_PG_URL is not set: scripts/test.sh must start PostgreSQL in CI")
        pytest.skip("PostgreSQL not started: run the suite through scripts/test.sh")
    return url


def fresh_pg_database() -> str:
    """A new empty database on the test server, so schema tests start from nothing."""
    base = pg_url()
    name = "yk_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def db_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'hall.db'}"
    return fresh_pg_database()


def _norm(value):
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 6)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    return value


def _record(obj) -> tuple:
    return tuple((name, _norm(getattr(obj, name))) for name in obj.__slots__)


def fingerprint(hall) -> dict:
    """Everything the engine knows, in a comparable form (datetimes as instants)."""
    return {
        "seq": hall.seq,
        "day": hall.today.day,
        "sequences": _norm(hall.today.sequences),
        "issued": _norm(hall.today.issued),
        "tickets": {k: _record(t) for k, t in hall.tickets.items()},
        "waiting": {s: sorted(q) for s, q in hall.waiting.items()},
        "counters": {k: _record(c) for k, c in hall.counters.items()},
        "appointments": {k: _record(a) for k, a in hall.appointments.items()},
        "notices": {k: _record(n) for k, n in hall.notices.items()},
        "open_by_resident": dict(hall.open_by_resident),
    }
