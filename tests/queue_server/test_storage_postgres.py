"""PostgreSQL-only storage rules: the database must be UTF-8."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from harness.halls import make_config, new_hall_id, pg_url, write_config
from queue_server.errors import StorageError
from queue_server.storage import Store

pytestmark = pytest.mark.postgres


@pytest.fixture
def ascii_url():
    """A database an administrator could hand the hall: SQL_ASCII (what initdb makes when no
    locale is set), in which psycopg reads every text as bytes."""
    base = pg_url()
    name = "yk_ascii_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def test_a_database_that_is_not_utf8_is_refused_naming_the_fix(ascii_url):
    name = ascii_url.rsplit("/", 1)[1]
    with pytest.raises(StorageError) as refused:
        Store(make_config(hall_id=new_hall_id(), url=ascii_url))
    message = str(refused.value)
    assert f"the database {name} has encoding SQL_ASCII" in message
    assert "ENCODING 'UTF8' TEMPLATE template0" in message


def test_the_server_exits_with_one_line_on_a_database_that_is_not_utf8(ascii_url, tmp_path):
    config = write_config(tmp_path / "hall.toml", hall_id=new_hall_id(), url=ascii_url)
    done = subprocess.run(
        [sys.executable, "main.py", "server", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, done.stderr
    assert "has encoding SQL_ASCII" in errors[0] and "ENCODING 'UTF8'" in errors[0]


def test_the_test_cluster_is_utf8():
    """scripts/pg.sh makes it UTF-8 whatever the locale it runs in."""
    engine = sa.create_engine(pg_url())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW server_encoding").scalar() == "UTF8"
    engine.dispose()
