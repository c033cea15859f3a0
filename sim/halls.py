"""Hall configurations the simulator derives: the example hall, no quotas, dedicated windows,
one added skill.

Each takes a validated ``HallConfig`` and returns a new one; the engine then runs it unchanged.
"""

from __future__ import annotations

import itertools
import math
import tomllib

from queue_server.config import CounterKind, HallConfig, apply_catalog, parse_config
from queue_server.example_config import TEMPLATE


def example_hall(catalog=None) -> HallConfig:
    """The example street hall of ``main.py init``, without staff or devices (the simulator
    logs nobody in), checked against the catalog like a running hall. Also without its
    housing-progress enquiry: the day profile has no figure for it, and it is a rare, short
    visit that changes nothing measurable."""
    text = TEMPLATE.format(enquiry="", staff="", devices="", secret="simulation-only-" + "x" * 32)
    if catalog is None:
        from content import default_catalog

        catalog = default_catalog()
    return apply_catalog(parse_config(tomllib.loads(text), source="example hall"), catalog)


def without_quotas(config: HallConfig) -> HallConfig:
    """The same hall with no daily quota: a quota would cut off the very demand under study."""
    services = [
        s.model_copy(update={"daily_quota": None}) for s in config.service_settings().values()
    ]
    return config.model_copy(update={"services": services})


def skill_tiers(config: HallConfig) -> dict[int, dict[str, int]]:
    """{counter: {service: tier}} with queue letters resolved."""
    return {c.id: config.expand_skills(c.skills)[0] for c in config.counters}


def with_tiers(config: HallConfig, tiers: dict[int, list[list[str]]]) -> HallConfig:
    counters = [c.model_copy(update={"skills": tiers[c.id]}) for c in config.counters]
    return config.model_copy(update={"counters": counters})


def dedicated(config: HallConfig, load: dict[str, float]) -> HallConfig:
    """Dedicated windows (专窗), the opposite of the comprehensive window: each queue (the hall's
    bureau or group of bureaus, one ticket letter) on windows of its own.

    Every service of a queue is served at the same window(s), and a window serves one queue
    only, unless the hall has more queues than windows. How many windows each queue gets (or,
    with more queues than windows, which queues share one) is chosen by the queues' expected
    work (``load`` = expected busy minutes a day per service) to leave the least spread of
    expected work among the windows (``dedicate``): the most balanced dedicated hall, so the
    comparison is not won by a careless assignment. Windows are taken as interchangeable: a
    dedicated window is staffed by its bureau, whatever the comprehensive hall taught its staff.
    Queues get windows in the configuration's order, a queue's windows next to each other.
    """
    work = {q.prefix: sum(load.get(s, 0.0) for s in q.services) for q in config.queues}
    groups = dedicate(work, len(config.counters))
    counters = [
        c.model_copy(update={"skills": [list(group)], "kind": CounterKind.DEDICATED})
        for c, group in zip(sorted(config.counters, key=lambda c: c.id), groups, strict=True)
    ]
    return config.model_copy(update={"counters": counters})


def dedicate(work: dict[str, float], windows: int) -> list[tuple[str, ...]]:
    """The queues each of ``windows`` windows serves, given each queue's expected work.

    Chosen to minimise the spread of expected work per window (the busiest window's minus the
    idlest's), then the busiest window's work; a queue on k windows gives each a k-th of its
    work (they share its line). Exact in both cases:

    - queues ≤ windows: every queue gets k ≥ 1 windows of its own (``_share_windows``);
    - more queues than windows: every window gets a group of whole queues (``_group_queues``).
    """
    if windows < 1 or not work:
        raise ValueError("dedicated windows need at least one window and one queue")
    if len(work) <= windows:
        shares = _share_windows(work, windows)
        return [(q,) for q in work for _ in range(shares[q])]
    return _group_queues(work, windows)


def _balance(loads: list[float]) -> tuple[float, float]:
    """The order of merit: least spread, then least work at the busiest window. Rounded so that
    float noise does not decide between equal assignments."""
    return round(max(loads) - min(loads), 6), round(max(loads), 6)


def _share_windows(work: dict[str, float], windows: int) -> dict[str, int]:
    """Windows per queue, k_q ≥ 1 summing to ``windows``, of the least spread of work / k.

    The idlest window of the best assignment carries work[q] / k for some queue q and some k:
    try each such value m as a floor. Given m, a queue may have at most floor(work / m)
    windows (none of its windows below m); among assignments within those caps, handing the
    spare windows one by one to the queue whose windows are busiest minimises the busiest
    window (the classical greedy for a min-max allocation of a decreasing cost). The best
    assignment is the greedy one for its own floor, or one as good: so the best over all
    floors is exact, at (queues × windows) greedy runs instead of every composition.
    """
    queues = list(work)
    spare = windows - len(queues)
    best: tuple[tuple[float, float], dict[str, int]] | None = None
    floors = sorted({work[q] / k for q in queues for k in range(1, spare + 2)})
    for floor in floors:
        # A queue's windows must all carry at least the floor (a tolerance for float division).
        caps = {
            q: windows if floor <= 0 else min(windows, math.floor(work[q] / floor * (1 + 1e-9)))
            for q in queues
        }
        if min(caps.values()) < 1 or sum(caps.values()) < windows:
            continue
        shares = dict.fromkeys(queues, 1)
        for _ in range(spare):
            busiest = max(
                (q for q in queues if shares[q] < caps[q]), key=lambda q: work[q] / shares[q]
            )
            shares[busiest] += 1
        merit = _balance([work[q] / shares[q] for q in queues])
        if best is None or merit < best[0]:
            best = (merit, shares)
    assert best is not None  # the least floor (the idlest queue alone) is always feasible
    return best[1]


