"""The hall simulation (issue 10): the real engine on a simulated clock.

Exact properties are tested here (queueing theory where it is exact, conservation of residents,
common random numbers, the anti-starvation rule, the derived halls, the command line); the
statistical targets on the shipped profile are in bench/bench_simulation.py, and the ones that
hold comfortably for the fixed seed are checked below too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest

from harness.queueing import erlang_c_wait, poisson_profile, pooled_hall
from main import main
from queue_server.config import HallConfig
from queue_server.engine.dispatch import DefaultPolicy, LongestWaitPolicy
from queue_server.errors import ConfigError
from sim import halls
from sim.cli import advise, candidate_skills, expected_load, run_policy
from sim.profile import load_profile, parse_profile, resolve
from sim.report import paired_difference, summarise
from sim.runner import day_rng, draw_day, simulate

# --- queueing theory ---------------------------------------------------------------------------


def test_fully_skilled_hall_matches_erlang_c():
    """Every window fully skilled, Poisson arrivals, exponential service: M/M/c.

    Two windows at utilisation 0.5 with 2-minute services: W_q = 40 s and P(wait) = 1/3 by
    Erlang C. 300 days of 21 hours (about 180,000 residents after a one-hour warm-up each day)
    give a 95 % confidence interval of about ±4 % for the mean (days are independent
    replications): the 5 % tolerance is some 2.5 standard errors, the interval is asserted
    too, so a pass is not luck. Utilisation 0.5 is where the estimator's variance per resident
    is lowest for two windows; heavier loads need many more days for the same precision.
    """
    windows, service_min, rho = 2, 2.0, 0.5
    lam = rho * windows / service_min  # per minute
    config = pooled_hall(windows, service_min)
    resolved = resolve(poisson_profile(lam, warmup_minutes=60), config)
    days = simulate(config, resolved, days=300, seed=1)
    summary = summarise(days, starvation_minutes=config.rules.starvation_minutes)
    theory = erlang_c_wait(lam, 1 / service_min, windows)
    assert theory == pytest.approx(2 / 3)  # minutes: C(2, 1) = 1/3, / (2 mu - lam) = 2 min
    assert summary.mean_ci < 0.045 * theory, "too few days for a sound 5 % test"
    assert summary.overall.mean == pytest.approx(theory, rel=0.05)
    waits = [t.wait_s for d in days for t in d.tickets if t.counted]
    p_wait = sum(1 for w in waits if w > 0) / len(waits)
    assert p_wait == pytest.approx(1 / 3, abs=0.01)  # binomial-like: far tighter than the mean
    assert summary.starvation_overtakes == 0 and summary.unserved_per_day == 0


def test_erlang_c_helper_matches_the_reference_table():
    # Erlang C: 8 pooled windows at rho 0.8, S = 10 min: W_q = 2.86 min.
    assert erlang_c_wait(6.4 / 10, 1 / 10, 8) == pytest.approx(2.86, abs=0.01)
    assert erlang_c_wait(0.08, 0.1, 1) == pytest.approx(40.0)  # M/M/1: rho / (mu - lam)
    with pytest.raises(ValueError):
        erlang_c_wait(1.0, 0.1, 8)


# --- the shipped profile on the example hall -----------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> tuple[HallConfig, object]:
    config = halls.without_quotas(halls.example_hall())
    return config, resolve(load_profile("chaoyang_street"), config)


def test_shipped_profile_covers_the_example_hall(shipped):
    config, resolved = shipped
    assert {s.id for s in resolved.services} == set(config.service_ids())
    from content import default_catalog

    catalog = default_catalog()
    total = sum(s.weight for s in resolved.services)
    instant = sum(s.weight for s in resolved.services if catalog.service(s.id).instant)
    assert 0.28 <= instant / total <= 0.38  # "instant share about a third"
    shares = dict(resolved.priority)
    assert shares["elderly"] == 0.25 and shares["normal"] == pytest.approx(0.715)
    # Instant services are the short ones; case intake the long ones.
    means = {s.id: s.mean_s / 60 for s in resolved.services}
    assert max(means[s.id] for s in resolved.services if catalog.service(s.id).instant) <= 8
    assert means["minzheng.subsistence_allowance"] == 20


def test_days_are_the_same_residents_whatever_the_policy(shipped):
    config, resolved = shipped
    day = dt.date(2026, 3, 3)
    first = draw_day(resolved, config, day, day_rng(7, 1))
    again = draw_day(resolved, config, day, day_rng(7, 1))
    assert first == again and len(first) > 100
    assert draw_day(resolved, config, day, day_rng(7, 2)) != first

    def issued(policy, hall):
        days = simulate(hall, resolved, days=2, seed=7, policy=policy)
        return [(t.service, t.priority, t.issued_ts) for d in days for t in d.tickets]

    default = issued(DefaultPolicy(1800), config)
    assert default == issued(LongestWaitPolicy(), config)
    assert default == issued(DefaultPolicy(1800), halls.dedicated(config, expected_load(resolved)))


def test_every_ticket_is_served_or_skipped_and_windows_are_never_double_booked(shipped):
    config, resolved = shipped
    for day in simulate(config, resolved, days=3, seed=3):
        called = [t for t in day.tickets if t.wait_s is not None]
        assert len(called) == len(day.tickets) > 150  # everyone who took a ticket was called
        skipped_for_good = day.no_shows - day.requeued
        assert day.served + skipped_for_good == len(day.tickets)
        assert day.unserved == 0
        for counter, busy in day.busy_s.items():
            assert 0 < busy <= day.shift_s[counter]
        assert day.checked_in + day.appointment_late <= day.booked


@pytest.fixture(scope="module")
def compared(shipped):
    config, resolved = shipped
    return {p: run_policy(config, resolved, p, 30, 1) for p in ("default", "longest_wait")}


def test_priority_classes_go_first_without_breaking_the_starvation_bound(compared):
    s = compared["default"]
    normal = s.by_priority["normal"].p90
    for name, waits in s.by_priority.items():
        if name != "normal":
            assert waits.p90 < normal, name
    # No call passed over a ticket waiting beyond the bound for one the bound did not put first.
    assert s.starvation_overtakes == 0


def test_default_dispatch_meets_the_hall_targets(compared):
    """Issue 10 §4 on the shipped hall, for the fixed seed (the benchmark reports the figures)."""
    default, baseline = compared["default"], compared["longest_wait"]
    diff, ci = paired_difference(default, baseline)
    assert diff <= ci  # no worse than the longest-waiting-eligible baseline
    assert max(w.mean for w in default.by_service.values()) <= 2 * default.overall.mean
    assert default.spread <= 10


def test_wait_estimate_beats_the_naive_one(compared):
    """Issue 10 §4: the estimate shown at issue is better than "people ahead × mean service
    time ÷ open windows", on the same tickets (30 days, fixed seed: the engine's MAE is about
    two thirds of the naive one's, and its bias a tenth). The target MAE ≤ 25 % of the mean
    wait is a statistical figure, with the floor no estimate can pass, in
    bench/bench_simulation.py."""
    default = compared["default"]
    est, naive = default.estimate, default.naive
    assert est.n == naive.n > 5000
    assert est.mae < 0.8 * naive.mae
    assert abs(est.bias) < 0.5 and abs(naive.bias) > 3
    # Appointment holders checking in early, before the windows open, are told the time until
    # opening and are called then (they were told "no wait").
    early = default.estimate_by_hour[8]
    assert early.n > 0 and early.mae < 0.01


# --- derived halls and advice ------------------------------------------------------------------


def queue_work(config: HallConfig, resolved) -> dict[str, float]:
    """Expected busy minutes a day per queue: its services' arrivals × mean service time."""
    load = expected_load(resolved)
    return {q.prefix: sum(load[s] for s in q.services) for q in config.queues}


