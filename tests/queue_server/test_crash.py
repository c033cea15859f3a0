"""Crash safety: a process issuing tickets in a burst is killed with SIGKILL at random moments.

After every restart each acknowledged ticket (its commit returned before the worker printed
ACK) must be stored with its number, and no number may ever repeat.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.halls import (
    CLOCK_ORIGIN_ENV,
    anchored_clock,
    db_url,
    new_hall_id,
    write_config,
)
from queue_server.config import load_config
from queue_server.storage import EventRow, Store

ROOT = Path(__file__).resolve().parents[2]
# Every worker of this test run and the checks share one clock anchored on a hall morning.
CLOCK_ORIGIN = time.time()


def start_worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.queue_server.storage_worker", *args],
        cwd=ROOT,
        env={**os.environ, CLOCK_ORIGIN_ENV: repr(CLOCK_ORIGIN)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acks_of(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith("ACK ")]


def check_store(config_path: Path, acked: list[str]) -> None:
    store = Store(load_config(config_path), clock=anchored_clock(CLOCK_ORIGIN))
    stored = {t.id: t.number for t in store.stored_tickets()}
    numbers = list(stored.values())
    assert len(numbers) == len(set(numbers)), "a number was stored twice"
    missing = [ticket_id for ticket_id in acked if ticket_id not in stored]
    assert not missing, f"acknowledged tickets lost: {missing[:5]}"
    assert all(stored[t] == t.split("-")[1] for t in acked)
    table = EventRow.__table__
    with store.engine.connect() as conn:
        seqs = [
            row[0]
            for row in conn.execute(
                sa.select(table.c.seq).where(table.c.hall_id == store.hall_id).order_by(table.c.seq)
            )
        ]
    assert seqs == list(range(1, len(seqs) + 1)), "the event log has a gap or a repeat"
    assert store.hall.seq == len(seqs)
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind,kills", [("sqlite", 20), pytest.param("postgres", 10, marks=pytest.mark.postgres)]
)
def test_sigkill_mid_burst_loses_no_acknowledged_ticket(kind, kills, tmp_path):
    rng = random.Random(20261126)
    config_path = write_config(
        tmp_path / "hall.toml", hall_id=new_hall_id(), url=db_url(kind, tmp_path)
    )
    acked: list[str] = []
    for _ in range(kills):
        worker = start_worker("issue", str(config_path), "100000", "liuguan.residence_registration")
        # Wait for the first acknowledgement so the kill lands mid-burst, then a random moment.
        first = worker.stdout.readline()
        assert first.startswith("ACK "), first + worker.stderr.read()
        time.sleep(rng.uniform(0.0, 0.25))  # chooses the moment of the kill; nothing waits on it
        os.kill(worker.pid, signal.SIGKILL)
        rest, _ = worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        acked += acks_of(first + rest)
        check_store(config_path, acked)
    assert len(acked) > kills, "the bursts acknowledged almost nothing"
    duplicates = [number for number, n in Counter(acked).items() if n > 1]
    assert not duplicates
