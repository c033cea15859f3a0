"""What a simulation run reports: waits, utilisation, throughput, overtime, estimate accuracy.

``summarise(days)`` turns the simulated days into a ``Summary``; ``markdown(summary)`` prints it
as Markdown tables (docs/simulation.md pastes them as they are); ``plot_*`` draw the PNGs.
Days are independent replications (each starts with an empty hall), so confidence intervals are
computed across days.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.engine.quantile import quantile
from sim.runner import DayResult, TicketRecord

Z95 = 1.96


@dataclass(frozen=True)
class Waits:
    """Wait statistics in minutes."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Waits:
        ordered = sorted(s / 60 for s in seconds)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            n=len(ordered),
            mean=sum(ordered) / len(ordered),
            p50=quantile(ordered, 0.5),
            p90=quantile(ordered, 0.9),
            p99=quantile(ordered, 0.99),
            max=ordered[-1],
        )


@dataclass(frozen=True)
class Accuracy:
    """How an estimate shown at issue compared with the wait that followed (minutes)."""

    n: int
    mae: float
    bias: float  # mean (estimate - actual): positive = residents were told too much
    mean_wait: float

    @property
    def mae_share(self) -> float:
        return self.mae / self.mean_wait if self.mean_wait else math.nan

    @classmethod
    def of(cls, pairs: list[tuple[float, float]]) -> Accuracy:
        if not pairs:
            return cls(0, math.nan, math.nan, math.nan)
        n = len(pairs)
        return cls(
            n=n,
            mae=sum(abs(e - w) for e, w in pairs) / n / 60,
            bias=sum(e - w for e, w in pairs) / n / 60,
            mean_wait=sum(w for _, w in pairs) / n / 60,
        )


@dataclass
class Summary:
    days: int
    overall: Waits
    mean_ci: float  # half-width of the 95 % confidence interval of the mean wait (minutes)
    daily_means: list[float]  # per day (minutes), for paired comparisons
    by_service: dict[str, Waits]
    by_priority: dict[str, Waits]
    by_hour: dict[int, Waits]
    utilisation: dict[int, float]  # busy / on-shift, 0..1
    tickets_per_day: float
    served_per_day: float
    no_shows_per_day: float
    requeued_per_day: float
    refused_per_day: float
    unserved_per_day: float
    overtime_mean_min: float
    overtime_max_min: float
    overtime_days: int
    estimate: Accuracy
    naive: Accuracy
    estimate_by_priority: dict[str, Accuracy]
    estimate_by_size: dict[str, Accuracy]  # by the estimate shown: "0", "0-5", ... minutes
    estimate_by_ahead: dict[str, Accuracy]  # by the people ahead in its queue at issue
    estimate_by_hour: dict[int, Accuracy]
    starvation_bound_min: float
    normal_past_bound: int  # normal tickets that waited longer than the bound
    normal_past_bound_excess_max: float  # minutes beyond the bound, the worst of them
    starvation_overtakes: int
    appointments: dict[str, float] = field(default_factory=dict)  # per day
    commands_per_day: float = 0.0

    @property
    def spread(self) -> float:
        """Utilisation spread in percentage points (max - min)."""
        values = list(self.utilisation.values())
        return (max(values) - min(values)) * 100 if values else math.nan


SIZE_BANDS = ("0", "0-5", "5-15", "15-30", "30+")  # minutes told at issue
AHEAD_BANDS = ("0", "1", "2", "3-4", "5+")  # people ahead in the queue at issue


def _ahead_band(ahead: int) -> str:
    if ahead <= 2:
        return str(ahead)
    return "3-4" if ahead <= 4 else "5+"


def _size_band(estimate_s: float) -> str:
    minutes = estimate_s / 60
    if minutes <= 0:
        return "0"
    for edge, band in ((5, "0-5"), (15, "5-15"), (30, "15-30")):
        if minutes < edge:
            return band
    return "30+"


def _counted(days: Sequence[DayResult]) -> list[TicketRecord]:
    return [t for d in days for t in d.tickets if t.counted and t.wait_s is not None]


