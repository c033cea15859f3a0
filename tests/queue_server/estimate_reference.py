"""The estimates and the default call worked out the straightforward way, by walking every
waiting ticket (and every ticket of the day) as the engine did before it kept its queues in order
(issue 14). The property tests compare the engine's answers with these, to the last bit; the
queue benchmark (bench/bench_queue.py) times these as the "before".
"""

from __future__ import annotations

import datetime as dt
import heapq
import math

from queue_server.engine.hall import (
    OPEN_COUNTER_STATES,
    OVERTAKING_LOOKBACK_S,
    REPLAY_LIMIT,
    Hall,
)
from queue_server.engine.model import Counter, Ticket


def people_ahead(hall: Hall, ticket: Ticket) -> int:
    key = (ticket.rank, ticket.order_key)
    probe = ticket.id not in hall.tickets

    def is_ahead(other: Ticket) -> bool:
        other_key = (other.rank, other.order_key)
        if other is ticket or other_key > key:
            return False
        if other_key < key:
            return True
        return probe or (
            other.queue == ticket.queue and int(other.number[1:]) < int(ticket.number[1:])
        )

    services = [s for s, q in hall.queue_of.items() if q == ticket.queue]
    return sum(1 for other in hall.waiting_tickets(services) if is_ahead(other))


def work_ahead_wait(hall: Hall, ticket: Ticket, now: dt.datetime) -> float:
    now_ts = now.timestamp()
    counters = hall.open_counters_for(ticket.service)
    mine = {c.id for c in counters}
    key = (ticket.rank, ticket.order_key)
    work = 0.0
    for service in hall.queue_of:
        theirs = [c.id for c in hall.open_counters_for(service)]
        shared = sum(1 for c in theirs if c in mine)
        if not shared:
            continue
        ahead = sum(
            1
            for other in hall.waiting[service].values()
            if other is not ticket and (other.rank, other.order_key) < key
        )
        work += ahead * hall.mean_service_s(service) * shared / len(theirs)
    for counter in counters:
        work += hall._free_at(counter, now_ts, hall.mean_service_s) - now_ts
    return work / len(counters) + hall._calling_starts(now) - now_ts


def overtaking(hall: Hall, ticket: Ticket, now_ts: float, mean_of) -> float:
    if not getattr(hall.policy, "by_class", True):
        return 0.0
    mine = {c.id for c in hall.open_counters_for(ticket.service)}
    since = now_ts - OVERTAKING_LOOKBACK_S
    shares: dict[str, float] = {}
    work = 0.0
    for other in hall.tickets.values():
        if hall.classes[other.priority].rank >= ticket.rank or other is ticket:
            continue
        if not since <= other.arrival.timestamp() <= now_ts:
            continue
        if other.service not in shares:
            theirs = [c.id for c in hall.open_counters_for(other.service)]
            shared = sum(1 for c in theirs if c in mine)
            shares[other.service] = shared / len(theirs) if theirs else 0.0
        work += shares[other.service] * mean_of(other.service)
    return min(work / OVERTAKING_LOOKBACK_S / len(mine), 0.9) if mine else 0.0


def with_overtaking(hall, ticket, wait, now_ts, mean_of, shares) -> float:
    if wait <= 0:
        return wait
    if (ticket.service, ticket.rank) not in shares:
        shares[ticket.service, ticket.rank] = overtaking(hall, ticket, now_ts, mean_of)
    share = shares[ticket.service, ticket.rank]
    if share <= 0:
        return wait
    bound = getattr(hall.policy, "starvation_s", math.inf)
    stretched = wait / (1 - share)
    return stretched if stretched <= bound else wait + share * bound


def replay(hall: Hall, tickets: list[Ticket], now: dt.datetime) -> dict[str, float]:
    now_ts = now.timestamp()
    call_s = hall.mean_call_s()
    means: dict[str, float] = {}
    typicals: dict[str, float] = {}

    def mean_of(service: str) -> float:
        if service not in means:
            means[service] = hall.mean_service_s(service)
        return means[service]

    def typical_of(service: str) -> float:
        if service not in typicals:
            typicals[service] = hall.typical_service_s(service)
        return typicals[service]

    opens = hall._calling_starts(now)
    free = [
        (max(hall._free_at(c, now_ts, typical_of), opens), c.id)
        for c in hall.counters.values()
        if c.state in OPEN_COUNTER_STATES
    ]
    heapq.heapify(free)
    queues = {service: dict(waiting) for service, waiting in hall.waiting.items() if waiting}
    wanted = {t.id: t for t in tickets}
    for ticket in tickets:
        queues.setdefault(ticket.service, {})[ticket.id] = ticket
    waits: dict[str, float] = {}
    shares: dict[tuple[str, int], float] = {}
    while free and len(waits) < len(wanted):
        at, counter_id = heapq.heappop(free)
        counter = hall.counters[counter_id]
        candidates = [t for s in counter.skills if s in queues for t in queues[s].values()]
        pick = hall.policy.pick(counter, candidates, at) if candidates else None
        if pick is None:
            continue
        del queues[pick.service][pick.id]
        if wanted.get(pick.id) is pick:
            wait = max(at - now_ts, 0.0)
            waits[pick.id] = with_overtaking(hall, pick, wait, now_ts, mean_of, shares)
            if pick.id not in hall.tickets:
                heapq.heappush(free, (at, counter_id))
                continue
        heapq.heappush(free, (at + call_s + typical_of(pick.service), counter_id))
    return waits


def waiting_count(hall: Hall) -> int:
    return sum(len(tickets) for tickets in hall.waiting.values())


def estimate(hall: Hall, ticket: Ticket, now: dt.datetime) -> tuple[int, float | None]:
    ahead = people_ahead(hall, ticket)
    if not hall.open_counters_for(ticket.service):
        return ahead, None
    if waiting_count(hall) > REPLAY_LIMIT:
        return ahead, work_ahead_wait(hall, ticket, now)
    if hall.waiting[ticket.service].get(ticket.id) is ticket:
        return ahead, replay(hall, list(hall.waiting_tickets()), now).get(ticket.id)
    return ahead, replay(hall, [ticket], now).get(ticket.id)


def estimate_new_all(hall: Hall, now: dt.datetime, priority: str = "normal"):
    probes = [hall._probe(service, now, priority) for service in hall.queue_of]
    if waiting_count(hall) > REPLAY_LIMIT:
        waits = {p.id: work_ahead_wait(hall, p, now) for p in probes}
    else:
        waits = replay(hall, probes, now)
    return {
        p.service: (
            people_ahead(hall, p),
            waits.get(p.id) if hall.open_counters_for(p.service) else None,
        )
        for p in probes
    }


def call_pick(hall: Hall, counter: Counter, now: dt.datetime) -> Ticket | None:
    """The ticket ``counter`` would call next, the policy given every candidate."""
    return hall.policy.pick(counter, hall.waiting_tickets(counter.skills), now.timestamp())


def within(hall: Hall, limit: int, now: dt.datetime) -> list[Ticket]:
    """The waiting tickets with at most ``limit`` ahead, as the server's webhooks found them."""
    return [t for t in hall.waiting_tickets() if people_ahead(hall, t) <= limit]
