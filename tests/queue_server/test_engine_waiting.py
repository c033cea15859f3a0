"""Issue 14: issuing and calling must not walk the whole queue.

The engine keeps its waiting tickets sorted (engine/waiting.py). These tests check (1) that
issuing, calling and the screens' estimates never iterate the waiting lists nor the day's
tickets, by handing the hall lists that refuse to be walked, and (2) on long queues (past the
replay's limit) with managers moving tickets and changing classes, that every answer is the one
the full walk gives (tests/queue_server/estimate_reference.py); the property tests check the
same on short queues.
"""

from __future__ import annotations

import random

import pytest

from queue_server.engine.hall import REPLAY_LIMIT
from queue_server.errors import EngineError
from queue_server.protocol import commands as C
from tests.queue_server import estimate_reference as reference
from tests.queue_server.hall_factory import (
    BIRTH,
    EMPLOYMENT,
    REGISTRATION,
    RENTAL,
    SUBSISTENCE,
    Driver,
)

SERVICES = [BIRTH, EMPLOYMENT, SUBSISTENCE, RENTAL, REGISTRATION]
CLASSES = ["normal"] * 6 + ["elderly", "military", "appointment"]


class NoWalk(dict):
    """A dict that may be read by key but not walked."""

    def _refuse(self, *args):
        raise AssertionError("walked a whole list of tickets")

    __iter__ = values = items = keys = _refuse


def guard(hall) -> None:
    hall.waiting = {service: NoWalk(queue) for service, queue in hall.waiting.items()}
    hall.tickets = NoWalk(hall.tickets)


def filled(waiting: int, seed: int = 1) -> Driver:
    d = Driver()
    rng = random.Random(seed)
    for _ in range(waiting):
        d.clock.advance(seconds=rng.randint(0, 20))
        d.do(C.IssueTicket(service=rng.choice(SERVICES), priority=rng.choice(CLASSES)))
    return d


@pytest.mark.parametrize("waiting", [40, 400])  # the replayed estimate, and past its limit
def test_issue_call_and_status_do_not_walk_the_queue(waiting):
    d = filled(waiting)
    hall = d.hall
    assert any(hall.open_counters_for(s) for s in SERVICES)
    guard(hall)
    d.clock.advance(seconds=5)
    for service in SERVICES:
        d.do(C.IssueTicket(service=service))
    for priority in ("normal", "elderly"):
        hall.estimate_new_all(d.clock.now, priority)
    called = 0
    for counter in hall.counters.values():
        if counter.state.value == "idle":
            d.do(C.CallNext(counter=counter.id))
            called += 1
    assert called
    assert hall.waiting_within(3)


def test_long_queue_answers_equal_the_full_walk():
    """Past REPLAY_LIMIT, with moves, class changes, transfers, cancellations, calls and
    no-shows among the issues: every estimate, call and people-ahead count is the walk's."""
    rng = random.Random(14)
    d = filled(REPLAY_LIMIT + 50, seed=14)
    hall = d.hall
    for step in range(400):
        d.clock.advance(seconds=rng.randint(0, 30))
        waiting = list(hall.waiting_tickets())
        kind = rng.choice(["issue"] * 4 + ["call"] * 3 + ["move", "priority", "transfer", "cancel"])
        counters = [c for c in hall.counters.values() if c.state.value != "closed"]
        try:
            if kind == "issue":
                d.do(C.IssueTicket(service=rng.choice(SERVICES), priority=rng.choice(CLASSES)))
            elif kind == "call":
                counter = rng.choice(counters)
                if counter.ticket_id is not None:
                    d.do(rng.choice([C.MarkNoShow, C.StartService])(counter=counter.id))
                    if counter.state.value == "serving":
                        d.do(C.FinishService(counter=counter.id))
                expected = reference.call_pick(hall, counter, d.clock.now)
                events = d.do(C.CallNext(counter=counter.id))
                assert events[-1].ticket_id == expected.id
            elif kind == "move":
                ticket, other = rng.sample(waiting, 2)
                position = rng.choice(["before", "after"])
                d.do(C.MoveTicket(ticket=ticket.number, other=other.number, position=position))
            elif kind == "priority":
                ticket = rng.choice(waiting)
                d.do(C.ChangePriority(ticket=ticket.number, priority=rng.choice(CLASSES)))
            elif kind == "transfer":
                ticket = rng.choice(waiting)
                d.do(C.Transfer(ticket=ticket.number, to_service=rng.choice(SERVICES)))
            else:
                d.do(C.CancelTicket(ticket=rng.choice(waiting).number))
        except EngineError:
            pass
        if step % 25:
            continue
        now = d.clock.now
        assert reference.waiting_count(hall) > REPLAY_LIMIT
        for ticket in hall.waiting_tickets():
            assert hall.estimate(ticket, now) == reference.estimate(hall, ticket, now)
        for priority in ("normal", "elderly", "military"):
            assert hall.estimate_new_all(now, priority) == reference.estimate_new_all(
                hall, now, priority
            )
        assert hall.waiting_within(5) == reference.within(hall, 5, now)