def windows_of(config: HallConfig, dedicated: HallConfig) -> dict[int, set[str]]:
    """{window: the queues it serves}, checking that it serves the whole of each."""
    queue_of = config.queue_of()
    served = {}
    for counter, tiers in halls.skill_tiers(dedicated).items():
        queues = {queue_of[s] for s in tiers}
        assert set(tiers) == {s for s in queue_of if queue_of[s] in queues}, counter
        assert set(tiers.values()) == {0}
        served[counter] = queues
    return served


def work_per_window(served: dict[int, set[str]], work: dict[str, float]) -> dict[int, float]:
    """A queue on k windows gives each a k-th of its work (they share its line)."""
    windows = {q: sum(1 for qs in served.values() if q in qs) for q in work}
    return {c: sum(work[q] / windows[q] for q in qs) for c, qs in served.items()}


def with_windows(config: HallConfig, count: int) -> HallConfig:
    """The hall with its first ``count`` windows, or more: added comprehensive windows."""
    counters = sorted(config.counters, key=lambda c: c.id)[:count]
    last = counters[-1]
    while len(counters) < count:
        last = last.model_copy(update={"id": last.id + 1, "kind": "comprehensive"})
        counters.append(last)
    return config.model_copy(update={"counters": counters})


def every_share(queues: int, windows: int):
    """Every way of giving each of ``queues`` queues at least one of ``windows`` windows."""
    if queues == 1:
        yield (windows,)
        return
    for k in range(1, windows - queues + 2):
        for rest in every_share(queues - 1, windows - k):
            yield (k, *rest)


