"""Schema versions: the Alembic baseline is today's schema exactly, a store refuses a database of
another version naming the fix, and ``main.py db upgrade`` adopts a database written before
schema versions with its data intact (docs/database.md). SQLite and PostgreSQL."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import main
from harness.halls import (
    T0,
    db_url,
    fingerprint,
    make_config,
    new_hall_id,
    write_config,
)
from queue_server.errors import SchemaVersionError
from queue_server.protocol import commands as C
from queue_server.storage import Replayed, Store, migrate
from queue_server.storage import store as store_module
from queue_server.storage.store import make_engine

SERVICE = "liuguan.residence_permit"
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def _url(kind: str, tmp_path, name: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    return db_url(kind, folder)


def _schema(engine: sa.Engine) -> dict:
    """Every table's columns (type as the database spells it), keys, indexes and constraints."""
    inspector = sa.inspect(engine)
    dialect = engine.dialect
    out = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        out[table] = {
            "columns": [
                (c["name"], c["type"].compile(dialect=dialect), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "foreign_keys": inspector.get_foreign_keys(table),
            "checks": inspector.get_check_constraints(table),
        }
    return out


def test_the_history_is_one_line_from_the_baseline():
    assert migrate.scripts().get_heads() == [migrate.head()]
    assert migrate.scripts().get_base() == migrate.BASELINE


def test_the_migrations_build_exactly_what_create_all_builds(kind, tmp_path):
    migrated = make_engine(_url(kind, tmp_path, "migrated"))
    created = make_engine(_url(kind, tmp_path, "created"))
    assert migrate.upgrade(migrated) == ("empty", migrate.head())
    with created.begin() as conn:
        SQLModel.metadata.create_all(conn)

    with migrated.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert _schema(migrated) == _schema(created)
    assert set(_schema(created)) == set(SQLModel.metadata.tables)  # request_keys included
    migrated.dispose()
    created.dispose()


def _todays_store(config) -> Store:
    """A store as the code before schema versions opened it: create_all, nothing else."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "prepare_schema", SQLModel.metadata.create_all)
        return Store(config, clock=lambda: T0)


def test_a_database_written_before_versions_is_refused_then_upgraded_intact(kind, tmp_path, capsys):
    url = _url(kind, tmp_path, "old")
    hall_id = new_hall_id()
    config = make_config(hall_id=hall_id, url=url)
    path = write_config(tmp_path / "hall.toml", hall_id=hall_id, url=url)
    old = _todays_store(config)
    for _ in range(3):
        old.execute(C.IssueTicket(service=SERVICE))
    old.execute_batch([C.IssueTicket(service=SERVICE)], keys=["k1"])
    before = fingerprint(old.hall)
    old.close()

    with pytest.raises(SchemaVersionError, match="db upgrade --config PATH") as refused:
        Store(config, clock=lambda: T0)
    assert "no schema version" in str(refused.value)
    assert main.main(["db", "current", "--config", str(path)]) == 0
    assert "unversioned" in capsys.readouterr().out

    assert main.main(["db", "upgrade", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"from unversioned (written before schema versions) to {migrate.head()}" in out

    store = Store(config, clock=lambda: T0)
    assert fingerprint(store.hall) == before
    assert len(store.stored_tickets()) == 4
    (retried,) = store.execute_batch([C.IssueTicket(service=SERVICE)], keys=["k1"])
    assert isinstance(retried, Replayed)  # the stored key still answers the retry
    assert len(store.stored_tickets()) == 4
    store.close()
    assert main.main(["db", "current", "--config", str(path)]) == 0
    assert f"database: {migrate.head()} (head)" in capsys.readouterr().out
    assert main.main(["db", "upgrade", "--config", str(path)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_an_old_database_without_a_later_table_is_completed_and_a_foreign_one_refused(tmp_path):
    # Written before request keys existed: create_all added the table at the next start, so
    # the upgrade does too.
    url = _url("sqlite", tmp_path, "before_keys")
    engine = make_engine(url)
    with engine.begin() as conn:
        SQLModel.metadata.create_all(conn)
        conn.exec_driver_sql("DROP TABLE request_keys")
    assert migrate.upgrade(engine)[1] == migrate.head()
    assert "request_keys" in sa.inspect(engine).get_table_names()
    engine.dispose()

    # The hall's table names with other columns: not ours to adopt.
    url = _url("sqlite", tmp_path, "foreign")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE tickets (id INTEGER PRIMARY KEY, what TEXT)")
    with pytest.raises(SchemaVersionError, match="not the baseline's") as refused:
        migrate.upgrade(engine)
    assert "tickets" in str(refused.value)
    assert migrate.current(engine) is None  # nothing was recorded
    engine.dispose()


def test_a_database_newer_than_the_software_is_refused(kind, tmp_path, capsys):
    url = _url(kind, tmp_path, "newer")
    hall_id = new_hall_id()
    config = make_config(hall_id=hall_id, url=url)
    path = write_config(tmp_path / "hall.toml", hall_id=hall_id, url=url)
    Store(config, clock=lambda: T0).close()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    engine.dispose()

    with pytest.raises(SchemaVersionError, match="0099_from_the_future") as refused:
        Store(config, clock=lambda: T0)
    assert "Upgrade the software" in str(refused.value)
    assert main.main(["db", "upgrade", "--config", str(path)]) == 3
    assert "0099_from_the_future" in capsys.readouterr().err
    assert main.main(["db", "current", "--config", str(path)]) == 0
    assert "newer than this software" in capsys.readouterr().out
    # The server refuses to start with 2: its unit does not restart into the same refusal.
    assert main.main(["server", "--config", str(path)]) == 2


def test_a_new_database_is_created_at_the_head_and_reopened(kind, tmp_path, capsys):
    url = _url(kind, tmp_path, "new")
    hall_id = new_hall_id()
    path = write_config(tmp_path / "hall.toml", hall_id=hall_id, url=url)
    assert main.main(["db", "current", "--config", str(path)]) == 0
    assert "database: empty" in capsys.readouterr().out
    config = make_config(hall_id=hall_id, url=url)
    store = Store(config, clock=lambda: T0)
    store.execute(C.IssueTicket(service=SERVICE))
    store.close()
    store = Store(config, clock=lambda: T0)
    assert len(store.stored_tickets()) == 1
    store.close()
    assert main.main(["db", "current", "--config", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"database: {migrate.head()} (head)\nsoftware: {migrate.head()}\n"
    )


_NEXT_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0002_ticket_note"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("tickets", sa.Column("note", sa.String(80), nullable=True))


def downgrade():
    op.drop_column("tickets", "note")
"""


@pytest.fixture
def next_software(tmp_path, monkeypatch):
    """Switches to a software one revision ahead: the shipped migrations and a test revision."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0002_ticket_note.py").write_text(_NEXT_REVISION, encoding="utf-8")

    def switch():
        monkeypatch.setattr(migrate, "MIGRATIONS", folder)
        migrate.scripts.cache_clear()
        migrate.known_revisions.cache_clear()

    yield switch
    monkeypatch.undo()
    migrate.scripts.cache_clear()
    migrate.known_revisions.cache_clear()


def test_an_older_revision_is_refused_then_upgraded_intact(kind, tmp_path, capsys, next_software):
    url = _url(kind, tmp_path, "older")
    hall_id = new_hall_id()
    config = make_config(hall_id=hall_id, url=url)
    path = write_config(tmp_path / "hall.toml", hall_id=hall_id, url=url)
    store = Store(config, clock=lambda: T0)
    for _ in range(2):
        store.execute(C.IssueTicket(service=SERVICE))
    before = fingerprint(store.hall)
    store.close()

    next_software()
    assert migrate.head() == "0002_ticket_note"
    with pytest.raises(SchemaVersionError, match="db upgrade --config PATH") as refused:
        Store(config, clock=lambda: T0)
    assert "0001_baseline, older than this software's 0002_ticket_note" in str(refused.value)
    assert main.main(["db", "current", "--config", str(path)]) == 0
    assert "0001_baseline, older than" in capsys.readouterr().out

    assert main.main(["db", "upgrade", "--config", str(path)]) == 0
    assert "from 0001_baseline to 0002_ticket_note" in capsys.readouterr().out
    engine = make_engine(url)
    assert "note" in {c["name"] for c in sa.inspect(engine).get_columns("tickets")}
    engine.dispose()
    store = Store(config, clock=lambda: T0)
    assert fingerprint(store.hall) == before
    store.execute(C.IssueTicket(service=SERVICE))
    assert len(store.stored_tickets()) == 3
    store.close()
