"""Dispatch: skill tiers, priority classes, anti-starvation, longest wait; the other policy."""

from __future__ import annotations

import datetime as dt

import pytest

from queue_server.engine.dispatch import POLICIES, DefaultPolicy, LongestWaitPolicy
from queue_server.engine.model import Counter, Ticket
from queue_server.protocol import commands as C
from tests.queue_server.hall_factory import (
    BIRTH,
    EMPLOYMENT,
    PERMIT,
    REGISTRATION,
    SENIOR_CARD,
    SI_CARD,
    Driver,
    local,
    make_config,
)


@pytest.fixture
def d() -> Driver:
    driver = Driver()
    driver.do(C.Tick())
    return driver


def called(d: Driver, counter: int) -> str:
    """Call next at ``counter``, then finish at once so it can call again; the number called."""
    event = d.do(C.CallNext(counter=counter))[0]
    d.do(C.StartService(counter=counter))
    d.do(C.FinishService(counter=counter))
    return event.number


def test_own_tier_before_back_up_skills(d):
    d.issue(EMPLOYMENT)  # queue B: counter 1's back-up tier
    d.clock.advance(minutes=1)
    d.issue(BIRTH)  # queue A: counter 1's own tier
    assert called(d, 1) == "A001"
    assert called(d, 1) == "B001"  # the own tier is empty: back-up work


def test_tiers_mixing_services_and_queues(d):
    # Counter 6: social insurance card, senior card, residence permit first; the rest of E later.
    d.issue(REGISTRATION)
    d.clock.advance(minutes=1)
    d.issue(PERMIT)
    d.clock.advance(minutes=1)
    d.issue(SENIOR_CARD)
    d.clock.advance(minutes=1)
    d.issue(BIRTH)  # not a skill of counter 6 at all
    assert [called(d, 6) for _ in range(3)] == ["E002", "A001", "E001"]
    assert [t.number for t in d.hall.ordered_waiting()] == ["A002"]


def test_priority_classes_then_longest_wait(d):
    d.issue(BIRTH)  # normal, A001
    d.clock.advance(minutes=1)
    d.issue(BIRTH, priority="elderly")  # A002
    d.clock.advance(minutes=1)
    d.issue(BIRTH, priority="military")  # A003
    d.clock.advance(minutes=1)
    d.issue(BIRTH, priority="disabled")  # A004: same rank as military, later
    d.clock.advance(minutes=1)
    d.issue(BIRTH)  # A005
    assert [called(d, 1) for _ in range(5)] == ["A003", "A004", "A002", "A001", "A005"]


def test_tier_outranks_class(d):
    d.issue(EMPLOYMENT, priority="military")  # back-up tier for counter 1
    d.issue(BIRTH)  # own tier, normal
    assert called(d, 1) == "A001"


def test_checked_in_appointment_between_elderly_and_normal(d):
    events = d.do(
        C.BookAppointment(resident_key="r1", service=BIRTH, slot_start=local(2026, 11, 27, 10))
    )
    appointment = events[-1].appointment_id
    d.clock.set(local(2026, 11, 27, 9, 30))
    d.issue(BIRTH)  # A001 normal, early
    d.issue(BIRTH, priority="elderly")  # A002
    d.clock.set(local(2026, 11, 27, 9, 50))
    d.do(C.CheckIn(appointment=appointment))  # A003
    assert [called(d, 1) for _ in range(3)] == ["A002", "A003", "A001"]


@pytest.mark.parametrize(("waited", "first"), [(29, "A002"), (30, "A001")])
def test_a_starving_normal_ticket_overtakes_priority_classes(d, waited, first):
    d.issue(BIRTH)  # normal
    d.clock.advance(minutes=waited)
    d.issue(BIRTH, priority="military")
    assert called(d, 1) == first


def test_a_starving_ticket_overtakes_the_own_tier(d):
    d.issue(EMPLOYMENT)  # counter 1's back-up tier
    d.clock.advance(minutes=31)
    d.issue(BIRTH)
    assert called(d, 1) == "B001"


