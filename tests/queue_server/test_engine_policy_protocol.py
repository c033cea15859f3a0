"""The dispatch Protocol declares everything the engine reads from a policy, and every shipped
policy provides it; a policy that reads no heads answers from the queues' candidates exactly
as ``pick`` does from the walk of the waiting tickets."""

from __future__ import annotations

import random

import pytest

from queue_server.engine.dispatch import POLICIES, DispatchPolicy, LongestWaitPolicy
from queue_server.protocol import commands as C
from tests.queue_server.hall_factory import BIRTH, EMPLOYMENT, SENIOR_CARD, SI_CARD, Driver

MEMBERS = {"name", "by_class", "starvation_s", "pick", "pick_ordered"}


def test_the_protocol_declares_what_the_engine_reads():
    declared = set(DispatchPolicy.__annotations__) | {
        k for k, v in vars(DispatchPolicy).items() if callable(v) and not k.startswith("_")
    }
    assert declared == MEMBERS


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_provides_the_protocol(name):
    policy = POLICIES[name](1800.0) if name == "default" else POLICIES[name]()
    for member in MEMBERS:
        assert hasattr(policy, member), member
    assert isinstance(policy.by_class, bool) and policy.starvation_s > 0


def test_longest_wait_reads_the_candidates_in_the_walks_order():
    d = Driver(policy=LongestWaitPolicy())
    d.do(C.Tick())
    rng = random.Random(3)
    for _ in range(40):
        d.issue(rng.choice([BIRTH, EMPLOYMENT, SI_CARD, SENIOR_CARD]))
        d.clock.advance(seconds=rng.choice([0, 0, 7]))  # ties of arrival too
    hall, now_ts = d.hall, d.clock.now.timestamp()
    tickets = list(hall.waiting_tickets())
    d.do(C.MoveTicket(ticket=tickets[-1].number, other=tickets[2].number))
    policy = hall.policy
    replay = hall.index.replay([])
    for counter in hall.counters.values():
        walk = list(hall.waiting_tickets(counter.skills))
        assert hall.index.candidates(counter) == walk
        assert replay.candidates(counter) == walk
        assert policy.pick_ordered(counter, hall.index, now_ts) is policy.pick(counter, walk, 0)
    # Taken tickets leave the replay's candidates, the others keep their order.
    first = hall.counters[1]
    taken = policy.pick_ordered(first, replay, now_ts)
    replay.take(taken)
    assert replay.candidates(first) == [
        t for t in hall.waiting_tickets(first.skills) if t is not taken
    ]
