"""Signage benchmark (issue 7): from a window's call request to the call drawn on the main screen.

    .venv/bin/python -m bench.bench_signage [--calls 200] [--size 1920x1080] [--fps 60]

It starts a virtual display (Xvfb) and a real queue server in its own process, then runs the
signage main screen (Kivy, 1920x1080) in a child process together with five staff clients.
For each call, with one clock (time.perf_counter in that process): t0 just before the staff
client sends ``call_next``; t1 when the first frame whose big number shows the called ticket
has been swapped to the screen (``Window.on_flip`` after the label's text changed). After each
call the window marks a no-show, untimed, so it can call again. Prints median, p90, p99, max,
and the part of it until the ``ticket_called`` event reached the screen's process.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def child(calls: int, size: tuple[int, int], fps: int, folder: Path) -> dict:
    from queue_server.engine import commands as C
    from signage.app import Options, run_signage
    from signage.settings import SignageSettings
    from tests.signage.server_proc import server_process

    with server_process(folder / "hall") as hall:
        options = Options(
            config=hall.config,
            settings=SignageSettings(player="none"),
            mode="main",
            size=size,
            voice=False,
            maxfps=fps,
        )
        built = asyncio.get_running_loop().create_future()
        app_task = asyncio.create_task(
            run_signage(options, hall.device("signage-main"), on_built=built.set_result)
        )
        app = await built
        drawn: dict[str, float] = {}
        changed: set[str] = set()
        label = app.root.ids.call_number
        # The label re-renders its texture in the same clock tick as the text changes (a Clock
        # trigger scheduled from a trigger runs before the frame is drawn), so the first frame
        # swapped after the text changed is the one that shows the new number.
        label.bind(text=lambda _widget, text: changed.add(text))
        waiters: dict[str, asyncio.Future] = {}

        def on_frame() -> None:
            now = time.perf_counter()
            for text in list(changed):
                drawn.setdefault(text, now)
                future = waiters.pop(text, None)
                if future is not None and not future.done():
                    future.set_result(now)
            changed.clear()

        app.frame_listeners.append(on_frame)
        # When each call's event reached the screen's process (before it is drawn).
        received: dict[str, float] = {}
        handle = app.feed.handle

        def timed_handle(message: dict):
            event = message.get("event") or {}
            if event.get("type") == "ticket_called":
                received.setdefault(event["number"], time.perf_counter())
            return handle(message)

        app.feed.handle = timed_handle
        try:
            # Untimed: the tickets to call, 1/5 per queue, spread over each queue's services
            # (each service has a daily quota of 30 or more). One connection per queue: the
            # server lets one connection send a burst of 60 messages.
            for window in range(1, 6):
                kiosk = hall.device("kiosk-1")
                await kiosk.connect()
                queue = next(q for q in hall.config.queues if q.prefix == "ABCDE"[window - 1])
                await asyncio.gather(
                    *(
                        kiosk.command(
                            C.IssueTicket(service=queue.services[n % len(queue.services)])
                        )
                        for n in range(calls // 5 + 1)
                    )
                )
                await kiosk.close()
            staff = {w: hall.staff(f"w{w}", w) for w in range(1, 6)}
            await asyncio.gather(*(c.connect() for c in staff.values()))
            no_show: dict[int, asyncio.Task] = {}
            latencies, arrivals = [], []
            loop = asyncio.get_running_loop()
            for i in range(calls):
                window = i % 5 + 1  # windows 1..5 serve queues A..E first
                if window in no_show:  # untimed: free the window from its last call
                    await no_show.pop(window)
                t0 = time.perf_counter()
                reply = await staff[window].command(C.CallNext(counter=window))
                number = reply["events"][-1]["number"]
                if number in drawn:
                    t1 = drawn[number]
                else:
                    waiters[number] = loop.create_future()
                    try:
                        t1 = await asyncio.wait_for(waiters[number], 30)
                    except TimeoutError:
                        raise RuntimeError(
                            f"call {i}: {number} not drawn; the screen shows {label.text!r}"
                        ) from None
                latencies.append((t1 - t0) * 1000)
                arrivals.append((received[number] - t0) * 1000)
                if (i + 1) % 25 == 0:
                    print(f"{i + 1} calls, last {latencies[-1]:.0f} ms", file=sys.__stderr__)
                no_show[window] = asyncio.create_task(
                    staff[window].command(C.MarkNoShow(counter=window))
                )
            await asyncio.gather(*no_show.values())
            for client in staff.values():
                await client.close()
        finally:
            app.stop()
            await asyncio.wait_for(app_task, 30)
    return {"latencies_ms": latencies, "arrivals_ms": arrivals}


def run_child(args: argparse.Namespace) -> int:
    width, _, height = args.size.partition("x")
    import logging

    handler = logging.StreamHandler(sys.__stderr__)  # Kivy owns sys.stderr in this process
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    for name in ("queue_server.client", "queue_server.server", "signage"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            size = (int(width), int(height))
            result = asyncio.run(child(args.calls, size, args.fps, Path(tmp)))
    except Exception:
        # Kivy has taken sys.stderr over for its logger: say it on the real one.
        traceback.print_exc(file=sys.__stderr__)
        return 1
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=60, help="Kivy maxfps (the TV's default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)

    from tests.signage.support import kivy_env, xvfb
    from tests.signage.support import run_child as run_module

    started = time.time()
    with tempfile.TemporaryDirectory() as home, xvfb() as display:
        env = kivy_env(display, Path(home))
        out = run_module(
            "bench.bench_signage",
            ["--child", "--calls", str(args.calls), "--size", args.size, "--fps", str(args.fps)],
            env,
            timeout=1800,
        )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        print(f"the benchmark failed ({out.returncode}):", out.stdout[-2000:], out.stderr[-4000:],
              file=sys.stderr)  # fmt: skip
        return 1
    result = json.loads(lines[-1].removeprefix("RESULT "))
    ms, arrived = result["latencies_ms"], result["arrivals_ms"]
    load = os.getloadavg()[0]
    print(f"# signage call-to-screen latency, {len(ms)} calls, {args.size} at maxfps {args.fps}")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, took {time.time() - started:.0f} s")
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, load average {load:.1f}")
    print(
        f"median {statistics.median(ms):.1f} ms, p90 {percentile(ms, 90):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, min {min(ms):.1f} ms, max {max(ms):.1f} ms"
    )
    print(
        "of which until the event reached the screen's process: "
        f"median {statistics.median(arrived):.1f} ms, p99 {percentile(arrived, 99):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
