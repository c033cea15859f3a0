"""The discrete-event simulation: whole hall days through the real engine on a simulated clock.

Nothing here models the hall: tickets are issued, called, recalled, served, skipped and put back
by ``Hall.handle`` exactly as on a hall day, with the dispatch policy and the estimates the hall
uses. The simulator only plays the residents and the staff, from a heap of future happenings:

- residents arrive (Poisson by hour), take a ticket or check an appointment in;
- a window that falls idle presses "call next"; while nobody waits for it, it stays idle until a
  ticket it is skilled for comes in (the best-skilled, longest-idle idle window calls first);
- a called resident walks up (or misses the call and comes at the recall, or has left: 过号 after
  the last recall, and may come back to be put back in the queue); the service takes its drawn
  time; the window then calls again.

Every random number of a day is drawn before the day runs (``draw_day``), from a generator seeded
by (seed, day number): different policies and skill matrices see the very same residents
(common random numbers), so their differences are the policies', not the dice's.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from queue_server import errors as E
from queue_server.config import HallConfig
from queue_server.engine import events as V
from queue_server.engine.dispatch import DispatchPolicy
from queue_server.engine.hall import Hall
from queue_server.protocol import commands as C
from queue_server.protocol.states import CounterState
from sim.profile import Behaviour, Resolved, ServiceModel

# What happens next, in the order of the heap's tie-break on equal times: the windows open
# first, and a window finishing frees itself before an arrival at the same instant looks for an
# idle window.
OPEN, FINISH, START, RECALL, NO_SHOW, REQUEUE, ARRIVE, CHECK_IN = range(8)
BOOKING_HOUR = dt.time(20, 0)  # bookings for a day are made at 20:00 the evening before


@dataclass(slots=True)
class Resident:
    """One visit, with every choice the resident will make drawn in advance."""

    arrive_ts: float
    service: str
    priority: str
    service_s: float
    walk_s: float
    recall: bool  # misses the first call, comes at the recall
    no_show: bool  # has left when called
    requeue_after_s: float | None  # comes back this long after the no-show (None: never)
    # Appointments: the slot booked, and whether the holder comes in time, late or not at all.
    slot_start_ts: float | None = None
    outcome: str = "walk_in"  # walk_in | on_time | late | no_show
    key: str | None = None


@dataclass(slots=True)
class TicketRecord:
    """One ticket's fate, as the statistics need it."""

    service: str
    priority: str
    hour: int
    issued_ts: float
    estimate_s: float | None
    naive_s: float | None
    appointment: bool
    counted: bool  # False during a warm-up
    ahead: int = 0  # people ahead in its queue at issue
    wait_s: float | None = None  # issue to first call


@dataclass
class DayResult:
    day: dt.date
    tickets: list[TicketRecord] = field(default_factory=list)
    busy_s: dict[int, float] = field(default_factory=dict)
    shift_s: dict[int, float] = field(default_factory=dict)
    overtime_s: float = 0.0
    served: int = 0
    no_shows: int = 0
    requeued: int = 0
    refused: int = 0  # residents the engine turned away (after ticket hours)
    unserved: int = 0  # still waiting at midnight (only an overloaded hall): waits cut there
    booked: int = 0
    booking_failed: int = 0  # slot full or not bookable: came as walk-ins
    checked_in: int = 0
    appointment_no_shows: int = 0
    appointment_late: int = 0
    calls: int = 0
    # Calls that passed over a ticket waiting beyond the anti-starvation bound for one that was
    # not ahead of it under the bound's own rule (longest-starving first).
    starvation_overtakes: int = 0
    commands: int = 0


# --- drawing a day ------------------------------------------------------------------------------