def mean_ci(days: Sequence[DayResult]) -> tuple[float, float, list[float]]:
    """Mean wait (minutes), the 95 % half-width across days (ratio estimator), daily means."""
    sums, counts = [], []
    for d in days:
        waits = [t.wait_s / 60 for t in d.tickets if t.counted and t.wait_s is not None]
        sums.append(sum(waits))
        counts.append(len(waits))
    total_n = sum(counts)
    if not total_n:
        return math.nan, math.nan, []
    mean = sum(sums) / total_n
    k = len(days)
    if k < 2:
        return mean, math.nan, [mean]
    resid = sum((s - mean * n) ** 2 for s, n in zip(sums, counts, strict=True))
    se = math.sqrt(resid / (k * (k - 1))) / (total_n / k)
    daily = [s / n if n else math.nan for s, n in zip(sums, counts, strict=True)]
    return mean, Z95 * se, daily


def summarise(days: Sequence[DayResult], *, starvation_minutes: float) -> Summary:
    tickets = _counted(days)
    k = len(days) or 1
    groups: dict[str, dict] = {"service": defaultdict(list), "priority": defaultdict(list)}
    by_hour: dict[int, list[float]] = defaultdict(list)
    for t in tickets:
        groups["service"][t.service].append(t.wait_s)
        groups["priority"][t.priority].append(t.wait_s)
        by_hour[t.hour].append(t.wait_s)
    busy: dict[int, float] = defaultdict(float)
    shift: dict[int, float] = defaultdict(float)
    for d in days:
        for c, s in d.shift_s.items():
            shift[c] += s
            busy[c] += d.busy_s.get(c, 0.0)
    estimated = [t for t in tickets if t.estimate_s is not None]
    est_by_class: dict[str, list] = defaultdict(list)
    for t in estimated:
        est_by_class[t.priority].append((t.estimate_s, t.wait_s))
    est_by_size: dict[str, list] = defaultdict(list)
    est_by_ahead: dict[str, list] = defaultdict(list)
    est_by_hour: dict[int, list] = defaultdict(list)
    for t in estimated:
        est_by_size[_size_band(t.estimate_s)].append((t.estimate_s, t.wait_s))
        est_by_ahead[_ahead_band(t.ahead)].append((t.estimate_s, t.wait_s))
        est_by_hour[t.hour].append((t.estimate_s, t.wait_s))
    bound_s = starvation_minutes * 60
    past = [t.wait_s - bound_s for t in tickets if t.priority == "normal" and t.wait_s > bound_s]
    overtime = [d.overtime_s / 60 for d in days]
    mean, ci, daily = mean_ci(days)
    return Summary(
        days=len(days),
        overall=Waits.of(t.wait_s for t in tickets),
        mean_ci=ci,
        daily_means=daily,
        by_service={s: Waits.of(w) for s, w in sorted(groups["service"].items())},
        by_priority={p: Waits.of(w) for p, w in sorted(groups["priority"].items())},
        by_hour={h: Waits.of(w) for h, w in sorted(by_hour.items())},
        utilisation={c: busy[c] / shift[c] if shift[c] else 0.0 for c in sorted(shift)},
        tickets_per_day=sum(len(d.tickets) for d in days) / k,
        served_per_day=sum(d.served for d in days) / k,
        no_shows_per_day=sum(d.no_shows for d in days) / k,
        requeued_per_day=sum(d.requeued for d in days) / k,
        refused_per_day=sum(d.refused for d in days) / k,
        unserved_per_day=sum(d.unserved for d in days) / k,
        overtime_mean_min=sum(overtime) / k,
        overtime_max_min=max(overtime, default=0.0),
        overtime_days=sum(1 for o in overtime if o > 0),
        estimate=Accuracy.of([(t.estimate_s, t.wait_s) for t in estimated]),
        naive=Accuracy.of([(t.naive_s, t.wait_s) for t in estimated if t.naive_s is not None]),
        estimate_by_priority={p: Accuracy.of(v) for p, v in sorted(est_by_class.items())},
        estimate_by_size={b: Accuracy.of(est_by_size[b]) for b in SIZE_BANDS if b in est_by_size},
        estimate_by_ahead={
            b: Accuracy.of(est_by_ahead[b]) for b in AHEAD_BANDS if b in est_by_ahead
        },
        estimate_by_hour={h: Accuracy.of(v) for h, v in sorted(est_by_hour.items())},
        starvation_bound_min=starvation_minutes,
        normal_past_bound=len(past),
        normal_past_bound_excess_max=max(past, default=0.0) / 60,
        starvation_overtakes=sum(d.starvation_overtakes for d in days),
        appointments={
            "booked": sum(d.booked for d in days) / k,
            "checked_in": sum(d.checked_in for d in days) / k,
            "no_show": sum(d.appointment_no_shows for d in days) / k,
            "late": sum(d.appointment_late for d in days) / k,
            "slot_full": sum(d.booking_failed for d in days) / k,
        },
        commands_per_day=sum(d.commands for d in days) / k,
    )