def spread_and_max(loads) -> tuple[float, float]:
    loads = list(loads)
    return round(max(loads) - min(loads), 6), round(max(loads), 6)


@pytest.mark.parametrize("count", [6, 7])
def test_dedicated_hall_gives_each_queue_windows_of_its_own(shipped, count):
    """专窗 by queue (bureau): every service of a queue at the same window(s), no window serving
    two queues, a queue's windows side by side. (The old assignment placed services one by one:
    window 1 served queues A and B, and queue C's services sat at three windows.)"""
    config, resolved = shipped
    config = with_windows(config, count)
    served = windows_of(config, halls.dedicated(config, expected_load(resolved)))
    assert sorted(served) == list(range(1, count + 1))
    assert all(len(queues) == 1 for queues in served.values())
    owners: dict[str, list[int]] = {}
    for counter, (queue,) in sorted(served.items()):
        owners.setdefault(queue, []).append(counter)
    assert sorted(owners) == ["A", "B", "C", "D", "E"]
    for windows in owners.values():
        assert windows == list(range(windows[0], windows[0] + len(windows)))


@pytest.mark.parametrize("count, spread, busiest", [(6, 237, 460), (7, 161, 384)])
def test_dedicated_hall_is_the_most_balanced_by_expected_work(shipped, count, spread, busiest):
    """The windows per queue leave the least spread of expected work (then the least at the
    busiest window) of every dedication by queue, enumerated here; "each queue its own window",
    spare windows handed round in the queues' order, is never better. On the example hall
    C (574 min a day) gets two windows, and with a seventh window D (460) too."""
    config, resolved = shipped
    config = with_windows(config, count)
    work = queue_work(config, resolved)
    served = windows_of(config, halls.dedicated(config, expected_load(resolved)))
    ours = spread_and_max(work_per_window(served, work).values())
    queues = list(work)
    best = min(
        spread_and_max(work[q] / k for q, k in zip(queues, share, strict=True))
        for share in every_share(len(queues), count)
    )
    assert ours == best
    assert ours[0] == pytest.approx(spread, abs=1) and ours[1] == pytest.approx(busiest, abs=1)
    naive = {q: 1 for q in queues}
    for extra in range(count - len(queues)):
        naive[queues[extra % len(queues)]] += 1
    assert ours <= spread_and_max(work[q] / naive[q] for q in queues)


