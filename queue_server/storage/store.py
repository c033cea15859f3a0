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

A command may carry a request key (the protocol's ``request_key``): it is stored in the
command's own transaction, so a retry with the same key gets the first attempt's events back
(``Replayed``) instead of running again, across restarts and even when the first attempt
committed after its client had given up.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import create_engine

from queue_server.config import HallConfig
from queue_server.engine import events as V
from queue_server.engine.dispatch import DispatchPolicy
from queue_server.engine.hall import Hall
from queue_server.engine.model import Appointment, Counter, DayState, Notice, Ticket
from queue_server.errors import EngineError, StorageError
from queue_server.privacy import FormVault
from queue_server.protocol import commands as C
from queue_server.protocol.states import AppointmentState, CounterState, TicketState
from queue_server.storage.migrate import prepare_schema
from queue_server.storage.tables import (
    AppointmentRow,
    CounterRow,
    EventRow,
    FiledMaterialRow,
    FormRow,
    HallRow,
    NoticeRow,
    RequestKeyRow,
    TicketRow,
)

log = logging.getLogger(__name__)

UTC = dt.UTC


# Request keys older than this are forgotten: a retry comes within minutes, tickets last a day.
REQUEST_KEY_DAYS = 2


_KNOWN_KEYS = select(
    RequestKeyRow.__table__.c.key,
    RequestKeyRow.__table__.c.first_seq,
    RequestKeyRow.__table__.c.last_seq,
).where(
    RequestKeyRow.__table__.c.hall_id == bindparam("hall"),
    RequestKeyRow.__table__.c.key.in_(bindparam("keys", expanding=True)),
)  # built once: building a statement costs more than running it


class Replayed(list):
    """The events a command committed on its first attempt, found by its request key: the
    outcome of a retry. They were published then; they are not news now."""


TICKET_FIELDS = [c.name for c in TicketRow.__table__.columns if c.name != "hall_id"]
COUNTER_FIELDS = [c.name for c in CounterRow.__table__.columns if c.name != "hall_id"]
APPOINTMENT_FIELDS = [c.name for c in AppointmentRow.__table__.columns if c.name != "hall_id"]
NOTICE_FIELDS = [c.name for c in NoticeRow.__table__.columns if c.name != "hall_id"]


# --- engine set-up ------------------------------------------------------------------------------


def make_engine(
    url: str,
    *,
    synchronous: str = "full",
    pool_size: int = 5,
    connect_timeout_s: float = 5,
    lock_timeout_s: float = 10,
    statement_timeout_s: float = 30,
) -> Engine:
    """An SQLAlchemy engine with the hall's durability settings and bounded waits."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": lock_timeout_s}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # We issue BEGIN ourselves (below): the driver's implicit transactions would start
            # as DEFERRED and could deadlock two writers upgrading their locks.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute(f"PRAGMA busy_timeout={round(lock_timeout_s * 1000)}")
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
    # Server-side bounds first, then any options the URL names (an administrator's win). A
    # session idle in a transaction (its process stopped while it held the hall's row) is ended,
    # so the other processes of the hall are not locked out for ever.
    ms = {
        "statement_timeout": statement_timeout_s,
        "lock_timeout": lock_timeout_s,
        "idle_in_transaction_session_timeout": max(60.0, statement_timeout_s),
    }
    options = " ".join(f"-c {name}={round(s * 1000)}" for name, s in ms.items())
    given = make_url(url).query.get("options")
    if given:
        options += " " + (given if isinstance(given, str) else " ".join(given))
    connect_args = {
        "connect_timeout": max(2, round(connect_timeout_s)),
        "options": options,
        # A dead peer or a cut network (not a stopped server: its kernel still answers) is
        # noticed in seconds, not after the system's two hours.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": round(statement_timeout_s * 1000),
    }
    # No pre-ping: it costs a round trip per command; a dropped connection fails the command,
    # which the caller sees as a StorageError and may retry.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        pool_recycle=3600,
        pool_timeout=lock_timeout_s,
        connect_args=connect_args,
    )
    # Before SQLAlchemy's own first look (which fails obscurely on bytes), so it goes first.
    event.listen(engine, "first_connect", _require_utf8, insert=True)
    return engine


def _require_utf8(dbapi_conn, _record) -> None:
    """Refuse a PostgreSQL database that is not UTF-8: in SQL_ASCII psycopg reads text as bytes,
    and the hall's Chinese text has no place in the others."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SELECT current_database(), current_setting('server_encoding')")
        name, encoding = (v.decode() if isinstance(v, bytes) else v for v in cursor.fetchone())
    finally:
        cursor.close()
        dbapi_conn.rollback()
    if encoding.upper() not in ("UTF8", "UTF-8"):
        raise StorageError(
            f"the database {name} has encoding {encoding}; the hall needs UTF8: create it with "
            f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0 (or createdb -E UTF8 "
            "-T template0)"
        )


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
        storage = config.storage
        self.engine = engine or make_engine(
            self.url,
            synchronous=storage.synchronous,
            connect_timeout_s=storage.connect_timeout_s,
            lock_timeout_s=storage.lock_timeout_s,
            statement_timeout_s=storage.statement_timeout_s,
        )
        self._lock = threading.RLock()
        self._stale = False  # memory may be ahead of the disk: reload before the next command
        self._hall_query = None
        self._hall_updates: dict[int, Any] = {}
        self.vault = FormVault.for_hall(config)
        try:
            prepare_schema(self.engine)  # SchemaVersionError unless at this software's head
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
        keys: Sequence[str | None] | None = None,
    ) -> list[list[V.Event] | EngineError]:
        """Run several commands, in order, in ONE transaction (group commit).

        Each gets its events or its refusal; a refusal does not stop the others. Nothing is
        returned before the commit, so no caller ever sees a result that could still be lost. If
        the transaction fails, every command fails with StorageError and memory is rebuilt.

        ``forms`` (beside ``commands``, None where there is none): the form a resident submitted
        with an ``issue_ticket``. It is sealed and stored under the ticket the command issued,
        in the same transaction: a ticket acknowledged with a form always has it. A refused
        command stores none.

        ``keys`` (beside ``commands``, None where there is none): request keys. A command whose
        key is already stored is not run again: its outcome is the first attempt's events, as
        ``Replayed``. A command that succeeds stores its key with its events; a refused one
        stores none (nothing happened, the retry may run it).
        """
        now = now or self.clock()
        outcomes: list[list[V.Event] | EngineError] = []
        with self._lock:
            try:
                if self._stale:
                    self._reload()
                with self.engine.begin() as conn:
                    row = self._lock_hall(conn)
                    if row.seq != self.hall.seq:
                        self._catch_up(conn, row.seq)
                    # Looked up under the hall's lock: no other process can store one meanwhile.
                    known = self._known_keys(conn, keys) if keys and any(keys) else {}
                    new_keys: list[dict[str, Any]] = []
                    written: list[V.Event] = []
                    sealed: list[dict[str, Any]] = []
                    for i, command in enumerate(commands):
                        key = keys[i] if keys else None
                        if key is not None and key in known:
                            outcomes.append(known[key])
                            continue
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
                            if key is not None:
                                known[key] = Replayed(events)  # the same key again in this batch
                                seqs = [ev.seq for ev in events] or [0]
                                new_keys.append({"hall_id": self.hall_id, "key": key,
                                                 "first_seq": seqs[0], "last_seq": seqs[-1],
                                                 "at": now})  # fmt: skip
                        written += events
                    if written:
                        self._write(conn, written)
                    if sealed:
                        conn.execute(FormRow.__table__.insert(), sealed)
                    if new_keys:
                        conn.execute(RequestKeyRow.__table__.insert(), new_keys)
            except SQLAlchemyError as exc:
                self._reload()
                raise StorageError(f"the database refused the command: {exc}") from exc
            except BaseException:
                # An engine bug or an interrupt mid-command: memory may be ahead of the disk.
                self._reload()
                raise
        return outcomes

    def _reload(self) -> None:
        """Rebuild memory from the database. Until that succeeds (the database may be the
        reason we are here) memory may be ahead of the disk: nothing runs on it meanwhile."""
        self._stale = True
        self.hall = self._load()
        self._stale = False

    def _known_keys(self, conn: Connection, keys: Sequence[str | None]) -> dict[str, Replayed]:
        """The stored request keys among ``keys``, each with its command's events."""
        wanted = [k for k in dict.fromkeys(keys) if k is not None]
        rows = conn.execute(_KNOWN_KEYS, {"hall": self.hall_id, "keys": wanted}).all()
        known: dict[str, Replayed] = {}
        for key, first, last in rows:
            events = Replayed()
            if first:
                events.extend(self._read_events(conn, first - 1, last))
            known[key] = events
        return known

    def purge_request_keys(self, now: dt.datetime | None = None) -> int:
        """Forget request keys older than REQUEST_KEY_DAYS; return how many."""
        table = RequestKeyRow.__table__
        horizon = (now or self.clock()) - dt.timedelta(days=REQUEST_KEY_DAYS)
        try:
            with self._lock, self.engine.begin() as conn:
                return conn.execute(
                    sa_delete(table).where(table.c.hall_id == self.hall_id, table.c.at < horizon)
                ).rowcount
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot purge old request keys: {exc}") from exc

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
                self._reload()
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
