"""Durable storage of a hall: the tables, the store, and the schema's versions.

- ``tables``: the tables (SQLModel), the one description of the current schema;
- ``store``: ``Store``, one hall's engine bound to its database (SQLite or PostgreSQL);
- ``migrate`` and ``migrations/``: the schema's versions (Alembic), checked when a store opens;
  ``cli`` is ``python main.py db upgrade|current`` (docs/database.md).

The public names are re-exported here: ``from queue_server.storage import Store``.
"""

from queue_server.errors import SchemaVersionError
from queue_server.storage.store import (
    APPOINTMENT_FIELDS,
    COUNTER_FIELDS,
    NOTICE_FIELDS,
    REQUEST_KEY_DAYS,
    TICKET_FIELDS,
    Replayed,
    Store,
    make_engine,
    ticket_columns,
    ticket_from_row,
    utcnow,
)
from queue_server.storage.tables import (
    AppointmentRow,
    CounterRow,
    EventRow,
    FiledMaterialRow,
    FormRow,
    HallRow,
    Instant,
    NoticeRow,
    RequestKeyRow,
    TicketBase,
    TicketPublic,
    TicketRow,
)

__all__ = [
    "APPOINTMENT_FIELDS",
    "COUNTER_FIELDS",
    "NOTICE_FIELDS",
    "REQUEST_KEY_DAYS",
    "TICKET_FIELDS",
    "AppointmentRow",
    "CounterRow",
    "EventRow",
    "FiledMaterialRow",
    "FormRow",
    "HallRow",
    "Instant",
    "NoticeRow",
    "Replayed",
    "RequestKeyRow",
    "SchemaVersionError",
    "Store",
    "TicketBase",
    "TicketPublic",
    "TicketRow",
    "make_engine",
    "ticket_columns",
    "ticket_from_row",
    "utcnow",
]
