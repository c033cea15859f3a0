"""Durable storage: the event log and the current records, in SQLite (WAL) or PostgreSQL.

``Store.execute(command)`` is the only way a command reaches the engine in a running hall:

1. begin a transaction that locks the hall (SQLite ``BEGIN IMMEDIATE``; PostgreSQL
   ``SELECT ... FOR UPDATE`` on the hall's row), so processes sharing a database take turns;
2. catch up: apply the events other processes committed since this one last looked;
3. ``Hall.handle`` the command;
4. write its events and the records they changed, and commit — all in that one transaction.

Nobody sees a result before it is committed. If anything fails after the engine changed its
state, the state is rebuilt from the database, so memory never runs ahead of the disk. Every row
carries its hall's id, so the halls of a district can share one PostgreSQL database.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    LargeBinary,
    UniqueConstraint,
    bindparam,
    event,
    select,
)
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, create_engine

from queue_server.config import HallConfig
from queue_server.engine import commands as C
from queue_server.engine import events as V
from queue_server.engine.dispatch import DispatchPolicy
from queue_server.engine.hall import Hall
from queue_server.engine.lifecycle import AppointmentState, CounterState, TicketState
from queue_server.engine.model import Appointment, Counter, DayState, Notice, Ticket
from queue_server.errors import EngineError, StorageError
from queue_server.privacy import FormVault

log = logging.getLogger(__name__)

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


# --- tables (SQLModel) --------------------------------------------------------------------------


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


TICKET_FIELDS = [c.name for c in TicketRow.__table__.columns if c.name != "hall_id"]
COUNTER_FIELDS = [c.name for c in CounterRow.__table__.columns if c.name != "hall_id"]
APPOINTMENT_FIELDS = [c.name for c in AppointmentRow.__table__.columns if c.name != "hall_id"]
NOTICE_FIELDS = [c.name for c in NoticeRow.__table__.columns if c.name != "hall_id"]


# --- engine set-up ------------------------------------------------------------------------------


def make_engine(url: str, *, synchronous: str = "full", pool_size: int = 5) -> Engine:
    """An SQLAlchemy engine with the hall's durability settings."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # We issue BEGIN ourselves (below): the driver's implicit transactions would start
            # as DEFERRED and could deadlock two writers upgrading their locks.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute("PRAGMA busy_timeout=60000")
            # A purged form's sealed bytes must not linger in free pages of the file.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the write lock up front, so commands of one hall run one at a time;
            # readers (marked read_only) take none and never wait for a writer in WAL mode.
            if conn.get_execution_options().get("read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip per command; a dropped connection fails the command,
    # which the caller sees as a StorageError and may retry.
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_recycle=3600)