# More queues than windows: every grouping is tried while there are at most this many.
EXACT_GROUPINGS = 50_000


def _group_queues(work: dict[str, float], windows: int) -> list[tuple[str, ...]]:
    """More queues than windows: whole queues grouped on windows, every window serving some.

    Every grouping is tried (heaviest queues first, a queue opening only the next empty
    window: each grouping once) while there are at most ``EXACT_GROUPINGS`` of them, some
    tens of thousands, which covers halls of up to ten queues; beyond that, the longest
    processing time rule (heaviest queue to the least-loaded window) then single moves and
    swaps of queues between windows while they improve the balance.
    """
    order = sorted(work, key=lambda q: (-work[q], q))
    if _stirling2(len(order), windows) <= EXACT_GROUPINGS:
        groups = _best_grouping(order, work, windows)
    else:
        groups = _improve(_longest_first(order, work, windows), work)
    rank = {q: i for i, q in enumerate(work)}  # the configuration's order, for the window numbers
    ordered = sorted((sorted(g, key=rank.get) for g in groups), key=lambda g: rank[g[0]])
    return [tuple(g) for g in ordered]


def _stirling2(n: int, k: int) -> int:
    """Ways to split n labelled queues into k non-empty groups (Stirling numbers, 2nd kind)."""
    row = [1] + [0] * k  # row[j]: ways for the queues so far into j groups
    for _ in range(n):
        row = [0] + [j * row[j] + row[j - 1] for j in range(1, k + 1)]
    return row[k]


def _best_grouping(order: list[str], work: dict[str, float], windows: int) -> list[list[str]]:
    best: tuple[tuple[float, float], list[list[str]]] | None = None
    groups: list[list[str]] = []
    loads: list[float] = []

    def place(i: int) -> None:
        nonlocal best
        if len(order) - i < windows - len(groups):
            return  # too few queues left to give every window one
        if i == len(order):
            merit = _balance(loads)
            if best is None or merit < best[0]:
                best = (merit, [list(g) for g in groups])
            return
        queue = order[i]
        for g in range(len(groups)):
            groups[g].append(queue)
            loads[g] += work[queue]
            place(i + 1)
            loads[g] -= work[queue]
            groups[g].pop()
        if len(groups) < windows:
            groups.append([queue])
            loads.append(work[queue])
            place(i + 1)
            loads.pop()
            groups.pop()

    place(0)
    assert best is not None
    return best[1]


def _longest_first(order: list[str], work: dict[str, float], windows: int) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(windows)]
    for queue in order:
        idlest = min(range(windows), key=lambda g: sum(work[q] for q in groups[g]))
        groups[idlest].append(queue)
    return groups


def _improve(groups: list[list[str]], work: dict[str, float]) -> list[list[str]]:
    def merit(gs: list[list[str]]) -> tuple[float, float]:
        return _balance([sum(work[q] for q in g) for g in gs])

    current = merit(groups)
    improved = True
    while improved:
        improved = False
        for a, b in itertools.permutations(range(len(groups)), 2):
            moves = [([q], []) for q in groups[a] if len(groups[a]) > 1]
            moves += [([q], [r]) for q in groups[a] for r in groups[b]]
            for out, back in moves:
                trial = [list(g) for g in groups]
                for q in out:
                    trial[a].remove(q)
                    trial[b].append(q)
                for r in back:
                    trial[b].remove(r)
                    trial[a].append(r)
                if merit(trial) < current:
                    groups, current, improved = trial, merit(trial), True
                    break
            if improved:
                break
    return groups


def with_skill(config: HallConfig, counter: int, service: str) -> HallConfig:
    """``counter`` also serves ``service``, as a back-up skill: added to its last tier when it
    has back-up tiers, else as a new back-up tier."""
    tiers: dict[int, list[list[str]]] = {}
    for c in config.counters:
        skills = [list(t) for t in config.expand_skills(c.skills)[1]]
        if c.id == counter:
            if len(skills) > 1:
                skills[-1].append(service)
            else:
                skills.append([service])
        tiers[c.id] = skills
    return with_tiers(config, tiers)