def test_dedicated_hall_with_more_queues_than_windows_groups_whole_queues(shipped):
    """Three windows for five queues: each queue at exactly one window, every window serving,
    and the grouping of least spread of all (3^5 assignments enumerated here)."""
    config, resolved = shipped
    config = with_windows(config, 3)
    work = queue_work(config, resolved)
    served = windows_of(config, halls.dedicated(config, expected_load(resolved)))
    assert all(served.values())
    assert sorted(q for qs in served.values() for q in qs) == sorted(work)
    ours = spread_and_max(sum(work[q] for q in qs) for qs in served.values())
    best = min(
        spread_and_max(sum(work[q] for q, w in zip(work, where, strict=True) if w == g)
                       for g in range(3))
        for where in itertools.product(range(3), repeat=len(work))
        if len(set(where)) == 3
    )  # fmt: skip
    assert ours == best


def test_dedicate_is_exact_against_enumeration():
    """``halls.dedicate`` on random work, both cases, against every assignment; the heuristic
    for many queues (longest first, then moves and swaps) never does worse than its start."""
    rng = random.Random(5)
    for _ in range(60):
        queues = [chr(ord("A") + i) for i in range(rng.randint(1, 6))]
        work = {q: rng.choice([0.0, rng.uniform(10, 600)]) for q in queues}
        windows = rng.randint(1, 9)
        groups = halls.dedicate(work, windows)
        assert len(groups) == windows
        assert {q for g in groups for q in g} == set(queues) and all(groups)
        if len(queues) <= windows:
            assert all(len(g) == 1 for g in groups)
            count = {q: sum(1 for g in groups if g == (q,)) for q in queues}
            ours = spread_and_max(work[q] / count[q] for q in queues)
            best = min(
                spread_and_max(work[q] / k for q, k in zip(queues, share, strict=True))
                for share in every_share(len(queues), windows)
            )
        else:
            assert sorted(q for g in groups for q in g) == queues  # each queue once
            ours = spread_and_max(sum(work[q] for q in g) for g in groups)
            best = min(
                spread_and_max(
                    sum(work[q] for q, w in zip(queues, where, strict=True) if w == g)
                    for g in range(windows)
                )
                for where in itertools.product(range(windows), repeat=len(queues))
                if len(set(where)) == windows
            )
        assert ours == best, (work, windows, groups)
    work = {f"Q{i}": rng.uniform(10, 600) for i in range(14)}
    start = halls._longest_first(sorted(work, key=work.get, reverse=True), work, 5)
    improved = halls._improve(start, work)
    assert sorted(q for g in improved for q in g) == sorted(work) and all(improved)
    assert spread_and_max(sum(work[q] for q in g) for g in improved) <= spread_and_max(
        sum(work[q] for q in g) for g in start
    )
    assert len(halls.dedicate(work, 5)) == 5  # 14 queues on 5 windows: too many to enumerate


def test_with_skill_adds_a_back_up_skill(shipped):
    config, _ = shipped
    grown = halls.with_skill(config, 3, "laoling.senior_card")
    assert halls.skill_tiers(grown)[3]["laoling.senior_card"] == 1  # window 3: [C], [D] + it
    one_tier = halls.with_tiers(config, {c.id: [["A"]] for c in config.counters})
    grown = halls.with_skill(one_tier, 1, "liuguan.residence_permit")
    assert halls.skill_tiers(grown)[1]["liuguan.residence_permit"] == 1
    assert halls.skill_tiers(grown)[2] == halls.skill_tiers(one_tier)[2]


def test_advise_ranks_missing_skills_by_the_wait_they_save(shipped):
    config, resolved = shipped
    candidates = candidate_skills(config)
    tiers = halls.skill_tiers(config)
    assert len(candidates) == sum(len(config.service_ids()) - len(t) for t in tiers.values())
    base, best = advise(config, resolved, days=2, seed=5, jobs=1, top=5)
    assert len(best) == 5
    assert [a.cut for a in best] == sorted((a.cut for a in best), reverse=True)
    for a in best:
        assert a.service not in tiers[a.counter]
        assert a.mean == pytest.approx(base.overall.mean - a.cut)