def test_among_starving_tickets_the_longest_wait_first(d):
    d.issue(BIRTH, priority="military")
    d.clock.advance(minutes=1)
    d.issue(BIRTH)
    d.clock.advance(minutes=40)
    d.issue(BIRTH, priority="military")
    # Both early tickets starve; the military one has waited longer than the normal one.
    assert [called(d, 1) for _ in range(3)] == ["A001", "A002", "A003"]


def test_starvation_clock_restarts_on_requeue(d):
    d.issue(BIRTH)
    d.do(C.CallNext(counter=1))
    d.do(C.MarkNoShow(counter=1))
    d.clock.advance(minutes=20)
    d.do(C.Requeue(ticket="A001"))
    d.clock.advance(minutes=15)  # 35 minutes since issue, 15 since requeued
    d.issue(BIRTH, priority="elderly")
    assert called(d, 1) == "A002"


def test_starvation_bound_is_configurable():
    d = Driver(make_config(rules={"starvation_minutes": 5}))
    d.issue(BIRTH)
    d.clock.advance(minutes=5)
    d.issue(BIRTH, priority="military")
    assert called(d, 1) == "A001"


def test_manual_move_is_honoured(d):
    d.issue(BIRTH)
    d.clock.advance(minutes=1)
    d.issue(BIRTH)
    d.clock.advance(minutes=1)
    d.issue(BIRTH)
    d.do(C.MoveTicket(ticket="A003", other="A002", position="before"))
    assert [called(d, 1) for _ in range(3)] == ["A001", "A003", "A002"]


def test_transfer_keeps_its_place_in_the_new_queue(d):
    d.issue(BIRTH)
    d.clock.advance(minutes=2)
    d.issue(SI_CARD)  # B001
    d.do(C.CallTicket(counter=1, ticket="A001"))
    d.do(C.Transfer(counter=1, to_service=SI_CARD))
    assert called(d, 6) == "A001"


def test_longest_wait_policy_ignores_tiers_and_classes():
    d = Driver(policy=LongestWaitPolicy())
    d.issue(EMPLOYMENT)  # back-up tier for counter 1, first arrival
    d.clock.advance(minutes=1)
    d.issue(BIRTH, priority="military")
    d.clock.advance(minutes=1)
    d.issue(BIRTH)
    assert [called(d, 1) for _ in range(3)] == ["B001", "A001", "A002"]
    assert d.hall.policy.name == "longest_wait"


def test_policies_registry():
    assert POLICIES == {"default": DefaultPolicy, "longest_wait": LongestWaitPolicy}
    assert Driver().hall.policy.starvation_s == 30 * 60


def _ticket(number: str, service: str, rank: int, order: float, queued: float) -> Ticket:
    at = dt.datetime.fromtimestamp(queued, dt.UTC)
    return Ticket(
        id=number,
        number=number,
        day=at.date(),
        service=service,
        queue=number[0],
        priority="x",
        rank=rank,
        channel="kiosk",
        resident_key=None,
        arrival=at,
        order_key=order,
        queued_at=at,
    )


def test_default_policy_on_plain_records():
    counter = Counter(id=1, kind="comprehensive", skills={"a.x": 0, "b.y": 1})
    policy = DefaultPolicy(starvation_s=300)
    fresh_vip = _ticket("A001", "a.x", 1, 950, 950)
    fresh = _ticket("A002", "a.x", 9, 900, 900)
    backup = _ticket("B001", "b.y", 0, 800, 800)  # back-up tier, though of the best class
    assert policy.pick(counter, [], 1000) is None
    assert policy.pick(counter, [fresh, backup, fresh_vip], 1000) is fresh_vip
    assert policy.pick(counter, [fresh, backup], 1000) is fresh
    assert policy.pick(counter, [backup], 1000) is backup
    # At 1100 the back-up ticket has waited the bound exactly: it goes first.
    assert policy.pick(counter, [fresh, backup, fresh_vip], 1099.9) is fresh_vip
    assert policy.pick(counter, [fresh, backup, fresh_vip], 1100) is backup
    # Two starving: the one queued earlier, whatever its order key.
    moved = _ticket("A003", "a.x", 9, 100, 850)
    assert policy.pick(counter, [moved, backup], 1200) is backup
    assert LongestWaitPolicy().pick(counter, [fresh, backup, fresh_vip], 0) is backup
    assert LongestWaitPolicy().pick(counter, [], 0) is None
