"""Queue server benchmarks (issue 3): call fan-out, issue throughput, memory per connection.

    .venv/bin/python -m bench.bench_server [--sizes 100,1000,2000] [--calls 200]
        [--kiosks 20] [--seconds 10] [--idle 1000,2000] [--only fanout,issue,memory]

The queue server runs as a real subprocess (``main.py server``) on a temporary SQLite hall
(WAL, synchronous=FULL); every client lives in this process, so one clock
(``time.perf_counter``) times both ends. Each figure stands beside a baseline from the same run:

1. Call fan-out: N signage connections subscribe to "public"; windows 1-5 call the next
   ticket in turn (after each round they mark their tickets no-show together, untimed, so
   they can call again). Timed: from
   sending the call request to the LAST subscriber receiving the ticket_called event. Floor:
   ``bench._server_floor``, a bare websockets server that ``broadcast()``s a message of the
   same size to N other clients when a trigger message arrives, timed the same way. Calls on
   ours and triggers on the floor alternate, so other load on the machine hits both alike.
2. Issue throughput: K kiosk connections issue tickets as fast as the server's per-connection
   rate limit lets them, durable commits, for S seconds. Baseline: the same number of issues
   through ``Store.execute`` in one thread, no server (one commit per ticket).
3. Memory per idle authenticated connection: the server's VmRSS before and after opening the
   connections, beside the floor server's for the same connections.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import itertools
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from websockets.asyncio.client import ClientConnection, connect

from harness.servers import credential, write_hall_config
from queue_server import protocol as P
from queue_server.client import HallClient
from queue_server.config import load_hall_config
from queue_server.engine.quantile import quantile
from queue_server.identity import resident_key
from queue_server.protocol import commands as C
from queue_server.server import Client as ServerClient
from queue_server.storage import Store

ROOT = Path(__file__).resolve().parents[1]

# Each window's first-tier queue in the example hall, and a service of it without a daily quota.
COUNTER_SERVICE = {
    1: "jisheng.birth_registration",  # A
    2: "renshe.employment_registration",  # B
    3: "minzheng.temporary_assistance",  # C
    4: "jiaowei.student_aid",  # D
    5: "liuguan.residence_registration",  # E
}
ISSUE_SERVICES = list(COUNTER_SERVICE.values())
NO_QUOTA = 1_000_000
STATUS_PREFIX = '{"v":1,"type":"status","seq":'
QUIET_GAP = 0.005  # idle time after each timed call, on both servers
CONNECT_PARALLEL = 50  # handshakes in flight: stays under the listen backlog


# --- processes -------------------------------------------------------------------------------


class Proc:
    """A server subprocess, stopped by its PID."""

    def __init__(self, argv: list[str], log: Path, port_pattern: str, *, stdout: bool = False):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.popen.pid
        self.port = self._wait_port(re.compile(port_pattern))

    def _wait_port(self, pattern: re.Pattern, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.search(self.log.read_text(errors="replace"))
            if found:
                return int(found.group(1))
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log.read_text(errors='replace')}")

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log_file.close()


def new_hall(tmp: Path, name: str) -> Path:
    """A fresh hall config on its own SQLite file, without daily quotas on the services we use
    (the catalog's quotas would end a benchmark after a few hundred tickets)."""
    path = write_hall_config(tmp / f"{name}.toml", f"sqlite:///{tmp / name}.db")
    text = path.read_text(encoding="utf-8")
    for service in ISSUE_SERVICES:
        line = f'id = "{service}"\n'
        if line in text:
            text = text.replace(line, f"{line}daily_quota = {NO_QUOTA}\n")
        else:
            text += f"\n[[services]]\n{line}daily_quota = {NO_QUOTA}\n"
    path.write_text(text, encoding="utf-8")
    return path


def launch_queue_server(tmp: Path, config_path: Path) -> Proc:
    argv = [sys.executable, "main.py", "server", "--config", str(config_path)]
    argv += ["--host", "127.0.0.1", "--port", "0"]
    return Proc(argv, tmp / f"{config_path.stem}.log", r"queue server for \S+ on [\d.]+:(\d+)")


def launch_floor(tmp: Path) -> Proc:
    argv = [sys.executable, "-m", "bench._server_floor", "--host", "127.0.0.1", "--port", "0"]
    return Proc(argv, tmp / "floor.log", r"listening (\d+)")


# --- clients ---------------------------------------------------------------------------------


class Tracker:
    """Counts, per key, how many subscribers received a message; notes when the last one did."""

    def __init__(self, n: int):
        self.n = n
        self.hits: collections.Counter = collections.Counter()
        self.done: dict[tuple, float] = {}
        self.waiters: dict[tuple, asyncio.Future] = {}
        self.sample: str | None = None  # one ticket_called message, for the floor's payload

    def feed(self, raw: str) -> None:
        # Substring tests first: only the messages we time are parsed, so the clients' own work
        # per message stays small and the same for both servers.
        if '"ticket_called"' in raw or '"ticket_no_show"' in raw:
            event = json.loads(raw)["event"]
            if self.sample is None and event["type"] == "ticket_called":
                self.sample = raw
            self._hit((event["type"], event["number"]))
        elif raw.startswith(STATUS_PREFIX):
            end = raw.index(",", len(STATUS_PREFIX))
            self._hit(("status", int(raw[len(STATUS_PREFIX) : end])))

    def _hit(self, key: tuple) -> None:
        self.hits[key] += 1
        if self.hits[key] == self.n:
            now = time.perf_counter()
            self.done[key] = now
            waiter = self.waiters.pop(key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)

    async def wait(self, key: tuple, timeout: float = 30.0) -> float:
        if key in self.done:
            return self.done[key]
        waiter = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.hits[key]} of {self.n} subscribers got {key}") from None


