"""Queue-length benchmark (issue 14): the server's cost of one ``issue_ticket`` and one
``call_next`` with 100, 1,000 and 10,000 tickets waiting.

    PYTHONPATH=. .venv/bin/python -m bench.bench_queue [--sizes 100,1000,10000] [--rounds 100]
        [--before OTHER_CHECKOUT] [--repeat 3]

Each command goes through ``HallActor.run_batch``, the hall thread's whole path for one batch:
the engine (with the ticket's estimate), the commit (SQLite WAL, ``synchronous=NORMAL`` by
default, so the figure is CPU and not the disk's fsync), the issued ticket's view and every
service's status (the wait a new ticket would be told). Only the websocket framing is left out.
The queue is filled untimed (a day's worth of events written in one transaction); then each
round issues a ticket (timed), calls the next ticket at a window (timed) and marks it a no-show
(untimed), so the queue keeps its length.

``--before DIR`` runs the same measurement with another checkout's code (say the parent commit,
``git worktree add DIR <commit>``) in a child process, alternating with this checkout's size by
size, ``--repeat`` times, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.halls import T0, make_config, new_hall_id
from queue_server.engine.hall import Hall
from queue_server.engine.quantile import quantile
from queue_server.protocol import commands as C
from queue_server.server import HallActor
from queue_server.storage import Store

# One service per queue of the example hall, the counters that serve them first.
SERVICES = [
    "liuguan.residence_registration",
    "renshe.employment_registration",
    "jisheng.birth_registration",
    "minzheng.temporary_assistance",
    "jiaowei.student_aid",
]
COUNTERS = [1, 2, 3, 4, 5]


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=50)
        return self.now


def fill(url: str, waiting: int, synchronous: str) -> tuple[str, dt.datetime]:
    """A hall with its windows open and ``waiting`` tickets waiting, written in one go."""
    hall_id = new_hall_id()
    config = make_config(hall_id=hall_id, url=url, synchronous=synchronous)
    store = Store(config, clock=lambda: T0)
    hall = Hall(config)
    now = T0
    events = hall.handle(C.Tick(), now)  # the day opens
    for counter in COUNTERS:
        if hall.counters[counter].state.value == "closed":
            events += hall.handle(C.OpenCounter(counter=counter), now)
    step = dt.timedelta(seconds=2)
    for i in range(waiting):
        now += step
        events += hall.handle(C.IssueTicket(service=SERVICES[i % len(SERVICES)]), now)
    store.hall = hall
    with store.engine.begin() as conn:
        store._write(conn, events)
    store.close()
    return hall_id, now


def measure(waiting: int, rounds: int, synchronous: str) -> dict:
    """Median and spread of the two commands' time through run_batch, in ms."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'hall.db'}"
        hall_id, filled = fill(url, waiting, synchronous)
        clock = Clock(filled)
        store = Store(make_config(hall_id=hall_id, url=url, synchronous=synchronous), clock=clock)
        actor = HallActor(store)
        issue_ms: list[float] = []
        call_ms: list[float] = []
        for i in range(rounds):
            counter = COUNTERS[i % len(COUNTERS)]
            t = time.perf_counter()
            actor.run_batch([C.IssueTicket(service=SERVICES[i % len(SERVICES)])], [])
            issue_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            result = actor.run_batch([C.CallNext(counter=counter)], [])
            call_ms.append((time.perf_counter() - t) * 1000)
            assert isinstance(result.outcomes[0], list), result.outcomes[0]
            actor.run_batch([C.MarkNoShow(counter=counter)], [])
        assert sum(len(q) for q in store.hall.waiting.values()) == waiting
        actor.executor.shutdown()
        store.close()
    return {
        "waiting": waiting,
        "issue_ms": statistics.median(issue_ms),
        "issue_p90_ms": quantile(issue_ms, 0.9),
        "call_ms": statistics.median(call_ms),
        "call_p90_ms": quantile(call_ms, 0.9),
    }


def _child(code: Path, waiting: int, rounds: int, synchronous: str) -> dict:
    """``measure`` with the code of checkout ``code`` (this file runs there as a script)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    args = [sys.executable, __file__, "--json", "--sizes", str(waiting), "--rounds", str(rounds)]
    out = subprocess.run(
        [*args, "--synchronous", synchronous], env=env, cwd=code, check=True, capture_output=True
    )
    return json.loads(out.stdout)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--synchronous", choices=["full", "normal"], default="normal")
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.json:
        print(json.dumps([measure(n, args.rounds, args.synchronous) for n in sizes]))
        return
    here = Path(__file__).resolve().parent.parent
    print(
        f"run_batch of one command, SQLite synchronous={args.synchronous.upper()}, "
        f"{args.rounds} rounds; median (p90) ms"
    )
    for run in range(args.repeat):
        for n in sizes:
            rows = [("this", _child(here, n, args.rounds, args.synchronous))]
            if args.before:
                rows.insert(0, ("before", _child(args.before, n, args.rounds, args.synchronous)))
            for label, r in rows:
                print(
                    f"  run {run + 1} {label:6} {n:6} waiting: issue_ticket {r['issue_ms']:7.2f} "
                    f"({r['issue_p90_ms']:7.2f})   call_next {r['call_ms']:7.2f} "
                    f"({r['call_p90_ms']:7.2f})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
