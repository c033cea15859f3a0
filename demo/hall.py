"""``python main.py demo``: a demo hall, end to end, through the real queue server.

What runs:

- the queue server (``QueueServer``) on 127.0.0.1, on its own thread and event loop, on the demo
  hall's SQLite database; it ticks by itself (a new day opens, bookings expire);
- a simulated kiosk (device ``kiosk-1``), a client of the server: Poisson arrivals with a service
  mix and priority shares (~15 % elderly), at the pace a real hall sees, accelerated by
  ``--speed``; refusals are logged and it goes on;
- simulated staff at every window but the console's (logins ``w2`` ... ``w6``), clients too:
  call, start and finish with random service times around each service's ``service_minutes``
  (also accelerated), now and then a recall or a no-show;
- in the foreground, the staff console (``console.app``) for ``--window`` (login
  ``w<window>``); or, with ``--no-console``, nothing until ``--duration`` seconds pass or
  SIGINT/SIGTERM, then a summary;
- with a display (``--kiosk``, the default when ``$DISPLAY`` is set and the console runs), the
  real terminal apps in their own windows and processes: the kiosk and the navigation terminal
  (``navigator-1``; its demo button scans the first ticket the simulated kiosk issued) started
  with ``--demo`` (devices simulated, every screen marked 演示), and the main call screen with
  its voice. Without a display none of them starts.

Every credential comes from the ``hall.toml.credentials`` file written beside the configuration.
Each ticket has a phone page at ``http://127.0.0.1:PORT/t/<token>``; the banner shows one.

Each simulated actor is a plain object whose ``step()`` does one thing and returns how long to wait
before the next; ``ActorThread`` only waits and repeats. Tests drive ``step()`` directly.

The engine runs on the real clock: ``--speed`` compresses the simulated residents and staff, not
time itself, so the day, the opening hours and the stored times stay true.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import random
import re
import signal
import socket
import sys
import threading
import tomllib
from collections import Counter as Tally
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import tomli_w

from console.app import (
    ClientLink,
    ConsoleCore,
    HallLink,
    WindowStatus,
    read_credentials,
    run_console,
)
from queue_server import protocol as P
from queue_server.cli import credentials_path, write_example
from queue_server.client import LinkDown, LoopThread, SyncClient
from queue_server.config import HallConfig, load_config, load_hall_config
from queue_server.engine import events as V
from queue_server.engine.model import Ticket
from queue_server.errors import ConfigError, EngineError, StorageError, YikouError
from queue_server.protocol import commands as C
from queue_server.protocol.states import CounterState, TicketState

if TYPE_CHECKING:
    from queue_server.server import QueueServer

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / "var" / "demo"

# Relative demand per service (a street hall: residence permits and social-insurance cards lead);
# a service not named here weighs 1.
SERVICE_MIX: dict[str, float] = {
    "liuguan.residence_permit": 6,
    "liuguan.residence_registration": 3,
    "renshe.social_insurance_card": 5,
    "renshe.employment_registration": 3,
    "laoling.senior_allowance": 3,
    "laoling.senior_card": 2,
    "jisheng.birth_registration": 2,
    "minzheng.subsistence_allowance": 1.5,
}
# Share of arrivals in each priority class; the rest are "normal". Classes the hall lacks are
# skipped.
PRIORITY_SHARES: dict[str, float] = {
    "elderly": 0.15,
    "disabled": 0.02,
    "military": 0.01,
    "pregnant": 0.01,
}
# Offered load as a share of all windows' capacity: busy but stable, queues come and go.
UTILISATION = 0.8
# Share of arrivals who read their ID card (the others take an anonymous ticket).
WITH_ID_CARD = 0.7
RESIDENTS = 5000  # size of the simulated neighbourhood, so a few residents come twice

MIN_DELAY_S = 0.001
# Wall-clock floors between the steps of the simulated terminals, so that however high
# ``--speed`` goes none of them floods the server (it rate-limits every connection).
KIOSK_MIN_WAIT_S = 0.05
STAFF_MIN_WAIT_S = 0.15


# --- the demo hall's configuration --------------------------------------------------------------

ALL_DAY_HOURS = {
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "open": dt.time(0, 0),
    "close": dt.time(23, 59, 59),
    "holidays": [],
    "extra_workdays": [],
}


def open_all_day(path: Path) -> HallConfig:
    """Rewrite the ``[hours]`` table of the TOML at ``path`` to every day, all day; validate.

    The rest of the file, comments included, is kept: only that table's text is replaced.
    """
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    hours = {k: v for k, v in data.get("hours", {}).items() if k != "last_ticket"}
    hours.update(ALL_DAY_HOURS)
    block = "[hours]\n# The demo hall never closes, so the demo works at night and at weekends.\n"
    block += "".join(f"{key} = {_toml_value(value)}\n" for key, value in hours.items())
    # The table runs from its header to the next table header (or the end of the file).
    pattern = re.compile(r"^\[hours\][^\n]*\n.*?(?=^\[|\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _toml_value(value: object) -> str:
    """One TOML value on one line (tomli_w would spread a list over several)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").strip()