def test_an_overloaded_hall_stops_at_midnight_and_counts_the_rest():
    config = pooled_hall(1, 10.0)
    profile = poisson_profile(0.2, warmup_minutes=0)  # twice what one window can serve
    days = simulate(config, resolve(profile, config), days=1, seed=1)
    assert days[0].unserved > 50
    summary = summarise(days, starvation_minutes=30)
    assert summary.unserved_per_day == days[0].unserved


def test_profile_errors_name_the_field(shipped):
    config, _ = shipped
    with pytest.raises(ConfigError, match="priority"):
        parse_profile(
            {
                "name": "x",
                "arrivals": {"per_day": 10, "hourly": {"9": 1}},
                "priority": {"elderly": 0.8, "military": 0.3},
                "services": {"jisheng.birth_registration": {"weight": 1}},
            }
        )
    bad = parse_profile(
        {
            "name": "x",
            "arrivals": {"per_day": 10, "hourly": {"9": 1}},
            "services": {"nope.nothing": {"weight": 1}},
        }
    )
    with pytest.raises(ConfigError, match="nope.nothing"):
        resolve(bad, config)


# --- the command --------------------------------------------------------------------------------


def test_simulate_command_prints_the_comparison_and_writes_plots(tmp_path, capsys):
    rc = main(
        ["simulate", "--days", "2", "--seed", "3", "--policy", "all", "--jobs", "1",
         "--plots", str(tmp_path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    for heading in ("## Policies on the same residents", "## Policy: dedicated", "**By hour"):
        assert heading in out
    for name in ("waits_by_hour.png", "load_per_window.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_simulate_command_refuses_a_bad_profile(tmp_path, capsys):
    profile = tmp_path / "bad.toml"
    profile.write_text('name = "bad"\n[arrivals]\nper_day = -1\nhourly = { "9" = 1 }\n')
    assert main(["simulate", "--day", str(profile), "--days", "1"]) == 2
    assert "per_day" in capsys.readouterr().err


# --- the estimate ------------------------------------------------------------------------------


def test_one_replay_gives_every_services_estimate_as_separate_replays_do(shipped):
    """``estimate_new_all`` (one replay, the screens' status) equals ``estimate_new`` service by
    service, at many moments of a simulated busy morning."""
    from queue_server.engine.hall import Hall

    config, resolved = shipped
    seen = []

    class Spy(Hall):
        def handle(self, command, now):
            events = super().handle(command, now)
            if len(seen) < 40 and self.local(now).hour in (10, 11) and len(events) > 0:
                if sum(1 for _ in self.waiting_tickets()) >= 5:
                    one = {s: self.estimate_new(s, now) for s in self.queue_of}
                    seen.append(one == self.estimate_new_all(now))
                    seen.append(one == {s: self.estimate_new(s, now) for s in self.queue_of})
            return events

    from sim import runner

    original = runner.Hall
    runner.Hall = Spy
    try:
        simulate(config, resolved, days=1, seed=2)
    finally:
        runner.Hall = original
    assert len(seen) >= 40 and all(seen)


def test_a_forked_day_replays_the_waits_and_the_oracles_bound_the_estimate(shipped):
    """The estimate oracles fork the hall at an issue and play the day on through the engine.
    A fork that keeps everything gives exactly the wait that followed (the fork is faithful);
    under the longest-wait policy nobody who comes later goes first, so the clairvoyant fork
    (everyone now in the hall, with their true times; no later walk-in) gives it too."""
    from sim.oracle import floor_table, oracle_sample

    config, resolved = shipped
    records = oracle_sample(config, resolved, days=2, seed=4, every=12, forks=3, check_replay=True)
    assert len(records) > 25
    assert all(r.replayed_s == r.wait_s for r in records)
    assert all(r.bayes_median_s >= 0 and r.clairvoyant_s >= 0 for r in records)
    fifo = oracle_sample(
        config, resolved, days=1, seed=4, every=12, forks=1, policy=LongestWaitPolicy()
    )
    assert len(fifo) > 12
    assert all(r.clairvoyant_s == r.wait_s for r in fifo)
    table = floor_table(records)
    assert table["engine"].n == len(records)