Opener = Callable[[], Awaitable[ClientConnection]]


async def _connect(port: int) -> ClientConnection:
    # Keepalive off on our side (the servers still ping) so pings do not disturb the timing;
    # compression as the library's default, on both servers.
    return await connect(
        f"ws://127.0.0.1:{port}/ws",
        open_timeout=60,
        ping_interval=None,
        max_size=None,
        max_queue=None,
        proxy=None,
    )


def queue_opener(port: int, *, subscribe: bool) -> Opener:
    hello = P.Hello(
        id=0, auth=P.DeviceAuth(device_id="signage-main", token=credential("signage-main"))
    ).model_dump_json()
    sub = P.Subscribe(id=1, streams=["public"]).model_dump_json()

    async def open_one() -> ClientConnection:
        ws = await _connect(port)
        await ws.send(hello)
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        if subscribe:
            await ws.send(sub)
            while True:  # a snapshot, then the reply
                answer = json.loads(await ws.recv())
                if answer["type"] in ("reply", "error"):
                    assert answer["type"] == "reply", answer
                    break
        return ws

    return open_one


def floor_opener(port: int, *, subscribe: bool) -> Opener:
    async def open_one() -> ClientConnection:
        ws = await _connect(port)
        await ws.send("hello")
        assert await ws.recv() == "welcome"
        if subscribe:
            await ws.send("sub")
            assert await ws.recv() == "ok"
        return ws

    return open_one


async def open_many(n: int, opener: Opener) -> list[ClientConnection]:
    gate = asyncio.Semaphore(CONNECT_PARALLEL)

    async def one() -> ClientConnection:
        async with gate:
            return await opener()

    # One first: the server remembers a verified token, so the rest skip its slow hash.
    first = [await opener()] if n else []
    return first + list(await asyncio.gather(*(one() for _ in range(n - len(first)))))


async def close_all(conns: list[ClientConnection]) -> None:
    gate = asyncio.Semaphore(200)

    async def one(ws: ClientConnection) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 10)

    await asyncio.gather(*(one(ws) for ws in conns))


@dataclass
class Subscribers:
    conns: list[ClientConnection]
    tracker: Tracker
    tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    async def open(cls, n: int, opener: Opener) -> Subscribers:
        subs = cls(await open_many(n, opener), Tracker(n))
        subs.tasks = [asyncio.create_task(subs._read(ws)) for ws in subs.conns]
        # Thousands of long-lived connection objects: keep the collector from walking them in
        # the middle of a timed fan-out (either server's).
        gc.collect()
        gc.freeze()
        return subs

    async def _read(self, ws: ClientConnection) -> None:
        feed = self.tracker.feed
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                feed(raw)

    async def close(self) -> None:
        await close_all(self.conns)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        gc.unfreeze()


# --- 1. call fan-out -------------------------------------------------------------------------


