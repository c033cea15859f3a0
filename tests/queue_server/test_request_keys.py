"""Idempotent commands: a retry with the same request key gets the first result, not a second
ticket, across a restart too (the key is stored in the command's own transaction)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from harness.halls import T0, db_url, make_config, new_hall_id
from queue_server.engine import events as V
from queue_server.errors import EngineError, StorageError
from queue_server.protocol import commands as C
from queue_server.storage import Replayed, Store

SERVICE = "liuguan.residence_permit"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    return db_url(request.param, tmp_path)


def issued(outcome) -> str:
    assert not isinstance(outcome, EngineError), outcome
    (ticket,) = [ev.ticket for ev in outcome if isinstance(ev, V.TicketIssued)]
    return ticket.id


def test_a_retry_with_the_same_key_returns_the_first_ticket_even_after_a_restart(url):
    hall_id = new_hall_id()
    store = Store(make_config(hall_id=hall_id, url=url), clock=lambda: T0)
    issue = C.IssueTicket(service=SERVICE)
    (first,) = store.execute_batch([issue], keys=["k1"])
    assert not isinstance(first, Replayed)
    (again,) = store.execute_batch([issue], keys=["k1"])
    assert isinstance(again, Replayed) and issued(again) == issued(first)
    assert [ev.seq for ev in again] == [ev.seq for ev in first]
    store.close()

    store = Store(make_config(hall_id=hall_id, url=url), clock=lambda: T0)
    (after_restart,) = store.execute_batch([issue], keys=["k1"])
    assert isinstance(after_restart, Replayed) and issued(after_restart) == issued(first)
    (other,) = store.execute_batch([issue], keys=["k2"])  # a new attempt: a new ticket
    assert issued(other) != issued(first)
    assert len(store.stored_tickets()) == 2
    store.close()


def test_the_same_key_twice_in_one_batch_issues_once_and_a_refusal_stores_no_key(url):
    store = Store(make_config(hall_id=new_hall_id(), url=url), clock=lambda: T0)
    issue = C.IssueTicket(service=SERVICE)
    bad = C.IssueTicket(service="no.such_service")
    one, two, refused = store.execute_batch([issue, issue, bad], keys=["k", "k", "r"])
    assert issued(two) == issued(one) and isinstance(two, Replayed)
    assert isinstance(refused, EngineError)
    (retried,) = store.execute_batch([bad], keys=["r"])  # run again, not replayed
    assert isinstance(retried, EngineError)
    assert len(store.stored_tickets()) == 1
    store.close()


def test_old_request_keys_are_purged(url):
    clock = [T0]
    store = Store(make_config(hall_id=new_hall_id(), url=url), clock=lambda: clock[0])
    store.execute_batch([C.IssueTicket(service=SERVICE)], keys=["k"])
    assert store.purge_request_keys() == 0
    clock[0] = T0.replace(day=T0.day + 3)
    assert store.purge_request_keys() == 1
    store.close()


def test_memory_ahead_of_the_disk_is_never_used_while_the_database_is_away(tmp_path, monkeypatch):
    """A write fails and so does the reload after it (the database went away mid-command): the
    next command must not run on the memory that issued a ticket the disk never got."""
    store = Store(make_config(hall_id=new_hall_id(), url=db_url("sqlite", tmp_path)))
    issue = C.IssueTicket(service=SERVICE)
    real_write, real_load = store._write, store._load

    def lost_write(conn, events):
        real_write(conn, events)
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    def unreachable():
        raise StorageError("cannot read the hall's state: connection refused")

    monkeypatch.setattr(store, "_write", lost_write)
    monkeypatch.setattr(store, "_load", unreachable)
    with pytest.raises(StorageError):
        store.execute(issue)
    monkeypatch.setattr(store, "_write", real_write)
    monkeypatch.setattr(store, "_load", real_load)  # the database is back
    first = store.hall.tickets[issued(store.execute(issue))]
    assert first.number.endswith("001")  # the lost ticket's number is not skipped
    assert [t.number for t in store.stored_tickets()] == [first.number]
    store.close()