def prepare_hall(directory: Path) -> Path:
    """``directory/hall.toml``, written (the example, open all day) if it does not exist yet."""
    path = directory / "hall.toml"
    if not path.exists():
        write_example(path)
        open_all_day(path)
        log.info("wrote the demo hall's configuration to %s", path)
    return path


def free_port(host: str, preferred: int) -> int:
    """``preferred`` if nothing listens there yet, else a port the system picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError(f"no free port on {host}")


def use_port(path: Path, config: HallConfig, port: int) -> HallConfig:
    """The demo's server listens on 127.0.0.1:``port``: say so in the ``[server]`` table of the
    TOML at ``path`` (so a console in another terminal finds it, and ticket pages point there)
    and in ``config``."""
    public_url = f"http://127.0.0.1:{port}"
    if (config.server.port, config.server.public_url) != (port, public_url):
        text = path.read_text(encoding="utf-8")
        table = re.compile(r"^\[server\][^\n]*\n.*?(?=^\[|\Z)", re.MULTILINE | re.DOTALL)

        def edit(match: re.Match[str]) -> str:
            block = match.group(0)
            for key, value in (("port", str(port)), ("public_url", f'"{public_url}"')):
                line = re.compile(rf"^{key}\s*=\s*[^#\n]*?(?=\s*(#|$))", re.MULTILINE)
                if line.search(block):
                    block = line.sub(f"{key} = {value}", block, count=1)
                else:
                    block = block.rstrip("\n") + f"\n{key} = {value}\n"
            return block

        if table.search(text):
            text = table.sub(edit, text, count=1)
        else:
            text = text.rstrip("\n") + f'\n\n[server]\nport = {port}\npublic_url = "{public_url}"\n'
        path.write_text(text, encoding="utf-8")
    server = config.server.model_copy(
        update={"host": "127.0.0.1", "port": port, "public_url": public_url}
    )
    return config.model_copy(update={"server": server})


class ServerThread:
    """The real queue server on a thread and event loop of its own."""

    def __init__(self, config: HallConfig, *, host: str = "127.0.0.1", port: int | None = None):
        from queue_server.server import QueueServer
        from queue_server.storage import Store, migrate
        from queue_server.storage.store import make_engine

        # The demo owns its database: one left by an older version is brought up to this
        # software's schema here (a hall's server refuses it and names `db upgrade`).
        engine = make_engine(config.storage.url, statement_timeout_s=0)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        self.loop = LoopThread("queue-server")
        try:
            self.server: QueueServer = QueueServer(config, Store(config), host=host, port=port)
        except BaseException:
            self.loop.close()
            raise
        self.host = host
        self._started = False

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def start(self) -> None:
        try:
            self.loop.run(self.server.start(), timeout=30)
        except BaseException:
            self.server.actor.close()
            self.loop.close()
            raise
        self._started = True

    def submit(self, command: C.Command) -> list[V.Event] | EngineError:
        """Run a command as the server's own housekeeping does (no client involved)."""
        outcome, _batch = self.loop.run(self.server.submit(command), timeout=30)
        return outcome

    def stop(self) -> None:
        if self._started:
            self._started = False
            try:
                self.loop.run(self.server.stop(), timeout=30)
            finally:
                self.loop.close()


# --- simulated actors ---------------------------------------------------------------------------


