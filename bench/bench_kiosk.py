"""Kiosk benchmarks (issue 6): cold start to the welcome screen; a simulated card placed →
the ticket's bytes handed to the printer; RSS while 500 residents are served in a loop.

    .venv/bin/python -m bench.bench_kiosk [--starts 3] [--cards 20] [--residents 500]
    .venv/bin/python -m bench.bench_kiosk --ime     # the pinyin input method only (no window)
    .venv/bin/python -m bench.bench_kiosk --before DIR --starts 8   # cold starts against DIR's

Runs under its own Xvfb. Each measurement process is the real app (kiosk.app.run_kiosk) with
simulated devices behind their real drivers and worker threads, against a real queue server in
another process (harness/clocked_server.py), started by this one before the kiosk's process is
spawned: the cold start is the kiosk's alone (until issue 15 the kiosk's process started the
server itself, and its figure counted the server's imports and start too). The first start of a
run also extracts the CJK font into an empty cache (a kiosk's first boot); the others find it
there. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = dt.datetime(2026, 11, 26, 10, 0)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def child(mode: str, spawned: float, hall_dir: Path, cards: int, residents: int) -> dict:
    # Only what a kiosk imports comes before the first frame: the server runs in the parent's
    # child process (server_process), so its start and its imports are not the kiosk's.
    import pickle

    from kiosk.app import Options, run_kiosk
    from queue_server import protocol as P
    from queue_server.client import HallClient

    def person(i: int) -> Identity:
        birth = dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
        first17 = f"110105{birth:%Y%m%d}{i % 1000:03d}"
        return Identity(
            document_type=DocumentType.RESIDENT_ID, number=make_number(first17),
            name="测试", sex=Sex.MALE, nation="汉", birth_date=birth, address="北京",
            authority="北京", valid_from=dt.date(2020, 1, 1), valid_to=None,
        )  # fmt: skip

    result: dict = {}
    config = pickle.loads((hall_dir / "config.pickle").read_bytes())
    credentials = json.loads((hall_dir / "credentials.json").read_text())
    url = (hall_dir / "url").read_text()
    auth = P.DeviceAuth(device_id="kiosk-1", token=credentials["kiosk-1"])
    client = HallClient(url, auth, backoff_min=0.05, backoff_max=0.5)
    # Simulators named by URL, as a hall's [[devices]] entry would: no --demo badge or buttons.
    options = Options(
        config=config, size=(1920, 1080), maxfps=30, reader="sim://", scanner="sim://",
        printer="sim://?profile=gb18030-80",
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    built = loop.create_future()
    first_frame = loop.create_future()
    task = asyncio.create_task(
        run_kiosk(options, client, on_built=built.set_result, today=START.date)
    )
    app = await built

    def flipped(*_):
        if not first_frame.done() and app.screen_name == "welcome":
            first_frame.set_result(time.time())

    from kivy.core.window import Window

    Window.bind(on_flip=flipped)
    app.root.canvas.ask_update()
    result["cold_start_s"] = (await first_frame) - spawned
    try:
        if mode == "start":
            return result
        from devices.identity import DocumentType, Identity, Sex
        from devices.sim import make_number
        from harness.terminal_driver import until
        from kiosk.flow import Screen

        await until(app, lambda: app.flow.printer_problem is None and app.flow.server_up
                    and app.flow.screen == Screen.WELCOME,
                    "ready")  # fmt: skip
        flow, runtime = app.flow, app.runtime
        # A card placed at "please place your card" → the ticket's cut handed to the printer.
        handed: list[float] = []
        escpos = app.printer.escpos
        raw = escpos._raw

        def recording(data: bytes) -> None:
            raw(data)
            if b"\x1dV" in data or b"\x1bi" in data or b"\x1bm" in data:
                handed.append(time.perf_counter())

        escpos._raw = recording
        latencies = []
        for i in range(cards):
            runtime.do(flow.start())
            runtime.do(flow.choose_bureau("liuguan"))
            runtime.do(flow.choose_service("liuguan.residence_permit"))
            runtime.do(flow.take_ticket())
            assert flow.screen == Screen.NEED_CARD, flow.screen
            # The reader must have seen the last card go, or a new one is no new arrival.
            await until(app, lambda: not app.workers[0]._present, "the reader empty")
            before = len(handed)
            t0 = time.perf_counter()
            app.reader.place(person(10_000 + i))
            await until(app, lambda b=before: len(handed) > b and flow.screen == Screen.TICKET,
                        "the ticket")  # fmt: skip
            latencies.append(handed[before] - t0)
            runtime.do(flow.home())
        result["card_to_printer_ms"] = sorted(x * 1000 for x in latencies)
        # 500 residents, one after another: card, bureau, service, ticket, home.
        from devices.runner import DeviceEvent, EventKind

        # Spread the residents over the services within their daily quotas.
        left = {s.id: s.daily_quota or residents for s in config.services}
        left["liuguan.residence_permit"] -= cards
        plan: list[str] = []
        while len(plan) < residents and any(v > 0 for v in left.values()):
            for sid, n in left.items():
                if n > 0 and len(plan) < residents:
                    plan.append(sid)
                    left[sid] -= 1
        if len(plan) < residents:
            raise SystemExit(f"the hall's quotas allow only {len(plan)} tickets")
        samples = []
        t_loop = time.perf_counter()
        for i, sid in enumerate(plan):
            app.device_event(DeviceEvent("id", EventKind.CARD_READ, person(i)))
            await until(app, lambda: flow.screen == Screen.BUREAUS, "bureaus", timeout=30)
            runtime.do(flow.choose_bureau(sid.split(".")[0]))
            runtime.do(flow.choose_service(sid))
            runtime.do(flow.take_ticket())
            await until(app, lambda: flow.screen in (Screen.TICKET, Screen.NOTICE),
                        "ticket", timeout=30)  # fmt: skip
            assert flow.screen == Screen.TICKET, flow.visit.notice_body
            runtime.do(flow.home())
            await until(app, lambda: app.screen_name == "welcome", "welcome", timeout=30)
            if (i + 1) % 50 == 0:
                samples.append((i + 1, rss_kib()))
        result["loop_s"] = time.perf_counter() - t_loop
        result["rss_kib"] = samples
        result["renders"] = app.renders
        return result
    finally:
        app.stop()
        await asyncio.wait_for(task, 30)


def run_child(mode: str, display: str, home: Path, args, code: Path | None = None) -> dict:
    """One kiosk process against a hall served from another process, started (and up) first:
    a kiosk starting on a hall's morning finds its server running. ``code``: another
    checkout whose kiosk runs (this file's child against its code, as bench_queue --before)."""
    from harness.clocked_server import server_process
    from harness.halls import ZONE
    from harness.screens import ROOT, kivy_env

    out = home / f"{mode}-{time.time_ns()}"
    env = kivy_env(display, home)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    with server_process(out / "hall", START.replace(tzinfo=ZONE)) as hall:
        (out / "hall" / "url").write_text(hall.url)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
               "--out", str(out / "hall"), "--spawned", repr(time.time()),
               "--cards", str(args.cards), "--residents", str(args.residents)]  # fmt: skip
        done = subprocess.run(cmd, cwd=code or ROOT, env=env, capture_output=True, text=True,
                              timeout=3600, check=False)  # fmt: skip
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"bench child failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def ime_figures(rounds: int = 200) -> dict:
    """The pinyin input method (ui/ime.py): the tables built cold in a fresh process, then the
    candidates after each keystroke of typical entries, against the catalog search the search
    screen runs after each keystroke (the baseline, same process)."""
    code = (
        "import time; t = time.perf_counter(); from ui.ime import pinyin_table; "
        "pinyin_table(); print(time.perf_counter() - t)"
    )
    from harness.screens import ROOT

    builds = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )  # fmt: skip
        for _ in range(3)
    ]
    from content import default_catalog
    from ui.ime import PinyinIME, pinyin_table

    pinyin_table()
    catalog = default_catalog()
    catalog.prepare_search()  # as a kiosk does after its first frame
    entries = ["zhangsan", "beijingshi", "chaoyangqu", "jinzhan", "zh", "shi"]

    def per_key(step) -> float:
        keys = 0
        t = time.perf_counter()
        for _ in range(rounds):
            for entry in entries:
                ime = PinyinIME(page_size=6)
                for i, letter in enumerate(entry):
                    step(ime, letter, entry[: i + 1])
                    keys += 1
        return (time.perf_counter() - t) / keys * 1e6

    def ime_step(ime, letter, _typed):
        ime.type(letter)
        ime.page_candidates()

    def search_step(_ime, _letter, typed):
        catalog.search(typed, limit=40)

    return {
        "build_s": builds,
        "ime_us": per_key(ime_step),
        "search_us": per_key(search_step),
        "rounds": rounds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--ime", action="store_true", help="only the pinyin input figures")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="cold starts only, alternating with the kiosk of the checkout in DIR",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.out.mkdir(parents=True, exist_ok=True)
        try:
            result = asyncio.run(
                child(args.child, args.spawned, args.out, args.cards, args.residents)
            )
        except BaseException:
            import traceback

            traceback.print_exc(file=sys.__stderr__)  # Kivy holds sys.stderr
            return 1
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    if args.ime:
        ime = ime_figures()
        print(f"Measured {dt.date.today()} with `python -m bench.bench_kiosk --ime`\n")
        print("| what | result |\n|---|---|")
        print(f"| pinyin tables built, cold (fresh process) | median "
              f"{statistics.median(ime['build_s']):.2f} s (of "
              f"{', '.join(f'{b:.2f}' for b in ime['build_s'])}) |")  # fmt: skip
        print(f"| candidates after a keystroke | {ime['ime_us']:.0f} µs |")
        print(f"| baseline: the catalog search after a keystroke | {ime['search_us']:.0f} µs |")
        return 0
    from harness.screens import xvfb

    if args.before:
        return compare_starts(args)
    with tempfile.TemporaryDirectory() as tmp, xvfb() as display:
        home = Path(tmp)
        starts = [
            run_child("start", display, home, args)["cold_start_s"] for _ in range(args.starts)
        ]
        loop = run_child("loop", display, home, args)
    lat = loop["card_to_printer_ms"]
    rss = loop["rss_kib"]
    print(f"Measured {dt.date.today()} with `python -m bench.bench_kiosk --starts {args.starts} "
          f"--cards {args.cards} --residents {args.residents}`\n")  # fmt: skip
    print("| what | result |\n|---|---|")
    print(
        f"| cold start to the welcome screen (process spawn → first frame) | median "
        f"{statistics.median(starts):.2f} s (of {', '.join(f'{s:.2f}' for s in starts)}) |"
    )
    print(
        f"| card placed → ticket handed to the printer ({len(lat)} cards) | median "
        f"{statistics.median(lat):.0f} ms, max {max(lat):.0f} ms |"
    )
    print(
        f"| {args.residents} residents served in a loop | {loop['loop_s']:.1f} s "
        f"({loop['loop_s'] / args.residents * 1000:.0f} ms each) |"
    )
    print(f"| RSS after 50 / 250 / {args.residents} residents | "
          + " / ".join(f"{kib / 1024:.1f} MiB" for n, kib in rss if n in (50, 250, args.residents))
          + " |")  # fmt: skip
    print(f"\nRSS every 50 residents (MiB): {', '.join(f'{k / 1024:.1f}' for _, k in rss)}")
    return 0


def compare_starts(args) -> int:
    """``--starts`` cold starts of DIR's kiosk and of this checkout's, alternating, after one
    untimed start that fills the (shared) font and escpos caches."""
    from harness.screens import xvfb

    before: list[float] = []
    after: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, xvfb() as display:
        home = Path(tmp)
        run_child("start", display, home, args)
        for _ in range(args.starts):
            before.append(run_child("start", display, home, args, args.before)["cold_start_s"])
            after.append(run_child("start", display, home, args)["cold_start_s"])
    print(f"Measured {dt.date.today()} with `python -m bench.bench_kiosk --before DIR "
          f"--starts {args.starts}`\n")  # fmt: skip
    print("| cold start to the welcome screen | median | all |\n|---|---:|---|")
    for name, starts in (("before (DIR)", before), ("this checkout", after)):
        listed = ", ".join(f"{s:.2f}" for s in sorted(starts))
        print(f"| {name} | {statistics.median(starts):.2f} s | {listed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
