"""How good can a wait estimate be? Oracles that fork a simulated hall at the moment a ticket is
issued and play the rest of the day forward through the real engine.

- ``clairvoyant``: the fork keeps every resident now in the hall with their true service,
  walk-up, recall and no-show, and drops the walk-ins yet to come. Its error against the wait
  that followed is what later arrivals alone cost (priority classes overtaking, a window
  taken by a newcomer of its own queue); the service-time noise is gone.
- ``bayes``: many forks, each with the unknowns drawn afresh from the day profile (the service
  times of everyone waiting, the remainder of every service under way given its elapsed time,
  the walk-ins yet to come, who misses a call); the median of the forks' waits is the best any
  estimate can say given what the hall knows at issue (the median minimises the absolute
  error), so its mean absolute error is the floor for every estimate. (The forks keep the
  known bookings' check-in times and the put-back times of skipped residents: a few residents
  a day, a slight advantage to the oracle.)

Slow (a fork costs a copy of the hall): run on a sample of tickets, from the benchmark.
"""

from __future__ import annotations

import copy
import datetime as dt
import heapq
import math
import random
import statistics
from dataclasses import dataclass, replace

from queue_server.protocol.states import CounterState
from sim.profile import Resolved, ServiceModel
from sim.report import AHEAD_BANDS, Accuracy, _ahead_band
from sim.runner import (
    ARRIVE,
    CHECK_IN,
    FINISH,
    NO_SHOW,
    OPEN,
    RECALL,
    REQUEUE,
    START,
    HallSim,
    Resident,
    day_rng,
    draw_day,
    service_time,
    walk_ins,
    working_days,
)

_NORMAL = statistics.NormalDist()


@dataclass(frozen=True)
class OracleRecord:
    """One sampled ticket: what it was told, what the oracles say, what it waited (seconds)."""

    service: str
    priority: str
    hour: int
    ahead: int
    waiting: int  # tickets waiting in the hall when it was issued (itself included)
    estimate_s: float | None
    naive_s: float | None
    wait_s: float
    clairvoyant_s: float
    replayed_s: float | None  # a fork that keeps everything (check_replay): equals wait_s
    bayes_median_s: float
    bayes_mean_s: float


def residual(rng: random.Random, model: ServiceModel, elapsed: float) -> float:
    """The rest of a service that has run ``elapsed`` seconds, drawn from its distribution
    conditioned on lasting longer (exponential: memoryless; lognormal: inverse CDF above the
    elapsed quantile)."""
    if model.dist == "fixed":
        return max(model.mean_s - elapsed, 0.0)
    if model.dist == "exponential":
        return rng.expovariate(1.0 / model.mean_s)
    sigma = math.sqrt(math.log(1.0 + model.cv**2))
    mu = math.log(model.mean_s) - sigma**2 / 2
    lo = _NORMAL.cdf((math.log(elapsed) - mu) / sigma) if elapsed > 0 else 0.0
    u = lo + (1.0 - lo) * rng.random()
    u = min(max(u, 1e-12), 1 - 1e-12)
    return max(math.exp(mu + sigma * _NORMAL.inv_cdf(u)) - elapsed, 0.0)


class _Probe(HallSim):
    """A HallSim that, at chosen issues, forks itself and plays the day forward."""

    def __init__(self, config, resolved: Resolved, policy, *, every: int, forks: int, seed: int,
                 check_replay: bool = False):  # fmt: skip
        super().__init__(config, policy, resolved.profile.behaviour)
        self.check_replay = check_replay
        self.resolved = resolved
        self.models = {s.id: s for s in resolved.services}
        self.every, self.forks = every, forks
        self.fork_rng = random.Random(seed)
        self.issues = 0
        self.sampled: list[tuple[str, dict]] = []
        self.forking = False
        self.day: dt.date | None = None

    def run_day(self, day, residents, warmup_s=0.0):
        self.day = day
        return super().run_day(day, residents, warmup_s)

    def _issued(self, ts, r, events):
        super()._issued(ts, r, events)
        if self.forking:
            return
        self.issues += 1
        if self.issues % self.every:
            return
        ticket = next(e for e in events if e.__class__.__name__ == "TicketIssued")
        tid = ticket.ticket.id
        info = {
            "ahead": ticket.ahead,
            "waiting": sum(1 for _ in self.hall.waiting_tickets()),
            "replayed": self._fork_wait(ts, tid, "replay") if self.check_replay else None,
            "clairvoyant": self._fork_wait(ts, tid, "clairvoyant"),
            "bayes": [self._fork_wait(ts, tid, "bayes") for _ in range(self.forks)],
        }
        self.sampled.append((tid, info))

    # --- forking ------------------------------------------------------------------------------

    def _fork(self) -> _Probe:
        memo = {id(self.config): self.config, id(self.resolved): self.resolved,
                id(self.hall.policy): self.hall.policy, id(self.models): self.models,
                id(self.fork_rng): self.fork_rng, id(self.sampled): self.sampled}  # fmt: skip
        fork = copy.deepcopy(self, memo)
        fork.forking = True
        return fork

    def _fork_wait(self, ts: float, tid: str, mode: str) -> float:
        """The wait of ticket ``tid`` in a fork of the day: ``replay`` keeps everything (so it
        must give the wait that followed), ``clairvoyant`` drops the walk-ins yet to come,
        ``bayes`` draws every unknown afresh."""
        fork = self._fork()
        rng = self.fork_rng
        hall = fork.hall
        keep = []
        for entry in fork.heap:
            at, _, kind, payload = entry
            if mode != "replay" and kind == ARRIVE and payload.slot_start_ts is None and at > ts:
                continue  # a walk-in yet to come: the oracles do not know them
            keep.append(entry)
        if mode == "bayes":
            behaviour = self.resolved.profile.behaviour
            # Everyone waiting: fresh service time, walk-up, recall, no-show.
            for ticket in hall.waiting_tickets():
                old = fork.resident_of[ticket.id]
                new = _person(rng, self.models[ticket.service], behaviour, old)
                fork.resident_of[ticket.id] = new
            for counter in hall.counters.values():
                if counter.ticket_id is None:
                    continue
                ticket = hall.tickets[counter.ticket_id]
                model = self.models[ticket.service]
                if counter.state is CounterState.SERVING:
                    # The service under way: its remainder given how long it has run.
                    elapsed = ts - ticket.started_at.timestamp()
                    end = ts + residual(rng, model, elapsed)
                    keep = [
                        (end, s, k, p) if k == FINISH and p == counter.id else (a, s, k, p)
                        for a, s, k, p in keep
                    ]
                elif counter.state is CounterState.CALLING:
                    old = fork.resident_of[ticket.id]
                    fork.resident_of[ticket.id] = replace(old, service_s=service_time(rng, model))
            # The walk-ins yet to come, drawn afresh.
            for r in walk_ins(self.resolved, self.config, self.day, rng, from_ts=ts):
                keep.append((r.arrive_ts, 0, ARRIVE, r))
        heapq.heapify(keep)
        # Re-number: the sequence only breaks ties, and the drawn walk-ins came in with 0.
        fork.heap = [(a, i, k, p) for i, (a, _, k, p) in enumerate(sorted(keep))]
        fork.seq = len(fork.heap)
        handlers = {
            OPEN: fork._open, ARRIVE: fork._arrive, CHECK_IN: fork._check_in,
            START: fork._start, FINISH: fork._finish, RECALL: fork._recall,
            NO_SHOW: fork._no_show, REQUEUE: fork._requeue,
        }  # fmt: skip
        record = fork.records[tid]
        heap = fork.heap
        while record.wait_s is None and heap:
            at, _, kind, payload = heapq.heappop(heap)
            handlers[kind](at, payload)
        if record.wait_s is None:
            raise RuntimeError(f"{tid}: never called in the fork")
        return record.wait_s


