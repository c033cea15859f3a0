"""The waiting tickets kept in order, so that a call or an estimate reads a few heads and counts
instead of walking the whole queue (issue 14: issuing and calling cost grew with the queue).

``WaitingIndex`` holds, per service, the waiting tickets sorted two ways (by dispatch order, and
by the time they joined the queue, for the anti-starvation bound) and, per queue, sorted by the
screens' order (people ahead). Each list is a plain sorted Python list: a lookup is a bisection,
an insertion or removal a bisection plus a move of pointers in C (microseconds at 10,000).

Every entry ends with the ticket's insertion number (``pos``), which is also its place in
``Hall.waiting``'s dicts: a new entry always goes at the end of both. Ties in every order thus
fall as they fall when the same tickets are walked in the dicts' order, so answers read from the
index are the ones a walk would give, to the last bit (tests/queue_server/test_engine_properties.py
checks it against the full recomputation).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass

from queue_server.engine.model import Counter, Ticket

# Sorted entries. DispatchEntry: (rank, order_key, queued_ts, pos, ticket);
# QueuedEntry: (queued_ts, order_key, pos, ticket); AheadEntry: (rank, order_key, number, pos,
# ticket). ``pos`` is unique, so a comparison never reaches the ticket.
DispatchEntry = tuple
QueuedEntry = tuple
AheadEntry = tuple


@dataclass(slots=True)
class _Entry:
    service: str
    queue: str
    dispatch: DispatchEntry
    queued: QueuedEntry
    ahead: AheadEntry


def _place(entry: DispatchEntry) -> int:
    return entry[3]


def _remove(entries: list, entry: tuple) -> None:
    i = bisect_left(entries, entry)
    assert entries[i] is entry, "waiting index out of step"
    del entries[i]


class WaitingIndex:
    """The waiting tickets in the orders the default dispatch and the estimates read."""

    def __init__(self, queue_of: dict[str, str]):
        self.queue_of = queue_of
        self.by_dispatch: dict[str, list[DispatchEntry]] = {s: [] for s in queue_of}
        self.by_queued: dict[str, list[QueuedEntry]] = {s: [] for s in queue_of}
        self.by_queue: dict[str, list[AheadEntry]] = {q: [] for q in queue_of.values()}
        self._entries: dict[str, _Entry] = {}
        self.next_pos = 0

    def __contains__(self, ticket_id: str) -> bool:
        return ticket_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def pos(self, ticket_id: str) -> int:
        return self._entries[ticket_id].dispatch[3]

    def add(self, ticket: Ticket, pos: int | None = None) -> None:
        """A ticket joins its service's queue (at the end of ``Hall.waiting``'s dict)."""
        if pos is None:
            pos = self.next_pos
            self.next_pos += 1
        queued = ticket.queued_at.timestamp()
        entry = _Entry(
            service=ticket.service,
            queue=self.queue_of[ticket.service],
            dispatch=(ticket.rank, ticket.order_key, queued, pos, ticket),
            queued=(queued, ticket.order_key, pos, ticket),
            # The number's digits, as people_ahead compares them (prefixes are one letter).
            ahead=(ticket.rank, ticket.order_key, int(ticket.number[1:]), pos, ticket),
        )
        self._entries[ticket.id] = entry
        insort(self.by_dispatch[entry.service], entry.dispatch)
        insort(self.by_queued[entry.service], entry.queued)
        insort(self.by_queue[entry.queue], entry.ahead)

    def remove(self, ticket_id: str) -> None:
        entry = self._entries.pop(ticket_id, None)
        if entry is None:
            return
        _remove(self.by_dispatch[entry.service], entry.dispatch)
        _remove(self.by_queued[entry.service], entry.queued)
        _remove(self.by_queue[entry.queue], entry.ahead)

    def rekey(self, ticket: Ticket) -> None:
        """A waiting ticket's rank or order key changed: same place in the dict, new keys."""
        if ticket.id in self._entries:
            pos = self.pos(ticket.id)
            self.remove(ticket.id)
            self.add(ticket, pos)

    def clear(self) -> None:
        for lists in (self.by_dispatch, self.by_queued, self.by_queue):
            for entries in lists.values():
                entries.clear()
        self._entries.clear()

    # --- reading ---------------------------------------------------------------------------

    def skilled(self, counter: Counter) -> list[tuple[str, int]]:
        by_dispatch = self.by_dispatch
        return [(s, tier) for s, tier in counter.skills.items() if by_dispatch.get(s)]

    def heads(self, service: str) -> tuple[DispatchEntry, QueuedEntry] | None:
        """The service's first entry in dispatch order and its longest queued, or None."""
        first = self.by_dispatch.get(service)
        if not first:
            return None
        return first[0], self.by_queued[service][0]

    def candidates(self, counter: Counter) -> list[Ticket]:
        """Every ticket waiting for the counter's skills, by skill and then by place (the
        order of ``Hall.waiting``'s dicts): for a policy that reads no heads."""
        return [
            entry[4]
            for service in counter.skills
            for entry in sorted(self.by_dispatch.get(service, ()), key=_place)
        ]

    def count_before(self, service: str, rank: int, order_key: float) -> int:
        """Waiting tickets of ``service`` strictly before (rank, order_key)."""
        return bisect_left(self.by_dispatch[service], (rank, order_key))

    def ahead_in_queue(self, queue: str, rank: int, order_key: float, number: int | None) -> int:
        """Waiting tickets of ``queue`` before (rank, order_key) in the screens' order; at the
        same (rank, order_key) those with a lower number, or all of them when ``number`` is
        None (a ticket about to be issued comes after everyone of its instant)."""
        entries = self.by_queue[queue]
        if number is None:
            return bisect_right(entries, (rank, order_key, math.inf))
        return bisect_left(entries, (rank, order_key, number))

    def within(self, limit: int) -> Iterable[Ticket]:
        """The waiting tickets with at most ``limit`` people ahead in their queue (a prefix of
        each queue's order: the count never falls along it)."""
        for queue, entries in self.by_queue.items():
            for rank, order_key, number, _pos, ticket in entries:
                if self.ahead_in_queue(queue, rank, order_key, number) > limit:
                    break
                yield ticket

    def replay(self, extra: Iterable[Ticket]) -> ReplayQueues:
        return ReplayQueues(self, extra)


