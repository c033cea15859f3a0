"""``python main.py db upgrade|current --config PATH``: the database's schema version.

``upgrade`` brings the database to this software's schema (a new one is created; one written
before schema versions is checked against the baseline and adopted); ``current`` prints its
revision beside this software's. Exit status: 0 done, 2 a configuration that cannot be used,
3 a database that refused (or one newer than this software).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from queue_server.config import load_config
from queue_server.errors import ConfigError, StorageError
from queue_server.storage import migrate
from queue_server.storage.store import make_engine

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    for name, help_text in (
        ("upgrade", "bring the database's schema to this software's (back it up first)"),
        ("current", "print the database's schema revision and this software's"),
    ):
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--config", required=True, type=Path, help="hall configuration (TOML)")
        command.add_argument("--db", help="database URL (default: the config's)")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"db: {exc}", file=sys.stderr)
        return 2
    storage = config.storage
    try:
        engine = make_engine(
            args.db or storage.url,
            synchronous=storage.synchronous,
            connect_timeout_s=storage.connect_timeout_s,
            lock_timeout_s=storage.lock_timeout_s,
            # A migration may rewrite a large table (the event log is kept for ever): no bound.
            statement_timeout_s=0,
        )
    except SQLAlchemyError as exc:  # a URL SQLAlchemy cannot use
        print(f"db: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        if args.db_command == "upgrade":
            before, after = migrate.upgrade(engine)
            if before == after:
                print(f"the database is at {after}, this software's schema: nothing to do")
            else:
                print(f"upgraded the database from {before} to {after}")
        else:
            print(_describe(migrate.current(engine)))
    except StorageError as exc:
        print(f"db: {exc}", file=sys.stderr)
        return 3
    except SQLAlchemyError as exc:
        print(f"db: the database refused: {exc}", file=sys.stderr)
        return 3
    finally:
        engine.dispose()
    return 0


def _describe(revisions: tuple[str, ...] | None) -> str:
    head = migrate.head()
    if revisions is None:
        state = f"unversioned (written before schema versions): run `{migrate.UPGRADE}`"
    elif not revisions:
        state = "empty (a store or `db upgrade` creates the schema)"
    elif revisions == (head,):
        state = f"{head} (head)"
    elif any(rev not in migrate.known_revisions() for rev in revisions):
        state = f"{', '.join(revisions)}, newer than this software: upgrade the software"
    else:
        state = f"{', '.join(revisions)}, older than this software's: run `{migrate.UPGRADE}`"
    return f"database: {state}\nsoftware: {head}"
