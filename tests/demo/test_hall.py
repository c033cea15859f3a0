"""The demo hall: its configuration, the simulated actors driven step by step on an injected
clock, and the real thing end to end: the queue server on 127.0.0.1 with the simulated kiosk and
staff (and the console) as its clients, on a temporary SQLite database."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
import pytest

from console.app import read_credentials
from demo.engine_link import EngineLink
from demo.hall import (
    ClientTicketMachine,
    Demand,
    Issued,
    SimKiosk,
    SimStaff,
    free_port,
    open_all_day,
    prepare_hall,
    summarise,
    use_port,
)
from queue_server import protocol as P
from queue_server.cli import credentials_path
from queue_server.client import SyncClient
from queue_server.config import load_config, parse_config
from queue_server.engine.hall import Hall
from queue_server.errors import QuotaExhausted
from queue_server.example_config import example_config
from queue_server.protocol import commands as C
from queue_server.protocol.states import TicketState

ROOT = Path(__file__).resolve().parents[2]
BEIJING = ZoneInfo("Asia/Shanghai")
A_SERVICE = "jisheng.birth_registration"  # queue A: window 1's own business
B_SERVICE = "renshe.employment_registration"  # queue B: window 2's own business


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def hall_path(tmp_path_factory) -> Path:
    return prepare_hall(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def config(hall_path):
    return load_config(hall_path)


# --- configuration ------------------------------------------------------------------------------


def test_the_demo_hall_is_open_every_day_all_day(config):
    assert config.hours.days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert config.hours.holidays == []
    hall = Hall(config)
    sunday_night = dt.datetime(2026, 10, 4, 3, 0, tzinfo=BEIJING)  # Sunday, and a holiday before
    saturday_late = dt.datetime(2026, 11, 28, 23, 30, tzinfo=BEIJING)
    assert hall.is_open_for_tickets(sunday_night)
    assert hall.is_open_for_tickets(saturday_late)
    # The example's own hours would have refused both.
    text, _ = example_config()
    example_hours = parse_config(tomllib.loads(text)).hours
    assert not example_hours.is_workday(sunday_night.date())
    assert not example_hours.is_workday(saturday_late.date())


def test_prepare_hall_keeps_an_existing_configuration(tmp_path, hall_path):
    text = hall_path.read_text(encoding="utf-8")
    assert "# Every key is checked on start" in text  # the example's comments survive the edit
    assert credentials_path(hall_path).is_file()  # and its clear credentials are beside it
    path = tmp_path / "hall.toml"
    path.write_text(text + "\n# edited by the technician\n", encoding="utf-8")
    assert prepare_hall(tmp_path) == path
    assert path.read_text(encoding="utf-8").endswith("# edited by the technician\n")


def test_open_all_day_replaces_the_hours_table_wherever_it_is(tmp_path, hall_path):
    original = hall_path.read_text(encoding="utf-8")
    head, _, rest = original.partition("[hours]")
    _, _, after = rest.partition("\n[rules]")
    # The hours table moved to the end of the file, with a last_ticket the demo must drop.
    moved = head + "[rules]" + after + '\n[hours]\ndays = ["mon"]\nlast_ticket = 16:30:00\n'
    path = tmp_path / "moved.toml"
    path.write_text(moved, encoding="utf-8")
    hours = open_all_day(path).hours
    assert len(hours.days) == 7 and hours.last_ticket is None
    assert path.read_text(encoding="utf-8").count("[hours]") == 1


# --- simulated actors, one step at a time -------------------------------------------------------


class Recorder:
    """A ticket machine that records requests and refuses the ones ``refuse`` picks."""

    def __init__(self, refuse=lambda command: False):
        self.commands: list[C.IssueTicket] = []
        self.id_numbers: list[str | None] = []
        self.refuse = refuse

    def issue(self, command, *, id_number):
        self.commands.append(command)
        self.id_numbers.append(id_number)
        if self.refuse(command):
            raise QuotaExhausted("今日该事项号源已发完", "Today's tickets are all taken")
        number = f"A{len(self.commands):03d}"
        return Issued(number, command.service, f"http://hall/t/{number}")


def test_kiosk_arrivals_follow_the_mix_priority_shares_and_rate(config):
    demand = Demand.for_hall(config)
    recorder = Recorder()
    kiosk = SimKiosk(recorder, demand, random.Random(1), speed=60)
    delays = [kiosk.step() for _ in range(4000)]
    commands = recorder.commands
    assert len(commands) == 4000
    elderly = sum(c.priority == "elderly" for c in commands) / len(commands)
    assert 0.13 < elderly < 0.17
    assert {c.service for c in commands} <= set(config.service_ids())
    # The most demanded service comes out more often than one with the default weight.
    permits = sum(c.service == "liuguan.residence_permit" for c in commands)
    awards = sum(c.service == "jisheng.only_child_award" for c in commands)
    assert permits > 3 * awards
    # Poisson arrivals at the hall's rate, sped up 60 times: mean gap 1 / (rate * speed).
    expected = 1 / (demand.rate_per_s * 60)
    assert statistics.fmean(delays) == pytest.approx(expected, rel=0.1)
    # A realistic pace for six windows: some 20 to 100 residents an hour.
    assert 20 < demand.rate_per_s * 3600 < 100
    # Most read their ID card; the number goes to the server, which keys it.
    with_id = [n for n in recorder.id_numbers if n is not None]
    assert 0.6 < len(with_id) / len(commands) < 0.8
    assert all(c.resident_key is None for c in commands)
    assert len(set(with_id)) < len(with_id)  # a few residents come twice
    # The kiosk grants no class that needs staff to check a document.
    priorities = {c.priority for c in commands}
    assert priorities == {"normal", "elderly"}
    assert kiosk.first_url == "http://hall/t/A001" and kiosk.issued[:2] == ["A001", "A002"]


def test_kiosk_logs_a_refusal_and_carries_on(config):
    recorder = Recorder(refuse=lambda c: c.service == "liuguan.residence_permit")
    kiosk = SimKiosk(recorder, Demand.for_hall(config), random.Random(2), speed=1)
    for _ in range(200):
        assert kiosk.step() > 0
    assert kiosk.refused["quota_exhausted"] > 0
    assert len(recorder.commands) == 200


def run_staff(staff: SimStaff, clock: Clock, *, until, max_steps: int = 2000) -> None:
    for _ in range(max_steps):
        if until():
            return
        clock.advance(staff.step())
    raise AssertionError("the simulated clerk did not get there")


def test_staff_calls_starts_and_finishes_around_the_service_time(config):
    clock = Clock(dt.datetime(2026, 11, 29, 10, 0, tzinfo=BEIJING))  # a Sunday: the demo is open
    hall = Hall(config)
    hall.handle(C.Tick(), clock())
    for _ in range(30):
        hall.handle(C.IssueTicket(service=A_SERVICE), clock())
    minutes = {s: v.service_minutes for s, v in config.service_settings().items()}
    staff = SimStaff(EngineLink(hall, 1, clock), 1, minutes, random.Random(3), speed=1)
    staff.NO_SHOW = 0.0  # this clerk's residents all turn up
    numbers = [t.number for t in hall.ordered_waiting(A_SERVICE)]
    run_staff(
        staff, clock, until=lambda: all(hall.ticket(n).state is TicketState.DONE for n in numbers)
    )
    assert staff.done == numbers  # called in order, each finished
    served = [
        (hall.ticket(n).finished_at - hall.ticket(n).started_at).total_seconds() for n in numbers
    ]
    assert statistics.fmean(served) == pytest.approx(minutes[A_SERVICE] * 60, rel=0.3)
    assert min(served) > 0


def test_staff_recalls_then_marks_a_no_show_and_speed_shortens_the_waits(config):
    clock = Clock(dt.datetime(2026, 11, 29, 10, 0, tzinfo=BEIJING))
    hall = Hall(config)
    hall.handle(C.Tick(), clock())
    hall.handle(C.IssueTicket(service=A_SERVICE), clock())
    staff = SimStaff(EngineLink(hall, 1, clock), 1, {}, random.Random(4), speed=100)
    staff.NO_SHOW = 1.0
    delays = []
    for _ in range(3):  # call, recall, no-show
        delays.append(staff.step())
        clock.advance(delays[-1])
    ticket = hall.ticket("A001")
    assert ticket.state is TicketState.NO_SHOW and ticket.recalls == 1
    assert max(delays) <= 40 / 100  # the walk-up time, a hundred times faster
    # Nobody waits: the clerk looks again later and nothing happens meanwhile.
    assert staff.step() == pytest.approx(SimStaff.POLL_S / 100)


def test_a_wall_clock_floor_keeps_fast_terminals_from_flooding_the_server(config):
    kiosk = SimKiosk(Recorder(), Demand.for_hall(config), random.Random(5), speed=1e6,
                     min_wait_s=0.05)  # fmt: skip
    assert min(kiosk.step() for _ in range(100)) == 0.05
    clock = Clock(dt.datetime(2026, 11, 29, 10, 0, tzinfo=BEIJING))
    hall = Hall(config)
    hall.handle(C.Tick(), clock())
    staff = SimStaff(EngineLink(hall, 1, clock), 1, {}, random.Random(6), speed=1e6,
                     min_wait_s=0.15)  # fmt: skip
    assert staff.step() == 0.15  # nobody waits: look again, but not at once


def test_use_port_rewrites_the_server_table(tmp_path, hall_path, config):
    path = tmp_path / "hall.toml"
    path.write_text(hall_path.read_text(encoding="utf-8"), encoding="utf-8")
    moved = use_port(path, config, 43210)
    assert (moved.server.port, moved.server.public_url) == (43210, "http://127.0.0.1:43210")
    again = load_config(path)
    assert (again.server.port, again.server.public_url) == (43210, "http://127.0.0.1:43210")
    assert "# what residents' phones open" in path.read_text(encoding="utf-8")
    assert free_port("127.0.0.1", 0) > 0


def test_summary_counts_per_queue(config):
    clock = Clock(dt.datetime(2026, 11, 29, 10, 0, tzinfo=BEIJING))
    hall = Hall(config)
    hall.handle(C.Tick(), clock())
    for service in (A_SERVICE, A_SERVICE, A_SERVICE, "renshe.social_insurance_card"):
        hall.handle(C.IssueTicket(service=service), clock())
    for command in (C.CallNext(counter=1), C.StartService(counter=1), C.FinishService(counter=1)):
        hall.handle(command, clock())
    hall.handle(C.CallNext(counter=5), clock())  # window 5 backs queue A up
    lines = summarise(list(hall.tickets.values())).splitlines()
    assert lines[0].split() == ["queue", "issued", "called", "at_window", "done", "no_show",
                                "waiting", "cancelled"]  # fmt: skip
    assert lines[1].split() == ["A", "3", "2", "1", "1", "0", "1", "0"]
    assert lines[2].split() == ["B", "1", "0", "0", "0", "0", "1", "0"]
    assert lines[3].split() == ["all", "4", "2", "1", "1", "0", "2", "0"]


# --- the demo end to end ------------------------------------------------------------------------

SERVER_LINE = re.compile(r"ws://127\.0\.0\.1:(\d+)/ws")
PAGE_LINE = re.compile(r"(http://127\.0\.0\.1:(\d+)/t/([\w.-]+))")


def demo_argv(directory: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "demo", "--dir", str(directory), *args]


def stored_tickets(directory: Path):
    from queue_server.storage import Store

    store = Store(load_config(directory / "hall.toml"))
    try:
        return store.stored_tickets(), store.events_since(0)
    finally:
        store.close()


def test_demo_issues_calls_and_finishes_tickets_through_the_server(tmp_path):
    result = subprocess.run(
        demo_argv(tmp_path, "--no-console", "--duration", "8", "--speed", "600", "--seed", "5",
                  "--port", "0"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # The banner names the server and a ticket's phone page on the port really used, and the
    # configuration says the same (a console in another terminal finds the server there).
    port = int(SERVER_LINE.search(result.stdout).group(1))
    page = PAGE_LINE.search(result.stdout)
    assert page is not None and int(page.group(2)) == port
    assert load_config(tmp_path / "hall.toml").server.public_url == f"http://127.0.0.1:{port}"
    assert f"has its phone page at {page.group(1)}" in result.stderr  # the log says it too
    tickets, events = stored_tickets(tmp_path)
    issued = len(tickets)
    called = sum(t.called_at is not None for t in tickets)
    done = sum(t.state is TicketState.DONE for t in tickets)
    # ~6 arrivals a second at 600x for 8 s; a loaded machine may do less, but never nothing.
    assert issued >= 15 and called >= 10 and done >= 5, (issued, called, done)
    # Through the server: the kiosk's device login set the channel, the staff logins called.
    assert {t.channel for t in tickets} == {"kiosk"}
    # ID numbers were keyed by the server; nothing else of them was kept.
    assert any(t.resident_key for t in tickets) and not any(
        t.resident_key and t.resident_key.startswith("DEMO") for t in tickets
    )
    numbers = [t.number for t in tickets]
    assert len(set(numbers)) == len(numbers)
    issued_numbers = [e.ticket.number for e in events if e.type == "ticket_issued"]
    assert sorted(issued_numbers) == sorted(numbers)
    calls = [e.number for e in events if e.type == "ticket_called"]
    assert len(calls) == len(set(calls)) == called  # each ticket called once (then recalled)
    # Each queue numbers from 001 without a gap.
    for prefix in {n[0] for n in numbers}:
        mine = sorted(int(n[1:]) for n in numbers if n[0] == prefix)
        assert mine == list(range(1, len(mine) + 1))
    # Every window was staffed (no console): each served someone.
    assert {t.counter for t in tickets if t.state is TicketState.DONE} >= {1, 2, 3, 4, 5}
    # The summary printed on exit agrees with the database.
    total = result.stdout.strip().splitlines()[-1].split()
    assert total[:3] == ["all", str(issued), str(called)]
    assert total[4] == str(done)


def test_demo_shows_a_working_ticket_page_and_stops_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        demo_argv(tmp_path, "--no-console", "--speed", "600", "--port", "0"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:  # waits for the banner
            page = PAGE_LINE.search(line)
            if page:
                break
        else:
            raise AssertionError("the banner showed no ticket page")
        # The page's token is a resident's login to that one ticket, on this server.
        url, port, token = page.groups()
        resident = SyncClient(f"ws://127.0.0.1:{port}/ws", P.ResidentAuth(token=token))
        try:
            welcome = resident.connect()
            assert welcome["role"] == "resident" and token.startswith(welcome["ticket"])
            assert resident.query("ticket").ticket.id == welcome["ticket"]
        finally:
            resident.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert out.strip().splitlines()[-1].startswith("all")
    assert url in err  # logged too


def test_demo_with_the_console_in_the_foreground(tmp_path):
    child = pexpect.spawn(
        sys.executable,
        demo_argv(tmp_path, "--speed", "600", "--window", "2", "--seed", "9", "--port", "0")[1:],
        cwd=str(ROOT),
        env=dict(os.environ, PYTHONIOENCODING="utf-8"),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    kiosk = None
    try:
        child.expect(SERVER_LINE)
        url = child.match.group(0)
        child.expect_exact("您在 2 号窗口")
        child.expect_exact("窗口2> ")
        # A kiosk of our own (the demo's credentials) brings window 2 someone to call; the
        # simulated windows 1 and 6 back its queue up and may take them first.
        credentials = read_credentials(credentials_path(tmp_path / "hall.toml"))
        token = credentials["kiosk-1"]
        kiosk = SyncClient(url, P.DeviceAuth(device_id="kiosk-1", token=token))
        kiosk.connect()
        machine = ClientTicketMachine(kiosk)
        for _ in range(20):
            machine.issue(C.IssueTicket(service=B_SERVICE), id_number=None)
            child.sendline("n")
            if child.expect([r"呼叫 ([A-E]\d{3})：请", "✗ 目前没有等候的号"]) == 0:
                break
            child.expect_exact("窗口2> ")
        else:
            raise AssertionError("window 2 never had anyone to call")
        number = child.match.group(1)
        child.expect_exact("窗口2> ")
        # Ctrl-C leaves the console and stops the demo (q is the console's own way out).
        child.sendintr()
        child.expect_exact("再见")
        child.expect(pexpect.EOF)
    finally:
        if kiosk is not None:
            kiosk.close()
        child.close(force=True)
    assert child.exitstatus == 0
    assert "Traceback" not in child.before
    assert child.before.strip().splitlines()[-1].startswith("all")  # the summary
    tickets, _ = stored_tickets(tmp_path)
    mine = next(t for t in tickets if t.number == number)
    assert mine.counter == 2 and mine.state is TicketState.CALLED
    # The other windows were simulated; window 2 was left to the console.
    assert not any(t.counter == 2 and t.state is TicketState.DONE for t in tickets)
    log_text = (tmp_path / "demo.log").read_text(encoding="utf-8")
    assert "has its phone page at http://127.0.0.1:" in log_text
