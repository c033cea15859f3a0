"""Signage benchmark (issue 7): from a window's call request to the call drawn on the main screen.

    .venv/bin/python -m bench.bench_signage [--calls 200] [--size 1920x1080] [--fps 60]
                                            [--modes thread,loop]

It starts a virtual display (Xvfb) and, per mode, a real queue server in its own process and
the signage main screen (Kivy, the real layout with its scrolling notices and call flash, voice
off) in a child process. In that child, five staff clients (windows 1 to 5) and a bare
subscriber run in a thread of their own (the client's ``LoopThread``), never in the screen's
event loop, as the hall's counters run on their own machines. One clock (time.perf_counter in
that process) times every end. For each call: t0 just before the staff client sends
``call_next``; t1 when the first frame whose big number shows the called ticket has been swapped
to the screen (``Window.on_flip`` after the label's text changed). After each call the window
marks a no-show, untimed, so it can call again.

Modes: ``thread`` is the screen as it ships (its client in a thread of its own); ``loop`` is the
old way, its client in the loop that runs Kivy (``App.async_run``), as the baseline. Beside each
figure: when the ``ticket_called`` event reached the screen's feed, and when it reached the
bare subscriber (a HallClient that draws nothing: the server's and the network's share).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from queue_server.engine.quantile import quantile


async def child(calls: int, size: tuple[int, int], fps: int, folder: Path, mode: str) -> dict:
    from harness.server_proc import server_process
    from queue_server.client import LoopThread
    from queue_server.protocol import commands as C
    from signage.app import Options, run_signage
    from signage.settings import SignageSettings

    load_before = os.getloadavg()[0]
    with server_process(folder / "hall") as hall, LoopThread("bench-callers") as callers:
        options = Options(
            config=hall.config,
            settings=SignageSettings(player="none"),
            mode="main",
            size=size,
            voice=False,
            maxfps=fps,
            client_thread=mode == "thread",
        )
        built = asyncio.get_running_loop().create_future()
        app_task = asyncio.create_task(
            run_signage(options, hall.device("signage-main"), on_built=built.set_result)
        )
        app = await built
        from kivy.core.window import Window

        lock = threading.Lock()
        drawn: dict[str, float] = {}
        waiters: dict[str, concurrent.futures.Future] = {}
        changed: set[str] = set()
        label = app.root.ids.call_number
        # The label renders its new texture in the same clock tick as its text changes (the
        # feed's refresh runs before the frame is drawn), so the first frame swapped after the
        # text changed is the one that shows the new number.
        label.bind(text=lambda _widget, text: changed.add(text))

        def on_frame() -> None:  # the Kivy thread
            now = time.perf_counter()
            with lock:
                for text in changed:
                    drawn.setdefault(text, now)
                    future = waiters.pop(text, None)
                    if future is not None and not future.done():
                        future.set_result(now)
            changed.clear()

        app.frame_listeners.append(on_frame)
        swaps: list[float] = []
        flip = Window.flip

        def timed_flip() -> None:
            started = time.perf_counter()
            flip()
            swaps.append(time.perf_counter() - started)

        Window.flip = timed_flip
        # When each call's event reached the screen's feed (before it is drawn).
        received: dict[str, float] = {}
        deliver = app.feed.deliver

        def timed_deliver(item) -> None:
            event = getattr(item, "data", {}).get("event") or {}
            if event.get("type") == "ticket_called":
                received.setdefault(event["number"], time.perf_counter())
            deliver(item)

        app.feed.deliver = timed_deliver
        # Untimed: the screen's first snapshot, so that every timed call comes as an event.
        subscribed = asyncio.get_running_loop().create_future()

        def check_subscribed() -> None:
            if app.state.seq >= 0 and not subscribed.done():
                subscribed.set_result(None)

        app.frame_listeners.append(check_subscribed)
        app.root.canvas.ask_update()
        await asyncio.wait_for(subscribed, 60)
        app.frame_listeners.remove(check_subscribed)

        async def call_all() -> dict:  # in the callers' thread
            # Untimed: the tickets to call, 1/5 per queue and some to spare (a window may take
            # a long-waiting ticket of its second queue), spread over each queue's services
            # (each has a daily quota of 30 or more). One connection per queue: the server
            # lets one connection send a burst of 60 messages.
            for window in range(1, 6):
                kiosk = hall.device("kiosk-1")
                await kiosk.connect()
                queue = next(q for q in hall.config.queues if q.prefix == "ABCDE"[window - 1])
                await asyncio.gather(
                    *(
                        kiosk.command(
                            C.IssueTicket(service=queue.services[n % len(queue.services)])
                        )
                        for n in range(calls // 5 + 10)
                    )
                )
                await kiosk.close()
            bare = hall.device("signage-main")
            await bare.connect()
            await bare.subscribe("public")
            at_bare: dict[str, float] = {}

            async def listen() -> None:
                async for message in bare.messages():
                    event = message.get("event") or {}
                    if event.get("type") == "ticket_called":
                        at_bare.setdefault(event["number"], time.perf_counter())

            listener = asyncio.create_task(listen())
            staff = {w: hall.staff(f"w{w}", w) for w in range(1, 6)}
            await asyncio.gather(*(c.connect() for c in staff.values()))
            no_show: dict[int, asyncio.Task] = {}
            out: dict = {"latencies_ms": [], "arrivals_ms": [], "bare_ms": []}
            frames_before = len(swaps)
            for i in range(calls):
                window = i % 5 + 1  # windows 1..5 serve queues A..E first
                if window in no_show:  # untimed: free the window from its last call
                    await no_show.pop(window)
                t0 = time.perf_counter()
                reply = await staff[window].command(C.CallNext(counter=window))
                number = reply.events[-1]["number"]
                with lock:
                    t1 = drawn.get(number)
                    if t1 is None:
                        waiter = waiters[number] = concurrent.futures.Future()
                if t1 is None:
                    try:
                        t1 = await asyncio.wait_for(asyncio.wrap_future(waiter), 30)
                    except TimeoutError:
                        raise RuntimeError(
                            f"call {i}: {number} not drawn; the screen shows {label.text!r}"
                        ) from None
                out["latencies_ms"].append((t1 - t0) * 1000)
                out["arrivals_ms"].append((received[number] - t0) * 1000)
                if number in at_bare:
                    out["bare_ms"].append((at_bare[number] - t0) * 1000)
                if (i + 1) % 25 == 0:
                    last = out["latencies_ms"][-1]
                    print(f"{mode}: {i + 1} calls, last {last:.0f} ms", file=sys.__stderr__)
                no_show[window] = asyncio.create_task(
                    staff[window].command(C.MarkNoShow(counter=window))
                )
            await asyncio.gather(*no_show.values())
            frames = swaps[frames_before:]
            out["swaps"] = len(frames)
            out["swap_median_ms"] = statistics.median(frames) * 1000 if frames else 0.0
            listener.cancel()
            for client in (*staff.values(), bare):
                await client.close()
            return out

        try:
            started = time.perf_counter()
            result = await callers.run_async(call_all())
            result["seconds"] = time.perf_counter() - started
        finally:
            app.stop()
            await asyncio.wait_for(app_task, 30)
    result["load"] = [load_before, os.getloadavg()[0]]
    return result


def run_child(args: argparse.Namespace) -> int:
    width, _, height = args.size.partition("x")
    import logging

    handler = logging.StreamHandler(sys.__stderr__)  # Kivy owns sys.stderr in this process
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    for name in ("queue_server.client", "queue_server.server", "signage", "ui"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            size = (int(width), int(height))
            result = asyncio.run(child(args.calls, size, args.fps, Path(tmp), args.modes))
    except Exception:
        # Kivy has taken sys.stderr over for its logger: say it on the real one.
        traceback.print_exc(file=sys.__stderr__)
        return 1
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def report(mode: str, result: dict) -> None:
    ms, arrived, bare = result["latencies_ms"], result["arrivals_ms"], result["bare_ms"]

    def line(values: list[float]) -> str:
        return (
            f"median {statistics.median(values):.1f}, p90 {quantile(values, 0.9):.1f}, "
            f"p99 {quantile(values, 0.99):.1f}, min {min(values):.1f}, max {max(values):.1f} ms"
        )

    within = sum(1 for v in ms if v <= 1000)
    print(f"## {mode}: {len(ms)} calls in {result['seconds']:.0f} s, "
          f"load average {result['load'][0]:.1f} before, {result['load'][1]:.1f} after")  # fmt: skip
    print(f"  call drawn:             {line(ms)}; {within}/{len(ms)} within 1 s")
    print(f"  event at the screen:    {line(arrived)}")
    print(f"  event at a bare client: {line(bare)}")
    print(f"  frames swapped: {result['swaps']}, median swap {result['swap_median_ms']:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=60, help="Kivy maxfps (the TV's default)")
    parser.add_argument(
        "--modes",
        default="thread,loop",
        help="thread (the client in its own thread, as shipped), loop (the old way: the "
        "baseline); comma-separated, run one after the other",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)

    from harness.screens import kivy_env, xvfb
    from harness.screens import run_child as run_module

    started = time.time()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as home, xvfb() as display:
        env = kivy_env(display, Path(home))
        for mode in args.modes.split(","):
            out = run_module(
                "bench.bench_signage",
                ["--child", "--calls", str(args.calls), "--size", args.size,
                 "--fps", str(args.fps), "--modes", mode],
                env,
                timeout=1800,
            )  # fmt: skip
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode != 0 or not lines:
                print(f"the benchmark failed ({mode}, {out.returncode}):", out.stdout[-2000:],
                      out.stderr[-4000:], file=sys.stderr)  # fmt: skip
                return 1
            results[mode] = json.loads(lines[-1].removeprefix("RESULT "))
    print(f"# signage call-to-screen latency, {args.calls} calls, {args.size} at maxfps {args.fps}")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, took {time.time() - started:.0f} s")
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    for mode, result in results.items():
        report(mode, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