class Actor(Protocol):
    name: str

    def step(self) -> float:
        """Do one thing; return the wall seconds to wait before the next step."""


@dataclass(frozen=True)
class Issued:
    """A ticket the kiosk handed out, and the address of its phone page."""

    number: str
    service: str
    url: str | None = None


class TicketMachine(Protocol):
    def issue(self, command: C.IssueTicket, *, id_number: str | None) -> Issued: ...


class ClientTicketMachine:
    """``TicketMachine`` over the queue server: a kiosk's device login. The document number goes
    to the server, which keeps only its keyed hash."""

    def __init__(self, remote: SyncClient):
        self.remote = remote

    def issue(self, command: C.IssueTicket, *, id_number: str | None) -> Issued:
        resident_id = {"number": id_number, "doc_type": "id"} if id_number else None
        reply = self.remote.command(command, resident_id=resident_id)
        if reply.ticket is None:  # an issue reply always carries its ticket
            raise ValueError("the reply to issue_ticket carried no ticket")
        return Issued(reply.ticket.number, reply.ticket.service, reply.ticket_url)


@dataclass(frozen=True)
class Demand:
    """Who arrives: the service mix, the priority shares and the rate (per simulated second)."""

    services: list[str]
    weights: list[float]
    priorities: list[str]
    priority_weights: list[float]
    rate_per_s: float

    @classmethod
    def for_hall(cls, config: HallConfig, utilisation: float = UTILISATION) -> Demand:
        services = config.service_ids()
        weights = [SERVICE_MIX.get(s, 1.0) for s in services]
        settings = config.service_settings()
        mean_service_s = sum(
            w * settings[s].service_minutes * 60 for s, w in zip(services, weights, strict=True)
        ) / sum(weights)
        capacity_per_s = len(config.counters) / mean_service_s
        # A kiosk grants only the classes it may grant by itself (elderly, from the ID card);
        # the others need staff to see a document.
        classes = {c.name for c in config.priority_classes if c.self_service}
        shares = {name: share for name, share in PRIORITY_SHARES.items() if name in classes}
        priorities = ["normal", *shares]
        priority_weights = [1.0 - sum(shares.values()), *shares.values()]
        return cls(
            services=services,
            weights=weights,
            priorities=priorities,
            priority_weights=priority_weights,
            rate_per_s=utilisation * capacity_per_s,
        )


class SimKiosk:
    """Residents arriving at the ticket machine: Poisson arrivals, accelerated by ``speed``."""

    name = "kiosk"

    def __init__(
        self,
        machine: TicketMachine,
        demand: Demand,
        rng: random.Random,
        *,
        speed: float = 1.0,
        min_wait_s: float = MIN_DELAY_S,
    ):
        self.machine = machine
        self.demand = demand
        self.rng = rng
        self.speed = speed
        self.min_wait_s = min_wait_s
        self.issued: list[str] = []
        self.first_url: str | None = None
        self.refused: Tally[str] = Tally()

    def next_arrival(self) -> tuple[C.IssueTicket, str | None]:
        """The next resident's request and, if they read their ID card, its number."""
        rng = self.rng
        service = rng.choices(self.demand.services, self.demand.weights)[0]
        priority = rng.choices(self.demand.priorities, self.demand.priority_weights)[0]
        number = None
        if rng.random() < WITH_ID_CARD:
            number = f"DEMO{rng.randrange(RESIDENTS):06d}"  # a made-up document number
        return C.IssueTicket(service=service, priority=priority, channel="kiosk"), number

    def step(self) -> float:
        command, number = self.next_arrival()
        try:
            issued = self.machine.issue(command, id_number=number)
        except EngineError as exc:
            self.refused[exc.code] += 1
            log.info("kiosk: %s refused: %s", command.service, exc.message_en)
        else:
            self.issued.append(issued.number)
            log.debug("kiosk: issued %s for %s", issued.number, issued.service)
            if self.first_url is None and issued.url:
                self.first_url = issued.url
                log.info("kiosk: ticket %s has its phone page at %s", issued.number, issued.url)
        delay = self.rng.expovariate(self.demand.rate_per_s) / self.speed
        return max(delay, self.min_wait_s)


@dataclass
class _Plan:
    """What will happen to the ticket a simulated clerk just called."""

    recalls: int
    no_show: bool


