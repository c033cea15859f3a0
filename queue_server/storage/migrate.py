"""The schema's versions: Alembic, run from code (no alembic.ini), on the store's own engine.

What a store does with the database it opens (``prepare_schema``), by the revision stored in
its ``alembic_version`` table:

    empty (none of the hall's tables)   create the schema by the migrations, then open it
    at this software's head             open it
    an older revision                   refuse: ``python main.py db upgrade --config PATH``
    unversioned (the hall's tables but  refuse likewise: ``db upgrade`` checks that it equals the
      no alembic_version: written        baseline and adopts it
      before schema versions existed)
    a revision this software lacks      refuse: a newer version of the software wrote it

A store never changes the schema of a database that has one: an upgrade is an operator's
deliberate step (after a backup), run by ``upgrade`` (``main.py db upgrade``). Every step runs
in one transaction that holds the database-wide schema lock (PostgreSQL: an advisory lock; SQLite:
the store's engine begins every write with ``BEGIN IMMEDIATE``), so processes starting at once
on a new database create it once.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from queue_server.errors import SchemaVersionError
from queue_server.storage import tables  # noqa: F401  (registers the tables in SQLModel.metadata)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"
UPGRADE = "python main.py db upgrade --config PATH"
# The same key create_all took before schema versions: an old and a new process exclude each other.
_SCHEMA_LOCK = 770301


class _QuietContext(logging.Filter):
    """Alembic announces its dialect at every look (each store's start) and "non-transactional
    DDL" on SQLite, where our migrations do run in the caller's transaction: noise, dropped.
    What it runs ("Running upgrade ...") is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_QuietContext())


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, in code: the migrations ship inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s")  # rev ids are 0002_what_changed
    config.attributes["connection"] = connection
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision this software writes (one line of history: a second head is an error)."""
    return scripts().get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in scripts().walk_revisions())


def stored_revisions(conn: Connection) -> tuple[str, ...]:
    """The revisions in the database's alembic_version table (none when it has no table)."""
    return tuple(MigrationContext.configure(conn).get_current_heads())


def has_hall_tables(conn: Connection) -> bool:
    """Does the database hold any of the hall's tables (a schema written before versions)?"""
    return bool(set(sa.inspect(conn).get_table_names()) & set(SQLModel.metadata.tables))


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")


def _refuse_unknown(revisions: tuple[str, ...]) -> None:
    unknown = [rev for rev in revisions if rev not in known_revisions()]
    if unknown:
        raise SchemaVersionError(
            f"the database's schema is at revision {', '.join(unknown)}, which this software does "
            f"not know (it writes {head()}): a newer version of Yikou wrote it. Upgrade the "
            "software to that version or later; a database is never downgraded automatically"
        )


def prepare_schema(engine: Engine) -> None:
    """Make a new database, or check that an existing one is at this software's head (see the
    module's docstring); raise SchemaVersionError naming the fix when it is not."""
    with engine.begin() as conn:
        _lock(conn)
        revisions = stored_revisions(conn)
        if not revisions:
            if has_hall_tables(conn):
                raise SchemaVersionError(
                    "the database has the hall's tables but no schema version (it was written "
                    f"before schema versions existed): back it up, then run `{UPGRADE}`, which "
                    f"checks it and records its version ({BASELINE})"
                )
            # A new database is made by the migrations, not by create_all and a stamp: it takes
            # the path every hall's database takes, so a revision that builds the wrong schema
            # fails on every new database in the tests, not first in a hall that upgrades.
            command.upgrade(alembic_config(conn), "head")
            return
        _refuse_unknown(revisions)
        if revisions != (head(),):
            raise SchemaVersionError(
                f"the database's schema is at revision {', '.join(revisions)}, older than this "
                f"software's {head()}: back it up, then run `{UPGRADE}`"
            )


def baseline_differences(conn: Connection) -> list[str]:
    """How an unversioned database differs from the baseline, beyond tables it lacks (which
    the baseline creates, as create_all did at every start before versions): empty when it can
    be adopted. Tables that are not the hall's (a shared database) are not looked at."""
    baseline = scripts().get_revision(BASELINE).module.BASELINE
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    existing = set(sa.inspect(conn).get_table_names())
    found = []
    for diff in compare_metadata(context, baseline):
        if isinstance(diff, list):  # column changes come as a list of modify_* tuples
            found += [f"{kind} {table}.{column}" for kind, _, table, column, *_ in diff]
            continue
        kind, item = diff[0], diff[1]
        if kind == "add_table" or (kind == "add_index" and item.table.name not in existing):
            continue  # created by the baseline
        if kind == "remove_table" and item.name not in baseline.tables:
            continue  # not the hall's
        found.append(f"{kind} {getattr(item, 'name', item)}")
    return found


def upgrade(engine: Engine) -> tuple[str, str]:
    """Bring the database to this software's head; return (from, to) as words for people."""
    with engine.begin() as conn:
        _lock(conn)
        revisions = stored_revisions(conn)
        _refuse_unknown(revisions)
        if revisions:
            before = ", ".join(revisions)
        elif has_hall_tables(conn):
            differences = baseline_differences(conn)
            if differences:
                raise SchemaVersionError(
                    "the database has no schema version and its tables are not the baseline's "
                    f"({BASELINE}): {'; '.join(differences)}. It was not written by a version of "
                    "Yikou this software can adopt; restore it from a backup or move its data by "
                    "hand"
                )
            before = "unversioned (written before schema versions)"
        else:
            before = "empty"
        if revisions != (head(),):
            command.upgrade(alembic_config(conn), "head")
        return before, head()


def current(engine: Engine) -> tuple[str, ...] | None:
    """The database's revisions; () when it is empty, None when it is unversioned."""
    with engine.connect().execution_options(read_only=True) as conn:
        revisions = stored_revisions(conn)
        if not revisions and has_hall_tables(conn):
            return None
        return revisions