def paired_difference(a: Summary, b: Summary) -> tuple[float, float]:
    """The mean-wait difference a - b (minutes) and its 95 % half-width from the paired days.

    Both runs must have simulated the same days (common random numbers): the spread of the
    daily differences, not of the days themselves, sets the interval, so the day-to-day
    variation both runs share cancels.
    """
    diffs = [x - y for x, y in zip(a.daily_means, b.daily_means, strict=True)]
    k = len(diffs)
    if k < 2:
        return a.overall.mean - b.overall.mean, math.nan
    centre = sum(diffs) / k
    var = sum((d - centre) ** 2 for d in diffs) / (k - 1)
    return a.overall.mean - b.overall.mean, Z95 * math.sqrt(var / k)


# --- Markdown -----------------------------------------------------------------------------------


def _row(cells: Iterable) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: Sequence[str], rows: Iterable[Sequence]) -> list[str]:
    out = [_row(header), _row("---" if i == 0 else "---:" for i in range(len(header)))]
    out.extend(_row(r) for r in rows)
    return out


def _w(w: Waits) -> list[str]:
    return [f"{w.n:,}", f"{w.mean:.1f}", f"{w.p50:.1f}", f"{w.p90:.1f}", f"{w.p99:.1f}"]


WAIT_HEADER = ["tickets", "mean", "p50", "p90", "p99"]