class SimStaff:
    """A clerk at one window: call, (recall), start, finish — or mark a no-show.

    Each step looks at the window's state and does the one natural next thing, so the clerk also
    copes with what others did meanwhile (a manager closing the window, a new day).
    """

    # Simulated seconds.
    WALK_S = (10.0, 40.0)  # the resident walking up after a call
    BETWEEN_S = (5.0, 20.0)  # tidying up after a finish
    POLL_S = 20.0  # looking up again when nobody waits
    NO_SHOW = 0.05
    RECALL = 0.08
    SERVICE_SHAPE = 4.0  # gamma shape: a coefficient of variation of 0.5

    def __init__(
        self,
        link: HallLink,
        window: int,
        service_minutes: dict[str, float],
        rng: random.Random,
        *,
        speed: float = 1.0,
        min_wait_s: float = MIN_DELAY_S,
    ):
        self.name = f"staff-{window}"
        self.link = link
        self.window = window
        self.service_minutes = service_minutes
        self.rng = rng
        self.speed = speed
        self.min_wait_s = min_wait_s
        self.plans: dict[str, _Plan] = {}
        self.done: list[str] = []

    def _wait(self, simulated_s: float) -> float:
        return max(simulated_s / self.speed, self.min_wait_s)

    def _uniform(self, bounds: tuple[float, float]) -> float:
        return self._wait(self.rng.uniform(*bounds))

    def service_time_s(self, service: str) -> float:
        mean = self.service_minutes.get(service, 10.0) * 60
        return self.rng.gammavariate(self.SERVICE_SHAPE, mean / self.SERVICE_SHAPE)

    def step(self) -> float:
        try:
            return self._step(self.link.status())
        except EngineError as exc:
            # Someone else moved first (a manager, a new day): look again shortly.
            log.info("%s: %s", self.name, exc.message_en)
            return self._wait(self.POLL_S)

    def _step(self, status: WindowStatus) -> float:
        state = status.state
        if state is CounterState.CLOSED:
            self.link.execute(C.OpenCounter(counter=self.window))
            return self._uniform(self.BETWEEN_S)
        if state is CounterState.PAUSED:
            self.link.execute(C.ResumeCounter(counter=self.window))
            return self._uniform(self.BETWEEN_S)
        if state is CounterState.IDLE:
            try:
                events = self.link.execute(C.CallNext(counter=self.window))
            except EngineError as exc:
                if exc.code != "queue_empty":
                    raise
                return self._wait(self.POLL_S)
            for ev in events:
                if ev.type == "ticket_called" and ev.number is not None:
                    no_show = self.rng.random() < self.NO_SHOW
                    recalls = 1 if no_show or self.rng.random() < self.RECALL else 0
                    self.plans[ev.number] = _Plan(recalls=recalls, no_show=no_show)
            return self._uniform(self.WALK_S)
        ticket = status.ticket
        if ticket is None:  # a state with no ticket: nothing to do but look again
            return self._wait(self.POLL_S)
        if state is CounterState.CALLING:
            plan = self.plans.setdefault(ticket.number, _Plan(recalls=0, no_show=False))
            if plan.recalls > 0:
                plan.recalls -= 1
                self.link.execute(C.Recall(counter=self.window))
                return self._uniform(self.WALK_S)
            if plan.no_show:
                self.link.execute(C.MarkNoShow(counter=self.window))
                self.plans.pop(ticket.number, None)
                return self._uniform(self.BETWEEN_S)
            self.link.execute(C.StartService(counter=self.window))
            return self._wait(self.service_time_s(ticket.service))
        # Serving: the service time has passed.
        self.link.execute(C.FinishService(counter=self.window))
        self.plans.pop(ticket.number, None)
        self.done.append(ticket.number)
        return self._uniform(self.BETWEEN_S)


