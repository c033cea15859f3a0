"""Several processes issuing and calling at once on one database."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.halls import anchored_clock, db_url, new_hall_id, write_config
from queue_server.config import load_config
from queue_server.engine import events as V
from queue_server.protocol.states import TicketState
from queue_server.storage import Store
from tests.queue_server.test_crash import CLOCK_ORIGIN, start_worker

ISSUERS = 3
PER_ISSUER = 40
SERVICES = [
    "liuguan.residence_registration",
    "renshe.employment_registration",
    "jisheng.birth_registration",
    "minzheng.temporary_assistance",
    "jiaowei.student_aid",
]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_kiosks_and_windows(kind, tmp_path: Path):
    config_path = write_config(
        tmp_path / "hall.toml", hall_id=new_hall_id(), url=db_url(kind, tmp_path)
    )
    Store(
        load_config(config_path), clock=anchored_clock(CLOCK_ORIGIN)
    ).close()  # create the schema once, before the race
    total = ISSUERS * PER_ISSUER
    workers = [
        start_worker("issue", str(config_path), str(PER_ISSUER), *SERVICES) for _ in range(ISSUERS)
    ]
    # The long chain means both callers compete for the same queues.
    workers += [
        start_worker("call", str(config_path), str(total), "120", "1", "2", "3"),
        start_worker("call", str(config_path), str(total), "120", "4", "5", "6"),
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, out + err
        outputs.append(out)

    acked = [line.split()[1] for out in outputs for line in out.splitlines() if "ACK" in line]
    done = [line.split()[1] for out in outputs for line in out.splitlines() if "DONE" in line]
    assert len(acked) == total and len(set(acked)) == total, "duplicate or missing numbers"
    assert Counter(done) == Counter(acked), "a ticket was served twice or not at all"

    store = Store(load_config(config_path), clock=anchored_clock(CLOCK_ORIGIN))
    tickets = store.stored_tickets()
    assert len(tickets) == total
    assert all(t.state is TicketState.DONE for t in tickets)
    calls = Counter(ev.ticket_id for ev in store.events_since(0) if isinstance(ev, V.TicketCalled))
    assert set(calls.values()) == {1}, "a ticket was called twice"
    # Per counter, calls and finishes alternate: no counter ever held two residents.
    holding: dict[int, str | None] = {}
    for ev in store.events_since(0):
        if isinstance(ev, V.TicketCalled):
            assert holding.get(ev.counter) is None
            holding[ev.counter] = ev.ticket_id
        elif isinstance(ev, V.TicketFinished):
            assert holding[ev.counter] == ev.ticket_id
            holding[ev.counter] = None
    store.close()
