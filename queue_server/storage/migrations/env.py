"""Alembic's environment for the hall's schema.

It runs on the connection that queue_server/storage/migrate.py hands over (in
``config.attributes["connection"]``, inside the caller's transaction and lock), never from an
alembic.ini: the store and ``python main.py db`` are the only ways in.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from queue_server.storage import tables  # noqa: F401  (registers the tables: autogenerate's target)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through queue_server.storage.migrate (main.py db)")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most of a table: a revision's alter_column copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