def day_rng(seed: int, day_no: int) -> random.Random:
    # Seeds built from both numbers: day 3 of seed 1 never repeats day 1 of seed 3.
    return random.Random(seed * 1_000_003 + day_no)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by counting exponential gaps in [0, mean) (means here are small)."""
    count, total = 0, rng.expovariate(1.0) if mean > 0 else math.inf
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def service_time(rng: random.Random, model: ServiceModel) -> float:
    if model.dist == "fixed":
        return model.mean_s
    if model.dist == "exponential":
        return rng.expovariate(1.0 / model.mean_s)
    sigma2 = math.log(1.0 + model.cv**2)
    return rng.lognormvariate(math.log(model.mean_s) - sigma2 / 2, math.sqrt(sigma2))


def _ts(day: dt.date, time: dt.time, config: HallConfig) -> float:
    return dt.datetime.combine(day, time, config.zone).timestamp()


def _person(rng: random.Random, behaviour: Behaviour, arrive_ts: float, model: ServiceModel,
            priority: str) -> Resident:  # fmt: skip
    # Always the same draws in the same order, whatever is chosen: keeps days aligned.
    service_s = service_time(rng, model)
    walk = rng.uniform(*behaviour.walk_seconds)
    recall = rng.random() < behaviour.recall_share
    no_show = rng.random() < behaviour.no_show_share
    comes_back = rng.random() < behaviour.requeue_share
    back_after = rng.uniform(*behaviour.requeue_after_minutes) * 60
    return Resident(
        arrive_ts=arrive_ts,
        service=model.id,
        priority=priority,
        service_s=service_s,
        walk_s=walk,
        recall=recall and not no_show,
        no_show=no_show,
        requeue_after_s=back_after if no_show and comes_back else None,
    )


def walk_ins(
    resolved: Resolved,
    config: HallConfig,
    day: dt.date,
    rng: random.Random,
    from_ts: float | None = None,
) -> list[Resident]:
    """The day's walk-ins (a Poisson process by hour), or only those after ``from_ts`` (the
    estimate oracles draw the rest of a day afresh)."""
    profile = resolved.profile
    hours = config.hours
    open_ts, until_ts = _ts(day, hours.open, config), _ts(day, hours.ticket_until, config)
    services = resolved.services
    weights = [s.weight for s in services]
    cumulative, running = [], 0.0
    for name, share in resolved.priority:
        running += share
        cumulative.append((running, name))
    residents: list[Resident] = []
    midnight = dt.datetime.combine(day, dt.time(0), config.zone).timestamp()
    for hour, share in resolved.hourly:
        start = max(midnight + hour * 3600, open_ts)
        end = min(midnight + (hour + 1) * 3600, until_ts)
        if share <= 0:
            continue
        if end <= start:
            raise E.ConfigError(
                f"hour {hour} has arrivals but no ticket hours in the hall", field="hourly"
            )
        rate = profile.arrivals.per_day * share / (end - start)
        if from_ts is not None:
            if end <= from_ts:
                continue
            start = max(start, from_ts)
        t = start + rng.expovariate(rate)
        while t < end:
            model = rng.choices(services, weights)[0]
            u = rng.random()
            priority = next((name for edge, name in cumulative if u < edge), "normal")
            residents.append(_person(rng, profile.behaviour, t, model, priority))
            t += rng.expovariate(rate)
    return residents


def draw_day(resolved: Resolved, config: HallConfig, day: dt.date, rng: random.Random):
    """The day's residents (walk-ins and appointment holders), every choice drawn now."""
    profile = resolved.profile
    hours = config.hours
    open_ts, until_ts = _ts(day, hours.open, config), _ts(day, hours.ticket_until, config)
    services = resolved.services
    residents = walk_ins(resolved, config, day, rng)

    # Appointments: booked the evening before into the slots that start within ticket hours.
    rules = config.appointments
    settings = config.service_settings()
    for model in services:
        if model.appointments_per_day <= 0 or settings[model.id].appointment_capacity <= 0:
            continue
        step = rules.slot_minutes * 60
        slots = []
        slot = open_ts
        while slot < until_ts and slot + step <= _ts(day, hours.close, config):
            slots.append(slot)
            slot += step
        for n in range(poisson(rng, model.appointments_per_day) if slots else 0):
            slot = rng.choice(slots)
            u = rng.random()
            offset = rng.uniform(-rules.early_minutes, rules.late_minutes) * 60
            late_by = rng.uniform(1, 20) * 60
            no_show_cut = profile.appointments.no_show_share
            if u < no_show_cut:
                outcome, arrive = "no_show", slot
            elif u < no_show_cut + profile.appointments.late_share:
                outcome, arrive = "late", slot + rules.late_minutes * 60 + late_by
            else:
                outcome, arrive = "on_time", slot + offset
            resident = _person(rng, profile.behaviour, arrive, model, "normal")
            resident.slot_start_ts = slot
            resident.outcome = outcome
            resident.key = f"sim-{day:%Y%m%d}-{model.id}-{n}"
            residents.append(resident)
    return residents