def seed_tickets(config_path: Path, per_counter: int) -> None:
    """Waiting tickets for windows 1-5, written before the server starts (it loads them)."""
    store = Store(load_hall_config(config_path))
    try:
        commands = [
            C.IssueTicket(service=service)
            for _ in range(per_counter)
            for service in COUNTER_SERVICE.values()
        ]
        for start in range(0, len(commands), 200):
            for outcome in store.execute_batch(commands[start : start + 200]):
                assert isinstance(outcome, list), outcome
    finally:
        store.close()


async def counter_clients(port: int) -> list[tuple[int, HallClient]]:
    url = f"ws://127.0.0.1:{port}/ws"
    clients = []
    for counter in COUNTER_SERVICE:
        login = f"w{counter}"
        auth = P.StaffAuth(login=login, password=credential(login), counter=counter)
        client = HallClient(url, auth)
        await client.connect()
        clients.append((counter, client))
    return clients


class FloorCaller:
    """Times one broadcast by the floor server: the trigger is a copy of our event message
    with a number of the same length, so each trigger has its own key."""

    def __init__(self, trigger: ClientConnection, tracker: Tracker, sample: str):
        self.trigger, self.tracker = trigger, tracker
        self.message = json.loads(sample)
        self.width = len(self.message["event"]["number"]) - 1
        self.count = 0

    async def call(self) -> float:
        self.count += 1
        number = f"F{self.count % 10**self.width:0{self.width}d}"
        self.message["event"]["number"] = number
        payload = json.dumps(self.message, ensure_ascii=False, separators=(",", ":"))
        start = time.perf_counter()
        await self.trigger.send(payload)
        done = await self.tracker.wait(("ticket_called", number))
        await asyncio.sleep(QUIET_GAP)
        return done - start


async def fanout_pair(
    server: Proc, floor: Proc, counters: list[tuple[int, HallClient]], n: int, calls: int,
    warmup: int,
) -> dict:  # fmt: skip
    """N subscribers on each server; calls on ours and triggers on the floor alternate, so load
    from elsewhere on the machine falls on both alike."""
    started = time.perf_counter()
    ours = await Subscribers.open(n, queue_opener(server.port, subscribe=True))
    setup = time.perf_counter() - started
    theirs = await Subscribers.open(n, floor_opener(floor.port, subscribe=True))
    trigger = await floor_opener(floor.port, subscribe=False)()
    floor_caller: FloorCaller | None = None
    # Each window sends two messages a round: keep them well under the server's rate limit.
    min_round = 2 / (ServerClient.RATE / 2)
    server_samples: list[float] = []
    floor_samples: list[float] = []
    tracker = ours.tracker
    try:
        cpu = server.cpu_seconds()
        i = 0
        while i < warmup + calls:
            round_start = time.perf_counter()
            called = []
            for counter, client in counters[: warmup + calls - i]:
                start = time.perf_counter()
                reply = await client.command(C.CallNext(counter=counter))
                number = next(e["number"] for e in reply.events if e["type"] == "ticket_called")
                done = await tracker.wait(("ticket_called", number))
                await _quiet(tracker, reply.seq)
                called.append((counter, client, number))
                if floor_caller is None:
                    floor_caller = FloorCaller(trigger, theirs.tracker, tracker.sample or "")
                floor_time = await floor_caller.call()
                if i >= warmup:
                    server_samples.append(done - start)
                    floor_samples.append(floor_time)
                i += 1
            # Free the windows together (untimed): one batch, one fan-out for the round.
            replies = await asyncio.gather(
                *(client.command(C.MarkNoShow(counter=counter)) for counter, client, _ in called)
            )
            for *_, number in called:
                await tracker.wait(("ticket_no_show", number))
            await _quiet(tracker, max(r.seq for r in replies))
            await asyncio.sleep(max(min_round - (time.perf_counter() - round_start), 0))
        cpu = (server.cpu_seconds() - cpu) / (warmup + calls)
    finally:
        await close_all([trigger])
        await ours.close()
        await theirs.close()
    return {
        "n": n,
        "bytes": len((tracker.sample or "").encode()),
        "server_median": statistics.median(server_samples),
        "server_p99": p99(server_samples),
        "floor_median": statistics.median(floor_samples),
        "floor_p99": p99(floor_samples),
        "server_cpu_per_call": cpu,
        "setup_s": setup,
    }