# Ends each list of a replay, so that walking past taken entries needs no bounds check.
_END_DISPATCH = (math.inf, math.inf, math.inf, -1, None)
_END_QUEUED = (math.inf, math.inf, -1, None)


class ReplayQueues:
    """The waiting tickets, plus ``extra`` tickets (probes) at the end of their services'
    queues, from which a replay of the dispatch takes tickets one by one: taken entries are
    skipped, never removed. A replay makes about as many picks as there are tickets, so a pick
    must cost a few dict lookups, whatever the queue's length."""

    def __init__(self, index: WaitingIndex, extra: Iterable[Ticket]):
        self._index = index
        extra_dispatch: dict[str, list[DispatchEntry]] = {}
        extra_queued: dict[str, list[QueuedEntry]] = {}
        self._pos: dict[str, int] = {}
        pos = index.next_pos
        for ticket in extra:
            queued = ticket.queued_at.timestamp()
            dispatch_entry = (ticket.rank, ticket.order_key, queued, pos, ticket)
            extra_dispatch.setdefault(ticket.service, []).append(dispatch_entry)
            extra_queued.setdefault(ticket.service, []).append(
                (queued, ticket.order_key, pos, ticket)
            )
            self._pos[ticket.id] = pos
            pos += 1
        # Per service with anyone in it: [dispatch order, queued order, head of each].
        self._state: dict[str, list] = {}
        for service, entries in index.by_dispatch.items():
            if entries or service in extra_dispatch:
                first = entries + extra_dispatch.get(service, [])
                oldest = index.by_queued[service] + extra_queued.get(service, [])
                if service in extra_dispatch:
                    first.sort()
                    oldest.sort()
                first.append(_END_DISPATCH)
                oldest.append(_END_QUEUED)
                self._state[service] = [first, oldest, 0, 0]
        self._taken: set[int] = set()
        self._skilled: dict[int, list[tuple[str, int]]] = {}
        self._joined: dict[str, list[DispatchEntry]] = {}  # candidates', sorted once

    def skilled(self, counter: Counter) -> list[tuple[str, int]]:
        # Services only empty out during a replay: the list of the first call stays good.
        skilled = self._skilled.get(counter.id)
        if skilled is None:
            state = self._state
            skilled = [(s, tier) for s, tier in counter.skills.items() if s in state]
            self._skilled[counter.id] = skilled
        return skilled

    def heads(self, service: str) -> tuple[DispatchEntry, QueuedEntry] | None:
        state = self._state.get(service)
        if state is None:
            return None
        first, oldest, i, j = state
        taken = self._taken
        while first[i][3] in taken:
            i += 1
        if first[i] is _END_DISPATCH:
            del self._state[service]
            return None
        while oldest[j][2] in taken:  # as many untaken as in ``first``: one is left
            j += 1
        state[2] = i
        state[3] = j
        return first[i], oldest[j]

    def candidates(self, counter: Counter) -> list[Ticket]:
        """Every untaken ticket of the counter's skills, by skill and then by place (the
        probes last, as they were given)."""
        taken = self._taken
        found: list[Ticket] = []
        for service in counter.skills:
            joined = self._joined.get(service)
            if joined is None:
                state = self._state.get(service)
                if state is None:
                    continue
                joined = sorted(state[0][:-1], key=_place)
                self._joined[service] = joined
            found += [entry[4] for entry in joined if entry[3] not in taken]
        return found

    def take(self, ticket: Ticket) -> None:
        pos = self._pos.get(ticket.id)
        self._taken.add(pos if pos is not None else self._index.pos(ticket.id))


