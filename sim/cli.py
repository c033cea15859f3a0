"""``python main.py simulate``: whole hall days through the real engine on a simulated clock.

    python main.py simulate [--config HALL.toml] [--day PROFILE] [--days N] [--seed S]
                            [--policy default|longest_wait|dedicated|all] [--advise] [--plots DIR]

Without ``--config`` the example street hall of ``main.py init`` is simulated; ``--day`` names a
profile file or a shipped profile (``chaoyang_street``). Prints Markdown tables; ``--plots``
writes PNGs. Policies, on the very same residents (common random numbers):

- ``default``: the hall's dispatcher (``DefaultPolicy``: starvation bound, tiers, classes);
- ``longest_wait``: the queueing literature's baseline, the longest-waiting eligible ticket;
- ``dedicated``: each queue (bureau) at windows of its own, as many as balance the expected
  work (a re-skilled copy of the hall, ``halls.dedicated``), default dispatch: what the hall
  would be without comprehensive windows.

``--advise`` tries every single (window, service) skill the hall lacks, added as a back-up, and
reports the five that cut the mean wait most.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from queue_server.config import HallConfig, load_hall_config
from queue_server.engine.dispatch import DefaultPolicy, DispatchPolicy, LongestWaitPolicy
from queue_server.errors import ConfigError
from sim import halls
from sim.profile import Resolved, load_profile, resolve
from sim.report import (
    Summary,
    markdown,
    paired_difference,
    plot_load_per_counter,
    plot_waits_by_hour,
    summarise,
)
from sim.runner import simulate

POLICY_NAMES = ("default", "longest_wait", "dedicated")


def expected_load(resolved: Resolved) -> dict[str, float]:
    """Expected window-minutes a day per service: tickets a day × mean service time."""
    total = sum(s.weight for s in resolved.services)
    per_day = resolved.profile.arrivals.per_day
    return {
        s.id: (per_day * s.weight / total + s.appointments_per_day) * s.mean_s / 60
        for s in resolved.services
    }


def policy_setup(
    name: str, config: HallConfig, resolved: Resolved
) -> tuple[HallConfig, DispatchPolicy]:
    """The hall and dispatch policy a policy name stands for."""
    bound = config.rules.starvation_minutes * 60
    if name == "default":
        return config, DefaultPolicy(bound)
    if name == "longest_wait":
        return config, LongestWaitPolicy()
    if name == "dedicated":
        return halls.dedicated(config, expected_load(resolved)), DefaultPolicy(bound)
    raise ValueError(f"unknown policy {name!r}")


def run_policy(
    config: HallConfig, resolved: Resolved, policy: str, days: int, seed: int
) -> Summary:
    hall, dispatcher = policy_setup(policy, config, resolved)
    results = simulate(hall, resolved, days=days, seed=seed, policy=dispatcher)
    return summarise(results, starvation_minutes=config.rules.starvation_minutes)


@dataclass(frozen=True)
class Advice:
    counter: int
    service: str
    mean: float  # the hall's mean wait with the skill added (minutes)
    cut: float  # minutes saved against the hall as it is (positive = better)
    ci: float  # 95 % half-width of the paired difference
    p90: float
    spread: float


def _advice_run(args) -> tuple[int, str, Summary]:
    config, resolved, policy, days, seed, counter, service = args
    trial = halls.with_skill(config, counter, service)
    return counter, service, run_policy(trial, resolved, policy, days, seed)


def candidate_skills(config: HallConfig) -> list[tuple[int, str]]:
    tiers = halls.skill_tiers(config)
    return [(c, s) for c in sorted(tiers) for s in config.service_ids() if s not in tiers[c]]


def advise(
    config: HallConfig,
    resolved: Resolved,
    *,
    days: int,
    seed: int,
    policy: str = "default",
    jobs: int = 1,
    top: int = 5,
) -> tuple[Summary, list[Advice]]:
    """Try each missing (window, service) skill on the same residents; the ``top`` best."""
    base = run_policy(config, resolved, policy, days, seed)
    work = [(config, resolved, policy, days, seed, c, s) for c, s in candidate_skills(config)]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_advice_run, work, chunksize=2))
    else:
        results = [_advice_run(w) for w in work]
    advice = []
    for counter, service, s in results:
        diff, ci = paired_difference(s, base)
        advice.append(Advice(counter, service, s.overall.mean, -diff, ci, s.overall.p90, s.spread))
    advice.sort(key=lambda a: (-a.cut, a.counter, a.service))
    return base, advice[:top]


def advice_markdown(base: Summary, advice: list[Advice], names: dict[str, str]) -> str:
    lines = [
        f"Hall as configured: mean wait {base.overall.mean:.2f} min, p90 "
        f"{base.overall.p90:.1f} min, utilisation spread {base.spread:.1f} points.",
        "",
        "| add skill (back-up tier) | mean wait | cut (95 % CI) | p90 | spread |",
        "|---|---:|---:|---:|---:|",
    ]
    for a in advice:
        lines.append(
            f"| window {a.counter} + {names.get(a.service, a.service)} | {a.mean:.2f} | "
            f"{a.cut:.2f} ± {a.ci:.2f} | {a.p90:.1f} | {a.spread:.1f} |"
        )
    return "\n".join(lines) + "\n"


def comparison_markdown(summaries: dict[str, Summary]) -> str:
    base = summaries.get("default")
    lines = [
        "| policy | mean wait | 95 % CI | p90 | p99 | worst service / hall mean | "
        "utilisation spread | overtime (min/day) | vs default (paired) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summaries.items():
        worst = max(w.mean for w in s.by_service.values()) / s.overall.mean
        if base is not None and s is not base:
            diff, ci = paired_difference(s, base)
            versus = f"{diff:+.2f} ± {ci:.2f}"
        else:
            versus = "—"
        lines.append(
            f"| {name} | {s.overall.mean:.2f} | ± {s.mean_ci:.2f} | {s.overall.p90:.1f} | "
            f"{s.overall.p99:.1f} | {worst:.2f} | {s.spread:.1f} | {s.overtime_mean_min:.1f} | "
            f"{versus} |"
        )
    return "\n".join(lines) + "\n"


def service_names(config: HallConfig) -> dict[str, str]:
    return {s.id: f"{s.name_zh or s.id} ({s.id})" for s in config.service_settings().values()}


# --- command line ------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="hall configuration (default: the example street hall)"
    )
    parser.add_argument(
        "--day",
        default="chaoyang_street",
        help="day profile: a TOML file or a shipped profile's name (default chaoyang_street)",
    )
    parser.add_argument("--days", type=int, default=50, help="hall days to simulate (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--policy",
        choices=(*POLICY_NAMES, "all"),
        default="default",
        help="dispatch policy, or all three on the same residents (default: default)",
    )
    parser.add_argument(
        "--advise",
        action="store_true",
        help="try each single added (window, service) skill; report the five best",
    )
    parser.add_argument("--plots", type=Path, help="write PNG plots into this folder")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for --policy all and --advise (default: one per CPU)",
    )


def load(args: argparse.Namespace) -> tuple[HallConfig, Resolved]:
    config = load_hall_config(args.config) if args.config else halls.example_hall()
    profile = load_profile(args.day)
    if not profile.respect_quotas:
        config = halls.without_quotas(config)
    return config, resolve(profile, config)


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("simulate: --days must be at least 1", file=sys.stderr)
        return 2
    try:
        config, resolved = load(args)
    except ConfigError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    names = service_names(config)
    policies = list(POLICY_NAMES) if args.policy == "all" else [args.policy]
    started = time.perf_counter()
    work = [(config, resolved, p, args.days, args.seed) for p in policies]
    if len(work) > 1 and args.jobs > 1:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(work))) as pool:
            results = pool.map(run_policy, *zip(*work, strict=True))
            summaries = dict(zip(policies, results, strict=True))
    else:
        summaries = {p: run_policy(*w) for p, w in zip(policies, work, strict=True)}
    elapsed = time.perf_counter() - started
    print(f"# Simulation: {resolved.profile.name} on hall {config.hall.id}, seed {args.seed}\n")
    if len(summaries) > 1:
        print("## Policies on the same residents (minutes)\n")
        print(comparison_markdown(summaries))
    for name, summary in summaries.items():
        print(f"## Policy: {name}\n")
        print(markdown(summary, names=names))
    days_run = args.days * len(summaries)
    print(
        f"_{days_run} hall days in {elapsed:.1f} s "
        f"({days_run / elapsed * 60:,.0f} days a minute, {len(summaries)} run(s) over "
        f"{min(args.jobs, len(summaries))} process(es))._\n"
    )
    if args.advise:
        policy = policies[0]
        started = time.perf_counter()
        base, best = advise(
            config, resolved, days=args.days, seed=args.seed, policy=policy, jobs=args.jobs
        )
        elapsed = time.perf_counter() - started
        print(f"## Advice: the five added skills that cut the mean wait most ({policy})\n")
        print(advice_markdown(base, best, names))
        print(f"_{len(candidate_skills(config))} candidate skills in {elapsed:.1f} s._\n")
    if args.plots:
        args.plots.mkdir(parents=True, exist_ok=True)
        for path in (
            plot_waits_by_hour(summaries, args.plots / "waits_by_hour.png"),
            plot_load_per_counter(summaries, args.plots / "load_per_window.png"),
        ):
            print(f"wrote {path}")
    return 0
