"""Dispatch policies: which waiting ticket a free counter calls next.

A policy sees one counter and the waiting tickets it is skilled for, and picks one. The hall calls
it on every "call next"; swapping the policy (the simulator compares several) changes nothing else.
The default rule is documented in docs/dispatch.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from queue_server.engine.model import Counter, Ticket


class DispatchPolicy(Protocol):
    name: str
    # Does a better priority class go first? The wait estimate then expects later arrivals of
    # better classes to overtake (Hall._overtaking); a policy without it is taken to say yes.
    by_class: bool

    def pick(self, counter: Counter, candidates: Iterable[Ticket], now_ts: float) -> Ticket | None:
        """The ticket ``counter`` should call, or None if it should call nobody."""


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


class LongestWaitPolicy:
    """The queueing literature's baseline: the longest-waiting eligible ticket, ignoring tiers
    and classes (reference/hall.md §2)."""

    name = "longest_wait"
    by_class = False

    def pick(self, counter: Counter, candidates: Iterable[Ticket], now_ts: float) -> Ticket | None:
        return min(candidates, key=lambda t: t.order_key, default=None)


POLICIES = {"default": DefaultPolicy, "longest_wait": LongestWaitPolicy}