class ActorThread(threading.Thread):
    """Runs ``actor.step()`` until ``stop`` is set, waiting on ``stop`` between steps."""

    def __init__(self, actor: Actor, stop: threading.Event, first_delay: float = 0.0):
        super().__init__(name=f"demo-{actor.name}", daemon=True)
        self.actor = actor
        self.stop = stop
        self.first_delay = first_delay

    def run(self) -> None:
        if self.first_delay and self.stop.wait(self.first_delay):
            return
        while not self.stop.is_set():
            try:
                delay = self.actor.step()
            except LinkDown as exc:  # the client reconnects by itself meanwhile
                log.warning("%s: connection to the hall server lost (%s)", self.actor.name, exc)
                delay = 1.0
            except YikouError as exc:
                log.warning("%s: %s", self.actor.name, exc)
                delay = 1.0
            except Exception:
                log.exception("%s failed; carrying on", self.actor.name)
                delay = 1.0
            if self.stop.wait(delay):
                break


# --- summary ------------------------------------------------------------------------------------


def summarise(tickets: list[Ticket]) -> str:
    """Tickets issued, called, done (and the rest) per queue, as a small table.

    ``called`` counts every ticket ever called; the columns after it split the tickets by their
    state now (at a window = called or being served).
    """
    columns = ("issued", "called", "at_window", "done", "no_show", "waiting", "cancelled")
    rows: dict[str, Tally[str]] = {}
    for ticket in tickets:
        row = rows.setdefault(ticket.queue, Tally())
        row["issued"] += 1
        if ticket.called_at is not None:
            row["called"] += 1
        if ticket.state in (TicketState.CALLED, TicketState.SERVING):
            row["at_window"] += 1
        elif ticket.state is TicketState.DONE:
            row["done"] += 1
        elif ticket.state is TicketState.NO_SHOW:
            row["no_show"] += 1
        elif ticket.state is TicketState.WAITING:
            row["waiting"] += 1
        elif ticket.state is TicketState.CANCELLED:
            row["cancelled"] += 1
    total: Tally[str] = Tally()
    for row in rows.values():
        total.update(row)
    lines = ["queue " + " ".join(f"{c:>9}" for c in columns)]
    for prefix in sorted(rows):
        lines.append(f"{prefix:<5} " + " ".join(f"{rows[prefix][c]:>9}" for c in columns))
    lines.append("all   " + " ".join(f"{total[c]:>9}" for c in columns))
    return "\n".join(lines)


# --- the demo -----------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help="the demo hall's folder: hall.toml and its database (default: var/demo in the checkout)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="how much faster than a real hall residents arrive and staff work (default 10)",
    )
    parser.add_argument("--window", type=int, default=1, help="the console's window (default 1)")
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="no interactive console: simulate every window, then print a summary",
    )
    parser.add_argument(
        "--duration",
        type=float,
        help="with --no-console: stop after this many seconds (default: until SIGINT/SIGTERM)",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="the queue server's port on 127.0.0.1 (default: the configuration's if free, "
        "else any; 0 = any free port)",
    )
    parser.add_argument("--seed", type=int, help="random seed, for a repeatable demo")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="the console's language")
    parser.add_argument(
        "--kiosk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open the kiosk app, the navigation terminal (simulated devices) and the main call "
        "screen (with its voice) in windows; default: when $DISPLAY is set and the console runs",
    )


def start_kiosk(path: Path, url: str, directory: Path):
    """The kiosk app (kiosk.app) in its own process, devices simulated (``--demo``: the demo
    hall's configuration names no devices); its log beside ours."""
    return _start_app(["kiosk", "--config", str(path), "--server", url, "--size", "1280x800",
                       "--demo"], directory / "kiosk.log")  # fmt: skip


def start_navigator(path: Path, url: str, directory: Path, demo_code: str | None = None):
    """The navigation terminal (navigator.app) in its own process, devices simulated
    (``--demo``); its demo scan button scans ``demo_code`` (a ticket the simulated kiosk
    issued)."""
    arguments = ["navigator", "--config", str(path), "--server", url, "--size", "1280x720",
                 "--demo"]  # fmt: skip
    if demo_code:
        arguments += ["--demo-code", demo_code]
    return _start_app(arguments, directory / "navigator.log")


def start_signage(path: Path, url: str, directory: Path):
    """The main call screen (综合屏) with its voice, in its own process; its log beside ours."""
    return _start_app(["signage", "--config", str(path), "--server", url, "--mode", "main",
                       "--size", "1280x720"], directory / "signage.log")  # fmt: skip


def _start_app(arguments: list[str], log_path: Path):
    import subprocess

    log_file = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "main.py"), *arguments],
        stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
        env={**os.environ, "KIVY_NO_ARGS": "1"},
    )  # fmt: skip


