"""The wait estimates: how long a ticket, or a ticket not yet taken, will wait to be called.

``Estimator`` reads the hall's state (``HallState``: the counters, the tickets, the waiting
queues and their sorted index, today's arrivals, the policy) and never changes it; the hall
tells it what it measured (``record_service``, ``record_call``) and when anything changed
(``changed``). The estimate replays the hall's own dispatch on typical service times
(``replay``); past REPLAY_LIMIT waiting it divides the work ahead by the windows instead. How it
is built and what it costs: docs/dispatch.md.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from queue_server.config import HallConfig
from queue_server.engine.dispatch import DispatchPolicy
from queue_server.engine.model import Counter, Ticket
from queue_server.engine.waiting import Arrivals, WaitingIndex
from queue_server.protocol.states import CounterState, TicketState

OPEN_COUNTER_STATES = {CounterState.IDLE, CounterState.CALLING, CounterState.SERVING}
# How far back the estimate looks for the arrival rate of better classes (see overtaking).
OVERTAKING_LOOKBACK_S = 3600.0
# Above this many waiting tickets the estimate stops replaying the dispatch (its cost grows with
# the square of the queue) and divides the work ahead by the windows instead (work_ahead_wait).
REPLAY_LIMIT = 150
# The remaining time of a service under way is read from a lognormal fitted to the service's
# measured times once there are this many (remaining); a spread floor keeps identical
# measurements from making the fit a single point.
MIN_FIT_SAMPLES = 5
MIN_LOG_SPREAD = 0.05
_STANDARD_NORMAL = statistics.NormalDist()

Estimate = tuple[int, float | None]  # (people ahead, expected wait in seconds or None)


class HallState(Protocol):
    """What the estimate reads of the hall (``Hall`` in hall.py), at each estimate: the hall
    changes them, the estimate never does."""

    policy: DispatchPolicy
    counters: dict[int, Counter]
    tickets: dict[str, Ticket]  # today's, by id
    waiting: dict[str, dict[str, Ticket]]  # per service, in the order they joined
    index: WaitingIndex  # the same waiting tickets kept sorted
    arrivals: Arrivals  # today's tickets by class and arrival


class Estimator:
    """One hall's wait estimates, read from its state (``HallState``) when asked."""

    def __init__(self, config: HallConfig, hall: HallState):
        self.zone = config.zone
        self.hours = config.hours
        self.queue_of = config.queue_of()
        self.settings = config.service_settings()
        self.estimate_window = config.rules.estimate_window
        self.hall = hall
        # The measurements: the last service times per service, and the seconds each recent
        # call held its window before the service began (walking up, recalls) or the resident
        # was skipped: time the windows spend that service times miss.
        self.service_times: dict[str, deque[float]] = {s: deque() for s in self.queue_of}
        self.call_times: deque[float] = deque(maxlen=5 * config.rules.estimate_window)
        self._replay_cache: tuple[float, dict[str, float]] | None = None
        self._fits: dict[str, tuple[float, float]] = {}  # log_fit's, per service

    # --- what the hall tells it ------------------------------------------------------------

    def changed(self) -> None:
        """The hall's state changed: a replay kept for the same instant no longer holds."""
        self._replay_cache = None

    def drop_caches(self) -> None:
        """The hall's state was loaded anew (a restore): nothing computed before holds."""
        self._replay_cache = None
        self._fits.clear()

    def record_service(self, service: str, seconds: float) -> None:
        times = self.service_times[service]
        times.append(seconds)
        if len(times) > self.estimate_window:
            times.popleft()
        self._fits.pop(service, None)

    def record_call(self, seconds: float) -> None:
        self.call_times.append(seconds)

    def clear(self) -> None:
        """A new day (or a restore): yesterday's measurements no longer count."""
        for times in self.service_times.values():
            times.clear()
        self.call_times.clear()
        self.drop_caches()

    # --- measured times --------------------------------------------------------------------

    def mean_service_s(self, service: str) -> float:
        times = self.service_times.get(service)
        if times:
            return sum(times) / len(times)
        return self.settings[service].service_minutes * 60

    def mean_call_s(self) -> float:
        """Mean time a call holds its window before the service starts (or the skip)."""
        return sum(self.call_times) / len(self.call_times) if self.call_times else 0.0

    def log_fit(self, service: str) -> tuple[float, float] | None:
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
        fit = self.log_fit(service)
        return math.exp(fit[0]) if fit is not None else self.mean_service_s(service)

    def remaining(self, service: str, elapsed: float, mean: float) -> float:
        """The median remaining time of a service that has run ``elapsed`` seconds.

        A service that has already run long is likely a long one: service times are skewed
        (a few residents need long explanations or lack papers), so the remainder is not the
        mean minus the time served. With enough measured times of the service, they are fitted
        by a lognormal (the mean and spread of their logarithms) and the remainder is its
        median conditioned on the service lasting longer than ``elapsed``: the median, because
        an estimate off by the least on average (absolute error) is a median. Without enough
        measurements: the mean minus the time served, at least a tenth of the mean.
        """
        fit = self.log_fit(service)
        if fit is None:
            return max(mean - elapsed, 0.1 * mean)
        mu, sigma = fit
        done = _STANDARD_NORMAL.cdf((math.log(elapsed) - mu) / sigma) if elapsed > 0 else 0.0
        q = min(done + (1.0 - done) / 2, 1.0 - 1e-9)
        return max(math.exp(mu + sigma * _STANDARD_NORMAL.inv_cdf(q)) - elapsed, 0.0)

    # --- counting --------------------------------------------------------------------------

    def open_counters_for(self, service: str) -> list[Counter]:
        return [
            c
            for c in self.hall.counters.values()
            if service in c.skills and c.state in OPEN_COUNTER_STATES
        ]

    def waiting_count(self) -> int:
        return sum(len(tickets) for tickets in self.hall.waiting.values())

    def people_ahead(self, ticket: Ticket) -> int:
        """Tickets of its queue before it in the screens' order (class, then arrival).

        Same class and instant (two kiosks in one clock tick): the earlier issue is ahead, and
        a ticket about to be issued comes after all of them."""
        probe = ticket.id not in self.hall.tickets
        number = None if probe else int(ticket.number[1:])
        return self.hall.index.ahead_in_queue(ticket.queue, ticket.rank, ticket.order_key, number)

    def waiting_within(self, limit: int) -> list[Ticket]:
        """The waiting tickets with at most ``limit`` people ahead (``people_ahead``), in
        the order of the hall's waiting queues; found without walking the rest of them."""
        order = {service: i for i, service in enumerate(self.queue_of)}
        found = list(self.hall.index.within(limit))
        return sorted(found, key=lambda t: (order[t.service], self.hall.index.pos(t.id)))

    # --- the estimates ---------------------------------------------------------------------

    def estimate(self, ticket: Ticket, now: dt.datetime) -> Estimate:
        """(people ahead in its queue, expected wait in seconds or None when no counter is open).

        The wait is found by replaying the hall's own dispatch on typical service times
        (``replay``): the open windows call, by the policy, the tickets waiting now, until
        one of them calls this ticket.
        """
        ahead = self.people_ahead(ticket)
        if not self.open_counters_for(ticket.service):
            return ahead, None
        if self.waiting_count() > REPLAY_LIMIT:
            return ahead, self.work_ahead_wait(ticket, now)
        if self.hall.waiting[ticket.service].get(ticket.id) is ticket:
            # A waiting ticket: one replay of the whole queue answers for all of them until the
            # next event (the server asks for every watched ticket after each batch).
            return ahead, self.replay_all(now).get(ticket.id)
        return ahead, self.replay([ticket], now).get(ticket.id)

    def estimate_new_all(self, probes: list[Ticket], now: dt.datetime) -> dict[str, Estimate]:
        """``estimate`` of one probe (a ticket not issued) per service, from one replay."""
        if self.waiting_count() > REPLAY_LIMIT:
            waits = {p.id: self.work_ahead_wait(p, now) for p in probes}
        else:
            waits = self.replay(probes, now)
        return {
            p.service: (
                self.people_ahead(p),
                waits.get(p.id) if self.open_counters_for(p.service) else None,
            )
            for p in probes
        }

    def replay_all(self, now: dt.datetime) -> dict[str, float]:
        """``replay`` of every waiting ticket, kept until the state (``changed``) or the time
        changes."""
        now_ts = now.timestamp()
        if self._replay_cache is None or self._replay_cache[0] != now_ts:
            tickets = [t for waiting in self.hall.waiting.values() for t in waiting.values()]
            self._replay_cache = (now_ts, self.replay(tickets, now))
        return self._replay_cache[1]

    def work_ahead_wait(self, ticket: Ticket, now: dt.datetime) -> float:
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
        for counter in self.hall.counters.values():
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
            ahead = self.hall.index.count_before(service, ticket.rank, ticket.order_key)
            if ahead:
                work += ahead * self.mean_service_s(service) * shared[service] / theirs[service]
        for counter in counters:
            work += self.free_at(counter, now_ts, self.mean_service_s) - now_ts
        return work / len(counters) + self.calling_starts(now) - now_ts

    def with_overtaking(
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
            shares[ticket.service, ticket.rank] = self.overtaking(ticket, now_ts, mean_of)
        share = shares[ticket.service, ticket.rank]
        if share <= 0:
            return wait
        bound = self.hall.policy.starvation_s
        stretched = wait / (1 - share)
        return stretched if stretched <= bound else wait + share * bound

    def calling_starts(self, now: dt.datetime) -> float:
        """When the windows start calling: the opening time before it (an appointment holder
        may check in within the early grace, before the windows open), else now."""
        local = now.astimezone(self.zone)
        opens = dt.datetime.combine(local.date(), self.hours.open, self.zone)
        return max(now.timestamp(), opens.timestamp())

    def free_at(self, counter: Counter, now_ts: float, mean_of: Callable[[str], float]) -> float:
        """When ``counter`` should next be free: now if idle; while calling, after the rest of
        the mean call time and then a whole service; while serving, after the median remaining
        time of the service under way given how long it has run (``remaining``)."""
        if counter.ticket_id is None:
            return now_ts
        current = self.hall.tickets[counter.ticket_id]
        mean = mean_of(current.service)
        # started_at may be left from an earlier service (transferred, handed back): it counts
        # only while the ticket is being served.
        if current.state is TicketState.SERVING and current.started_at is not None:
            elapsed = max(now_ts - current.started_at.timestamp(), 0.0)
            return now_ts + self.remaining(current.service, elapsed, mean)
        called = current.called_at
        since_call = now_ts - called.timestamp() if called is not None else 0.0
        return now_ts + max(self.mean_call_s() - since_call, 0.0) + mean

    def overtaking(self, ticket: Ticket, now_ts: float, mean_of) -> float:
        """The share of the ticket's windows' time that residents of a better class, arriving
        while it waits, will take before it: their work per second over the last hour (each
        counted in proportion to how many of its service's open windows are this ticket's),
        over the number of this ticket's windows. 0 under a policy that ignores classes."""
        if not self.hall.policy.by_class:
            return 0.0
        mine = {c.id for c in self.open_counters_for(ticket.service)}
        since = now_ts - OVERTAKING_LOOKBACK_S
        shares: dict[str, float] = {}
        work = 0.0
        # By class, not by current rank: a resident handed back to the head of the queue
        # (rank -1) is not a newcomer. The last hour of each better class, summed in the order
        # of the hall's tickets (so the float sum is the one a walk of every ticket gives).
        for other in self.hall.arrivals.window(ticket.rank, since, now_ts):
            if other is ticket:
                continue
            if other.service not in shares:
                theirs = [c.id for c in self.open_counters_for(other.service)]
                shared = sum(1 for c in theirs if c in mine)
                shares[other.service] = shared / len(theirs) if theirs else 0.0
            work += shares[other.service] * mean_of(other.service)
        return min(work / OVERTAKING_LOOKBACK_S / len(mine), 0.9) if mine else 0.0

    def replay(self, tickets: list[Ticket], now: dt.datetime) -> dict[str, float]:
        """How long until each of ``tickets`` is called, replaying the dispatch on typical times.

        Every open window starts when it is next free (``free_at``). The window free first calls
        by the hall's policy, at that moment, among the tickets waiting now that it is skilled
        for; it is then busy for the typical (median) time of that service plus the mean call time;
        and so on, until a window has called each of ``tickets``. So the estimate follows the
        tiers, the priority classes and the anti-starvation bound exactly as the windows will,
        and counts the back-up help other queues' windows give. Residents who arrive later are
        not foreseen here (``with_overtaking`` allows for the better classes among them).

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

        counters, issued = self.hall.counters, self.hall.tickets
        opens = self.calling_starts(now)
        free = [
            (max(self.free_at(c, now_ts, typical_of), opens), c.id)
            for c in counters.values()
            if c.state in OPEN_COUNTER_STATES
        ]
        heapq.heapify(free)
        pick_at, take = self._replay_queues(tickets)
        wanted = {t.id: t for t in tickets}
        waits: dict[str, float] = {}
        shares: dict[tuple[str, int], float] = {}
        while free and len(waits) < len(wanted):
            at, counter_id = heapq.heappop(free)
            counter = counters[counter_id]
            pick = pick_at(counter, at)
            if pick is None:
                continue  # nobody now waiting will be called here
            take(pick)
            if wanted.get(pick.id) is pick:
                wait = max(at - now_ts, 0.0)
                waits[pick.id] = self.with_overtaking(pick, wait, now_ts, mean_of, shares)
                if pick.id not in issued:  # a probe: no window time
                    heapq.heappush(free, (at, counter_id))
                    continue
            heapq.heappush(free, (at + call_s + typical_of(pick.service), counter_id))
        return waits

    def _replay_queues(self, tickets: Iterable[Ticket]):
        """The replay's queues: the tickets waiting now and ``tickets``, at the end of their
        services' queues. Returns (pick(counter, at), take(ticket)).

        The policy picks from queues kept in order (``pick_ordered``), read from the index's
        heads: a replay then costs in proportion to the calls it replays, not to their number
        times the queue. A ticket that is in the index but is not the one waiting (a copy) gets
        the policy a copy of the queues to pick from."""
        index, waiting, policy = self.hall.index, self.hall.waiting, self.hall.policy
        extra = [t for t in tickets if t.id not in index]
        if all(waiting[t.service].get(t.id) is t for t in tickets if t.id in index):
            queues = index.replay(extra)
            return (lambda counter, at: policy.pick_ordered(counter, queues, at)), queues.take
        # {service: {id: ticket}}, the tickets included.
        copies = {service: dict(queue) for service, queue in waiting.items() if queue}
        for ticket in tickets:
            copies.setdefault(ticket.service, {})[ticket.id] = ticket

        def pick(counter: Counter, at: float) -> Ticket | None:
            candidates = [t for s in counter.skills if s in copies for t in copies[s].values()]
            return policy.pick(counter, candidates, at) if candidates else None

        def take(ticket: Ticket) -> None:
            del copies[ticket.service][ticket.id]

        return pick, take
