"""The hall engine: ``Hall.handle(command, now) -> list[Event]``.

Sans-I/O: it never awaits, sleeps, reads a clock or touches a socket, file or database. Each
handler validates first and then emits events; ``_apply`` is the only code that changes state, so
replaying the event log rebuilds the state exactly. The storage adapter takes the events and the
changed records (``take_changes``) and commits both in one transaction.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from queue_server import errors as E
from queue_server.config import HallConfig
from queue_server.engine import events as V
from queue_server.engine.dispatch import DefaultPolicy, DispatchPolicy
from queue_server.engine.lifecycle import (
    APPOINTMENT_MOVES,
    COUNTER_MOVES,
    TICKET_MOVES,
    TICKET_OPEN,
    move,
)
from queue_server.engine.model import Appointment, Counter, DayState, Notice, Ticket
from queue_server.engine.waiting import Arrivals, WaitingIndex
from queue_server.protocol import commands as C
from queue_server.protocol.states import AppointmentState, CounterState, TicketState

OPEN_COUNTER_STATES = {CounterState.IDLE, CounterState.CALLING, CounterState.SERVING}
# How far back the estimate looks for the arrival rate of better classes (see _overtaking).
OVERTAKING_LOOKBACK_S = 3600.0
# Above this many waiting tickets the estimate stops replaying the dispatch (its cost grows with
# the square of the queue) and divides the work ahead by the windows instead (_work_ahead_wait).
REPLAY_LIMIT = 150
# The remaining time of a service under way is read from a lognormal fitted to the service's
# measured times once there are this many (_remaining); a spread floor keeps identical
# measurements from making the fit a single point.
MIN_FIT_SAMPLES = 5
MIN_LOG_SPREAD = 0.05
_STANDARD_NORMAL = statistics.NormalDist()
HEAD_RANK = -1  # a resident handed back by a closing counter goes before every class
HELD = {TicketState.CALLED, TicketState.SERVING}  # the ticket states that occupy a counter


_DAY_ZH = {
    "mon": "一",
    "tue": "二",
    "wed": "三",
    "thu": "四",
    "fri": "五",
    "sat": "六",
    "sun": "日",
}


def _days_words(days: list[str]) -> tuple[str, str]:
    """The hall's opening days in plain words: 工作日 / 每天 / 周一、周三."""
    if set(days) == {"mon", "tue", "wed", "thu", "fri"}:
        return "工作日", "on working days"
    if len(set(days)) == 7:
        return "每天", "every day"
    return "、".join(f"周{_DAY_ZH[d]}" for d in days), "on " + ", ".join(d.title() for d in days)


@dataclass
class Changes:
    """Records changed since the last ``take_changes``: what the storage must upsert."""

    tickets: list[Ticket] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    removed_notices: list[str] = field(default_factory=list)
    day: DayState | None = None


