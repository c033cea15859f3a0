"""Storage on SQLite and on a real PostgreSQL: the same scenarios on both."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from harness.halls import T0, db_url, fingerprint, make_config, new_hall_id
from queue_server.engine import events as V
from queue_server.engine.hall import Hall
from queue_server.errors import EngineError, QueueEmpty, StorageError
from queue_server.identity import resident_key
from queue_server.protocol import commands as C
from queue_server.protocol.states import TicketState
from queue_server.storage import EventRow, Store, TicketRow

SECRET = "s" * 40


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    return db_url(request.param, tmp_path)


class Clock:
    def __init__(self, start: dt.datetime = T0):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw) -> dt.datetime:
        self.now += dt.timedelta(**kw)
        return self.now


def open_store(url, hall_id, clock, **kw) -> Store:
    return Store(make_config(hall_id=hall_id, url=url), clock=clock, **kw)


def busy_day(store: Store, clock: Clock) -> None:
    """A morning that touches every kind of record."""
    alice = resident_key(SECRET, "110101195001010011")
    for i, service in enumerate(
        [
            "liuguan.residence_permit",
            "renshe.employment_registration",
            "jisheng.birth_registration",
            "liuguan.residence_permit",
            "minzheng.subsistence_allowance",
        ]
    ):
        clock.advance(minutes=1)
        store.execute(
            C.IssueTicket(
                service=service,
                priority="elderly" if i == 2 else "normal",
                resident_key=alice if i == 0 else None,
            )
        )
    clock.advance(minutes=1)
    store.execute(C.CallNext(counter=5))
    store.execute(C.StartService(counter=5))
    clock.advance(minutes=6)
    store.execute(C.Transfer(counter=5, to_service="laoling.senior_card"))
    store.execute(C.CallNext(counter=2))
    store.execute(C.Recall(counter=2))
    store.execute(C.MarkNoShow(counter=2))
    store.execute(C.PauseCounter(counter=3, reason="午休"))
    store.execute(C.PostNotice(text_zh="今天下午系统维护", text_en="Maintenance this afternoon"))
    tomorrow = (clock.now + dt.timedelta(days=1)).replace(hour=10, minute=0)
    store.execute(
        C.BookAppointment(
            resident_key=alice, service="liuguan.residence_permit", slot_start=tomorrow
        )
    )
    store.execute(C.CloseCounter(counter=1))


def test_restart_rebuilds_exactly_the_state_before(url):
    clock, hall_id = Clock(), new_hall_id()
    store = open_store(url, hall_id, clock)
    busy_day(store, clock)
    before = fingerprint(store.hall)
    store.close()

    again = open_store(url, hall_id, clock)
    assert fingerprint(again.hall) == before
    # The log replayed into an empty engine gives the same state as the stored records.
    replayed = Hall(again.config)
    for ev in again.events_since(0):
        replayed.apply(ev)
    assert fingerprint(replayed) == before
    again.close()


def test_event_log_is_contiguous_and_every_row_names_its_hall(url):
    clock, hall_a, hall_b = Clock(), new_hall_id(), new_hall_id()
    a = open_store(url, hall_a, clock)
    b = open_store(url, hall_b, clock)
    busy_day(a, clock)
    b.execute(C.IssueTicket(service="liuguan.residence_permit"))
    seqs = [ev.seq for ev in a.events_since(0)]
    assert seqs == list(range(1, a.hall.seq + 1))
    # Two halls in one database: each numbers its own tickets from 001.
    assert "E001" in a.hall.by_number and "E001" in b.hall.by_number
    with a.engine.connect() as conn:
        halls = {
            row[0] for row in conn.execute(sa.select(TicketRow.__table__.c.hall_id).distinct())
        }
    assert {hall_a, hall_b} <= halls
    a.close()
    b.close()


def test_two_stores_on_one_database_take_turns_and_agree(url):
    clock, hall_id = Clock(), new_hall_id()
    first = open_store(url, hall_id, clock)
    second = open_store(url, hall_id, clock)
    numbers = []
    for i in range(20):
        clock.advance(seconds=30)
        store = first if i % 2 else second
        (ev,) = [
            e
            for e in store.execute(C.IssueTicket(service="liuguan.residence_registration"))
            if isinstance(e, V.TicketIssued)
        ]
        numbers.append(ev.ticket.number)
    assert numbers == [f"E{i:03d}" for i in range(1, 21)]
    called = first.execute(C.CallNext(counter=5))[-1]
    with pytest.raises(EngineError):  # the other store sees counter 5 busy after catching up
        second.execute(C.CallNext(counter=5))
    assert second.hall.counters[5].ticket_id == called.ticket_id
    first.refresh()
    assert fingerprint(first.hall) == fingerprint(second.hall)
    first.close()
    second.close()


def test_a_refused_command_still_persists_the_new_day(url):
    clock, hall_id = Clock(), new_hall_id()
    store = open_store(url, hall_id, clock)
    store.execute(C.IssueTicket(service="liuguan.residence_permit"))
    clock.advance(days=1)
    with pytest.raises(QueueEmpty):
        store.execute(C.CallNext(counter=5))
    store.close()
    again = open_store(url, hall_id, clock)
    assert again.hall.today.day == clock.now.date()
    old = [t for t in again.stored_tickets(T0.date())]
    assert [(t.number, t.state, t.cancel_reason) for t in old] == [
        ("E001", TicketState.CANCELLED, "day_closed")
    ]
    # A new day numbers from 001 again.
    issued = again.execute(C.IssueTicket(service="liuguan.residence_permit"))[-1]
    assert issued.ticket.number == "E001" and issued.ticket.day == clock.now.date()
    again.close()


def test_the_database_refuses_a_duplicate_number(url):
    clock, hall_id = Clock(), new_hall_id()
    store = open_store(url, hall_id, clock)
    store.execute(C.IssueTicket(service="liuguan.residence_permit"))
    table = TicketRow.__table__
    with store.engine.connect() as conn:
        row = dict(conn.execute(sa.select(table).where(table.c.hall_id == hall_id)).one()._mapping)
        conn.rollback()
    row["id"] = "other-id"
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(table.insert(), [row])
    store.close()


def test_a_failed_write_leaves_memory_equal_to_the_disk(url, monkeypatch):
    clock, hall_id = Clock(), new_hall_id()
    store = open_store(url, hall_id, clock)
    store.execute(C.IssueTicket(service="liuguan.residence_permit"))
    before = fingerprint(store.hall)
    real_write = store._write

    def failing_write(conn, events):
        real_write(conn, events)  # everything is written ...
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))  # ... then lost

    monkeypatch.setattr(store, "_write", failing_write)
    with pytest.raises(StorageError):
        store.execute(C.CallNext(counter=5))
    assert fingerprint(store.hall) == before
    monkeypatch.setattr(store, "_write", real_write)
    assert store.execute(C.CallNext(counter=5))[-1].number == "E001"
    with store.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(EventRow.__table__.c.hall_id == hall_id)
        ).scalar()
    assert count == store.hall.seq
    store.close()


def test_unreachable_database_is_a_storage_error(tmp_path):
    config = make_config(hall_id=new_hall_id(), url="sqlite:///" + str(tmp_path / "x.db"))
    with pytest.raises(StorageError):
        Store(config, url=f"sqlite:///{tmp_path}/missing-dir/nested/hall.db")


def test_a_batch_commits_together_and_a_refusal_spares_the_others(url):
    clock, hall_id = Clock(), new_hall_id()
    store = open_store(url, hall_id, clock)
    outcomes = store.execute_batch(
        [
            C.IssueTicket(service="liuguan.residence_permit"),
            C.CallNext(counter=1),  # counter 1 is not skilled for queue E: refused
            C.IssueTicket(service="liuguan.residence_permit"),
            C.CallNext(counter=5),
        ]
    )
    assert isinstance(outcomes[1], QueueEmpty)
    assert [o[-1].ticket.number for o in (outcomes[0], outcomes[2])] == ["E001", "E002"]
    assert outcomes[3][-1].number == "E001"
    store.close()
    again = open_store(url, hall_id, clock)
    assert fingerprint(again.hall) == fingerprint(store.hall)
    again.close()
