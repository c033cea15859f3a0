"""A process that drives a hall through Store, for the crash and concurrency tests.

python -m tests.queue_server.storage_worker issue CONFIG COUNT SERVICE...
    issue COUNT tickets (cycling through the services); print "ACK <id>" after each commit
python -m tests.queue_server.storage_worker call CONFIG EXPECTED SECONDS COUNTER...
    call, start and finish at the counters until EXPECTED tickets exist and none waits
    (or SECONDS pass); print "DONE <id> <counter>" after each finish
"""

from __future__ import annotations

import os
import sys
import time

from harness.halls import CLOCK_ORIGIN_ENV, anchored_clock
from queue_server.config import load_config
from queue_server.engine import events as V
from queue_server.errors import EngineError, QueueEmpty, StorageError
from queue_server.protocol import commands as C
from queue_server.storage import Store


def issue(store: Store, count: int, services: list[str]) -> None:
    for i in range(count):
        events = store.execute(C.IssueTicket(service=services[i % len(services)]))
        ticket = next(e for e in events if isinstance(e, V.TicketIssued)).ticket
        print(f"ACK {ticket.id}", flush=True)


def call(store: Store, expected: int, seconds: float, counters: list[int]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        progressed = False
        for counter in counters:
            try:
                called = store.execute(C.CallNext(counter=counter))[-1]
            except QueueEmpty:
                continue
            store.execute(C.StartService(counter=counter))
            store.execute(C.FinishService(counter=counter))
            print(f"DONE {called.ticket_id} {counter}", flush=True)
            progressed = True
        if not progressed:
            store.refresh()
            hall = store.hall
            if sum(hall.today.sequences.values()) >= expected and not any(hall.waiting.values()):
                return


def main(argv: list[str]) -> int:
    mode, config_path = argv[0], argv[1]
    origin = os.environ.get(CLOCK_ORIGIN_ENV)
    if origin:
        store = Store(load_config(config_path), clock=anchored_clock(float(origin)))
    else:
        store = Store(load_config(config_path))
    try:
        if mode == "issue":
            issue(store, int(argv[2]), argv[3:])
        else:
            call(store, int(argv[2]), float(argv[3]), [int(c) for c in argv[4:]])
    except (EngineError, StorageError) as exc:
        print(f"ERROR {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