async def _quiet(tracker: Tracker, seq: int) -> None:
    """Wait until every subscriber has the status of the batch that ended at ``seq`` (sent
    after its events), then a moment more: the next timed call starts on a quiet hall."""
    with contextlib.suppress(TimeoutError):
        await tracker.wait(("status", seq), 5)
    await asyncio.sleep(QUIET_GAP)


def p99(samples: list[float]) -> float:
    return quantile(samples, 0.99)


async def run_fanout(tmp: Path, sizes: list[int], calls: int, warmup: int) -> list[dict]:
    config_path = new_hall(tmp, "fanout")
    seed_tickets(config_path, per_counter=(calls + warmup) * len(sizes) // 5 + 20)
    rows = []
    with contextlib.ExitStack() as procs:
        server = launch_queue_server(tmp, config_path)
        procs.callback(server.stop)
        floor = launch_floor(tmp)
        procs.callback(floor.stop)
        counters = await counter_clients(server.port)
        try:
            for n in sizes:
                rows.append(await fanout_pair(server, floor, counters, n, calls, warmup))
                print(_fanout_line(rows[-1]), flush=True)
        finally:
            for _, client in counters:
                await client.close()
    return rows


# --- 2. issue throughput ---------------------------------------------------------------------


def _id_number(i: int) -> str:
    return f"1101011990{i:08d}"


def batches(port: int) -> float:
    """Group-commit batches so far, from the server's /metrics (one publish per batch)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return float(re.search(r"^yikou_publish_seconds_count (\S+)$", text, re.M).group(1))


async def server_issues(server: Proc, kiosks: int, seconds: float) -> dict:
    url = f"ws://127.0.0.1:{server.port}/ws"
    auth = P.DeviceAuth(device_id="kiosk-1", token=credential("kiosk-1"))
    clients = [HallClient(url, auth) for _ in range(kiosks)]
    for client in clients:  # one at a time: the first login's slow hash is then cached
        await client.connect()
    numbers = itertools.count()
    # A kiosk may not send faster than the server's per-connection limit: stay just under it.
    interval = 1.0 / (ServerClient.RATE * 0.95)
    refused = 0

    async def kiosk(client: HallClient, stop_at: float) -> int:
        nonlocal refused
        issued = 0
        due = time.perf_counter()
        while time.perf_counter() < stop_at:
            i = next(numbers)
            command = C.IssueTicket(service=ISSUE_SERVICES[i % len(ISSUE_SERVICES)])
            try:
                await client.command(command, resident_id={"number": _id_number(i)})
                issued += 1
            except Exception:
                refused += 1
            now = time.perf_counter()
            due = max(due + interval, now - 1.0)  # never owe more than the server's burst
            if due > now:
                await asyncio.sleep(due - now)
        return issued

    try:
        cpu, batch_count = server.cpu_seconds(), batches(server.port)
        start = time.perf_counter()
        counts = await asyncio.gather(*(kiosk(c, start + seconds) for c in clients))
        elapsed = time.perf_counter() - start
        cpu, batch_count = server.cpu_seconds() - cpu, batches(server.port) - batch_count
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    issued = sum(counts)
    return {
        "kiosks": kiosks,
        "issued": issued,
        "refused": refused,
        "seconds": elapsed,
        "rate": issued / elapsed,
        "cap": kiosks * ServerClient.RATE * 0.95,
        "server_cpu_ms_per_ticket": cpu / max(issued, 1) * 1000,
        "mean_batch": issued / max(batch_count, 1),
    }


def store_issues(config_path: Path, count: int) -> float:
    config = load_hall_config(config_path)
    secret = config.security.resident_key_secret
    store = Store(config)
    try:
        start = time.perf_counter()
        for i in range(count):
            store.execute(
                C.IssueTicket(
                    service=ISSUE_SERVICES[i % len(ISSUE_SERVICES)],
                    resident_key=resident_key(secret, _id_number(i), "id"),
                )
            )
        return count / (time.perf_counter() - start)
    finally:
        store.close()


async def run_issue(tmp: Path, kiosks: int, seconds: float) -> dict:
    server = launch_queue_server(tmp, new_hall(tmp, "issue"))
    try:
        row = await server_issues(server, kiosks, seconds)
    finally:
        server.stop()
    row["store_rate"] = store_issues(new_hall(tmp, "store"), row["issued"])
    print(_issue_line(row), flush=True)
    return row


# --- 3. memory per idle connection -----------------------------------------------------------


async def idle_rss(proc: Proc, opener: Opener, counts: list[int]) -> tuple[int, dict[int, int]]:
    await close_all([await opener()])  # the first login warms caches and imports
    await asyncio.sleep(0.5)
    before = proc.rss_kib()
    after: dict[int, int] = {}
    conns: list[ClientConnection] = []
    try:
        for target in counts:
            conns += await open_many(target - len(conns), opener)
            await asyncio.sleep(1.0)
            after[target] = proc.rss_kib()
    finally:
        await close_all(conns)
    return before, after


async def run_memory(tmp: Path, counts: list[int]) -> list[dict]:
    with contextlib.ExitStack() as procs:
        server = launch_queue_server(tmp, new_hall(tmp, "memory"))
        procs.callback(server.stop)
        floor = launch_floor(tmp)
        procs.callback(floor.stop)
        ours = await idle_rss(server, queue_opener(server.port, subscribe=False), counts)
        base = await idle_rss(floor, floor_opener(floor.port, subscribe=False), counts)
    rows = []
    for n in counts:
        rows.append(
            {
                "n": n,
                "server_before_kib": ours[0],
                "server_after_kib": ours[1][n],
                "server_kib_per_conn": (ours[1][n] - ours[0]) / n,
                "floor_kib_per_conn": (base[1][n] - base[0]) / n,
            }
        )
        print(_memory_line(rows[-1]), flush=True)
    return rows


# --- report ----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def _fanout_line(r: dict) -> str:
    ratio = r["server_p99"] / r["floor_p99"]
    return (
        f"{r['n']:>6} {_ms(r['server_median'])} {_ms(r['server_p99'])}   "
        f"{_ms(r['floor_median'])} {_ms(r['floor_p99'])}   {ratio:6.2f}x"
        f"   {r['server_cpu_per_call'] * 1000:7.1f}   {r['setup_s']:5.1f} s"
    )


def _issue_line(r: dict) -> str:
    return (
        f"  server, {r['kiosks']} kiosks:  {r['rate']:7.0f} tickets/s  ({r['issued']} in "
        f"{r['seconds']:.1f} s, {r['refused']} refused; rate-limit ceiling {r['cap']:.0f}/s; "
        f"server CPU {r['server_cpu_ms_per_ticket']:.2f} ms/ticket, "
        f"{r['mean_batch']:.1f} tickets per commit)\n"
        f"  Store.execute, 1 thread: {r['store_rate']:7.0f} tickets/s  (one commit each)"
    )


def _memory_line(r: dict) -> str:
    return (
        f"{r['n']:>6}  {r['server_before_kib'] / 1024:7.1f} MiB -> "
        f"{r['server_after_kib'] / 1024:7.1f} MiB   {r['server_kib_per_conn']:6.1f} KiB/conn"
        f"   floor {r['floor_kib_per_conn']:6.1f} KiB/conn"
    )


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"websockets {websockets.version.version}"
    )


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


async def amain(args: argparse.Namespace) -> None:
    only = set(args.only.split(","))
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}: {machine()}", flush=True)
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        tmp = Path(tmp)
        if "fanout" in only:
            print(
                f"\nCall fan-out: {args.calls} calls per N (after {args.warmup} untimed), "
                "call request -> last subscriber has the event, ms"
            )
            print("     N   server median     p99      floor median     p99   p99 ratio"
                  "  server CPU ms/call  connect N")  # fmt: skip
            rows = await run_fanout(tmp, _ints(args.sizes), args.calls, args.warmup)
            if rows:
                print(f"  (event message: {rows[-1]['bytes']} bytes; target p99 <= 1.5x floor)")
        if "issue" in only:
            print(f"\nIssue throughput: {args.kiosks} kiosk connections, {args.seconds:.0f} s, "
                  "SQLite WAL synchronous=FULL")  # fmt: skip
            await run_issue(tmp, args.kiosks, args.seconds)
        if "memory" in only:
            print("\nMemory per idle authenticated connection (server VmRSS)")
            await run_memory(tmp, _ints(args.idle))
    print("\nload average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,2000", help="subscriber counts N")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per N")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per N first")
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle", default="1000,2000", help="idle connection counts")
    parser.add_argument("--only", default="fanout,issue,memory")
    args = parser.parse_args()
    needed = max(_ints(args.sizes) + _ints(args.idle)) + 500
    raise_fd_limit(needed)
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