def _log_to_file(path: Path) -> None:
    """Keep the terminal for the console: the simulation's log goes to a file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)


class DemoHall:
    """The simulated terminals of a demo hall: each a client of the queue server at ``url``,
    all on one event-loop thread, each stepping on a thread of its own."""

    def __init__(
        self,
        config: HallConfig,
        url: str,
        credentials: dict[str, str],
        *,
        speed: float,
        seed: int | None,
        console_window: int | None,
    ):
        self.config = config
        self.stop = threading.Event()
        self.loop = LoopThread("demo-clients")
        self.remotes: list[SyncClient] = []
        self.threads: list[ActorThread] = []
        try:
            self._connect(url, credentials, speed, seed, console_window)
        except BaseException:
            self.close()
            raise

    def _connect(self, url, credentials, speed, seed, console_window) -> None:
        config = self.config
        base = random.Random(seed)

        def remote(auth: P.DeviceAuth | P.StaffAuth) -> SyncClient:
            client = SyncClient(url, auth, loop=self.loop)
            self.remotes.append(client)
            return client

        kiosk_auth = P.DeviceAuth(device_id="kiosk-1", token=_secret(credentials, "kiosk-1"))
        self.kiosk = SimKiosk(
            ClientTicketMachine(remote(kiosk_auth)),
            Demand.for_hall(config),
            random.Random(base.random()),
            speed=speed,
            min_wait_s=KIOSK_MIN_WAIT_S,
        )
        self.actors: list[Actor] = [self.kiosk]
        minutes = {s: v.service_minutes for s, v in config.service_settings().items()}
        for counter in config.counters:
            if counter.id == console_window:
                continue
            login = f"w{counter.id}"
            auth = P.StaffAuth(
                login=login, password=_secret(credentials, login), counter=counter.id
            )
            link = ClientLink(remote(auth), config, counter.id)
            rng = random.Random(base.random())
            self.actors.append(
                SimStaff(link, counter.id, minutes, rng, speed=speed, min_wait_s=STAFF_MIN_WAIT_S)
            )
        # All log in together: checking a password is slow by design.
        connect_all(self.loop, self.remotes)

    def start(self) -> None:
        # The kiosk's first resident arrives now, so the banner can show a ticket's page.
        first = {self.kiosk.name: self.kiosk.step()}
        self.threads = [
            ActorThread(actor, self.stop, first.get(actor.name, 0.0)) for actor in self.actors
        ]
        for thread in self.threads:
            thread.start()
        log.info("demo hall running: %d simulated terminals", len(self.threads))

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, timeout)
        for remote in self.remotes:
            remote.close()
        self.loop.close()


def connect_all(loop: LoopThread, remotes: list[SyncClient], timeout: float = 30.0) -> None:
    """Connect every client at once; the first refusal or failure is raised."""

    async def connect() -> None:
        await asyncio.gather(*(remote.client.connect(timeout) for remote in remotes))

    try:
        loop.run(connect(), timeout + 5)
    except (TimeoutError, OSError) as exc:
        raise LinkDown("cannot reach the demo's queue server") from exc


def _secret(credentials: dict[str, str], name: str) -> str:
    try:
        return credentials[name]
    except KeyError:
        raise ConfigError(f"the credentials file has no entry for {name}") from None


def run(args: argparse.Namespace) -> int:
    from queue_server.storage import Store

    directory: Path = args.dir
    if args.speed <= 0:
        print("demo: --speed must be positive", file=sys.stderr)
        return 2
    console_window = None if args.no_console else args.window
    try:
        if console_window is not None:
            # From the first line on, the terminal is the console's: the log goes to a file.
            directory.mkdir(parents=True, exist_ok=True)
            _log_to_file(directory / "demo.log")
            # Reconnect chatter would scribble over the prompt; the console says so itself.
            logging.getLogger("queue_server.client").setLevel(logging.CRITICAL)
        path = prepare_hall(directory)
        config = load_hall_config(path)
        credentials = read_credentials(credentials_path(path))
    except (ConfigError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if console_window is not None and console_window not in {c.id for c in config.counters}:
        print(f"demo: the hall has no window {console_window}", file=sys.stderr)
        return 2

    try:
        port = free_port("127.0.0.1", config.server.port if args.port is None else args.port)
        config = use_port(path, config, port)
        server = ServerThread(config, port=port)
        server.start()
    except (OSError, StorageError, TimeoutError) as exc:
        print(f"demo: cannot start the queue server: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {}

    def on_signal(signum, _frame):
        log.info("demo: signal %s, stopping", signal.Signals(signum).name)
        first = not stop.is_set()
        stop.set()
        if console_window is not None and first:
            # Ends the console's prompt, and it exits cleanly; a second signal while we are
            # already stopping must not interrupt the clean-up.
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, on_signal)
    hall = link = kiosk = screen = navigator = None
    status = 0
    try:
        # Open today's business (and with it the windows) before the clerks look at them.
        server.submit(C.Tick())
        hall = DemoHall(
            config,
            server.url,
            credentials,
            speed=args.speed,
            seed=args.seed,
            console_window=console_window,
        )
        hall.start()
        with_kiosk = args.kiosk
        if with_kiosk is None:  # auto: with a display and a person at the console
            with_kiosk = bool(os.environ.get("DISPLAY")) and console_window is not None
        if with_kiosk:
            kiosk = start_kiosk(path, server.url, directory)
            log.info("demo: kiosk app started (pid %s); its log: %s", kiosk.pid, "kiosk.log")
            screen = start_signage(path, server.url, directory)
            log.info("demo: call screen started (pid %s); its log: %s", screen.pid, "signage.log")
            navigator = start_navigator(path, server.url, directory, hall.kiosk.first_url)
            log.info(
                "demo: navigation terminal started (pid %s); its log: %s",
                navigator.pid,
                "navigator.log",
            )
        print(_banner(config, directory, console_window, args.speed, args.lang,
                      server.port, hall.kiosk.first_url), flush=True)  # fmt: skip
        if console_window is None:
            stop.wait(args.duration)
        else:
            login = f"w{console_window}"
            link = ClientLink.connect(
                server.url,
                config,
                console_window,
                login=login,
                password=_secret(credentials, login),
                lang=args.lang,
            )
            run_console(link, ConsoleCore(config, console_window, args.lang))
    except KeyboardInterrupt:
        pass
    except (YikouError, TimeoutError) as exc:  # a client that could not log in, ...
        print(f"demo: {exc}", file=sys.stderr)
        status = 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if link is not None:
            link.close()
        if hall is not None:
            hall.close()
        for app in (kiosk, screen, navigator):
            if app is not None:  # by its pid, which we started
                app.terminate()
                try:
                    app.wait(timeout=10)
                except Exception:
                    app.kill()
                    app.wait()
        server.stop()
    summary_store = Store(config)
    try:
        print(f"demo hall {config.hall.id}, {summary_store.hall.today.day}:")
        print(summarise(summary_store.stored_tickets()))
    finally:
        summary_store.close()
    return status


def _banner(
    config: HallConfig,
    directory: Path,
    window: int | None,
    speed: float,
    lang: str,
    port: int,
    example_url: str | None,
) -> str:
    page = f"http://127.0.0.1:{port}/t/<token>"
    log_file = directory / "demo.log"
    if lang == "zh":
        lines = [
            f"演示大厅「{config.hall.name_zh}」已启动：叫号服务器 ws://127.0.0.1:{port}/ws，"
            f"模拟取号机与其他窗口正在工作（{speed:g} 倍速）。",
            f"每张号票都有手机页面：{page}" + (f"，例如 {example_url}" if example_url else ""),
        ]
        if window is not None:
            lines.append(f"您在 {window} 号窗口。输入 h 查看命令，q 退出。日志：{log_file}")
        return "\n".join(lines)
    lines = [
        f"Demo hall '{config.hall.name_en or config.hall.name_zh}' is running: queue server "
        f"ws://127.0.0.1:{port}/ws, a simulated kiosk and the other windows at work ({speed:g}x).",
        f"Every ticket has a phone page at {page}"
        + (f", for example {example_url}" if example_url else ""),
    ]
    if window is not None:
        lines.append(f"You are at window {window}. Type h for help, q to quit. Log: {log_file}")
    return "\n".join(lines)
