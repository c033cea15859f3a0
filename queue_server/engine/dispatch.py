"""Dispatch policies: which waiting ticket a free counter calls next.

A policy sees one counter and the waiting tickets it is skilled for, and picks one. The hall calls
it on every "call next"; swapping the policy (the simulator compares several) changes nothing else.
The default rule is documented in docs/dispatch.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

from queue_server.engine.model import Counter, Ticket


class DispatchPolicy(Protocol):
    """Everything the engine reads from a policy."""

    name: str
    # Does a better priority class go first? The wait estimate then expects later arrivals of
    # better classes to overtake (Estimator.overtaking).
    by_class: bool
    # A ticket waiting this long is called before anything else (math.inf: never); past it, the
    # estimate expects nobody to overtake it any more (Estimator.with_overtaking).
    starvation_s: float

    def pick(self, counter: Counter, candidates: Iterable[Ticket], now_ts: float) -> Ticket | None:
        """The ticket ``counter`` should call, or None if it should call nobody."""

    def pick_ordered(self, counter: Counter, queues: OrderedQueues, now_ts: float) -> Ticket | None:
        """``pick``'s answer, read from queues kept in order: what the hall calls to call and
        to replay the dispatch. A policy that can read the heads (``DefaultPolicy``) never walks
        the whole queue; one that cannot takes ``queues.candidates(counter)``."""


class OrderedQueues(Protocol):
    """Per service, the heads of the waiting tickets kept in order (engine/waiting.py)."""

    def skilled(self, counter: Counter) -> Iterable[tuple[str, int]]:
        """(service, tier) of the counter's skills, in order, leaving out services nobody
        waits for (it may keep some that have since emptied)."""

    def heads(self, service: str) -> tuple[tuple, tuple] | None:
        """None if nobody waits, else the service's first in dispatch order as
        (rank, order_key, queued_ts, place, ticket) and its longest queued as
        (queued_ts, order_key, place, ticket); ``place`` orders ties as they joined."""

    def candidates(self, counter: Counter) -> Iterable[Ticket]:
        """Every ticket waiting for the counter's skills, by skill and then as they joined:
        the walk ``pick`` is given (it costs the whole queue)."""


class DefaultPolicy:
    """Starving tickets first, then skill tier, then priority class, then dispatch order.

    1. A ticket that has waited at least ``starvation_s`` in its queue overtakes everything; among
       such tickets the longest-waiting goes first. This is the anti-starvation bound.
    2. Otherwise the counter serves its best skill tier that has anyone waiting (tier 0 is its own
       business; back-up skills only when its own queue is empty).
    3. Within the tier: the lowest rank (priority class; -1 for a resident handed back by a
       closing counter; appointments checked in within their slot carry the appointment class),
    4. then the dispatch order: arrival time, kept across transfers and adjusted by managers.
    """

    name = "default"
    by_class = True

    def __init__(self, starvation_s: float):
        self.starvation_s = starvation_s

    def pick(self, counter: Counter, candidates: Iterable[Ticket], now_ts: float) -> Ticket | None:
        best: Ticket | None = None
        best_key: tuple = ()
        bound = now_ts - self.starvation_s
        skills = counter.skills
        for ticket in candidates:
            queued = ticket.queued_at.timestamp()
            if queued <= bound:
                key = (0, 0, 0, queued, ticket.order_key)
            else:
                key = (1, skills[ticket.service], ticket.rank, ticket.order_key, queued)
            if best is None or key < best_key:
                best, best_key = ticket, key
        return best

    def pick_ordered(self, counter: Counter, queues: OrderedQueues, now_ts: float) -> Ticket | None:
        """``pick`` over every ticket the counter is skilled for, read from each service's
        heads: its longest queued says whether anyone of it starves, its first in dispatch
        order is its best otherwise. Ties between services go to the one earlier in the
        counter's skills, as in ``pick``'s walk; within a service, to the earlier joined."""
        bound = now_ts - self.starvation_s
        starving: Ticket | None = None
        starving_key: tuple = ()
        best: Ticket | None = None
        best_key: tuple = ()
        for service, tier in queues.skilled(counter):
            heads = queues.heads(service)
            if heads is None:
                continue
            first, oldest = heads
            if oldest[0] <= bound:
                if starving is None or oldest[:2] < starving_key:
                    starving, starving_key = oldest[3], oldest[:2]
            elif starving is None:
                key = (tier, first[0], first[1], first[2])
                if best is None or key < best_key:
                    best, best_key = first[4], key
        return starving if starving is not None else best


class LongestWaitPolicy:
    """The queueing literature's baseline: the longest-waiting eligible ticket, ignoring tiers
    and classes: the queueing literature's baseline)."""

    name = "longest_wait"
    by_class = False
    starvation_s = math.inf

    def pick(self, counter: Counter, candidates: Iterable[Ticket], now_ts: float) -> Ticket | None:
        return min(candidates, key=lambda t: t.order_key, default=None)

    def pick_ordered(self, counter: Counter, queues: OrderedQueues, now_ts: float) -> Ticket | None:
        # The longest wait is no head of the orders kept: every candidate is walked.
        return self.pick(counter, queues.candidates(counter), now_ts)


POLICIES = {"default": DefaultPolicy, "longest_wait": LongestWaitPolicy}
