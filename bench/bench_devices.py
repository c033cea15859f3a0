"""Device-layer benchmarks (issue 4): how much of a kiosk's wait is our software.

    .venv/bin/python -m bench.bench_devices [--rounds N]

1. SAM_V framing: 1295-byte read answers fed to FrameParser in 64-byte chunks, frames per second.
2. A whole card read (find -> select -> read 30 01) against the simulated reader on a pty. A pty
   has no baud rate, so this is our overhead; a real reader adds ~112 ms of wire time at 115200.
3. Ticket rendering to python-escpos Dummy: raster (Pillow + CJK font) on 80 and 58 mm, and
   GB18030 text with a native QR code; the bytes each ticket takes on the wire.
4. A status poll (DLE EOT 1..4) against the fake network printer on 127.0.0.1.
5. A scanned code from the scanner's last byte on a pty to read_code() returning it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date, datetime

from escpos.printer import Dummy

from devices.open import open_device
from devices.printer import PROFILES, render_ticket, sample_ticket
from devices.samv import FrameParser, SamvReader, build_frame
from devices.scanner import SerialScanner
from devices.sim import FAKE_PHOTO, SAMPLE_CARDS, PtyPair, SamvSimulator, encode_text_block
from harness.fake_printer import FakeTcpPrinter
from queue_server.engine.quantile import quantile


def _ms(samples: list[float]) -> str:
    p95 = quantile(samples, 0.95)
    return f"median {statistics.median(samples) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def bench_framing(rounds: int) -> None:
    text = encode_text_block(SAMPLE_CARDS["resident"])
    body = b"\x00\x00\x90" + b"\x01\x00\x04\x00" + text + FAKE_PHOTO
    stream = build_frame(body) * rounds
    parser = FrameParser()
    t0 = time.perf_counter()
    frames = 0
    for i in range(0, len(stream), 64):
        frames += len(parser.feed(stream[i : i + 64]))
    elapsed = time.perf_counter() - t0
    assert frames == rounds
    print(f"SAM_V framing: {frames / elapsed:,.0f} read answers/s (1295 bytes, 64-byte chunks)")


def bench_card_read(rounds: int) -> None:
    pair = PtyPair()
    sim = SamvSimulator(pair.master).start()
    sim.place(SAMPLE_CARDS["resident"])
    reader = SamvReader(pair.path, today=lambda: date(2026, 11, 26))
    samples = []
    try:
        reader.read_card()  # warm-up: opens the port
        for _ in range(rounds):
            t0 = time.perf_counter()
            reader.read_card()
            samples.append(time.perf_counter() - t0)
    finally:
        reader.close()
        sim.stop()
        pair.close()
    print(f"SAM_V card read over a pty (find, select, read): {_ms(samples)}")


def bench_render(rounds: int) -> None:
    ticket = sample_ticket(datetime(2026, 11, 26, 9, 30))
    for name in ("raster-80", "raster-58", "gb18030-80"):
        samples = []
        size = 0
        for _ in range(rounds):
            p = Dummy(profile=PROFILES[name].escpos_profile)
            t0 = time.perf_counter()
            render_ticket(p, ticket, PROFILES[name])
            samples.append(time.perf_counter() - t0)
            size = len(p.output)
        print(f"render {name}: {_ms(samples)}, {size:,} bytes on the wire")


def bench_status(rounds: int) -> None:
    fake = FakeTcpPrinter()
    printer = open_device("printer", fake.url, profile="gb18030-80")
    samples = []
    try:
        printer.status()
        for _ in range(rounds):
            t0 = time.perf_counter()
            printer.status()
            samples.append(time.perf_counter() - t0)
    finally:
        printer.close()
        fake.close()
    print(f"printer status poll (DLE EOT 1-4) over TCP loopback: {_ms(samples)}")


def bench_scan(rounds: int) -> None:
    pair = PtyPair()
    scanner = SerialScanner(pair.path, suffix="crlf", dedup_window=0)
    scanner.open()
    samples = []
    try:
        for i in range(rounds):
            t0 = time.perf_counter()
            os.write(pair.master, f"CODE-{i}\r\n".encode())
            assert scanner.read_code(2.0) == f"CODE-{i}"
            samples.append(time.perf_counter() - t0)
    finally:
        scanner.close()
        pair.close()
    print(f"scanned code, write to read_code() on a pty: {_ms(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    bench_framing(args.rounds * 10)
    bench_card_read(args.rounds)
    bench_render(max(20, args.rounds // 10))
    bench_status(args.rounds)
    bench_scan(args.rounds)


if __name__ == "__main__":
    main()