class Arrivals:
    """Today's tickets filed by their class's rank in arrival order, for the estimate's
    newcomers of better classes (``Estimator.overtaking``): the last hour of a class is a bisection
    away. Kept as plain lists of floats and ints, which the garbage collector does not track:
    a restart files a whole day at once."""

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []  # in the hall's own order (Hall.tickets)
        self._place: dict[str, int] = {}
        self._rank: dict[str, int | None] = {}
        self._times: dict[int, list[float]] = {}  # per rank, ascending
        self._places: dict[int, list[int]] = {}  # beside them; ascending within one time

    def clear(self) -> None:
        for store in (self.tickets, self._place, self._rank, self._times, self._places):
            store.clear()

    def add(self, ticket: Ticket, rank: int | None) -> None:
        """A new ticket of today (in the hall's order); ``rank`` None: not filed."""
        self._place[ticket.id] = len(self.tickets)
        self.tickets.append(ticket)
        self._file(ticket, rank)

    def bulk(self, tickets: Iterable[Ticket], rank_of) -> None:
        """``add`` for many tickets at once (a restart), sorted once at the end."""
        for ticket in tickets:
            place = len(self.tickets)
            self._place[ticket.id] = place
            self.tickets.append(ticket)
            rank = rank_of(ticket)
            self._rank[ticket.id] = rank
            if rank is not None:
                self._places.setdefault(rank, []).append(place)
        times = [t.arrival.timestamp() for t in self.tickets]
        for rank, places in self._places.items():
            places.sort(key=times.__getitem__)  # stable: places ascending within one time
            self._times[rank] = [times[p] for p in places]

    def refile(self, ticket: Ticket, rank: int | None) -> None:
        """The ticket's class changed."""
        old = self._rank[ticket.id]
        if old is not None:
            times, places = self._times[old], self._places[old]
            i = self._slot(times, places, ticket) - 1
            del times[i], places[i]
        self._file(ticket, rank)

    def _slot(self, times: list[float], places: list[int], ticket: Ticket) -> int:
        """Where the ticket goes (just after it, if it is there)."""
        at = ticket.arrival.timestamp()
        lo, hi = bisect_left(times, at), bisect_right(times, at)
        return lo + bisect_right(places[lo:hi], self._place[ticket.id])

    def _file(self, ticket: Ticket, rank: int | None) -> None:
        self._rank[ticket.id] = rank
        if rank is None:
            return
        times = self._times.setdefault(rank, [])
        places = self._places.setdefault(rank, [])
        i = self._slot(times, places, ticket)
        times.insert(i, ticket.arrival.timestamp())
        places.insert(i, self._place[ticket.id])

    def window(self, below: int, since: float, until: float) -> list[Ticket]:
        """The tickets of the classes ranked before ``below`` that arrived within
        [since, until], in the hall's order."""
        found: list[int] = []
        for rank, times in self._times.items():
            if rank < below:
                lo = bisect_left(times, since)
                found += self._places[rank][lo : bisect_right(times, until, lo)]
        found.sort()
        return [self.tickets[p] for p in found]