def create_schema(engine: Engine) -> None:
    """Create the tables if missing; safe when several processes start at once."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(770301)")
        SQLModel.metadata.create_all(conn)


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(conn: Connection, table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    stmt = _UPSERTS.get((dialect, table.name))
    if stmt is None:
        # Built once per table: constructing an ON CONFLICT statement costs more than running it.
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        base = insert(table)
        updates = {c.name: base.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = base.on_conflict_do_update(index_elements=keys, set_=updates)
        _UPSERTS[(dialect, table.name)] = stmt
    conn.execute(stmt, rows)


# --- records <-> rows ---------------------------------------------------------------------------


def _row(obj: Any, fields: list[str], hall_id: str) -> dict[str, Any]:
    out = {name: getattr(obj, name) for name in fields}
    out["hall_id"] = hall_id
    return out


def ticket_from_row(row: Any) -> Ticket:
    """A Ticket from a row selected with the columns in TICKET_FIELDS order."""
    ticket = Ticket(**dict(zip(TICKET_FIELDS, row, strict=True)))
    ticket.state = TicketState(ticket.state)
    return ticket


def ticket_columns():
    table = TicketRow.__table__
    return [table.c[name] for name in TICKET_FIELDS]


def counter_from_row(row: Any) -> Counter:
    values = {name: getattr(row, name) for name in COUNTER_FIELDS}
    values["state"] = CounterState(values["state"])
    return Counter(**values)


def appointment_from_row(row: Any) -> Appointment:
    values = {name: getattr(row, name) for name in APPOINTMENT_FIELDS}
    values["state"] = AppointmentState(values["state"])
    return Appointment(**values)


def notice_from_row(row: Any) -> Notice:
    return Notice(**{name: getattr(row, name) for name in NOTICE_FIELDS})


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


# --- the store ----------------------------------------------------------------------------------


def _collector_paused(load):
    """Run ``load`` with Python's cyclic garbage collector paused. Loading a day builds tens
    of thousands of records (rows, tickets, datetimes) and hardly a reference cycle, yet each
    allocation counts towards the collector's next pass, and its full passes walk the whole
    growing heap: about half of a 20,000-ticket recovery (docs/benchmarks.md). Nothing to
    collect is lost: the collector resumes, as it was, when ``load`` returns."""

    @functools.wraps(load)
    def paused(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return load(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


class Store:
    """One hall's engine bound to its database. Thread-safe; one per process is enough."""

    def __init__(
        self,
        config: HallConfig,
        *,
        url: str | None = None,
        policy: DispatchPolicy | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        engine: Engine | None = None,
    ):
        self.config = config
        self.hall_id = config.hall.id
        self.policy = policy
        self.clock = clock
        self.url = url or config.storage.url
        self.engine = engine or make_engine(self.url, synchronous=config.storage.synchronous)
        self._lock = threading.RLock()
        self._hall_query = None
        self._hall_updates: dict[int, Any] = {}
        self.vault = FormVault.for_hall(config)
        try:
            create_schema(self.engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot prepare the database: {exc}") from exc
        self.hall = self._load()

    # --- start-up ---------------------------------------------------------------------------

    @_collector_paused
    def _load(self) -> Hall:
        """Rebuild today's state from the stored records (not by replaying the log: faster)."""
        hall = Hall(self.config, policy=self.policy)
        try:
            with self.engine.begin() as conn:
                row = self._lock_hall(conn)
                day = row.day
                tickets = []
                if day is not None:
                    result = conn.execute(
                        select(*ticket_columns()).where(
                            TicketRow.hall_id == self.hall_id, TicketRow.day == day
                        )
                    )
                    tickets = [ticket_from_row(r) for r in result.all()]
                counters = [
                    counter_from_row(r)
                    for r in conn.execute(
                        select(CounterRow.__table__).where(CounterRow.hall_id == self.hall_id)
                    )
                ]
                horizon = self.clock() - dt.timedelta(days=self.config.appointments.ban_days + 31)
                appointments = [
                    appointment_from_row(r)
                    for r in conn.execute(
                        select(AppointmentRow.__table__).where(
                            AppointmentRow.hall_id == self.hall_id,
                            AppointmentRow.slot_start >= horizon,
                        )
                    )
                ]
                notices = [
                    notice_from_row(r)
                    for r in conn.execute(
                        select(NoticeRow.__table__).where(NoticeRow.hall_id == self.hall_id)
                    )
                ]
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the hall's state: {exc}") from exc
        hall.restore(
            seq=row.seq,
            day=DayState(day=day, sequences=dict(row.sequences), issued=dict(row.issued)),
            tickets=tickets,
            counters=counters,
            appointments=appointments,
            notices=notices,
        )
        return hall

    def _lock_hall(self, conn: Connection):
        """Lock this hall's row for the transaction (creating it on first use); return it."""
        table = HallRow.__table__
        query = self._hall_query
        if query is None:
            query = select(table).where(table.c.hall_id == self.hall_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            self._hall_query = query
        row = conn.execute(query).first()
        if row is None:
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            conn.execute(
                insert(table)
                .values(hall_id=self.hall_id, seq=0, day=None, sequences={}, issued={})
                .on_conflict_do_nothing()
            )
            row = conn.execute(query).first()
        return row

    # --- commands ---------------------------------------------------------------------------

    def execute(self, command: C.Command, now: dt.datetime | None = None) -> list[V.Event]:
        """Run one command durably; return its events once they are committed.

        A refusal raises the engine's typed error after committing the time-driven events it
        carries (a new day, expired bookings), which happened regardless.
        """
        (outcome,) = self.execute_batch([command], now)
        if isinstance(outcome, EngineError):
            raise outcome
        return outcome

    def execute_batch(
        self,
        commands: list[C.Command],
        now: dt.datetime | None = None,
        *,
        forms: Sequence[dict[str, Any] | None] | None = None,
    ) -> list[list[V.Event] | EngineError]:
        """Run several commands, in order, in ONE transaction (group commit).

        Each gets its events or its refusal; a refusal does not stop the others. Nothing is
        returned before the commit, so no caller ever sees a result that could still be lost. If
        the transaction fails, every command fails with StorageError and memory is rebuilt.

        ``forms`` (beside ``commands``, None where there is none): the form a resident submitted
        with an ``issue_ticket``. It is sealed and stored under the ticket the command issued,
        in the same transaction: a ticket acknowledged with a form always has it. A refused
        command stores none.
        """
        now = now or self.clock()
        outcomes: list[list[V.Event] | EngineError] = []
        with self._lock:
            try:
                with self.engine.begin() as conn:
                    row = self._lock_hall(conn)
                    if row.seq != self.hall.seq:
                        self._catch_up(conn, row.seq)
                    written: list[V.Event] = []
                    sealed: list[dict[str, Any]] = []
                    for i, command in enumerate(commands):
                        try:
                            events = self.hall.handle(command, now)
                            outcomes.append(events)
                        except EngineError as exc:
                            outcomes.append(exc)
                            events = exc.events
                        else:
                            form = forms[i] if forms else None
                            if form is not None:
                                sealed += self._seal_forms(events, form, now)
                        written += events
                    if written:
                        self._write(conn, written)
                    if sealed:
                        conn.execute(FormRow.__table__.insert(), sealed)
            except SQLAlchemyError as exc:
                self.hall = self._load()
                raise StorageError(f"the database refused the command: {exc}") from exc
            except BaseException:
                # An engine bug or an interrupt mid-command: memory may be ahead of the disk.
                self.hall = self._load()
                raise
        return outcomes

    def _seal_forms(
        self, events: list[V.Event], form: dict[str, Any], now: dt.datetime
    ) -> list[dict[str, Any]]:
        return [
            {
                "hall_id": self.hall_id,
                "ticket_id": ev.ticket.id,
                "service": ev.ticket.service,
                "submitted_at": now,
                "sealed": self.vault.seal(ev.ticket.id, form),
            }
            for ev in events
            if isinstance(ev, V.TicketIssued)
        ]

    def refresh(self) -> int:
        """Apply what other processes committed since we last looked; return how many events."""
        with self._lock:
            try:
                with self._reader() as conn:
                    latest = conn.execute(
                        select(HallRow.seq).where(HallRow.hall_id == self.hall_id)
                    ).scalar()
                    if latest is None or latest == self.hall.seq:
                        return 0
                    before = self.hall.seq
                    self._catch_up(conn, latest)
                    conn.rollback()
                    return self.hall.seq - before
            except SQLAlchemyError as exc:
                self.hall = self._load()
                raise StorageError(f"cannot read the event log: {exc}") from exc

    def _catch_up(self, conn: Connection, latest: int) -> None:
        try:
            for ev in self._read_events(conn, self.hall.seq, latest):
                self.hall.apply(ev)
        except StorageError:
            log.warning("event log has a gap after %s; rebuilding from records", self.hall.seq)
            self.hall = self._load()
        self.hall.take_changes()  # the other process wrote those records already

    def _read_events(self, conn: Connection, after: int, upto: int | None) -> Iterator[V.Event]:
        table = EventRow.__table__
        query = (
            select(table.c.payload)
            .where(table.c.hall_id == self.hall_id, table.c.seq > after)
            .order_by(table.c.seq)
        )
        if upto is not None:
            query = query.where(table.c.seq <= upto)
        for (payload,) in conn.execute(query):
            yield V.parse_event(payload)

    def _write(self, conn: Connection, events: list[V.Event]) -> None:
        conn.execute(
            EventRow.__table__.insert(),
            [
                {
                    "hall_id": self.hall_id,
                    "seq": ev.seq,
                    "type": ev.type,
                    "at": ev.at,
                    "payload": ev.model_dump_json(),
                }
                for ev in events
            ],
        )
        changes = self.hall.take_changes()
        hid = self.hall_id
        _upsert(
            conn,
            TicketRow.__table__,
            [_row(t, TICKET_FIELDS, hid) for t in changes.tickets],
            ["hall_id", "id"],
        )
        _upsert(
            conn,
            CounterRow.__table__,
            [_row(c, COUNTER_FIELDS, hid) for c in changes.counters],
            ["hall_id", "id"],
        )
        _upsert(
            conn,
            AppointmentRow.__table__,
            [_row(a, APPOINTMENT_FIELDS, hid) for a in changes.appointments],
            ["hall_id", "id"],
        )
        _upsert(
            conn,
            NoticeRow.__table__,
            [_row(n, NOTICE_FIELDS, hid) for n in changes.notices],
            ["hall_id", "id"],
        )
        if changes.removed_notices:
            table = NoticeRow.__table__
            conn.execute(
                sa_delete(table).where(
                    table.c.hall_id == hid, table.c.id.in_(changes.removed_notices)
                )
            )
        values: dict[str, Any] = {"seq": self.hall.seq}
        if changes.day is not None:
            values.update(
                day=changes.day.day,
                sequences=dict(changes.day.sequences),
                issued=dict(changes.day.issued),
            )
        statement = self._hall_updates.get(len(values))
        if statement is None:  # two shapes: with or without the day's counters
            table = HallRow.__table__
            statement = (
                sa_update(table)
                .where(table.c.hall_id == hid)
                .values({name: bindparam(f"new_{name}") for name in values})
            )
            self._hall_updates[len(values)] = statement
        conn.execute(statement, {f"new_{name}": value for name, value in values.items()})

    # --- reading ----------------------------------------------------------------------------

    def events_since(self, seq: int, limit: int | None = None) -> list[V.Event]:
        """Committed events after ``seq``, oldest first (for resuming clients and statistics)."""
        with self._reader() as conn:
            out = []
            for ev in self._read_events(conn, seq, None):
                out.append(ev)
                if limit is not None and len(out) >= limit:
                    break
            conn.rollback()
            return out

    def stored_tickets(self, day: dt.date | None = None) -> list[Ticket]:
        """The stored ticket records of ``day`` (default: the hall's current day)."""
        day = day or self.hall.today.day
        table = TicketRow.__table__
        with self._reader() as conn:
            rows = conn.execute(
                select(*ticket_columns()).where(table.c.hall_id == self.hall_id, table.c.day == day)
            ).all()
            conn.rollback()
        return [ticket_from_row(r) for r in rows]

    # --- residents' forms and materials on file (docs/privacy.md) -----------------------------

    def ticket_form(self, ticket_id: str) -> dict[str, Any] | None:
        """The form submitted with a ticket, opened: ``service``, ``submitted_at``, ``form``
        (``fields``, ``materials``); None when there is none (or it was purged).
        Raises ``privacy.FormUnreadable`` when it does not open with this hall's key."""
        table = FormRow.__table__
        try:
            with self._reader() as conn:
                row = conn.execute(
                    select(table.c.service, table.c.submitted_at, table.c.sealed).where(
                        table.c.hall_id == self.hall_id, table.c.ticket_id == ticket_id
                    )
                ).first()
                conn.rollback()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the form: {exc}") from exc
        if row is None:
            return None
        return {
            "service": row.service,
            "submitted_at": row.submitted_at,
            "form": self.vault.open(ticket_id, row.sealed),
        }

    def file_materials(
        self,
        *,
        resident_key: str,
        materials: Sequence[str],
        ticket_id: str,
        counter: int,
        now: dt.datetime | None = None,
    ) -> None:
        """Record that a window checked and filed these materials of a resident (again: the
        retention restarts)."""
        now = now or self.clock()
        rows = [
            {"hall_id": self.hall_id, "resident_key": resident_key, "material": material,
             "filed_at": now, "ticket_id": ticket_id, "counter": counter}
            for material in dict.fromkeys(materials)
        ]  # fmt: skip
        try:
            with self._lock, self.engine.begin() as conn:
                _upsert(
                    conn, FiledMaterialRow.__table__, rows, ["hall_id", "resident_key", "material"]
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot file the materials: {exc}") from exc

    def materials_on_file(self, resident_key: str, now: dt.datetime | None = None) -> list[str]:
        """The materials on file for a resident and still within their retention, by key."""
        now = now or self.clock()
        horizon = now - dt.timedelta(days=self.config.privacy.materials_retention_days)
        table = FiledMaterialRow.__table__
        try:
            with self._reader() as conn:
                found = (
                    conn.execute(
                        select(table.c.material)
                        .where(
                            table.c.hall_id == self.hall_id,
                            table.c.resident_key == resident_key,
                            table.c.filed_at >= horizon,
                        )
                        .order_by(table.c.material)
                    )
                    .scalars()
                    .all()
                )
                conn.rollback()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the materials on file: {exc}") from exc
        return list(found)

    def purge_private(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Delete forms and filed materials past their retention; return how many of each."""
        now = now or self.clock()
        privacy = self.config.privacy
        forms, materials = FormRow.__table__, FiledMaterialRow.__table__
        try:
            with self._lock, self.engine.begin() as conn:
                gone_forms = conn.execute(
                    sa_delete(forms).where(
                        forms.c.hall_id == self.hall_id,
                        forms.c.submitted_at
                        < now - dt.timedelta(hours=privacy.form_retention_hours),
                    )
                ).rowcount
                gone_materials = conn.execute(
                    sa_delete(materials).where(
                        materials.c.hall_id == self.hall_id,
                        materials.c.filed_at
                        < now - dt.timedelta(days=privacy.materials_retention_days),
                    )
                ).rowcount
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot purge expired forms: {exc}") from exc
        return {"forms": gone_forms, "materials": gone_materials}

    def ping(self) -> bool:
        """Is the database reachable? (for /healthz)."""
        try:
            with self._reader() as conn:
                conn.exec_driver_sql("SELECT 1")
                conn.rollback()
            return True
        except SQLAlchemyError:
            return False

    def _reader(self) -> Connection:
        return self.engine.connect().execution_options(read_only=True)

    def close(self) -> None:
        self.engine.dispose()
