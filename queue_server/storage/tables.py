"""The hall's tables (SQLModel): the one description of the current schema.

A change here is a change of the schema: it needs an Alembic revision in ``migrations/versions``
(docs/database.md), and tests/queue_server/test_migrations.py checks that the revisions build
exactly these tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, DateTime, Float, Index, LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

UTC = dt.UTC


class Instant(TypeDecorator):
    """A moment in time: epoch seconds in SQLite (fast to load), timestamptz in PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Float())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return value.timestamp()

    def process_result_value(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return dt.datetime.fromtimestamp(value, UTC)


class HallRow(SQLModel, table=True):
    __tablename__ = "halls"
    hall_id: str = Field(primary_key=True, max_length=64)
    seq: int = 0
    day: dt.date | None = None
    sequences: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    issued: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class EventRow(SQLModel, table=True):
    """The append-only log: never updated, never deleted."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_hall_at", "hall_id", "at"),)
    hall_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    type: str = Field(max_length=40)
    at: dt.datetime = Field(sa_type=Instant)
    payload: str


class TicketBase(SQLModel):
    id: str = Field(primary_key=True, max_length=32)
    number: str = Field(max_length=8)
    day: dt.date
    service: str = Field(max_length=80)
    queue: str = Field(max_length=1)
    priority: str = Field(max_length=32)
    rank: int
    channel: str = Field(max_length=16)
    arrival: dt.datetime = Field(sa_type=Instant)
    order_key: float
    queued_at: dt.datetime = Field(sa_type=Instant)
    state: str = Field(max_length=16)
    counter: int | None = None
    called_at: dt.datetime | None = Field(default=None, sa_type=Instant)
    started_at: dt.datetime | None = Field(default=None, sa_type=Instant)
    finished_at: dt.datetime | None = Field(default=None, sa_type=Instant)
    no_show_at: dt.datetime | None = Field(default=None, sa_type=Instant)
    recalls: int = 0
    requeued: bool = False
    transfers: int = 0
    appointment_id: str | None = Field(default=None, max_length=32)
    cancel_reason: str | None = Field(default=None, max_length=80)


class TicketRow(TicketBase, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        # Two kiosks can never hold the same number: the database itself refuses it.
        UniqueConstraint("hall_id", "day", "number", name="uq_ticket_number"),
        Index("ix_tickets_hall_day", "hall_id", "day"),
    )
    hall_id: str = Field(primary_key=True, max_length=64)
    resident_key: str | None = Field(default=None, max_length=64)


class TicketPublic(TicketBase):
    """A ticket as staff screens may show it: no resident key."""


class CounterRow(SQLModel, table=True):
    __tablename__ = "counters"
    hall_id: str = Field(primary_key=True, max_length=64)
    id: int = Field(primary_key=True)
    kind: str = Field(max_length=16)
    skills: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=16)
    pause_reason: str | None = Field(default=None, max_length=200)
    ticket_id: str | None = Field(default=None, max_length=32)
    served_today: int = 0
    since: dt.datetime | None = Field(default=None, sa_type=Instant)


class AppointmentRow(SQLModel, table=True):
    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_slot", "hall_id", "slot_start"),)
    hall_id: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=32)
    resident_key: str = Field(max_length=64)
    service: str = Field(max_length=80)
    slot_start: dt.datetime = Field(sa_type=Instant)
    slot_end: dt.datetime = Field(sa_type=Instant)
    booked_at: dt.datetime = Field(sa_type=Instant)
    channel: str = Field(max_length=16)
    state: str = Field(max_length=16)
    ticket_id: str | None = Field(default=None, max_length=32)
    closed_at: dt.datetime | None = Field(default=None, sa_type=Instant)


class NoticeRow(SQLModel, table=True):
    __tablename__ = "notices"
    hall_id: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=32)
    text_zh: str
    text_en: str
    starts: dt.datetime | None = Field(default=None, sa_type=Instant)
    ends: dt.datetime | None = Field(default=None, sa_type=Instant)
    posted_at: dt.datetime = Field(sa_type=Instant)


class FormRow(SQLModel, table=True):
    """A form a resident submitted with a ticket: sealed (queue_server.privacy), never in clear,
    and not part of the event log (the log is kept for ever; a form only for
    ``[privacy] form_retention_hours``)."""

    __tablename__ = "ticket_forms"
    __table_args__ = (Index("ix_ticket_forms_submitted", "hall_id", "submitted_at"),)
    hall_id: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=32)
    service: str = Field(max_length=80)
    submitted_at: dt.datetime = Field(sa_type=Instant)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RequestKeyRow(SQLModel, table=True):
    """A command's request key, written in the command's transaction, with the seqs of the
    events it committed (first..last; 0..0 when none): a retry is answered from the log."""

    __tablename__ = "request_keys"
    __table_args__ = (Index("ix_request_keys_at", "hall_id", "at"),)
    hall_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=64)
    first_seq: int
    last_seq: int
    at: dt.datetime = Field(sa_type=Instant)


class FiledMaterialRow(SQLModel, table=True):
    """A material a window checked and filed for a resident (by key, never the number), kept
    ``[privacy] materials_retention_days`` from the last filing."""

    __tablename__ = "materials_on_file"
    __table_args__ = (Index("ix_materials_on_file_filed", "hall_id", "filed_at"),)
    hall_id: str = Field(primary_key=True, max_length=64)
    resident_key: str = Field(primary_key=True, max_length=64)
    material: str = Field(primary_key=True, max_length=64)
    filed_at: dt.datetime = Field(sa_type=Instant)
    ticket_id: str = Field(max_length=32)
    counter: int
