"""Helpers for the simulation tests and benchmark: a fully skilled M/M/c hall and Erlang C."""

from __future__ import annotations

import math

from queue_server.config import HallConfig, parse_config
from sim.profile import Profile, parse_profile

SERVICE = "liuguan.residence_registration"
OPEN_HOURS = 21  # tickets 00:00-21:00; the windows then finish the queue before midnight


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue W_q of M/M/c (Erlang C): C(c, A) / (c mu - lam)."""
    a = lam / mu
    if a >= c:
        raise ValueError("unstable: offered load >= windows")
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def pooled_hall(windows: int, service_minutes: float) -> HallConfig:
    """One queue, one service, every window fully skilled, open every day around the clock."""
    return parse_config(
        {
            "hall": {"id": "mmc", "name_zh": "M/M/c"},
            "hours": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "open": "00:00:00",
                "last_ticket": f"{OPEN_HOURS:02d}:00:00",
                "close": "23:00:00",
            },
            "priority_classes": [
                {"name": "normal", "rank": 0, "label_zh": "普通", "label_en": "N"}
            ],
            "appointments": {"priority": "normal"},
            "queues": [{"prefix": "A", "name_zh": "综合", "services": [SERVICE]}],
            "services": [{"id": SERVICE, "service_minutes": service_minutes}],
            "counters": [{"id": i + 1, "skills": [["A"]]} for i in range(windows)],
            "security": {"resident_key_secret": "test-only-" + "x" * 32},
        }
    )


def poisson_profile(per_minute: float, *, warmup_minutes: float) -> Profile:
    """Poisson arrivals at a constant rate over the ticket hours, exponential service, residents
    who walk up at once and never miss a call: the M/M/c assumptions."""
    return parse_profile(
        {
            "name": "mmc",
            "arrivals": {
                "per_day": per_minute * 60 * OPEN_HOURS,
                "hourly": {str(h): 1 for h in range(OPEN_HOURS)},
                "warmup_minutes": warmup_minutes,
            },
            "service_time": {"dist": "exponential"},
            "services": {SERVICE: {"weight": 1}},
            "behaviour": {"walk_seconds": [0, 0]},
        }
    )
