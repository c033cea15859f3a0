"""Storage benchmarks (issue 2): durable command throughput and recovery time.

    .venv/bin/python -m bench.bench_storage [--commands N] [--tickets N] [--pg URL]

1. Durable "issue" and "call next" commands per second through Store on SQLite (WAL,
   synchronous=FULL: each command is fsynced before it returns), beside a raw sqlite3 loop
   that inserts one row and commits per iteration with the same settings, in the same run.
   With --pg, the same through PostgreSQL (fsync on).
2. Recovery: the time to open a Store (schema check + rebuild of today's state) on a database
   holding a day of N tickets (default 20,000; target <= 1 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from harness.halls import T0, fingerprint, make_config, new_hall_id
from queue_server.engine.hall import Hall
from queue_server.errors import QueueEmpty
from queue_server.protocol import commands as C
from queue_server.storage import Store

SERVICES = [
    "liuguan.residence_registration",
    "renshe.employment_registration",
    "jisheng.birth_registration",
    "minzheng.temporary_assistance",
    "jiaowei.student_aid",
    "canlian.disability_subsidy",
]

ISSUE_CPU_MS: list[float] = []  # per store_rates run

# A counter skilled for each of SERVICES in the example hall.
SERVING_COUNTER = [5, 2, 1, 3, 4, 3]


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        self.now += dt.timedelta(milliseconds=50)
        return self.now


def raw_sqlite_loop(path: Path, n: int, synchronous: str = "full") -> float:
    """Commits per second of a bare insert+commit loop with the hall's durability settings."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, number TEXT, payload TEXT)")
    payload = "x" * 300  # about one event's JSON
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (number, payload) VALUES (?, ?)", (f"A{i:03d}", payload))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def store_rates(url: str, n: int, synchronous: str = "full") -> tuple[float, float]:
    config = make_config(hall_id=new_hall_id(), url=url, synchronous=synchronous)
    store = Store(config, clock=Clock())
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        store.execute(C.IssueTicket(service=SERVICES[i % len(SERVICES)]))
    issue_rate = n / (time.perf_counter() - start)
    # The process's CPU per command: steadier than the rate on a machine others share.
    ISSUE_CPU_MS.append((time.process_time() - cpu) / n * 1000)
    # Call next: a counter must be idle, so each call is paired with a no-show (both timed
    # separately: only the call-next commands count).
    counters = [1, 2, 3, 4, 5, 6]
    call_time = 0.0
    calls = 0
    while calls < n and counters:
        counter = counters[calls % len(counters)]
        t = time.perf_counter()
        try:
            store.execute(C.CallNext(counter=counter))
        except QueueEmpty:  # nothing left this counter is skilled for
            counters.remove(counter)
            continue
        call_time += time.perf_counter() - t
        store.execute(C.MarkNoShow(counter=counter))
        calls += 1
    store.close()
    return issue_rate, calls / call_time


def build_day(url: str, tickets: int) -> tuple[str, dict]:
    """A database holding one day of ``tickets`` tickets, most of them served."""
    hall_id = new_hall_id()
    config = make_config(hall_id=hall_id, url=url)
    store = Store(config, clock=Clock())
    hall = Hall(config)
    now = T0.replace(hour=0, minute=1)
    events = []
    step = dt.timedelta(seconds=60 * 60 * 23 / tickets)
    for i in range(tickets):
        now += step
        events += hall.handle(C.IssueTicket(service=SERVICES[i % len(SERVICES)]), now)
        if i % 10 != 9:  # leave a few waiting, as at any moment of a real day
            counter = SERVING_COUNTER[i % len(SERVICES)]
            for command in (C.CallNext, C.StartService, C.FinishService):
                events += hall.handle(command(counter=counter), now)
    store.hall = hall
    with store.engine.begin() as conn:
        store._write(conn, events)
    store.close()
    return hall_id, fingerprint(hall)


def recovery_times(url: str, hall_id: str, expected: dict, runs: int = 5) -> list[float]:
    config = make_config(hall_id=hall_id, url=url)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        store = Store(config, clock=lambda: T0)
        times.append(time.perf_counter() - start)
        assert fingerprint(store.hall) == expected, "recovery rebuilt a different state"
        store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--pg", default=os.environ.get("YIKOU_TEST_PG_URL"))
    parser.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="SQLite durability for both loops (normal: no fsync per commit, shows CPU cost)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = raw_sqlite_loop(tmp / "raw.db", args.commands, args.synchronous)
        issue, call = store_rates(f"sqlite:///{tmp / 'hall.db'}", args.commands, args.synchronous)
        print(f"SQLite WAL synchronous={args.synchronous.upper()}, {args.commands} commands each")
        print(f"  raw sqlite3 insert+commit loop: {raw:8.0f} commits/s")
        print(
            f"  Store issue ticket:             {issue:8.0f} commands/s  ({raw / issue:.2f}x slower,"
            f" {ISSUE_CPU_MS[0]:.2f} ms CPU each)"
        )
        print(
            f"  Store call next:                {call:8.0f} commands/s  ({raw / call:.2f}x slower)"
        )
        if args.pg:
            pg_issue, pg_call = store_rates(args.pg, args.commands)
            print("PostgreSQL 15 (fsync on, loopback)")
            print(f"  Store issue ticket:             {pg_issue:8.0f} commands/s")
            print(f"  Store call next:                {pg_call:8.0f} commands/s")
        url = f"sqlite:///{tmp / 'day.db'}"
        hall_id, expected = build_day(url, args.tickets)
        times = recovery_times(url, hall_id, expected)
        print(f"Recovery of a day of {args.tickets} tickets (SQLite), 5 runs:")
        print(f"  median {statistics.median(times):.3f} s, max {max(times):.3f} s")
        if args.pg:
            hall_id, expected = build_day(args.pg, args.tickets)
            times = recovery_times(args.pg, hall_id, expected)
            print(f"Recovery of a day of {args.tickets} tickets (PostgreSQL), 5 runs:")
            print(f"  median {statistics.median(times):.3f} s, max {max(times):.3f} s")


if __name__ == "__main__":
    main()
