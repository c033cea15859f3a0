"""Baseline: the schema as SQLModel's create_all made it before schema versions existed.

Revision ID: 0001_baseline
Revises: (none)
Create Date: 2026-12-07

Frozen: it never imports the live tables (queue_server/storage/tables.py), which move on with
later revisions. ``create_all(checkfirst=True)`` is what the software did at every start before
this revision, so a database written then (``main.py db upgrade`` adopts it, see
queue_server/storage/migrate.py) and a new one end up the same.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def _instant() -> sa.types.TypeEngine:
    # queue_server.storage.tables.Instant: epoch seconds in SQLite, timestamptz in PostgreSQL.
    return sa.DateTime(timezone=True).with_variant(sa.Float(), "sqlite")


def _hall_id() -> sa.Column:
    return sa.Column("hall_id", sa.String(64), primary_key=True, nullable=False)


BASELINE = sa.MetaData()

sa.Table(
    "appointments",
    BASELINE,
    _hall_id(),
    sa.Column("id", sa.String(32), primary_key=True, nullable=False),
    sa.Column("resident_key", sa.String(64), nullable=False),
    sa.Column("service", sa.String(80), nullable=False),
    sa.Column("slot_start", _instant(), nullable=False),
    sa.Column("slot_end", _instant(), nullable=False),
    sa.Column("booked_at", _instant(), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(32), nullable=True),
    sa.Column("closed_at", _instant(), nullable=True),
    sa.Index("ix_appointments_slot", "hall_id", "slot_start"),
)

sa.Table(
    "counters",
    BASELINE,
    _hall_id(),
    sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("skills", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("pause_reason", sa.String(200), nullable=True),
    sa.Column("ticket_id", sa.String(32), nullable=True),
    sa.Column("served_today", sa.Integer(), nullable=False),
    sa.Column("since", _instant(), nullable=True),
)

sa.Table(
    "events",
    BASELINE,
    _hall_id(),
    sa.Column("seq", sa.Integer(), primary_key=True, nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("at", _instant(), nullable=False),
    sa.Column("payload", sa.String(), nullable=False),
    sa.Index("ix_events_hall_at", "hall_id", "at"),
)

sa.Table(
    "halls",
    BASELINE,
    _hall_id(),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("day", sa.Date(), nullable=True),
    sa.Column("sequences", sa.JSON(), nullable=False),
    sa.Column("issued", sa.JSON(), nullable=False),
)

sa.Table(
    "materials_on_file",
    BASELINE,
    _hall_id(),
    sa.Column("resident_key", sa.String(64), primary_key=True, nullable=False),
    sa.Column("material", sa.String(64), primary_key=True, nullable=False),
    sa.Column("filed_at", _instant(), nullable=False),
    sa.Column("ticket_id", sa.String(32), nullable=False),
    sa.Column("counter", sa.Integer(), nullable=False),
    sa.Index("ix_materials_on_file_filed", "hall_id", "filed_at"),
)

sa.Table(
    "notices",
    BASELINE,
    _hall_id(),
    sa.Column("id", sa.String(32), primary_key=True, nullable=False),
    sa.Column("text_zh", sa.String(), nullable=False),
    sa.Column("text_en", sa.String(), nullable=False),
    sa.Column("starts", _instant(), nullable=True),
    sa.Column("ends", _instant(), nullable=True),
    sa.Column("posted_at", _instant(), nullable=False),
)

sa.Table(
    "request_keys",
    BASELINE,
    _hall_id(),
    sa.Column("key", sa.String(64), primary_key=True, nullable=False),
    sa.Column("first_seq", sa.Integer(), nullable=False),
    sa.Column("last_seq", sa.Integer(), nullable=False),
    sa.Column("at", _instant(), nullable=False),
    sa.Index("ix_request_keys_at", "hall_id", "at"),
)

sa.Table(
    "ticket_forms",
    BASELINE,
    _hall_id(),
    sa.Column("ticket_id", sa.String(32), primary_key=True, nullable=False),
    sa.Column("service", sa.String(80), nullable=False),
    sa.Column("submitted_at", _instant(), nullable=False),
    sa.Column("sealed", sa.LargeBinary(), nullable=False),
    sa.Index("ix_ticket_forms_submitted", "hall_id", "submitted_at"),
)

sa.Table(
    "tickets",
    BASELINE,
    # The primary key is (id, hall_id), in that order: hall_id came from a subclass's columns.
    sa.Column("id", sa.String(32), primary_key=True, nullable=False),
    sa.Column("number", sa.String(8), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("service", sa.String(80), nullable=False),
    sa.Column("queue", sa.String(1), nullable=False),
    sa.Column("priority", sa.String(32), nullable=False),
    sa.Column("rank", sa.Integer(), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("arrival", _instant(), nullable=False),
    sa.Column("order_key", sa.Float(), nullable=False),
    sa.Column("queued_at", _instant(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("counter", sa.Integer(), nullable=True),
    sa.Column("called_at", _instant(), nullable=True),
    sa.Column("started_at", _instant(), nullable=True),
    sa.Column("finished_at", _instant(), nullable=True),
    sa.Column("no_show_at", _instant(), nullable=True),
    sa.Column("recalls", sa.Integer(), nullable=False),
    sa.Column("requeued", sa.Boolean(), nullable=False),
    sa.Column("transfers", sa.Integer(), nullable=False),
    sa.Column("appointment_id", sa.String(32), nullable=True),
    sa.Column("cancel_reason", sa.String(80), nullable=True),
    _hall_id(),
    sa.Column("resident_key", sa.String(64), nullable=True),
    sa.UniqueConstraint("hall_id", "day", "number", name="uq_ticket_number"),
    sa.Index("ix_tickets_hall_day", "hall_id", "day"),
)


def upgrade() -> None:
    # Tables already there are left as they are: an unversioned database being adopted, checked
    # against BASELINE before this runs.
    BASELINE.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    BASELINE.drop_all(op.get_bind())