def _person(rng: random.Random, model: ServiceModel, behaviour, old: Resident) -> Resident:
    no_show = rng.random() < behaviour.no_show_share
    recall = rng.random() < behaviour.recall_share
    comes_back = rng.random() < behaviour.requeue_share
    return replace(
        old,
        service_s=service_time(rng, model),
        walk_s=rng.uniform(*behaviour.walk_seconds),
        recall=recall and not no_show,
        no_show=no_show,
        requeue_after_s=(
            rng.uniform(*behaviour.requeue_after_minutes) * 60 if no_show and comes_back else None
        ),
    )


def oracle_sample(
    config,
    resolved: Resolved,
    *,
    days: int,
    seed: int,
    policy=None,
    every: int = 10,
    forks: int = 40,
    start: dt.date = dt.date(2026, 3, 2),
    check_replay: bool = False,
) -> list[OracleRecord]:
    """Every ``every``-th ticket of ``days`` simulated days (the same days ``simulate`` runs),
    with the clairvoyant wait and the median and mean of ``forks`` resampled futures."""
    sim = _Probe(
        config, resolved, policy, every=every, forks=forks, seed=seed, check_replay=check_replay
    )
    out: list[OracleRecord] = []
    for day_no, day in enumerate(working_days(config, start, days)):
        residents = draw_day(resolved, config, day, day_rng(seed, day_no))
        sim.sampled = []
        sim.run_day(day, residents)
        records = sim.records
        for tid, info in sim.sampled:
            rec = records[tid]
            waits = info["bayes"]
            out.append(
                OracleRecord(
                    service=rec.service,
                    priority=rec.priority,
                    hour=rec.hour,
                    ahead=info["ahead"],
                    waiting=info["waiting"],
                    estimate_s=rec.estimate_s,
                    naive_s=rec.naive_s,
                    wait_s=rec.wait_s,
                    clairvoyant_s=info["clairvoyant"],
                    replayed_s=info["replayed"],
                    bayes_median_s=statistics.median(waits),
                    bayes_mean_s=statistics.fmean(waits),
                )
            )
    return out


def floor_table(records: list[OracleRecord]) -> dict[str, Accuracy]:
    """The accuracy of the engine, the naive estimate and the oracles on the same tickets."""
    told = [r for r in records if r.estimate_s is not None and r.naive_s is not None]
    return {
        "engine": Accuracy.of([(r.estimate_s, r.wait_s) for r in told]),
        "naive": Accuracy.of([(r.naive_s, r.wait_s) for r in told]),
        "bayes_median": Accuracy.of([(r.bayes_median_s, r.wait_s) for r in told]),
        "bayes_mean": Accuracy.of([(r.bayes_mean_s, r.wait_s) for r in told]),
        "clairvoyant": Accuracy.of([(r.clairvoyant_s, r.wait_s) for r in told]),
    }


def floor_by_ahead(records: list[OracleRecord]) -> dict[str, dict[str, Accuracy]]:
    """``floor_table`` by the people ahead at issue (report.AHEAD_BANDS)."""
    bands: dict[str, list[OracleRecord]] = {}
    for r in records:
        bands.setdefault(_ahead_band(r.ahead), []).append(r)
    return {b: floor_table(bands[b]) for b in AHEAD_BANDS if b in bands}
