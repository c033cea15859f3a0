"""Property-based tests: random command sequences against the hall's invariants.

A hypothesis state machine drives one hall with random commands while an injected clock moves
forward by random amounts, across lunch, closing time and midnight. After every step:

- no ticket is lost or duplicated: every ticket issued today is in exactly one state, the waiting
  lists hold exactly the waiting tickets, and the counts add up;
- numbers are unique per prefix per day (and run 001, 002, ... without gaps);
- a ticket is at one counter at most, a counter holds one ticket at most, and both sides agree;
- the starvation bound holds: when a counter calls next while an eligible ticket has waited at
  least the bound, the ticket it calls has waited at least the bound too;
- estimates are never negative (and None exactly when no counter for the service is open);
- a refused command changes nothing but time's own effects, which it carries as events;
- replay: a second hall that applies every event (through JSON, as storage will) is in the same
  state as the live one, and so is a fresh hall that restores copies of the live records.

The same machine runs again under LongestWaitPolicy (without the starvation bound, which that
policy does not promise) in a hall that forbids calling a specific ticket.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections import Counter as Tally

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from queue_server.engine import events as V
from queue_server.engine.dispatch import LongestWaitPolicy
from queue_server.engine.hall import OPEN_COUNTER_STATES, REPLAY_LIMIT, Hall
from queue_server.engine.model import Ticket
from queue_server.errors import EngineError
from queue_server.protocol import commands as C
from queue_server.protocol.states import CounterState, TicketState
from tests.queue_server import estimate_reference as reference
from tests.queue_server.hall_factory import (
    BIRTH,
    EMPLOYMENT,
    PERMIT,
    REGISTRATION,
    SENIOR_CARD,
    SI_CARD,
    SUBSISTENCE,
    Clock,
    Driver,
    config_data,
    local,
    make_config,
)

SERVICES = [BIRTH, SENIOR_CARD, EMPLOYMENT, SI_CARD, SUBSISTENCE, PERMIT, REGISTRATION]
BOOKABLE = [BIRTH, EMPLOYMENT, PERMIT]
CLASSES = ["normal", "normal", "normal", "elderly", "military", "appointment"]
RESIDENTS = [None, None, "r0", "r1", "r2"]
COUNTERS = [1, 2, 3, 4, 5, 6] * 3 + [7]  # 7 does not exist
SKILL_SETS = [
    [["A"], ["B"]],
    [["C"]],
    [[BIRTH, SI_CARD], ["E"]],
    [["A", "B", "C", "D", "E"]],
    [[PERMIT]],
]
STARVATION_MINUTES = 10
STATE_FIELD = next(f for f in dataclasses.fields(Ticket) if f.name == "state")


def _overrides() -> dict:
    services = config_data()["services"]
    services[1] = {**services[1], "daily_quota": 4}  # residence registration: a small quota
    return {
        "hours": {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "open": dt.time(8),
            "close": dt.time(20),
            "last_ticket": None,
        },
        "rules": {"starvation_minutes": STARVATION_MINUTES, "requeue_grace_minutes": 20},
        "appointments": {"min_days_ahead": 0, "days_ahead": 2, "per_resident_per_week": 5},
        "services": services,
    }


CONFIG = make_config(**_overrides())


def record(obj) -> tuple:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))


def fingerprint(hall: Hall) -> tuple:
    """Everything a command may change, as plain comparable data."""

    return (
        hall.seq,
        hall.today.day,
        dict(hall.today.sequences),
        dict(hall.today.issued),
        {i: record(t) for i, t in hall.tickets.items()},
        dict(hall.by_number),
        {s: set(w) for s, w in hall.waiting.items()},
        dict(hall.open_by_resident),
        {i: record(c) for i, c in hall.counters.items()},
        {i: record(a) for i, a in hall.appointments.items()},
        {k: v for k, v in hall.slot_load.items() if v},
        {i: record(n) for i, n in hall.notices.items()},
        # As multisets: restore orders services finished in the same instant arbitrarily.
        {s: sorted(t) for s, t in hall.service_times.items()},
    )


def restored(hall: Hall) -> Hall:
    twin = Hall(hall.config, policy=hall.policy)
    twin.restore(
        seq=hall.seq,
        day=copy.deepcopy(hall.today),
        tickets=copy.deepcopy(list(hall.tickets.values())),
        counters=copy.deepcopy(list(hall.counters.values())),
        appointments=copy.deepcopy(list(hall.appointments.values())),
        notices=copy.deepcopy(list(hall.notices.values())),
    )
    return twin


class HallMachine(RuleBasedStateMachine):
    config = CONFIG
    starvation_bound = True  # the default policy promises it

    @staticmethod
    def make_policy():
        return None  # the hall's default

    @initialize(day=st.integers(0, 5), minute=st.integers(8 * 60, 19 * 60))
    def start(self, day, minute):
        # Monday 2026-11-23 to Saturday 2026-11-28, during opening hours (08:00-20:00).
        start = local(2026, 11, 23) + dt.timedelta(days=day, minutes=minute)
        self.d = Driver(self.config, clock=Clock(start), policy=self.make_policy())
        self.shadow = Hall(self.config)
        self.replayed = 0
        self.seen_numbers: set[tuple[dt.date, str]] = set()
        self.issued_today: set[str] = set()
        self.refusals: Tally[str] = Tally()
        # What a storage adapter would hold, written only from take_changes().
        # A new hall's counters come from the configuration, not from a change.
        self.db: dict[str, dict] = {
            "tickets": {},
            "counters": {c.id: record(c) for c in self.hall.counters.values()},
            "appointments": {},
        }

    # --- running a command ---------------------------------------------------------------------

    @property
    def hall(self) -> Hall:
        return self.d.hall

    def run(self, command: C.Command) -> list[V.Event] | None:
        before = fingerprint(self.hall)
        try:
            events = self.d.do(command)
        except EngineError as exc:
            self.refusals[exc.code] += 1
            if not exc.events:
                assert fingerprint(self.hall) == before, f"refused {command!r} changed the hall"
            # With housekeeping events on the error, the replay invariant covers it: the shadow
            # hall receives only those events, so any other change would set the two apart.
            events = None
        self._follow_log()
        self._store()
        return events

    def _store(self) -> None:
        changes = self.hall.take_changes()
        for kind in ("tickets", "counters", "appointments"):
            for obj in getattr(changes, kind):
                self.db[kind][obj.id] = record(obj)

    def _follow_log(self) -> None:
        """Feed the new events to the shadow hall (through JSON) and to the bookkeeping."""
        for event in self.d.log[self.replayed :]:
            self.shadow.apply(V.parse_event(event.model_dump_json()))
            if isinstance(event, V.DayOpened):
                self.issued_today = set()
            elif isinstance(event, V.TicketIssued):
                key = (event.ticket.day, event.ticket.number)
                assert key not in self.seen_numbers, f"number {key} issued twice"
                self.seen_numbers.add(key)
                self.issued_today.add(event.ticket.id)
                assert event.ahead >= 0
                assert event.estimated_wait_s is None or event.estimated_wait_s >= 0
        self.replayed = len(self.d.log)

    # Hypothesis picks rules unevenly (swarm testing); one rule with our own weights keeps the
    # mix realistic: many issues and calls, some staff and manager actions, a few time jumps.
    STEPS = (
        ["advance"] * 4
        + ["time_jump"]
        + ["issue"] * 4
        + ["call_next"] * 4
        + ["counter_step"] * 3
        + ["serve"] * 2
        + ["staff"] * 3
        + ["appointments"] * 2
        + ["requeue"]
    )

    @rule(data=st.data())
    def step(self, data):
        getattr(self, data.draw(st.sampled_from(self.STEPS)))(data)

    def _ticket_ref(self, data, waiting: bool = False) -> str:
        """A ticket number: mostly a waiting one if ``waiting``, sometimes an unknown one."""
        numbers = sorted(t.number for t in self.hall.tickets.values())
        queued = sorted(t.number for t in self.hall.waiting_tickets())
        if waiting and queued and data.draw(st.integers(0, 3)):
            numbers = queued
        if not numbers or data.draw(st.integers(0, 9)) == 0:
            return "A999"  # unknown
        return data.draw(st.sampled_from(numbers))

    # --- time ----------------------------------------------------------------------------------

    def advance(self, data):
        self.d.clock.advance(seconds=data.draw(st.integers(0, 300)))

    def time_jump(self, data):
        if data.draw(st.booleans()):
            self.d.clock.advance(seconds=data.draw(st.integers(300, 6 * 3600)))
        else:
            tomorrow = self.d.clock.now.date() + dt.timedelta(days=1)
            when = local(tomorrow.year, tomorrow.month, tomorrow.day, 7, 55)
            self.d.clock.set(when + dt.timedelta(minutes=data.draw(st.integers(0, 120))))
        self.run(C.Tick())

    # --- residents ------------------------------------------------------------------------------

    def issue(self, data):
        service = data.draw(st.sampled_from(SERVICES))
        priority = data.draw(st.sampled_from(CLASSES))
        resident = data.draw(st.sampled_from(RESIDENTS))
        self.run(C.IssueTicket(service=service, priority=priority, resident_key=resident))

    def appointments(self, data):
        resident = data.draw(st.sampled_from(RESIDENTS[2:]))
        kind = data.draw(st.sampled_from(["book", "book", "cancel", "check_in", "check_in_key"]))
        ids = sorted(self.hall.appointments) or ["AP1"]
        if kind == "book":
            service = data.draw(st.sampled_from(BOOKABLE))
            days = self.hall.bookable_days(self.d.clock.now)[:2]
            slots = self.hall.slots(service, data.draw(st.sampled_from(days))) if days else []
            if slots:
                slot = data.draw(st.sampled_from(slots))[0]
                self.run(C.BookAppointment(resident_key=resident, service=service, slot_start=slot))
        elif kind == "cancel":
            self.run(C.CancelAppointment(appointment=data.draw(st.sampled_from(ids))))
        elif kind == "check_in":
            booked = [a for a in self.hall.appointments.values() if a.state.value == "booked"]
            if booked and data.draw(st.booleans()):
                # Walk up around the slot's check-in window (the clock only moves forward).
                appointment = data.draw(st.sampled_from(sorted(booked, key=lambda a: a.id)))
                offset = dt.timedelta(minutes=data.draw(st.integers(-20, 15)))
                self.d.clock.set(max(self.d.clock.now, appointment.slot_start + offset))
                self.run(C.CheckIn(appointment=appointment.id))
            else:
                self.run(C.CheckIn(appointment=data.draw(st.sampled_from(ids))))
        else:
            self.run(C.CheckIn(resident_key=resident))

    # --- counters ------------------------------------------------------------------------------

    def _counter(self, data, want) -> int:
        """Mostly a counter for which ``want(counter)`` holds (so commands mostly succeed)."""
        fitting = [c.id for c in self.hall.counters.values() if want(c)]
        if fitting and data.draw(st.integers(0, 4)):
            return data.draw(st.sampled_from(fitting))
        return data.draw(st.sampled_from(COUNTERS))

    def call_next(self, data):
        counter = self._counter(
            data,
            lambda c: c.state is CounterState.IDLE and any(self.hall.waiting_tickets(c.skills)),
        )
        now = self.d.clock.now
        bound = dt.timedelta(minutes=STARVATION_MINUTES)
        # Eligibility as of the command's own time, after any rollover its housekeeping does.
        same_day = self.hall.today.day == self.hall.local(now).date()
        desk = self.hall.counters.get(counter)
        starving = (
            self.starvation_bound
            and same_day
            and desk is not None
            and any(now - t.queued_at >= bound for t in self.hall.waiting_tickets(desk.skills))
        )
        events = self.run(C.CallNext(counter=counter))
        if events and starving:
            self.refusals["(starving call checked)"] += 1
            ticket = self.hall.tickets[events[-1].ticket_id]
            assert now - ticket.queued_at >= bound, (
                f"counter {counter} called {ticket.number} (waited {now - ticket.queued_at}) "
                f"while a ticket had waited past {bound}"
            )

    def counter_step(self, data):
        command = data.draw(
            st.sampled_from(
                [C.Recall, C.StartService, C.StartService, C.FinishService, C.MarkNoShow]
            )
        )
        counter = self._counter(data, lambda c: c.ticket_id is not None)
        self.run(command(counter=counter))

    def serve(self, data):
        counter = self._counter(data, lambda c: c.ticket_id is not None)
        self.run(C.StartService(counter=counter))
        self.run(C.FinishService(counter=counter))

    # --- staff and manager, less often ----------------------------------------------------------

    def requeue(self, data):
        skipped = sorted(
            t.number for t in self.hall.tickets.values() if t.state is TicketState.NO_SHOW
        )
        if skipped and data.draw(st.integers(0, 3)):
            self.run(C.Requeue(ticket=data.draw(st.sampled_from(skipped))))
        else:
            self.run(C.Requeue(ticket=self._ticket_ref(data)))

    def staff(self, data):
        counter = data.draw(st.sampled_from(COUNTERS))
        kind = data.draw(
            st.sampled_from(
                [
                    "pause", "resume", "open", "close", "call_ticket", "transfer", "requeue",
                    "move", "change_priority", "reskill", "cancel", "notice",
                ]
            )
        )  # fmt: skip
        if kind in ("pause", "resume", "open", "close"):
            command = {
                "pause": C.PauseCounter,
                "resume": C.ResumeCounter,
                "open": C.OpenCounter,
                "close": C.CloseCounter,
            }[kind]
            self.run(command(counter=counter))
        elif kind == "call_ticket":
            self.run(C.CallTicket(counter=counter, ticket=self._ticket_ref(data, True)))
        elif kind == "transfer":
            to = data.draw(st.sampled_from(SERVICES))
            if data.draw(st.booleans()):
                self.run(C.Transfer(counter=counter, to_service=to))
            else:
                self.run(C.Transfer(ticket=self._ticket_ref(data, True), to_service=to))
        elif kind == "requeue":
            self.requeue(data)
        elif kind == "move":
            ticket, other = self._ticket_ref(data, True), self._ticket_ref(data, True)
            position = data.draw(st.sampled_from(["before", "after"]))
            self.run(C.MoveTicket(ticket=ticket, other=other, position=position))
        elif kind == "change_priority":
            priority = data.draw(st.sampled_from(CLASSES))
            self.run(C.ChangePriority(ticket=self._ticket_ref(data, True), priority=priority))
        elif kind == "reskill":
            self.run(C.Reskill(counter=counter, skills=data.draw(st.sampled_from(SKILL_SETS))))
        elif kind == "cancel":
            self.run(C.CancelTicket(ticket=self._ticket_ref(data)))
        elif self.hall.notices and data.draw(st.booleans()):
            self.run(C.RemoveNotice(notice=data.draw(st.sampled_from(sorted(self.hall.notices)))))
        else:
            self.run(C.PostNotice(text_zh="通知", text_en="Notice"))

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def no_ticket_lost_or_duplicated(self):
        tickets = self.hall.tickets
        assert set(tickets) == self.issued_today
        states = Tally(t.state for t in tickets.values())
        assert sum(states.values()) == len(tickets)
        waiting_ids = [i for queue in self.hall.waiting.values() for i in queue]
        assert len(waiting_ids) == len(set(waiting_ids))  # in one waiting list at most
        assert set(waiting_ids) == {i for i, t in tickets.items() if t.state is TicketState.WAITING}
        for service, queue in self.hall.waiting.items():
            assert all(t.service == service for t in queue.values())
        assert states[TicketState.WAITING] == len(self.hall.ordered_waiting())

    @invariant()
    def numbers_unique_and_gapless_per_prefix(self):
        by_prefix: dict[str, list[int]] = {}
        for ticket in self.hall.tickets.values():
            by_prefix.setdefault(ticket.number[0], []).append(int(ticket.number[1:]))
            assert self.hall.by_number[ticket.number] == ticket.id
        for prefix, numbers in by_prefix.items():
            assert sorted(numbers) == list(range(1, len(numbers) + 1)), prefix
            assert self.hall.today.sequences[prefix] == len(numbers)

    @invariant()
    def counters_and_tickets_agree(self):
        held: dict[str, int] = {}
        for counter in self.hall.counters.values():
            if counter.state in (CounterState.CALLING, CounterState.SERVING):
                assert counter.ticket_id is not None
                ticket = self.hall.tickets[counter.ticket_id]
                assert counter.ticket_id not in held, "a ticket at two counters"
                held[counter.ticket_id] = counter.id
                assert ticket.counter == counter.id
                expected = (
                    TicketState.CALLED
                    if counter.state is CounterState.CALLING
                    else TicketState.SERVING
                )
                assert ticket.state is expected
            else:
                assert counter.ticket_id is None
        for ticket in self.hall.tickets.values():
            if ticket.state in (TicketState.CALLED, TicketState.SERVING):
                assert held.get(ticket.id) == ticket.counter, f"{ticket.number} at no counter"

    @invariant()
    def one_open_ticket_per_resident_and_service(self):
        open_keys = Tally(
            (t.resident_key, t.service)
            for t in self.hall.tickets.values()
            if t.resident_key
            and t.state in (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
        )
        assert all(n == 1 for n in open_keys.values())
        assert set(open_keys) == set(self.hall.open_by_resident)

    @invariant()
    def estimates_never_negative(self):
        now = self.d.clock.now
        for ticket in self.hall.waiting_tickets():
            ahead, wait = self.hall.estimate(ticket, now)
            assert ahead >= 0
            assert wait is None or wait >= 0
        for service in SERVICES:
            ahead, wait = self.hall.estimate_new(service, now)
            assert ahead >= 0
            if not any(
                service in c.skills and c.state in OPEN_COUNTER_STATES
                for c in self.hall.counters.values()
            ):
                assert wait is None
            else:
                assert wait is not None and wait >= 0

    @invariant()
    def estimates_equal_the_full_recomputation(self):
        """Calls and estimates read from the sorted queues (engine/waiting.py) are exactly what
        walking every waiting ticket and every ticket of the day gives (issue 14)."""
        hall, now = self.hall, self.d.clock.now
        waiting = list(hall.waiting_tickets())
        replayed = reference.replay(hall, waiting, now)
        few = reference.waiting_count(hall) <= REPLAY_LIMIT
        for ticket in waiting:
            ahead, wait = hall.estimate(ticket, now)
            assert ahead == reference.people_ahead(hall, ticket), ticket.number
            if not hall.open_counters_for(ticket.service):
                assert wait is None
                continue
            # The long queue's estimate, compared at any size.
            long_wait = reference.work_ahead_wait(hall, ticket, now)
            assert hall._work_ahead_wait(ticket, now) == long_wait
            assert wait == (replayed.get(ticket.id) if few else long_wait), ticket.number
            mean_of = hall.mean_service_s
            assert hall._overtaking(ticket, now.timestamp(), mean_of) == reference.overtaking(
                hall, ticket, now.timestamp(), mean_of
            )
        for priority in ("normal", "military"):
            assert hall.estimate_new_all(now, priority) == reference.estimate_new_all(
                hall, now, priority
            )
        for service in SERVICES:
            probe = hall._probe(service, now, "normal")
            if hall.open_counters_for(service):
                assert hall._work_ahead_wait(probe, now) == reference.work_ahead_wait(
                    hall, probe, now
                )
        ordered = getattr(hall.policy, "pick_ordered", None)
        for counter in hall.counters.values():
            if ordered is not None:
                assert ordered(counter, hall.index, now.timestamp()) is reference.call_pick(
                    hall, counter, now
                ), f"counter {counter.id}"
        for limit in (0, 1, 3):
            assert hall.waiting_within(limit) == reference.within(hall, limit, now)

    @invariant()
    def sorted_queues_hold_the_waiting_tickets(self):
        for hall in (self.hall, self.shadow):
            index = hall.index
            for service, queue in hall.waiting.items():
                assert [e[4] for e in index.by_dispatch[service]] == sorted(
                    queue.values(),
                    key=lambda t: (t.rank, t.order_key, t.queued_at.timestamp(), index.pos(t.id)),
                )
                assert sorted(index.by_queued[service]) == index.by_queued[service]
                assert {e[3].id for e in index.by_queued[service]} == set(queue)
                # The dict's order is the index's order of places.
                assert [index.pos(i) for i in queue] == sorted(index.pos(i) for i in queue)
            assert len(index) == sum(len(q) for q in hall.waiting.values())

    @invariant()
    def slot_load_matches_bookings(self):
        load = Tally(
            (a.service, a.slot_start.timestamp())
            for a in self.hall.appointments.values()
            if a.state.value in ("booked", "checked_in")
        )
        assert {k: v for k, v in self.hall.slot_load.items() if v} == dict(load)
        for (service, _), count in load.items():
            assert count <= self.hall.settings[service].appointment_capacity

    @invariant()
    def take_changes_reports_every_change(self):
        hall = self.hall
        for kind, live in (
            ("tickets", hall.tickets),
            ("counters", hall.counters),
            ("appointments", hall.appointments),
        ):
            stored = self.db[kind]
            for ident, obj in live.items():
                assert stored.get(ident) == record(obj), f"{kind} {ident} not stored as it is"
        # Tickets of days gone by are all closed in storage too.
        for ident, row in self.db["tickets"].items():
            if ident not in hall.tickets:
                assert row[dataclasses.fields(Ticket).index(STATE_FIELD)] in (
                    TicketState.DONE,
                    TicketState.CANCELLED,
                ), f"ticket {ident} left open in storage"

    @invariant()
    def replay_gives_the_same_state(self):
        assert fingerprint(self.shadow) == fingerprint(self.hall)

    @invariant()
    def restore_gives_the_same_state(self):
        """What storage will do on start: load copies of the records into a fresh hall."""
        twin = restored(self.hall)
        assert fingerprint(twin) == fingerprint(self.hall)


HallMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestHall = HallMachine.TestCase


class LongestWaitMachine(HallMachine):
    """The same invariants (but the starvation bound) under the other policy, in a hall that
    forbids calling a specific ticket."""

    config = make_config(
        **{**_overrides(), "rules": {**_overrides()["rules"], "allow_call_specific": False}}
    )
    starvation_bound = False

    @staticmethod
    def make_policy():
        return LongestWaitPolicy()

    def estimates_equal_the_full_recomputation(self):
        """Not checked again here: this policy walks every candidate as the reference does."""


LongestWaitMachine.TestCase.settings = settings(HallMachine.TestCase.settings, max_examples=30)
TestLongestWaitHall = LongestWaitMachine.TestCase


def test_replay_of_a_fixed_busy_day_from_scratch():
    """The whole log of a scripted day, applied to a fresh hall, rebuilds the same state."""
    d = Driver(CONFIG)
    for minute in range(0, 240, 7):
        d.clock.set(local(2026, 11, 26, 9, 0) + dt.timedelta(minutes=minute))
        resident = f"r{minute % 5}" if minute % 3 else None
        try:
            d.issue(SERVICES[minute % len(SERVICES)], resident_key=resident)
        except EngineError:
            pass
        for counter in (1, 2, 3, 6):
            try:
                d.do(C.CallNext(counter=counter))
                d.do(C.StartService(counter=counter))
                if minute % 2:
                    d.do(C.FinishService(counter=counter))
            except EngineError:
                pass
    d.clock.set(local(2026, 11, 27, 8, 0))
    d.do(C.Tick())
    assert fingerprint(d.replay()) == fingerprint(d.hall)