def markdown(s: Summary, *, names: dict[str, str] | None = None, title: str = "") -> str:
    names = names or {}
    out: list[str] = []
    if title:
        out += [f"### {title}", ""]
    out += [
        f"{s.days} simulated days; {s.tickets_per_day:.1f} tickets and {s.served_per_day:.1f} "
        f"services a day; {s.no_shows_per_day:.1f} no-shows (过号) a day, "
        f"{s.requeued_per_day:.1f} of them put back; {s.refused_per_day:.2f} residents a day "
        "turned away (came after ticket hours). Waits in minutes, from taking the ticket to the "
        "first call.",
        "",
    ]
    if s.unserved_per_day:
        out += [
            f"**Overloaded:** {s.unserved_per_day:.1f} tickets a day were still waiting at "
            "midnight; their waits are cut there, so the figures below understate the waits.",
            "",
        ]
    out += _table(
        ["", *WAIT_HEADER, "95 % CI of the mean"],
        [["all tickets", *_w(s.overall), f"± {s.mean_ci:.2f}"]],
    )
    out += ["", "**By priority class**", ""]
    out += _table(["class", *WAIT_HEADER], ([p, *_w(w)] for p, w in s.by_priority.items()))
    out += ["", "**By service**", ""]
    out += _table(
        ["service", *WAIT_HEADER, "× hall mean"],
        (
            [names.get(sv, sv), *_w(w), f"{w.mean / s.overall.mean:.2f}"]
            for sv, w in s.by_service.items()
        ),
    )
    out += ["", "**By hour the ticket was taken**", ""]
    out += _table(["hour", *WAIT_HEADER], ([f"{h:02d}:00", *_w(w)] for h, w in s.by_hour.items()))
    out += ["", "**Windows**", ""]
    out += _table(
        ["window", "utilisation"], ([c, f"{u * 100:.1f} %"] for c, u in s.utilisation.items())
    )
    out += [
        "",
        f"Utilisation spread (max − min): **{s.spread:.1f} points**. Utilisation is the time a "
        "window is calling or serving over its shift (opening to closing, or to its last "
        "resident when later).",
        "",
        f"Overtime: the last resident left {s.overtime_mean_min:.1f} min after closing on "
        f"average ({s.overtime_days} of {s.days} days ran over; worst {s.overtime_max_min:.1f} "
        "min).",
        "",
        "**Wait estimate shown at issue vs the wait that followed**",
        "",
    ]
    rows = [
        ["engine (`Hall.estimate`)", s.estimate],
        ["naive: people ahead × mean service time ÷ open windows", s.naive],
    ]
    out += _table(
        ["estimate", "tickets", "MAE (min)", "MAE / mean wait", "bias (min)"],
        (
            [label, f"{a.n:,}", f"{a.mae:.2f}", f"{a.mae_share * 100:.0f} %", f"{a.bias:+.2f}"]
            for label, a in rows
        ),
    )
    out += ["", "Engine estimate by priority class:", ""]
    out += _table(
        ["class", "tickets", "mean wait", "MAE", "bias"],
        (
            [p, f"{a.n:,}", f"{a.mean_wait:.1f}", f"{a.mae:.2f}", f"{a.bias:+.2f}"]
            for p, a in s.estimate_by_priority.items()
        ),
    )

    def accuracy_rows(groups: dict) -> Iterable[list[str]]:
        for key, a in groups.items():
            yield [
                key,
                f"{a.n:,}",
                f"{a.mean_wait + a.bias:.1f}",
                f"{a.mean_wait:.1f}",
                f"{a.mae:.2f}",
                f"{a.mae_share * 100:.0f} %" if a.mean_wait >= 0.05 else "—",
                f"{a.bias:+.2f}",
            ]

    accuracy_header = ["mean told", "mean wait", "MAE", "MAE / mean wait", "bias"]
    out += ["", "By the people ahead in its queue at issue:", ""]
    out += _table(["ahead", "tickets", *accuracy_header], accuracy_rows(s.estimate_by_ahead))
    out += ["", "By the hour the ticket was taken:", ""]
    out += _table(
        ["hour", "tickets", *accuracy_header],
        accuracy_rows({f"{h:02d}:00": a for h, a in s.estimate_by_hour.items()}),
    )
    out += ["", "By the wait told at issue (minutes):", ""]
    out += _table(["told", "tickets", *accuracy_header], accuracy_rows(s.estimate_by_size))
    out += [
        "",
        f"Anti-starvation ({s.starvation_bound_min:g} min): {s.normal_past_bound} normal tickets "
        f"waited past the bound (worst by {s.normal_past_bound_excess_max:.1f} min); calls that "
        f"passed over a starving ticket against the bound's rule: {s.starvation_overtakes}.",
    ]
    if s.appointments.get("booked"):
        a = s.appointments
        out += [
            "",
            f"Appointments a day: {a['booked']:.1f} booked, {a['checked_in']:.1f} checked in, "
            f"{a['no_show']:.1f} no-shows, {a['late']:.1f} too late (took an ordinary ticket), "
            f"{a['slot_full']:.1f} found the slot full.",
        ]
    return "\n".join(out) + "\n"


# --- plots --------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    return plt


def plot_waits_by_hour(summaries: dict[str, Summary], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for label, s in summaries.items():
        hours = list(s.by_hour)
        (line,) = ax.plot(
            hours, [s.by_hour[h].mean for h in hours], marker="o", label=f"{label}: mean"
        )
        ax.plot(
            hours,
            [s.by_hour[h].p90 for h in hours],
            linestyle="--",
            color=line.get_color(),
            label=f"{label}: p90",
        )
    ax.set_xlabel("hour the ticket was taken")
    ax.set_ylabel("wait (minutes)")
    ax.set_title("Waits by hour of day")
    ax.set_xticks(sorted({h for s in summaries.values() for h in s.by_hour}))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_load_per_counter(summaries: dict[str, Summary], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    counters = sorted({c for s in summaries.values() for c in s.utilisation})
    width = 0.8 / max(len(summaries), 1)
    for i, (label, s) in enumerate(summaries.items()):
        xs = [c + (i - (len(summaries) - 1) / 2) * width for c in counters]
        ax.bar(
            xs,
            [s.utilisation.get(c, 0) * 100 for c in counters],
            width=width,
            label=f"{label} (spread {s.spread:.0f} pts)",
        )
    ax.set_xlabel("window")
    ax.set_ylabel("utilisation (%)")
    ax.set_title("Load per window")
    ax.set_xticks(counters)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