class Hall:
    """One hall's queues, counters, appointments and notices for the current day."""

    def __init__(self, config: HallConfig, *, policy: DispatchPolicy | None = None):
        self.config = config
        self.zone = config.zone
        self.rules = config.rules
        self.queue_of = config.queue_of()
        self.settings = config.service_settings()
        self.classes = {c.name: c for c in config.priority_classes}
        self.policy = policy or DefaultPolicy(config.rules.starvation_minutes * 60)
        self.seq = 0
        self.today = DayState()
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, str] = {}
        # Waiting tickets per service, in insertion order; the policy orders them.
        self.waiting: dict[str, dict[str, Ticket]] = {s: {} for s in self.queue_of}
        # The same tickets kept sorted, so calls and estimates need not walk them all.
        self.index = WaitingIndex(self.queue_of)
        # Today's tickets by class and arrival: _overtaking reads the last hour of the better
        # classes only.
        self.arrivals = Arrivals()
        self.open_by_resident: dict[tuple[str, str], str] = {}
        self.counters: dict[int, Counter] = {}
        for counter in config.counters:
            tiers, _ = config.expand_skills(counter.skills)
            self.counters[counter.id] = Counter(id=counter.id, kind=counter.kind, skills=tiers)
        self.appointments: dict[str, Appointment] = {}
        self.slot_load: dict[tuple[str, float], int] = {}
        self._grace_heap: list[tuple[float, str]] = []
        self.notices: dict[str, Notice] = {}
        self.service_times: dict[str, deque[float]] = {s: deque() for s in self.queue_of}
        # Seconds each recent call held its window before the service began (walking up,
        # recalls) or the resident was skipped: time the windows spend that service times miss.
        self.call_times: deque[float] = deque(maxlen=5 * config.rules.estimate_window)
        self._replay_cache: tuple[tuple[int, float], dict[str, float]] | None = None
        self._fits: dict[str, tuple[float, float]] = {}  # _log_fit's, per service
        # Ticket objects, not ids: a new day drops yesterday's tickets from memory before they
        # are written.
        self._dirty_tickets: dict[str, Ticket] = {}
        self._dirty_counters: set[int] = set()
        self._dirty_appointments: set[str] = set()
        self._dirty_notices: set[str] = set()
        self._removed_notices: set[str] = set()
        self._dirty_day = False
        self._out: list[V.Event] = []
        self._handlers: dict[type, Callable] = {
            C.IssueTicket: self._issue,
            C.CallNext: self._call_next,
            C.CallTicket: self._call_ticket,
            C.Recall: self._recall,
            C.StartService: self._start,
            C.FinishService: self._finish,
            C.MarkNoShow: self._no_show,
            C.Transfer: self._transfer,
            C.Requeue: self._requeue,
            C.PauseCounter: self._pause,
            C.ResumeCounter: self._resume,
            C.OpenCounter: self._open_counter,
            C.CloseCounter: self._close_counter,
            C.MoveTicket: self._move,
            C.ChangePriority: self._change_priority,
            C.Reskill: self._reskill,
            C.CancelTicket: self._cancel,
            C.PostNotice: self._post_notice,
            C.RemoveNotice: self._remove_notice,
            C.BookAppointment: self._book,
            C.CancelAppointment: self._cancel_appointment,
            C.CheckIn: self._check_in,
            C.Tick: lambda cmd, now: None,
        }
        self._appliers: dict[type, Callable] = {
            V.DayOpened: self._on_day_opened,
            V.TicketIssued: self._on_issued,
            V.TicketCalled: self._on_called,
            V.TicketRecalled: self._on_recalled,
            V.TicketStarted: self._on_started,
            V.TicketFinished: self._on_finished,
            V.TicketNoShow: self._on_no_show,
            V.TicketRequeued: self._on_requeued,
            V.TicketTransferred: self._on_transferred,
            V.TicketReturned: self._on_returned,
            V.TicketCancelled: self._on_cancelled,
            V.TicketMoved: self._on_moved,
            V.TicketPriorityChanged: self._on_priority_changed,
            V.CounterOpened: self._on_counter_opened,
            V.CounterClosed: self._on_counter_closed,
            V.CounterPaused: self._on_counter_paused,
            V.CounterResumed: self._on_counter_resumed,
            V.CounterReskilled: self._on_counter_reskilled,
            V.AppointmentBooked: self._on_booked,
            V.AppointmentCancelled: self._on_appointment_cancelled,
            V.AppointmentCheckedIn: self._on_checked_in,
            V.AppointmentNoShow: self._on_appointment_no_show,
            V.NoticePosted: self._on_notice_posted,
            V.NoticeRemoved: self._on_notice_removed,
        }

    # --- the one entry point -----------------------------------------------------------------

    def handle(self, command: C.Command, now: dt.datetime) -> list[V.Event]:
        """Carry out ``command`` at time ``now`` (timezone-aware) and return its events.

        Time's own effects (a new day, bookings past their grace) come first. A refused command
        raises a typed ``EngineError`` whose ``events`` holds those effects, which did happen.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._out = []
        try:
            self._housekeep(now)
            housekeeping = len(self._out)
            try:
                self._handlers[type(command)](command, now)
            except E.EngineError as exc:
                exc.events = self._out[:housekeeping]
                raise
            return self._out
        finally:
            self._out = []

    def apply(self, event: V.Event) -> None:
        """Apply one event from the log (replay, or another process's commands)."""
        if event.seq != self.seq + 1:
            raise E.StorageError(f"event {event.seq} out of order after {self.seq}")
        self.seq = event.seq
        self._appliers[type(event)](event)

    def take_changes(self) -> Changes:
        """The records changed since the last call, for the storage adapter to write."""
        changes = Changes(
            tickets=list(self._dirty_tickets.values()),
            counters=[self.counters[i] for i in self._dirty_counters],
            appointments=[
                self.appointments[i] for i in self._dirty_appointments if i in self.appointments
            ],
            notices=[self.notices[i] for i in self._dirty_notices if i in self.notices],
            removed_notices=sorted(self._removed_notices),
            day=self.today if self._dirty_day else None,
        )
        self._dirty_tickets.clear()
        self._dirty_counters.clear()
        self._dirty_appointments.clear()
        self._dirty_notices.clear()
        self._removed_notices.clear()
        self._dirty_day = False
        return changes

    # --- emitting -----------------------------------------------------------------------------

    def _emit(self, cls: type, now: dt.datetime, **fields) -> V.Event:
        event = cls(seq=self.seq + 1, at=now, **fields)
        self.apply(event)
        self._out.append(event)
        return event

    # --- time ---------------------------------------------------------------------------------

    def local(self, now: dt.datetime) -> dt.datetime:
        return now.astimezone(self.zone)

    def _housekeep(self, now: dt.datetime) -> None:
        day = self.local(now).date()
        # Only forward: a clock stepped back over midnight must not reopen yesterday.
        if self.today.day is None or day > self.today.day:
            self._roll_over(day, now)
        grace = self.config.appointments.late_minutes * 60
        now_ts = now.timestamp()
        while self._grace_heap and self._grace_heap[0][0] + grace < now_ts:
            _, appointment_id = heapq.heappop(self._grace_heap)
            appointment = self.appointments.get(appointment_id)
            if appointment is not None and appointment.state is AppointmentState.BOOKED:
                self._emit(V.AppointmentNoShow, now, appointment_id=appointment_id)

    def _roll_over(self, day: dt.date, now: dt.datetime) -> None:
        # Yesterday's open tickets end with the day; the counters close.
        for ticket in list(self.tickets.values()):
            if ticket.state in TICKET_OPEN or ticket.state is TicketState.NO_SHOW:
                move("ticket", TICKET_MOVES, ticket.number, ticket.state, "expire")
                self._emit(
                    V.TicketCancelled,
                    now,
                    ticket_id=ticket.id,
                    number=ticket.number,
                    reason="day_closed",
                    # Only a called or served ticket is at a counter; a no-show's is history.
                    counter=ticket.counter if ticket.state in HELD else None,
                )
        for counter in self.counters.values():
            if counter.state is not CounterState.CLOSED:
                self._emit(V.CounterClosed, now, counter=counter.id)
        self._emit(V.DayOpened, now, day=day)
        if self.config.hours.is_workday(day):
            for spec in self.config.counters:
                if spec.open_at_start:
                    self._emit(V.CounterOpened, now, counter=spec.id)

    def is_open_for_tickets(self, now: dt.datetime) -> bool:
        local = self.local(now)
        hours = self.config.hours
        return (
            hours.is_workday(local.date())
            and hours.open <= local.time().replace(tzinfo=None) < hours.ticket_until
        )

    # --- look-ups -----------------------------------------------------------------------------

    def ticket(self, ref: str) -> Ticket:
        """A ticket of today by id ("20261126-A001") or number ("A001")."""
        ticket = self.tickets.get(ref) or self.tickets.get(self.by_number.get(ref, ""))
        if ticket is None:
            raise E.NotFound("ticket", ref)
        return ticket

    def counter(self, counter_id: int) -> Counter:
        counter = self.counters.get(counter_id)
        if counter is None:
            raise E.NotFound("counter", counter_id)
        return counter

    def _service(self, service: str) -> str:
        if service not in self.queue_of:
            raise E.NotFound("service", service)
        return service

    def _class(self, name: str):
        cls = self.classes.get(name)
        if cls is None:
            raise E.NotFound("priority class", name)
        return cls

    def waiting_tickets(self, services: Iterable[str] | None = None) -> Iterator[Ticket]:
        for service in services if services is not None else self.waiting:
            yield from self.waiting.get(service, {}).values()

    def ordered_waiting(self, service: str | None = None) -> list[Ticket]:
        """Waiting tickets in dispatch order (rank, then order key) — what screens list."""
        tickets = self.waiting_tickets([service] if service else None)
        return sorted(tickets, key=lambda t: (t.rank, t.order_key))

    # --- estimates ----------------------------------------------------------------------------

    def mean_service_s(self, service: str) -> float:
        times = self.service_times.get(service)
        if times:
            return sum(times) / len(times)
        return self.settings[service].service_minutes * 60

    def mean_call_s(self) -> float:
        """Mean time a call holds its window before the service starts (or the skip)."""
        return sum(self.call_times) / len(self.call_times) if self.call_times else 0.0

    def open_counters_for(self, service: str) -> list[Counter]:
        return [
            c
            for c in self.counters.values()
            if service in c.skills and c.state in OPEN_COUNTER_STATES
        ]

    def estimate(self, ticket: Ticket, now: dt.datetime) -> tuple[int, float | None]:
        """(people ahead in its queue, expected wait in seconds or None when no counter is open).

        The wait is found by replaying the hall's own dispatch on typical service times
        (``_replay``): the open windows call, by the policy, the tickets waiting now, until
        one of them calls this ticket.
        """
        ahead = self.people_ahead(ticket)
        if not self.open_counters_for(ticket.service):
            return ahead, None
        if self.waiting_count() > REPLAY_LIMIT:
            return ahead, self._work_ahead_wait(ticket, now)
        if self.waiting[ticket.service].get(ticket.id) is ticket:
            # A waiting ticket: one replay of the whole queue answers for all of them until the
            # next event (the server asks for every watched ticket after each batch).
            return ahead, self._replay_all(now).get(ticket.id)
        return ahead, self._replay([ticket], now).get(ticket.id)

    def waiting_count(self) -> int:
        return sum(len(tickets) for tickets in self.waiting.values())

    def _replay_all(self, now: dt.datetime) -> dict[str, float]:
        """``_replay`` of every waiting ticket, kept until the state or the time changes."""
        key = (self.seq, now.timestamp())
        if self._replay_cache is None or self._replay_cache[0] != key:
            self._replay_cache = (key, self._replay(list(self.waiting_tickets()), now))
        return self._replay_cache[1]

    def _work_ahead_wait(self, ticket: Ticket, now: dt.datetime) -> float:
        """The estimate for a very long queue (REPLAY_LIMIT): the work ahead of the ticket on
        the windows that can serve it, divided by how many there are. Each ticket ahead in the
        screens' order counts its service's mean time, shared in proportion to how many of that
        service's open windows are also this ticket's; each busy window adds the rest of its
        current service."""
        now_ts = now.timestamp()
        counters = self.open_counters_for(ticket.service)
        # Per service: its open windows, and how many of them are also this ticket's.
        theirs: dict[str, int] = {}
        shared: dict[str, int] = {}
        for counter in self.counters.values():
            if counter.state in OPEN_COUNTER_STATES:
                mine = ticket.service in counter.skills
                for service in counter.skills:
                    theirs[service] = theirs.get(service, 0) + 1
                    if mine:
                        shared[service] = shared.get(service, 0) + 1
        work = 0.0
        for service in self.queue_of:
            if service not in shared:
                continue
            ahead = self.index.count_before(service, ticket.rank, ticket.order_key)
            if ahead:
                work += ahead * self.mean_service_s(service) * shared[service] / theirs[service]
        for counter in counters:
            work += self._free_at(counter, now_ts, self.mean_service_s) - now_ts
        return work / len(counters) + self._calling_starts(now) - now_ts

    def people_ahead(self, ticket: Ticket) -> int:
        """Tickets of its queue before it in the screens' order (class, then arrival).

        Same class and instant (two kiosks in one clock tick): the earlier issue is ahead, and
        a ticket about to be issued comes after all of them."""
        probe = ticket.id not in self.tickets
        number = None if probe else int(ticket.number[1:])
        return self.index.ahead_in_queue(ticket.queue, ticket.rank, ticket.order_key, number)

    def waiting_within(self, limit: int) -> list[Ticket]:
        """The waiting tickets with at most ``limit`` people ahead (``people_ahead``), in
        ``waiting_tickets``' order; found without walking the rest of the queues."""
        order = {service: i for i, service in enumerate(self.queue_of)}
        found = list(self.index.within(limit))
        return sorted(found, key=lambda t: (order[t.service], self.index.pos(t.id)))

    def _with_overtaking(
        self, ticket: Ticket, wait: float, now_ts: float, mean_of, shares: dict | None = None
    ) -> float:
        """Stretch the replayed wait by the better classes yet to come: while it waits, every
        second brings ``share`` seconds of their work ahead of it (wait = replayed / (1 -
        share)); past the anti-starvation bound nobody overtakes it any more. ``shares`` keeps
        the share per (service, rank) within one replay."""
        if wait <= 0:
            return wait
        if shares is None:
            shares = {}
        if (ticket.service, ticket.rank) not in shares:
            shares[ticket.service, ticket.rank] = self._overtaking(ticket, now_ts, mean_of)
        share = shares[ticket.service, ticket.rank]
        if share <= 0:
            return wait
        bound = getattr(self.policy, "starvation_s", math.inf)
        stretched = wait / (1 - share)
        return stretched if stretched <= bound else wait + share * bound

    def _calling_starts(self, now: dt.datetime) -> float:
        """When the windows start calling: the opening time before it (an appointment holder
        may check in within the early grace, before the windows open), else now."""
        local = self.local(now)
        opens = dt.datetime.combine(local.date(), self.config.hours.open, self.zone)
        return max(now.timestamp(), opens.timestamp())

    def _free_at(self, counter: Counter, now_ts: float, mean_of: Callable[[str], float]) -> float:
        """When ``counter`` should next be free: now if idle; while calling, after the rest of
        the mean call time and then a whole service; while serving, after the median remaining
        time of the service under way given how long it has run (``_remaining``)."""
        if counter.ticket_id is None:
            return now_ts
        current = self.tickets[counter.ticket_id]
        mean = mean_of(current.service)
        # started_at may be left from an earlier service (transferred, handed back): it counts
        # only while the ticket is being served.
        if current.state is TicketState.SERVING and current.started_at is not None:
            elapsed = max(now_ts - current.started_at.timestamp(), 0.0)
            return now_ts + self._remaining(current.service, elapsed, mean)
        called = current.called_at
        since_call = now_ts - called.timestamp() if called is not None else 0.0
        return now_ts + max(self.mean_call_s() - since_call, 0.0) + mean

    def _log_fit(self, service: str) -> tuple[float, float] | None:
        """The mean and spread of the logarithms of the service's measured times (a lognormal
        fit), or None with fewer than MIN_FIT_SAMPLES measurements."""
        if service in self._fits:  # kept until the service's measured times change
            return self._fits[service]
        times = self.service_times.get(service)
        if not times or len(times) < MIN_FIT_SAMPLES:
            return None
        logs = [math.log(max(t, 1.0)) for t in times]
        mu = sum(logs) / len(logs)
        sigma = math.sqrt(sum((x - mu) ** 2 for x in logs) / len(logs))
        fit = (mu, max(sigma, MIN_LOG_SPREAD))
        self._fits[service] = fit
        return fit

    def typical_service_s(self, service: str) -> float:
        """The median service time: of the lognormal fitted to the measured times, else the
        mean (measured, or the configured time). What a replayed call holds its window for."""
        fit = self._log_fit(service)
        return math.exp(fit[0]) if fit is not None else self.mean_service_s(service)

    def _remaining(self, service: str, elapsed: float, mean: float) -> float:
        """The median remaining time of a service that has run ``elapsed`` seconds.

        A service that has already run long is likely a long one: service times are skewed
        (a few residents need long explanations or lack papers), so the remainder is not the
        mean minus the time served. With enough measured times of the service, they are fitted
        by a lognormal (the mean and spread of their logarithms) and the remainder is its
        median conditioned on the service lasting longer than ``elapsed``: the median, because
        an estimate off by the least on average (absolute error) is a median. Without enough
        measurements: the mean minus the time served, at least a tenth of the mean.
        """
        fit = self._log_fit(service)
        if fit is None:
            return max(mean - elapsed, 0.1 * mean)
        mu, sigma = fit
        done = _STANDARD_NORMAL.cdf((math.log(elapsed) - mu) / sigma) if elapsed > 0 else 0.0
        q = min(done + (1.0 - done) / 2, 1.0 - 1e-9)
        return max(math.exp(mu + sigma * _STANDARD_NORMAL.inv_cdf(q)) - elapsed, 0.0)

    def _overtaking(self, ticket: Ticket, now_ts: float, mean_of) -> float:
        """The share of the ticket's windows' time that residents of a better class, arriving
        while it waits, will take before it: their work per second over the last hour (each
        counted in proportion to how many of its service's open windows are this ticket's),
        over the number of this ticket's windows. 0 under a policy that ignores classes."""
        if not getattr(self.policy, "by_class", True):
            return 0.0
        mine = {c.id for c in self.open_counters_for(ticket.service)}
        since = now_ts - OVERTAKING_LOOKBACK_S
        shares: dict[str, float] = {}
        work = 0.0
        # By class, not by current rank: a resident handed back to the head of the queue
        # (rank -1) is not a newcomer. The last hour of each better class, summed in the order
        # of self.tickets (so the float sum is the one a walk of every ticket gives).
        for other in self.arrivals.window(ticket.rank, since, now_ts):
            if other is ticket:
                continue
            if other.service not in shares:
                theirs = [c.id for c in self.open_counters_for(other.service)]
                shared = sum(1 for c in theirs if c in mine)
                shares[other.service] = shared / len(theirs) if theirs else 0.0
            work += shares[other.service] * mean_of(other.service)
        return min(work / OVERTAKING_LOOKBACK_S / len(mine), 0.9) if mine else 0.0

    def _replay(self, tickets: list[Ticket], now: dt.datetime) -> dict[str, float]:
        """How long until each of ``tickets`` is called, replaying the dispatch on typical times.

        Every open window starts when it is next free (``_free_at``). The window free first calls
        by the hall's policy, at that moment, among the tickets waiting now that it is skilled
        for; it is then busy for the typical (median) time of that service plus the mean call time;
        and so on, until a window has called each of ``tickets``. So the estimate follows the
        tiers, the priority classes and the anti-starvation bound exactly as the windows will,
        and counts the back-up help other queues' windows give. Residents who arrive later are
        not foreseen here (``_with_overtaking`` allows for the better classes among them).

        Tickets not yet issued (probes) take no window time in the replay, so one replay answers
        for many probes exactly as separate replays would: the window that calls a probe calls
        again at once, and picks what it would have picked without it. A ticket the policy would
        never call is left out of the answer.
        """
        now_ts = now.timestamp()
        call_s = self.mean_call_s()
        means: dict[str, float] = {}
        typicals: dict[str, float] = {}

        def mean_of(service: str) -> float:
            if service not in means:
                means[service] = self.mean_service_s(service)
            return means[service]

        def typical_of(service: str) -> float:
            if service not in typicals:
                typicals[service] = self.typical_service_s(service)
            return typicals[service]

        opens = self._calling_starts(now)
        free = [
            (max(self._free_at(c, now_ts, typical_of), opens), c.id)
            for c in self.counters.values()
            if c.state in OPEN_COUNTER_STATES
        ]
        heapq.heapify(free)
        pick_at, take = self._replay_queues(tickets)
        wanted = {t.id: t for t in tickets}
        waits: dict[str, float] = {}
        shares: dict[tuple[str, int], float] = {}
        while free and len(waits) < len(wanted):
            at, counter_id = heapq.heappop(free)
            counter = self.counters[counter_id]
            pick = pick_at(counter, at)
            if pick is None:
                continue  # nobody now waiting will be called here
            take(pick)
            if wanted.get(pick.id) is pick:
                wait = max(at - now_ts, 0.0)
                waits[pick.id] = self._with_overtaking(pick, wait, now_ts, mean_of, shares)
                if pick.id not in self.tickets:  # a probe: no window time
                    heapq.heappush(free, (at, counter_id))
                    continue
            heapq.heappush(free, (at + call_s + typical_of(pick.service), counter_id))
        return waits

    def _replay_queues(self, tickets: list[Ticket]):
        """The replay's queues: the tickets waiting now and ``tickets``, at the end of their
        services' queues. Returns (pick(counter, at), take(ticket)).

        A policy that can pick from queues kept in order (``pick_ordered``) reads the index's
        heads: a replay then costs in proportion to the calls it replays, not to their number
        times the queue. Other policies get their own copy of the queues to pick from."""
        ordered = getattr(self.policy, "pick_ordered", None)
        extra = [t for t in tickets if t.id not in self.index]
        if ordered is not None and all(
            self.waiting[t.service].get(t.id) is t for t in tickets if t.id in self.index
        ):
            queues = self.index.replay(extra)
            return (lambda counter, at: ordered(counter, queues, at)), queues.take
        # {service: {id: ticket}}, the tickets included.
        copies = {service: dict(waiting) for service, waiting in self.waiting.items() if waiting}
        for ticket in tickets:
            copies.setdefault(ticket.service, {})[ticket.id] = ticket

        def pick(counter: Counter, at: float) -> Ticket | None:
            candidates = [t for s in counter.skills if s in copies for t in copies[s].values()]
            return self.policy.pick(counter, candidates, at) if candidates else None

        def take(ticket: Ticket) -> None:
            del copies[ticket.service][ticket.id]

        return pick, take

    def _probe(self, service: str, now: dt.datetime, priority: str) -> Ticket:
        """The ticket a resident taking a ticket for ``service`` now would get (not issued)."""
        cls = self._class(priority)
        return Ticket(
            id=f"(probe {service})",
            number="(probe)",
            day=self.local(now).date(),
            service=service,
            queue=self.queue_of[self._service(service)],
            priority=cls.name,
            rank=cls.rank,
            channel="kiosk",
            resident_key=None,
            arrival=now,
            order_key=now.timestamp(),
            queued_at=now,
        )

    def estimate_new(self, service: str, now: dt.datetime, priority: str = "normal"):
        """What a resident taking a ticket for ``service`` now would be told."""
        return self.estimate(self._probe(service, now, priority), now)

    def estimate_new_all(
        self, now: dt.datetime, priority: str = "normal"
    ) -> dict[str, tuple[int, float | None]]:
        """``estimate_new`` for every service, from one replay (what the screens show)."""
        probes = [self._probe(service, now, priority) for service in self.queue_of]
        if self.waiting_count() > REPLAY_LIMIT:
            waits = {p.id: self._work_ahead_wait(p, now) for p in probes}
        else:
            waits = self._replay(probes, now)
        return {
            p.service: (
                self.people_ahead(p),
                waits.get(p.id) if self.open_counters_for(p.service) else None,
            )
            for p in probes
        }

    # --- ticket commands ----------------------------------------------------------------------

    def _new_ticket(self, service, priority, channel, resident_key, now, appointment_id=None):
        queue = self.queue_of[service]
        number_no = self.today.sequences.get(queue, 0) + 1
        number = f"{queue}{number_no:03d}"
        # Issuing always follows housekeeping; only an estimate_new() probe may come before the
        # hall's first command, when no day is open yet.
        day = self.today.day or self.local(now).date()
        return Ticket(
            id=f"{day:%Y%m%d}-{number}",
            number=number,
            day=day,
            service=service,
            queue=queue,
            priority=priority,
            rank=self.classes[priority].rank,
            channel=channel,
            resident_key=resident_key,
            arrival=now,
            order_key=now.timestamp(),
            queued_at=now,
            appointment_id=appointment_id,
        )

    def _check_resident(self, resident_key: str | None, service: str) -> None:
        if (
            resident_key
            and self.rules.one_open_ticket_per_service
            and (resident_key, service) in self.open_by_resident
        ):
            held = self.tickets[self.open_by_resident[(resident_key, service)]]
            raise E.AlreadyHoldingTicket(
                f"您已领取本事项的 {held.number} 号，请留意叫号",
                f"You already hold ticket {held.number} for this service; please wait to be called",
                ticket=held.number,
            )

    def _check_open(self, now: dt.datetime) -> None:
        if not self.is_open_for_tickets(now):
            hours = self.config.hours
            days_zh, days_en = _days_words(hours.days)
            raise E.HallClosed(
                f"现在不是取号时间。取号时间为{days_zh} {hours.open:%H:%M}–{hours.ticket_until:%H:%M}",
                f"Tickets are issued {days_en} {hours.open:%H:%M}–{hours.ticket_until:%H:%M}",
            )

    def _issue(self, cmd: C.IssueTicket, now: dt.datetime) -> None:
        service = self._service(cmd.service)
        self._class(cmd.priority)
        self._check_open(now)
        quota = self.settings[service].daily_quota
        if quota is not None and self.today.issued.get(service, 0) >= quota:
            raise E.QuotaExhausted(
                "今日该事项号源已发完，请明天再来或网上预约",
                "Today's tickets for this service are all taken; come back tomorrow or book online",
                service=service,
            )
        self._check_resident(cmd.resident_key, service)
        self._emit_issue(service, cmd.priority, cmd.channel, cmd.resident_key, now)

    def _emit_issue(self, service, priority, channel, resident_key, now, appointment_id=None):
        ticket = self._new_ticket(service, priority, channel, resident_key, now, appointment_id)
        ahead, wait = self.estimate(ticket, now)
        data = V.TicketData(
            id=ticket.id,
            number=ticket.number,
            day=ticket.day,
            service=ticket.service,
            queue=ticket.queue,
            priority=ticket.priority,
            rank=ticket.rank,
            channel=ticket.channel,
            resident_key=ticket.resident_key,
            arrival=ticket.arrival,
            order_key=ticket.order_key,
            appointment_id=appointment_id,
        )
        return self._emit(V.TicketIssued, now, ticket=data, ahead=ahead, estimated_wait_s=wait)

    def _call_next(self, cmd: C.CallNext, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "call")
        ordered = getattr(self.policy, "pick_ordered", None)
        if ordered is not None:  # the heads of the sorted queues, not a walk of them all
            ticket = ordered(counter, self.index, now.timestamp())
        else:
            ticket = self.policy.pick(
                counter, self.waiting_tickets(counter.skills), now.timestamp()
            )
        if ticket is None:
            raise E.QueueEmpty("目前没有等候的号", "Nobody is waiting for this window")
        self._emit_call(counter, ticket, now)

    def _emit_call(self, counter: Counter, ticket: Ticket, now: dt.datetime) -> None:
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "call")
        self._emit(
            V.TicketCalled,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            service=ticket.service,
            counter=counter.id,
        )

    def _call_ticket(self, cmd: C.CallTicket, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        ticket = self.ticket(cmd.ticket)
        if not self.rules.allow_call_specific:
            raise E.CallSpecificNotAllowed(
                "本大厅不允许指定叫号", "This hall does not allow calling a ticket out of order"
            )
        move("counter", COUNTER_MOVES, counter.id, counter.state, "call")
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "call")
        if ticket.service not in counter.skills:
            raise E.NotSkilled(
                f"{counter.id} 号窗口不办理 {ticket.number} 的事项",
                f"Window {counter.id} does not handle the service of {ticket.number}",
            )
        self._emit_call(counter, ticket, now)

    def _current(self, counter: Counter) -> Ticket:
        if counter.ticket_id is None:
            raise E.IllegalTransition("counter", counter.id, "serve", counter.state)
        return self.tickets[counter.ticket_id]

    def _recall(self, cmd: C.Recall, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "recall")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "recall")
        self._emit(
            V.TicketRecalled,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            counter=counter.id,
            recalls=ticket.recalls + 1,
        )

    def _start(self, cmd: C.StartService, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "start")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "start")
        self._emit(
            V.TicketStarted, now, ticket_id=ticket.id, number=ticket.number, counter=counter.id
        )

    def _finish(self, cmd: C.FinishService, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "finish")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "finish")
        service_s = max((now - (ticket.started_at or now)).total_seconds(), 0.0)
        self._emit(
            V.TicketFinished,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            counter=counter.id,
            service=ticket.service,
            service_s=service_s,
        )

    def _no_show(self, cmd: C.MarkNoShow, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "no_show")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "no_show")
        self._emit(
            V.TicketNoShow, now, ticket_id=ticket.id, number=ticket.number, counter=counter.id
        )

    def _transfer(self, cmd: C.Transfer, now: dt.datetime) -> None:
        to_service = self._service(cmd.to_service)
        if cmd.counter is not None:
            counter = self.counter(cmd.counter)
            move("counter", COUNTER_MOVES, counter.id, counter.state, "transfer")
            ticket = self._current(counter)
        elif cmd.ticket is not None:
            ticket = self.ticket(cmd.ticket)
            counter = self.counters.get(ticket.counter) if ticket.counter else None
        else:
            raise E.NotFound("ticket", "(none given)")
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "transfer")
        if to_service == ticket.service:
            raise E.IllegalTransition("ticket", ticket.number, f"transfer to {to_service}", "same")
        if ticket.resident_key and (ticket.resident_key, to_service) in self.open_by_resident:
            self._check_resident(ticket.resident_key, to_service)
        self._emit(
            V.TicketTransferred,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            from_service=ticket.service,
            to_service=to_service,
            queue=self.queue_of[to_service],
            rank=self.classes[ticket.priority].rank,
            counter=counter.id if counter else None,
        )

    def _requeue(self, cmd: C.Requeue, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "requeue")
        grace = self.rules.requeue_grace_minutes * 60
        if ticket.requeued:
            raise E.RequeueRefused(
                f"{ticket.number} 已过号重排过一次，请重新取号",
                f"{ticket.number} was already put back once; please take a new ticket",
            )
        if (now - ticket.no_show_at).total_seconds() > grace:
            raise E.RequeueRefused(
                f"{ticket.number} 过号已超过 {self.rules.requeue_grace_minutes:g} 分钟，请重新取号",
                f"{ticket.number} was skipped more than "
                f"{self.rules.requeue_grace_minutes:g} minutes ago; please take a new ticket",
            )
        self._check_resident(ticket.resident_key, ticket.service)
        self._emit(
            V.TicketRequeued,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            order_key=now.timestamp(),
        )

    def _cancel(self, cmd: C.CancelTicket, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "cancel")
        counter = ticket.counter if ticket.state is TicketState.CALLED else None
        if counter is not None:
            move("counter", COUNTER_MOVES, counter, self.counters[counter].state, "release")
        self._emit(
            V.TicketCancelled,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            reason=cmd.reason,
            counter=counter,
        )

    def _move(self, cmd: C.MoveTicket, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        other = self.ticket(cmd.other)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "move")
        move("ticket", TICKET_MOVES, other.number, other.state, "move")
        if ticket is other:
            return
        # The neighbour on the far side of `other`, among tickets of the same rank.
        same_rank = [
            t.order_key for t in self.waiting_tickets() if t.rank == other.rank and t is not ticket
        ]
        if cmd.position == "before":
            lower = [k for k in same_rank if k < other.order_key]
            bound = max(lower) if lower else other.order_key - 2.0
        else:
            higher = [k for k in same_rank if k > other.order_key]
            bound = min(higher) if higher else other.order_key + 2.0
        self._emit(
            V.TicketMoved,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            rank=other.rank,
            order_key=(bound + other.order_key) / 2,
        )

    def _change_priority(self, cmd: C.ChangePriority, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        cls = self._class(cmd.priority)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "change_priority")
        self._emit(
            V.TicketPriorityChanged,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            priority=cls.name,
            rank=cls.rank,
        )

    # --- counter commands ---------------------------------------------------------------------

    def _pause(self, cmd: C.PauseCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "pause")
        self._emit(V.CounterPaused, now, counter=counter.id, reason=cmd.reason)

    def _resume(self, cmd: C.ResumeCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "resume")
        self._emit(V.CounterResumed, now, counter=counter.id)

    def _open_counter(self, cmd: C.OpenCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "open")
        self._emit(V.CounterOpened, now, counter=counter.id)

    def _close_counter(self, cmd: C.CloseCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "close")
        if counter.ticket_id is not None:
            ticket = self.tickets[counter.ticket_id]
            move("ticket", TICKET_MOVES, ticket.number, ticket.state, "return")
            self._emit(
                V.TicketReturned, now, ticket_id=ticket.id, number=ticket.number, counter=counter.id
            )
        self._emit(V.CounterClosed, now, counter=counter.id)

    def _reskill(self, cmd: C.Reskill, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "reskill")
        prefixes = set(self.queue_of.values())
        for tier in cmd.skills:
            for skill in tier:
                if skill not in prefixes:
                    self._service(skill)
        tiers, _ = self.config.expand_skills(cmd.skills)
        self._emit(V.CounterReskilled, now, counter=counter.id, skills=tiers)

    # --- notices ------------------------------------------------------------------------------

    def _post_notice(self, cmd: C.PostNotice, now: dt.datetime) -> None:
        self._emit(
            V.NoticePosted,
            now,
            notice_id=f"N{self.seq + 1}",
            text_zh=cmd.text_zh,
            text_en=cmd.text_en,
            starts=cmd.starts,
            ends=cmd.ends,
        )

    def _remove_notice(self, cmd: C.RemoveNotice, now: dt.datetime) -> None:
        if cmd.notice not in self.notices:
            raise E.NotFound("notice", cmd.notice)
        self._emit(V.NoticeRemoved, now, notice_id=cmd.notice)

    # --- appointments -------------------------------------------------------------------------

    def slots(self, service: str, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The bookable slots of ``service`` on ``day`` (empty if it takes no appointments)."""
        if self.settings[self._service(service)].appointment_capacity <= 0:
            return []
        hours = self.config.hours
        if not hours.is_workday(day):
            return []
        step = dt.timedelta(minutes=self.config.appointments.slot_minutes)
        start = dt.datetime.combine(day, hours.open, self.zone)
        close = dt.datetime.combine(day, hours.close, self.zone)
        out = []
        while start + step <= close:
            out.append((start, start + step))
            start += step
        return out

    def slot_free(self, service: str, slot_start: dt.datetime) -> int:
        capacity = self.settings[service].appointment_capacity
        return capacity - self.slot_load.get((service, slot_start.timestamp()), 0)

    def bookable_days(self, now: dt.datetime) -> list[dt.date]:
        rules = self.config.appointments
        hours = self.config.hours
        day = self.local(now).date()
        out: list[dt.date] = []
        workdays = 0
        if rules.min_days_ahead == 0 and hours.is_workday(day):
            out.append(day)
        while workdays < rules.days_ahead:
            day += dt.timedelta(days=1)
            if hours.is_workday(day):
                workdays += 1
                if workdays >= rules.min_days_ahead:
                    out.append(day)
        return out

    def _book(self, cmd: C.BookAppointment, now: dt.datetime) -> None:
        service = self._service(cmd.service)
        if not cmd.resident_key:
            raise E.IdentityRequired(
                "预约需要实名：请刷身份证或输入证件号码",
                "Appointments are in your own name: please place your ID card or enter its number",
            )
        rules = self.config.appointments
        if cmd.slot_start.tzinfo is None:
            raise E.SlotInvalid("预约时段无效", "That appointment time is not valid")
        slot_start = cmd.slot_start.astimezone(self.zone)
        day = slot_start.date()
        if self.settings[service].appointment_capacity <= 0:
            raise E.SlotInvalid("该事项不接受预约", "This service does not take appointments")
        if day not in self.bookable_days(now):
            raise E.SlotInvalid(
                f"只能预约未来 {rules.min_days_ahead}–{rules.days_ahead} 个工作日",
                f"Appointments can be booked {rules.min_days_ahead} to {rules.days_ahead} "
                "working days ahead",
            )
        slot = next((s for s in self.slots(service, day) if s[0] == slot_start), None)
        if slot is None:
            raise E.SlotInvalid("没有这个预约时段", "There is no such appointment slot")
        if slot_start <= now:
            raise E.SlotInvalid("这个时段已经过去", "That slot has already passed")
        mine = [a for a in self.appointments.values() if a.resident_key == cmd.resident_key]
        ban_from = now - dt.timedelta(days=rules.ban_days)
        no_shows = [
            a for a in mine if a.state is AppointmentState.NO_SHOW and a.slot_start >= ban_from
        ]
        if len(no_shows) >= rules.no_show_limit:
            until = max(a.slot_start for a in no_shows) + dt.timedelta(days=rules.ban_days)
            raise E.BookingBanned(
                f"您近期爽约 {len(no_shows)} 次，{self.local(until):%Y-%m-%d} 前不能预约，可现场取号",
                f"You missed {len(no_shows)} appointments recently and cannot book before "
                f"{self.local(until):%Y-%m-%d}; you can still take a ticket at the hall",
            )
        active = [
            self.local(a.slot_start).date()
            for a in mine
            if a.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN)
        ]
        limits = (
            (sum(d == day for d in active), rules.per_resident_per_day, "每天", "a day"),
            (
                sum(d.isocalendar()[:2] == day.isocalendar()[:2] for d in active),
                rules.per_resident_per_week,
                "每周",
                "a week",
            ),
            (
                sum((d.year, d.month) == (day.year, day.month) for d in active),
                rules.per_resident_per_month,
                "每月",
                "a month",
            ),
        )
        for count, limit, per_zh, per_en in limits:
            if count >= limit:
                raise E.BookingLimit(
                    f"每人{per_zh}最多预约 {limit} 次，您已达上限",
                    f"You may book at most {limit} appointment(s) {per_en}; you have reached it",
                )
        if self.slot_free(service, slot_start) <= 0:
            raise E.SlotFull(
                "这个时段已约满，请选择其他时段", "That slot is full; please choose another"
            )
        self._emit(
            V.AppointmentBooked,
            now,
            appointment_id=f"AP{self.seq + 1}",
            resident_key=cmd.resident_key,
            service=service,
            slot_start=slot[0],
            slot_end=slot[1],
            channel=cmd.channel,
        )

    def appointment(self, appointment_id: str) -> Appointment:
        appointment = self.appointments.get(appointment_id)
        if appointment is None:
            raise E.NotFound("appointment", appointment_id)
        return appointment

    def _cancel_appointment(self, cmd: C.CancelAppointment, now: dt.datetime) -> None:
        appointment = self.appointment(cmd.appointment)
        if cmd.resident_key is not None and cmd.resident_key != appointment.resident_key:
            raise E.NotFound("appointment", cmd.appointment)
        move("appointment", APPOINTMENT_MOVES, appointment.id, appointment.state, "cancel")
        before = dt.timedelta(minutes=self.config.appointments.cancel_before_minutes)
        if now > appointment.slot_start - before:
            raise E.CancelTooLate(
                f"需在预约时间 {before.total_seconds() / 3600:g} 小时前取消",
                f"Appointments must be cancelled {before.total_seconds() / 3600:g} hours ahead",
            )
        self._emit(V.AppointmentCancelled, now, appointment_id=appointment.id)

    def _check_in(self, cmd: C.CheckIn, now: dt.datetime) -> None:
        rules = self.config.appointments
        early = dt.timedelta(minutes=rules.early_minutes)
        late = dt.timedelta(minutes=rules.late_minutes)
        if cmd.appointment is not None:
            appointment = self.appointment(cmd.appointment)
            if cmd.resident_key is not None and cmd.resident_key != appointment.resident_key:
                raise E.NotFound("appointment", cmd.appointment)
        elif cmd.resident_key is not None:
            today = self.local(now).date()
            mine = sorted(
                (
                    a
                    for a in self.appointments.values()
                    if a.resident_key == cmd.resident_key
                    and self.local(a.slot_start).date() == today
                    and (cmd.service is None or a.service == cmd.service)
                    and a.state in (AppointmentState.BOOKED, AppointmentState.NO_SHOW)
                ),
                key=lambda a: (a.state is not AppointmentState.BOOKED, a.slot_start),
            )
            if not mine:
                raise E.NotFound("appointment", "today")
            appointment = mine[0]
        else:
            raise E.NotFound("appointment", "(none given)")
        too_late = E.TooLate(
            "已超过预约签到时间，预约作废，请按普通号取号",
            "The check-in time for this appointment has passed; please take an ordinary ticket",
        )
        if appointment.state is AppointmentState.NO_SHOW:
            raise too_late
        move("appointment", APPOINTMENT_MOVES, appointment.id, appointment.state, "check_in")
        if now > appointment.slot_start + late:
            raise too_late
        if now < appointment.slot_start - early:
            opens = self.local(appointment.slot_start - early)
            raise E.TooEarly(
                f"还未到签到时间，请于 {opens:%H:%M} 后签到",
                f"Too early to check in; please come back after {opens:%H:%M}",
            )
        # The slot's own window, not the walk-in ticket hours, decides: the hall sold this slot
        # (the last one starts at last_ticket; the early grace of the first precedes opening).
        # Only a day made a holiday after booking stays closed.
        if not self.config.hours.is_workday(self.local(now).date()):
            self._check_open(now)
        self._check_resident(appointment.resident_key, appointment.service)
        issued = self._emit_issue(
            appointment.service,
            rules.priority,
            cmd.channel,
            appointment.resident_key,
            now,
            appointment_id=appointment.id,
        )
        self._emit(
            V.AppointmentCheckedIn,
            now,
            appointment_id=appointment.id,
            ticket_id=issued.ticket.id,
        )

    # --- appliers: the only code that changes state --------------------------------------------

    def _touch(self, ticket: Ticket) -> None:
        self._dirty_tickets[ticket.id] = ticket

    def _touch_counter(self, counter: Counter, at: dt.datetime) -> None:
        counter.since = at
        self._dirty_counters.add(counter.id)

    def _leave_queue(self, ticket: Ticket) -> None:
        self.waiting[ticket.service].pop(ticket.id, None)
        self.index.remove(ticket.id)

    def _release(self, counter_id: int | None, at: dt.datetime) -> None:
        if counter_id is None:
            return
        counter = self.counters[counter_id]
        counter.ticket_id = None
        counter.state = CounterState.IDLE
        self._touch_counter(counter, at)

    def _close_resident(self, ticket: Ticket) -> None:
        if ticket.resident_key:
            key = (ticket.resident_key, ticket.service)
            if self.open_by_resident.get(key) == ticket.id:
                del self.open_by_resident[key]

    def _on_day_opened(self, ev: V.DayOpened) -> None:
        self.today = DayState(day=ev.day)
        self._dirty_day = True
        self.tickets.clear()
        self.by_number.clear()
        for queue in self.waiting.values():
            queue.clear()
        self.index.clear()
        self.arrivals.clear()
        self.open_by_resident.clear()
        for times in self.service_times.values():
            times.clear()
        self._fits.clear()
        self.call_times.clear()
        for counter in self.counters.values():
            counter.served_today = 0
            self._touch_counter(counter, ev.at)
        # Bookings older than the no-show look-back no longer matter.
        horizon = ev.at - dt.timedelta(days=self.config.appointments.ban_days + 31)
        for appointment_id in [a.id for a in self.appointments.values() if a.slot_start < horizon]:
            appointment = self.appointments.pop(appointment_id)
            self.slot_load.pop((appointment.service, appointment.slot_start.timestamp()), None)

    def _on_issued(self, ev: V.TicketIssued) -> None:
        data = ev.ticket
        ticket = Ticket(
            id=data.id,
            number=data.number,
            day=data.day,
            service=data.service,
            queue=data.queue,
            priority=data.priority,
            rank=data.rank,
            channel=data.channel,
            resident_key=data.resident_key,
            arrival=data.arrival,
            order_key=data.order_key,
            queued_at=ev.at,
            appointment_id=data.appointment_id,
        )
        self._index_ticket(ticket)
        self.today.sequences[ticket.queue] = int(ticket.number[1:])
        if ticket.appointment_id is None:
            self.today.issued[ticket.service] = self.today.issued.get(ticket.service, 0) + 1
        self._dirty_day = True
        self._touch(ticket)

    def _index_ticket(self, ticket: Ticket, *, arrival: bool = True) -> None:
        if ticket.id not in self.tickets:
            self.tickets[ticket.id] = ticket
            if arrival:
                self.arrivals.add(ticket, self._class_rank(ticket))
        self.by_number[ticket.number] = ticket.id
        if ticket.state is TicketState.WAITING:
            self.waiting[ticket.service][ticket.id] = ticket
            self.index.add(ticket)
        if ticket.resident_key and ticket.state in TICKET_OPEN:
            self.open_by_resident[(ticket.resident_key, ticket.service)] = ticket.id

    def _on_called(self, ev: V.TicketCalled) -> None:
        ticket = self.tickets[ev.ticket_id]
        counter = self.counters[ev.counter]
        self._leave_queue(ticket)
        ticket.state = TicketState.CALLED
        ticket.counter = counter.id
        ticket.called_at = ev.at
        counter.state = CounterState.CALLING
        counter.ticket_id = ticket.id
        self._touch(ticket)
        self._touch_counter(counter, ev.at)

    def _on_recalled(self, ev: V.TicketRecalled) -> None:
        ticket = self.tickets[ev.ticket_id]
        ticket.recalls = ev.recalls
        self._touch(ticket)

    def _on_started(self, ev: V.TicketStarted) -> None:
        ticket = self.tickets[ev.ticket_id]
        counter = self.counters[ev.counter]
        if ticket.called_at is not None:
            self.call_times.append((ev.at - ticket.called_at).total_seconds())
        ticket.state = TicketState.SERVING
        ticket.started_at = ev.at
        counter.state = CounterState.SERVING
        self._touch(ticket)
        self._touch_counter(counter, ev.at)

    def _on_finished(self, ev: V.TicketFinished) -> None:
        ticket = self.tickets[ev.ticket_id]
        counter = self.counters[ev.counter]
        ticket.state = TicketState.DONE
        ticket.finished_at = ev.at
        self._close_resident(ticket)
        counter.served_today += 1
        self._release(counter.id, ev.at)
        times = self.service_times[ev.service]
        times.append(ev.service_s)
        if len(times) > self.rules.estimate_window:
            times.popleft()
        self._fits.pop(ev.service, None)
        self._touch(ticket)

    def _on_no_show(self, ev: V.TicketNoShow) -> None:
        ticket = self.tickets[ev.ticket_id]
        if ticket.called_at is not None:
            self.call_times.append((ev.at - ticket.called_at).total_seconds())
        ticket.state = TicketState.NO_SHOW
        ticket.no_show_at = ev.at
        self._close_resident(ticket)
        self._release(ev.counter, ev.at)
        self._touch(ticket)

    def _on_requeued(self, ev: V.TicketRequeued) -> None:
        ticket = self.tickets[ev.ticket_id]
        ticket.state = TicketState.WAITING
        ticket.requeued = True
        ticket.counter = None
        # Back of its own class: a head-of-queue hand-back (HEAD_RANK) was used up when called.
        ticket.rank = self.classes[ticket.priority].rank
        ticket.order_key = ev.order_key
        ticket.queued_at = ev.at
        self._index_ticket(ticket)
        self._touch(ticket)

    def _on_transferred(self, ev: V.TicketTransferred) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._leave_queue(ticket)
        self._close_resident(ticket)
        if ev.counter is not None and self.counters[ev.counter].ticket_id == ticket.id:
            self._release(ev.counter, ev.at)
        ticket.service = ev.to_service
        ticket.queue = ev.queue
        ticket.rank = ev.rank
        ticket.state = TicketState.WAITING
        ticket.counter = None
        ticket.queued_at = ev.at
        ticket.transfers += 1
        self._index_ticket(ticket)
        self._touch(ticket)

    def _on_returned(self, ev: V.TicketReturned) -> None:
        ticket = self.tickets[ev.ticket_id]
        ticket.state = TicketState.WAITING
        ticket.counter = None
        ticket.rank = HEAD_RANK
        ticket.queued_at = ev.at
        self._index_ticket(ticket)
        self._release(ev.counter, ev.at)
        self._touch(ticket)

    def _on_cancelled(self, ev: V.TicketCancelled) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._leave_queue(ticket)
        self._close_resident(ticket)
        ticket.state = TicketState.CANCELLED
        ticket.cancel_reason = ev.reason
        ticket.finished_at = ev.at
        if ev.counter is not None and self.counters[ev.counter].ticket_id == ticket.id:
            self._release(ev.counter, ev.at)
        self._touch(ticket)

    def _class_rank(self, ticket: Ticket) -> int | None:
        """Its class's rank; None for a class since removed from the configuration."""
        cls = self.classes.get(ticket.priority)
        return cls.rank if cls is not None else None

    def _on_moved(self, ev: V.TicketMoved) -> None:
        ticket = self.tickets[ev.ticket_id]
        ticket.rank = ev.rank
        ticket.order_key = ev.order_key
        self.index.rekey(ticket)
        self._touch(ticket)

    def _on_priority_changed(self, ev: V.TicketPriorityChanged) -> None:
        ticket = self.tickets[ev.ticket_id]
        ticket.priority = ev.priority
        ticket.rank = ev.rank
        self.index.rekey(ticket)
        self.arrivals.refile(ticket, self._class_rank(ticket))
        self._touch(ticket)

    def _on_counter_opened(self, ev: V.CounterOpened) -> None:
        counter = self.counters[ev.counter]
        counter.state = CounterState.IDLE
        self._touch_counter(counter, ev.at)

    def _on_counter_closed(self, ev: V.CounterClosed) -> None:
        counter = self.counters[ev.counter]
        counter.state = CounterState.CLOSED
        counter.ticket_id = None
        counter.pause_reason = None
        self._touch_counter(counter, ev.at)

    def _on_counter_paused(self, ev: V.CounterPaused) -> None:
        counter = self.counters[ev.counter]
        counter.state = CounterState.PAUSED
        counter.pause_reason = ev.reason
        self._touch_counter(counter, ev.at)

    def _on_counter_resumed(self, ev: V.CounterResumed) -> None:
        counter = self.counters[ev.counter]
        counter.state = CounterState.IDLE
        counter.pause_reason = None
        self._touch_counter(counter, ev.at)

    def _on_counter_reskilled(self, ev: V.CounterReskilled) -> None:
        counter = self.counters[ev.counter]
        counter.skills = dict(ev.skills)
        self._touch_counter(counter, ev.at)

    def _on_booked(self, ev: V.AppointmentBooked) -> None:
        appointment = Appointment(
            id=ev.appointment_id,
            resident_key=ev.resident_key,
            service=ev.service,
            slot_start=ev.slot_start,
            slot_end=ev.slot_end,
            booked_at=ev.at,
            channel=ev.channel,
        )
        self._index_appointment(appointment)
        self._dirty_appointments.add(appointment.id)

    def _index_appointment(self, appointment: Appointment) -> None:
        self.appointments[appointment.id] = appointment
        if appointment.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
            key = (appointment.service, appointment.slot_start.timestamp())
            self.slot_load[key] = self.slot_load.get(key, 0) + 1
        if appointment.state is AppointmentState.BOOKED:
            heapq.heappush(self._grace_heap, (appointment.slot_start.timestamp(), appointment.id))

    def _close_appointment(self, appointment_id: str, state: AppointmentState, at) -> Appointment:
        appointment = self.appointments[appointment_id]
        appointment.state = state
        appointment.closed_at = at
        if state is not AppointmentState.CHECKED_IN:
            key = (appointment.service, appointment.slot_start.timestamp())
            self.slot_load[key] = self.slot_load.get(key, 1) - 1
        self._dirty_appointments.add(appointment_id)
        return appointment

    def _on_appointment_cancelled(self, ev: V.AppointmentCancelled) -> None:
        self._close_appointment(ev.appointment_id, AppointmentState.CANCELLED, ev.at)

    def _on_checked_in(self, ev: V.AppointmentCheckedIn) -> None:
        appointment = self._close_appointment(ev.appointment_id, AppointmentState.CHECKED_IN, ev.at)
        appointment.ticket_id = ev.ticket_id

    def _on_appointment_no_show(self, ev: V.AppointmentNoShow) -> None:
        self._close_appointment(ev.appointment_id, AppointmentState.NO_SHOW, ev.at)

    def _on_notice_posted(self, ev: V.NoticePosted) -> None:
        self.notices[ev.notice_id] = Notice(
            id=ev.notice_id,
            text_zh=ev.text_zh,
            text_en=ev.text_en,
            starts=ev.starts,
            ends=ev.ends,
            posted_at=ev.at,
        )
        self._dirty_notices.add(ev.notice_id)

    def _on_notice_removed(self, ev: V.NoticeRemoved) -> None:
        self.notices.pop(ev.notice_id, None)
        self._dirty_notices.discard(ev.notice_id)
        self._removed_notices.add(ev.notice_id)

    # --- restoring from stored records ---------------------------------------------------------

    def restore(
        self,
        *,
        seq: int,
        day: DayState,
        tickets: Iterable[Ticket],
        counters: Iterable[Counter],
        appointments: Iterable[Appointment],
        notices: Iterable[Notice],
    ) -> None:
        """Load the stored state (a start-up after a crash or a restart); no event is emitted."""
        self._replay_cache = None
        self._fits.clear()
        self.seq = seq
        self.today = day
        tickets = [t for t in tickets if t.day == day.day]
        # The last calls, by when they were called (ties as listed), that the deque keeps: a
        # pick of the few, not a sort of the day's.
        calls = [
            (t.called_at, i, held) for i, t in enumerate(tickets)
            if t.called_at is not None and (end := t.started_at or t.no_show_at) is not None
            and (held := (end - t.called_at).total_seconds()) >= 0
        ]  # fmt: skip
        kept = heapq.nlargest(self.call_times.maxlen or len(calls), calls)
        self.call_times.extend(held for _, _, held in sorted(kept))
        for ticket in sorted(tickets, key=lambda t: t.finished_at or t.arrival):
            self._index_ticket(ticket, arrival=False)
            if ticket.state is TicketState.DONE and ticket.started_at and ticket.finished_at:
                times = self.service_times[ticket.service]
                times.append((ticket.finished_at - ticket.started_at).total_seconds())
                if len(times) > self.rules.estimate_window:
                    times.popleft()
        # Filed at once, not one by one (a day holds tens of thousands).
        ranks = {name: cls.rank for name, cls in self.classes.items()}
        self.arrivals.bulk(self.tickets.values(), lambda t: ranks.get(t.priority))
        for counter in counters:
            if counter.id in self.counters:  # a counter removed from the config is gone
                self.counters[counter.id] = counter
        for appointment in appointments:
            self._index_appointment(appointment)
        for notice in notices:
            self.notices[notice.id] = notice
        self.take_changes()