def working_days(config: HallConfig, start: dt.date, count: int) -> list[dt.date]:
    days, day = [], start
    while len(days) < count:
        if config.hours.is_workday(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


# --- running a day ------------------------------------------------------------------------------


class HallSim:
    """One hall's engine, driven day after day by the residents ``draw_day`` made."""

    def __init__(
        self,
        config: HallConfig,
        policy: DispatchPolicy | None = None,
        behaviour: Behaviour | None = None,
    ):
        self.config = config
        self.hall = Hall(config, policy=policy)
        self.zone = config.zone
        self.bound_s = config.rules.starvation_minutes * 60
        self.tier = {c.id: c.skills for c in self.hall.counters.values()}
        behaviour = behaviour or Behaviour()
        self.recall_interval_s = behaviour.recall_interval_s
        self.max_recalls = behaviour.max_recalls

    # The only way the simulator touches the hall: a command at a time. The clock is given in
    # UTC: the engine takes any aware time and converts to hall time itself, and UTC datetimes
    # convert to and from timestamps several times faster than zoneinfo ones.
    def _do(self, command, ts: float) -> list:
        self.result.commands += 1
        return self.hall.handle(command, dt.datetime.fromtimestamp(ts, dt.UTC))

    def run_day(self, day: dt.date, residents: Iterable[Resident], warmup_s: float = 0.0):
        config = self.config
        self.result = result = DayResult(day=day)
        open_ts = _ts(day, config.hours.open, config)
        close_ts = _ts(day, config.hours.close, config)
        midnight_next = _ts(day + dt.timedelta(days=1), dt.time(0), config)
        # A warm-up leaves out the first tickets; without one, every ticket counts (appointment
        # holders may check in before opening, within their early grace).
        self.count_from = open_ts + warmup_s if warmup_s > 0 else -math.inf
        self.heap: list = []
        self.seq = 0
        self.records: dict[str, TicketRecord] = {}
        self.resident_of: dict[str, Resident] = {}
        self.at_counter: dict[int, str] = {}
        self.busy_since: dict[int, float] = {}
        self.idle: dict[int, float] = {}
        self.last_release: dict[int, float] = {}
        self.came_back: set[str] = set()

        book_ts = _ts(day - dt.timedelta(days=1), BOOKING_HOUR, config)
        walk_ins = []
        for r in residents:
            if r.slot_start_ts is None:
                walk_ins.append(r)
                continue
            slot = dt.datetime.fromtimestamp(r.slot_start_ts, self.zone)
            try:
                self._do(C.BookAppointment(resident_key=r.key, service=r.service, slot_start=slot),
                         book_ts)  # fmt: skip
                result.booked += 1
                if r.outcome != "no_show":
                    self._push(r.arrive_ts, CHECK_IN, r)
                else:
                    result.appointment_no_shows += 1
            except E.AppointmentRefused:
                # No room: the resident comes at the slot's time as a walk-in instead.
                result.booking_failed += 1
                r.slot_start_ts, r.outcome, r.key = None, "walk_in", None
                walk_ins.append(r)
        for r in walk_ins:
            self._push(r.arrive_ts, ARRIVE, r)

        # The day begins (the engine rolls over and opens the windows) at the first thing that
        # happens: the opening, or an appointment holder checking in early. Staff start calling
        # at the opening.
        first_ts = min([open_ts, *(ts for ts, *_ in self.heap)])
        self._do(C.Tick(), first_ts)
        self._push(open_ts, OPEN, None)

        handlers = {
            OPEN: self._open,
            ARRIVE: self._arrive,
            CHECK_IN: self._check_in,
            START: self._start,
            FINISH: self._finish,
            RECALL: self._recall,
            NO_SHOW: self._no_show,
            REQUEUE: self._requeue,
        }
        heap = self.heap
        last_ts = open_ts
        # The engine ends the day at midnight; a hall so overloaded that it still works then
        # (dedicated windows can be) stops a minute before, and whoever is left is unserved.
        cut_ts = midnight_next - 60
        cut = False
        while heap:
            ts, _, kind, payload = heapq.heappop(heap)
            if ts >= cut_ts:
                self._cut(cut_ts)
                last_ts, cut = cut_ts, True
                break
            last_ts = ts
            handlers[kind](ts, payload)
        if not cut and any(True for _ in self.hall.waiting_tickets()):
            raise RuntimeError(f"{day}: tickets left waiting with every window idle")
        result.tickets = list(self.records.values())
        result.overtime_s = max(last_ts - close_ts, 0.0) if result.served else 0.0
        for counter_id, released in self.last_release.items():
            result.shift_s[counter_id] = max(close_ts, released) - open_ts
            result.busy_s.setdefault(counter_id, 0.0)
        return result

    def _cut(self, ts: float) -> None:
        """Midnight: the waits of those still waiting end here (a lower bound), counted apart.
        The engine itself cancels their tickets when the next day begins (reason day_closed)."""
        for ticket in list(self.hall.waiting_tickets()):
            record = self.records[ticket.id]
            if record.wait_s is None:
                record.wait_s = ts - record.issued_ts
                self.result.unserved += 1
        for counter, since in list(self.busy_since.items()):
            self.result.busy_s[counter] = self.result.busy_s.get(counter, 0.0) + ts - since
            self.last_release[counter] = ts

    def _push(self, ts: float, kind: int, payload) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (ts, self.seq, kind, payload))

    # --- residents ----------------------------------------------------------------------------

    def _arrive(self, ts: float, r: Resident, priority: str | None = None) -> None:
        try:
            events = self._do(C.IssueTicket(service=r.service, priority=priority or r.priority), ts)
        except E.Refusal:
            self.result.refused += 1
            return
        self._issued(ts, r, events)

    def _check_in(self, ts: float, r: Resident) -> None:
        try:
            events = self._do(C.CheckIn(resident_key=r.key, service=r.service), ts)
        except E.TooLate:
            self.result.appointment_late += 1
            self._arrive(ts, r, priority="normal")
            return
        except E.Refusal:
            self.result.refused += 1
            return
        self.result.checked_in += 1
        self._issued(ts, r, events)

    def _issued(self, ts: float, r: Resident, events: list) -> None:
        issued = next(e for e in events if isinstance(e, V.TicketIssued))
        ticket = issued.ticket
        hall = self.hall
        open_here = len(hall.open_counters_for(ticket.service))
        naive = (
            issued.ahead * hall.mean_service_s(ticket.service) / open_here if open_here else None
        )
        self.records[ticket.id] = TicketRecord(
            service=ticket.service,
            priority=ticket.priority,
            hour=dt.datetime.fromtimestamp(ts, self.zone).hour,
            issued_ts=ts,
            estimate_s=issued.estimated_wait_s,
            naive_s=naive,
            appointment=ticket.appointment_id is not None,
            counted=ts >= self.count_from,
            ahead=issued.ahead,
        )
        self.resident_of[ticket.id] = r
        self._offer(ts, ticket.service)

    def _requeue(self, ts: float, ticket_id: str) -> None:
        try:
            self._do(C.Requeue(ticket=ticket_id), ts)
        except E.Refusal:
            return
        self.result.requeued += 1
        self.came_back.add(ticket_id)
        self._offer(ts, self.hall.tickets[ticket_id].service)

    # --- windows ------------------------------------------------------------------------------

    def _open(self, ts: float, _payload) -> None:
        """Opening time: every open window starts calling."""
        for counter in self.hall.counters.values():
            if counter.state is CounterState.IDLE:
                self.last_release[counter.id] = ts
                self._call(ts, counter.id)

    def _offer(self, ts: float, service: str) -> None:
        """A ticket for ``service`` is waiting: the best-suited idle window calls."""
        idle = [(self.tier[c][service], since, c) for c, since in self.idle.items()
                if service in self.tier[c]]  # fmt: skip
        for _, _, counter in sorted(idle):
            if self._call(ts, counter):
                return

    def _call(self, ts: float, counter: int) -> bool:
        """Press "call next" at ``counter``; False (and idle) if nobody waits for it."""
        try:
            events = self._do(C.CallNext(counter=counter), ts)
        except E.QueueEmpty:
            self.idle.setdefault(counter, ts)
            return False
        self.idle.pop(counter, None)
        called = next(e for e in events if isinstance(e, V.TicketCalled))
        self._check_starvation(ts, counter, called.ticket_id)
        self.result.calls += 1
        self.at_counter[counter] = called.ticket_id
        self.busy_since[counter] = ts
        record = self.records[called.ticket_id]
        if record.wait_s is None:
            record.wait_s = ts - record.issued_ts
        r = self.resident_of[called.ticket_id]
        interval = self.recall_interval_s
        if r.no_show and called.ticket_id not in self.came_back:
            recalls = self.max_recalls
            for n in range(1, recalls + 1):
                self._push(ts + n * interval, RECALL, counter)
            self._push(ts + (recalls + 1) * interval, NO_SHOW, counter)
        elif r.recall and called.ticket_id not in self.came_back:
            self._push(ts + interval, RECALL, counter)
            self._push(ts + interval + r.walk_s, START, counter)
        else:
            self._push(ts + r.walk_s, START, counter)
        return True

    def _check_starvation(self, ts: float, counter: int, called_id: str) -> None:
        bound = ts - self.bound_s
        called = self.hall.tickets[called_id]
        called_q = called.queued_at.timestamp()
        for other in self.hall.waiting_tickets(self.tier[counter]):
            queued = other.queued_at.timestamp()
            if queued <= bound and (called_q > bound or called_q > queued):
                self.result.starvation_overtakes += 1
                return

    def _start(self, ts: float, counter: int) -> None:
        self._do(C.StartService(counter=counter), ts)
        r = self.resident_of[self.at_counter[counter]]
        self._push(ts + r.service_s, FINISH, counter)

    def _recall(self, ts: float, counter: int) -> None:
        self._do(C.Recall(counter=counter), ts)

    def _release(self, ts: float, counter: int) -> None:
        self.result.busy_s[counter] = (
            self.result.busy_s.get(counter, 0.0) + ts - self.busy_since.pop(counter)
        )
        self.last_release[counter] = ts
        del self.at_counter[counter]
        self._call(ts, counter)

    def _finish(self, ts: float, counter: int) -> None:
        self._do(C.FinishService(counter=counter), ts)
        self.result.served += 1
        self._release(ts, counter)

    def _no_show(self, ts: float, counter: int) -> None:
        ticket_id = self.at_counter[counter]
        self._do(C.MarkNoShow(counter=counter), ts)
        self.result.no_shows += 1
        r = self.resident_of[ticket_id]
        if r.requeue_after_s is not None:
            self._push(ts + r.requeue_after_s, REQUEUE, ticket_id)
        self._release(ts, counter)


def simulate(
    config: HallConfig,
    resolved: Resolved,
    *,
    days: int,
    seed: int,
    policy: DispatchPolicy | None = None,
    start: dt.date = dt.date(2026, 3, 2),
) -> list[DayResult]:
    """Run ``days`` working days from ``start`` through one Hall; day i's residents depend only
    on (seed, i), never on the policy or the skills."""
    sim = HallSim(config, policy, resolved.profile.behaviour)
    warmup_s = resolved.profile.arrivals.warmup_minutes * 60
    out = []
    for day_no, day in enumerate(working_days(config, start, days)):
        residents = draw_day(resolved, config, day, day_rng(seed, day_no))
        out.append(sim.run_day(day, residents, warmup_s))
    return out
