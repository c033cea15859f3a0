"""Hall configurations the simulator derives: the example hall, no quotas, dedicated windows,
one added skill.

Each takes a validated ``HallConfig`` and returns a new one; the engine then runs it unchanged.
"""

from __future__ import annotations

import tomllib

from queue_server.config import HallConfig, apply_catalog, parse_config
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
    """Each service to exactly one window (专窗): the opposite of the comprehensive window.

    Services are placed heaviest first (``load`` = expected busy minutes a day), each on the
    least-loaded window already skilled for it in any tier: the most balanced dedicated hall
    the hall's own skills allow, so the comparison is not lost by a careless assignment.
    """
    tiers = skill_tiers(config)
    assigned: dict[int, list[str]] = {c.id: [] for c in config.counters}
    work = {c.id: 0.0 for c in config.counters}
    for service in sorted(config.service_ids(), key=lambda s: (-load.get(s, 0.0), s)):
        options = [c for c, t in tiers.items() if service in t]
        chosen = min(options, key=lambda c: (work[c], tiers[c][service], c))
        assigned[chosen].append(service)
        work[chosen] += load.get(service, 0.0)
    return with_tiers(config, {c: [services] for c, services in assigned.items()})


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
