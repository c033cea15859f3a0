"""The staff console: its pure core (parse, render, words), its link to a real queue server on
127.0.0.1, and the real thing on a pty against that server."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
import pytest

from console.app import (
    ClientLink,
    ConsoleCore,
    Help,
    Invalid,
    ListServices,
    Quit,
    Refresh,
    find_password,
    read_credentials,
    run_console,
)
from demo.engine_link import EngineLink
from demo.hall import ClientTicketMachine, ServerThread, prepare_hall, use_port
from queue_server import protocol as P
from queue_server.client import AuthFailed, LinkDown, SyncClient
from queue_server.config import HallConfig, credentials_path, load_config, load_hall_config
from queue_server.engine.hall import Hall
from queue_server.errors import (
    ConfigError,
    EngineError,
    IllegalTransition,
    NotFound,
    QueueEmpty,
)
from queue_server.protocol import commands as C
from queue_server.protocol.states import CounterState, TicketState

ROOT = Path(__file__).resolve().parents[2]
BEIJING = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BEIJING)  # a Thursday morning
# Window 1 of the example hall: queue A first, queue B as back-up.
A_SERVICE = "jisheng.birth_registration"
B_SERVICE = "renshe.social_insurance_card"


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="module")
def hall_path(tmp_path_factory) -> Path:
    return prepare_hall(tmp_path_factory.mktemp("hall"))


@pytest.fixture(scope="module")
def config(hall_path) -> HallConfig:
    return load_config(hall_path)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def hall(config, clock) -> Hall:
    hall = Hall(config)
    hall.handle(C.Tick(), clock())  # opens the day and the windows
    return hall


def render(core: ConsoleCore, hall: Hall, clock: Clock) -> str:
    """What the console shows above its prompt for ``hall`` (the demo's link, no server)."""
    return core.render(EngineLink(hall, core.window, clock).status())


def test_the_console_knows_the_hall_only_through_the_client_protocol_and_config():
    code = "import json, sys, console.app\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    ours = [m for m in json.loads(out) if m.split(".")[0] == "queue_server"]
    allowed = ("client", "protocol", "errors", "config")
    assert not [m for m in ours if m != "queue_server" and m.split(".")[1] not in allowed], ours


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("n", C.CallNext(counter=1)),
        ("next", C.CallNext(counter=1)),
        ("  NEXT  ", C.CallNext(counter=1)),
        ("叫号", C.CallNext(counter=1)),
        ("c A003", C.CallTicket(counter=1, ticket="A003")),
        ("call a3", C.CallTicket(counter=1, ticket="A003")),
        ("c b0012", C.CallTicket(counter=1, ticket="B012")),
        ("r", C.Recall(counter=1)),
        ("s", C.StartService(counter=1)),
        ("f", C.FinishService(counter=1)),
        ("done", C.FinishService(counter=1)),
        ("x", C.MarkNoShow(counter=1)),
        ("no-show", C.MarkNoShow(counter=1)),
        ("过号", C.MarkNoShow(counter=1)),
        ("p 午休 一会儿", C.PauseCounter(counter=1, reason="午休 一会儿")),
        ("pause", C.PauseCounter(counter=1, reason="")),
        ("暂停\u3000开会", C.PauseCounter(counter=1, reason="开会")),  # a full-width space
        ("p " + "长" * 300, C.PauseCounter(counter=1, reason="长" * 200)),
        ("u", C.ResumeCounter(counter=1)),
        ("o", C.OpenCounter(counter=1)),
        ("k", C.CloseCounter(counter=1)),
        ("", Refresh()),
        ("l", Refresh()),
        ("h", Help()),
        ("?", Help()),
        ("q", Quit()),
        ("退出", Quit()),
        ("t", ListServices()),
    ],
)
def test_parse_commands_and_local_actions(config, line, expected):
    assert ConsoleCore(config, 1).parse(line) == expected


def test_parse_transfer_by_list_number_or_id(config):
    core = ConsoleCore(config, 1)
    services = config.service_ids()
    assert core.parse("t 2") == C.Transfer(counter=1, to_service=services[1])
    assert core.parse(f"transfer {services[-1]}") == C.Transfer(counter=1, to_service=services[-1])
    # The list the staff read is numbered the same way.
    assert f" 2  {config.queue_of()[services[1]]}  {services[1]}" in core.services_text()


@pytest.mark.parametrize("line", ["zz", "c", "c 12", "c AB1", "t 0", "t 999", "t nosuch.service"])
def test_parse_rejects_what_it_cannot_understand(config, line):
    action = ConsoleCore(config, 1).parse(line)
    assert isinstance(action, Invalid)
    assert action.message


def test_the_core_refuses_an_unknown_window_or_language(config):
    with pytest.raises(ValueError):
        ConsoleCore(config, 99)
    with pytest.raises(ValueError):
        ConsoleCore(config, 1, lang="fr")


# --- rendering ----------------------------------------------------------------------------------


def test_render_idle_window_with_waiting_counts_per_skilled_queue(config, hall, clock):
    hall.handle(C.IssueTicket(service=A_SERVICE), clock())
    hall.handle(C.IssueTicket(service=A_SERVICE), clock())
    hall.handle(C.IssueTicket(service=B_SERVICE), clock())
    hall.handle(C.IssueTicket(service="liuguan.residence_permit"), clock())  # queue E: not ours
    text = render(ConsoleCore(config, 1), hall, clock)
    first, second = text.splitlines()
    assert first.startswith("[1号窗口] 空闲")
    # Window 1's tiers in the example hall: A, then B, then D (a back-up for case intake).
    assert "等候: A 计生·老龄 2 · B 人社 1 · D 房管·教委 0" == second
    assert "E" not in second


def test_render_called_and_serving_ticket_with_waited_time(config, hall, clock):
    hall.handle(C.IssueTicket(service=A_SERVICE, priority="elderly"), clock())
    clock.advance(minutes=12, seconds=30)
    hall.handle(C.CallNext(counter=1), clock())
    core = ConsoleCore(config, 1)
    calling = render(core, hall, clock)
    assert "呼叫中" in calling
    assert f"A001 {A_SERVICE}" in calling
    assert "已等12分" in calling
    assert "老年人优先" in calling
    assert "无人等候" not in calling  # the queues are listed even when empty
    assert "A 计生·老龄 0" in calling
    hall.handle(C.StartService(counter=1), clock())
    clock.advance(minutes=3)
    serving = render(core, hall, clock)
    assert "办理中" in serving and "已等12分" in serving and "办理3分" in serving
    english = render(ConsoleCore(config, 1, lang="en"), hall, clock)
    assert english.startswith("[Window 1] serving · A001")
    assert "waited 12 min" in english and "Elderly" in english


def test_render_pause_reason_and_closed(config, hall, clock):
    core = ConsoleCore(config, 1)
    hall.handle(C.PauseCounter(counter=1, reason="午休"), clock())
    assert "暂停（午休）" in render(core, hall, clock)
    hall.handle(C.ResumeCounter(counter=1), clock())
    hall.handle(C.CloseCounter(counter=1), clock())
    status = EngineLink(hall, 1, clock).status()
    assert status.state is CounterState.CLOSED
    assert core.render(status).startswith("[1号窗口] 已关闭")


def test_describe_events_and_refusals(config, hall, clock):
    core, link = ConsoleCore(config, 1), EngineLink(hall, 1, clock)
    hall.handle(C.IssueTicket(service=A_SERVICE), clock())
    events = link.execute(C.CallNext(counter=1))
    assert core.describe(events) == "呼叫 A001：请 A001 号到 1 号窗口"
    link.execute(C.StartService(counter=1))
    clock.advance(minutes=4)
    assert core.describe(link.execute(C.FinishService(counter=1))) == "A001 办结，用时4分"
    with pytest.raises(QueueEmpty) as refused:
        hall.handle(C.CallNext(counter=1), clock())
    assert core.refusal(refused.value) == "✗ 目前没有等候的号"
    assert ConsoleCore(config, 1, lang="en").refusal(refused.value) == (
        "✗ Nobody is waiting for this window"
    )


def test_illegal_moves_are_worded_without_code_names(config, hall, clock):
    core, english = ConsoleCore(config, 1), ConsoleCore(config, 1, lang="en")
    with pytest.raises(IllegalTransition) as refused:
        hall.handle(C.Recall(counter=1), clock())
    assert core.refusal(refused.value) == "✗ 1号窗口当前「空闲」，不能重呼"
    assert english.refusal(refused.value) == "✗ window 1 is idle: cannot recall"
    hall.handle(C.PauseCounter(counter=1, reason="午休"), clock())
    with pytest.raises(IllegalTransition) as refused:
        hall.handle(C.CallNext(counter=1), clock())
    assert core.refusal(refused.value) == "✗ 1号窗口当前「暂停」，不能叫号"


def test_events_of_other_windows_are_not_described(config, hall, clock):
    hall.handle(C.IssueTicket(service=B_SERVICE), clock())
    events = EngineLink(hall, 2, clock).execute(C.CallNext(counter=2))
    assert events and ConsoleCore(config, 1).describe(events) == ""


# --- the loop, with scripted input --------------------------------------------------------------


def script(lines: list[str], *, end: type[BaseException] = EOFError):
    """A ``read`` that types ``lines`` then raises ``end`` (EOF or Ctrl-C)."""
    feed = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise end from None

    return read


def test_loop_calls_finishes_and_carries_on_after_a_refusal(config, hall, clock):
    hall.handle(C.IssueTicket(service=A_SERVICE), clock())
    out: list[str] = []
    link = EngineLink(hall, 1, clock)
    rc = run_console(
        link, ConsoleCore(config, 1), read=script(["n", "s", "f", "n", "zz", "c A001", "q"]),
        write=out.append,
    )  # fmt: skip
    text = "\n".join(out)
    assert rc == 0
    assert "呼叫 A001" in text and "开始办理 A001" in text and "A001 办结" in text
    assert "✗ 目前没有等候的号" in text
    assert "不认识的命令：zz" in text and "命令（字母、英文或中文均可）" in text
    # Illegal moves are reworded: no code names ("done", "call") reach the staff.
    assert "✗ A001 号已办结，不能叫号" in text
    assert hall.ticket("A001").state is TicketState.DONE
    assert out[-1] == "再见"


@pytest.mark.parametrize("end", [EOFError, KeyboardInterrupt])
def test_loop_ends_cleanly_on_eof_and_ctrl_c(config, hall, clock, end):
    out: list[str] = []
    rc = run_console(
        EngineLink(hall, 1, clock), ConsoleCore(config, 1), read=script([], end=end),
        write=out.append,
    )  # fmt: skip
    assert rc == 0 and out[-1] == "再见"


# --- the link to a real queue server on 127.0.0.1 ----------------------------------------------


@dataclass
class Served:
    """A hall configuration file (with its credentials beside it) and its running server."""

    path: Path
    config: HallConfig
    server: ServerThread
    credentials: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def remote(self, auth) -> SyncClient:
        remote = SyncClient(self.url, auth)
        remote.connect()
        return remote

    def kiosk(self) -> SyncClient:
        return self.remote(P.DeviceAuth(device_id="kiosk-1", token=self.credentials["kiosk-1"]))

    def manager(self) -> SyncClient:
        return self.remote(P.StaffAuth(login="manager", password=self.credentials["manager"]))

    def link(self, window: int = 1) -> ClientLink:
        login = f"w{window}"
        return ClientLink.connect(
            self.url, self.config, window, login=login, password=self.credentials[login]
        )


@pytest.fixture
def served(hall_path, tmp_path):
    """A fresh hall (its own database) behind a real server on 127.0.0.1, port chosen by the
    system and written into the configuration's ``[server]`` table."""
    path = tmp_path / "hall.toml"
    shutil.copy(hall_path, path)
    shutil.copy(credentials_path(hall_path), credentials_path(path))
    config = load_hall_config(path)
    server = ServerThread(config, port=0)
    server.start()
    try:
        config = use_port(path, config, server.port)
        server.submit(C.Tick())  # today's business opens, and with it the windows
        yield Served(path, config, server, read_credentials(credentials_path(path)))
    finally:
        server.stop()


def issue(served: Served, *services: str) -> list[str]:
    kiosk = served.kiosk()
    try:
        machine = ClientTicketMachine(kiosk)
        return [machine.issue(C.IssueTicket(service=s), id_number=None).number for s in services]
    finally:
        kiosk.close()


def test_client_link_turns_server_errors_into_engine_errors(served):
    core = ConsoleCore(served.config, 1)
    link = served.link(1)
    try:
        with pytest.raises(IllegalTransition) as refused:
            link.execute(C.Recall(counter=1))
        err = refused.value
        assert (err.kind, err.ident, err.command, err.state) == ("counter", 1, "recall", "idle")
        assert core.refusal(err) == "✗ 1号窗口当前「空闲」，不能重呼"
        with pytest.raises(QueueEmpty) as refused:
            link.execute(C.CallNext(counter=1))
        assert core.refusal(refused.value) == "✗ 目前没有等候的号"
        with pytest.raises(NotFound):
            link.execute(C.CallTicket(counter=1, ticket="A999"))
        # Not an engine refusal but the server's: its own words and code.
        with pytest.raises(EngineError) as refused:
            link.execute(C.CallNext(counter=2))
        assert refused.value.code == "forbidden"
        assert core.refusal(refused.value) == "✗ 无权执行此操作"
    finally:
        link.close()


def test_client_link_returns_engine_events_and_the_window_status(served):
    (number,) = issue(served, A_SERVICE)
    issue(served, B_SERVICE, "liuguan.residence_permit")
    link = served.link(1)
    try:
        idle = link.status()
        assert idle.state is CounterState.IDLE and idle.ticket is None
        # Queue E is not window 1's; D is its third (back-up) tier.
        assert idle.waiting == {"A": 1, "B": 1, "D": 0}
        events = link.execute(C.CallNext(counter=1))
        assert events[-1].type == "ticket_called"
        assert ConsoleCore(served.config, 1).describe(events) == (
            f"呼叫 {number}：请 {number} 号到 1 号窗口"
        )
        link.execute(C.StartService(counter=1))
        serving = link.status()
        assert serving.state is CounterState.SERVING and serving.waiting == {"A": 0, "B": 1, "D": 0}
        ticket = serving.ticket
        assert (ticket.number, ticket.service, ticket.state) == (number, A_SERVICE, "serving")
        assert ticket.priority == "normal" and ticket.started_at is not None
        assert ticket.called_at <= ticket.started_at <= serving.now
        link.execute(C.FinishService(counter=1))
        link.execute(C.PauseCounter(counter=1, reason="午休"))
        paused = link.status()
        assert (paused.state, paused.pause_reason, paused.ticket) == (
            CounterState.PAUSED,
            "午休",
            None,
        )
        assert paused.served_today == 1
    finally:
        link.close()


def test_client_link_says_the_connection_is_down_and_reconnects(served):
    link = served.link(1)
    out: list[str] = []
    second = None
    try:
        port = served.server.port
        served.server.stop()
        with pytest.raises(LinkDown):
            link.status()
        # The console says so in plain words and carries on.
        run_console(link, ConsoleCore(served.config, 1), read=script(["n"]), write=out.append)
        assert out.count("连接中断，正在重连…") == 3  # the status, the call, the status again
        assert out[-1] == "再见"
        # The server comes back on the same port and database: the client finds it by itself.
        second = ServerThread(load_hall_config(served.path), port=port)
        second.start()
        assert link.remote.wait_connected(30)
        assert link.status().state is CounterState.IDLE
    finally:
        link.close()
        if second is not None:
            second.stop()


def test_a_wrong_password_is_refused_at_connect(served):
    with pytest.raises(AuthFailed):
        ClientLink.connect(served.url, served.config, 1, login="w1", password="wrong")
    # w1 works at window 1 only.
    with pytest.raises(AuthFailed):
        ClientLink.connect(
            served.url, served.config, 2, login="w1", password=served.credentials["w1"]
        )


# --- where the console finds its server and password ---------------------------------------------


def test_the_password_comes_from_the_file_the_environment_or_a_prompt(tmp_path):
    given, default = tmp_path / "given.credentials", tmp_path / "hall.toml.credentials"
    given.write_text('[credentials]\nw1 = "from-file"\n', encoding="utf-8")
    default.write_text('[credentials]\nw1 = "beside-the-config"\n', encoding="utf-8")
    env = {"YIKOU_PASSWORD": "from-env"}

    def find(**kw):
        options = {"password_file": None, "default_file": default, "environ": {}} | kw
        return find_password("w1", **options)

    assert find(password_file=given, environ=env) == "from-file"
    assert find(environ=env) == "from-env"
    assert find() == "beside-the-config"
    missing = tmp_path / "none"
    asked = find(default_file=missing, interactive=True, prompt=lambda text: f"typed ({text})")
    assert asked.startswith("typed (") and "w1" in asked
    with pytest.raises(ConfigError, match="no password for w1"):
        find(default_file=missing)
    with pytest.raises(ConfigError, match="no password for w2"):
        find_password("w2", password_file=given, default_file=default, environ={})


# --- the real console, on a pty, against the real server ---------------------------------------


def spawn_console(config_path: Path, *args: str, env: dict[str, str] | None = None):
    return pexpect.spawn(
        sys.executable,
        [str(ROOT / "main.py"), "--log-level", "WARNING", "counter", "--config", str(config_path),
         "--window", "1", *args],
        cwd=str(ROOT),
        env=dict(os.environ, PYTHONIOENCODING="utf-8", **(env or {})),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )  # fmt: skip


def test_console_on_a_pty_through_the_server(served):
    issue(served, A_SERVICE)
    # No --server, --login nor password: the configuration's public_url, w1, and the
    # credentials file beside the configuration.
    child = spawn_console(served.path)
    try:
        child.expect_exact("窗口1> ")
        assert "空闲" in child.before and "A 计生·老龄 1" in child.before
        child.sendline("n")
        child.expect_exact("呼叫 A001：请 A001 号到 1 号窗口")
        child.expect_exact("窗口1> ")
        assert "呼叫中" in child.before and "A001 生育登记" in child.before  # the catalog's name
        child.sendline("s")
        child.expect_exact("开始办理 A001")
        child.sendline("f")
        child.expect_exact("A001 办结")
        child.expect_exact("窗口1> ")
        # Refused in plain Chinese, and the console carries on.
        child.sendline("n")
        child.expect_exact("✗ 目前没有等候的号")
        child.expect_exact("窗口1> ")
        # A ticket another terminal issued shows up and can be called.
        issue(served, A_SERVICE)
        child.sendline("")
        child.expect_exact("A 计生·老龄 1")
        child.expect_exact("窗口1> ")
        child.sendline("next")
        child.expect_exact("呼叫 A002")
        child.expect_exact("窗口1> ")
        child.sendline("bogus")
        child.expect_exact("不认识的命令：bogus")
        child.expect_exact("q  退出 quit")
        child.sendline("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    manager = served.manager()
    try:
        assert manager.query("ticket", ticket="A001").ticket.state == "done"
        second = manager.query("ticket", ticket="A002").ticket
        assert (second.state, second.counter) == ("called", 1)
    finally:
        manager.close()


@pytest.mark.parametrize("how", ["eof", "ctrl-c"])
def test_console_exits_cleanly_on_eof_and_ctrl_c(served, how, tmp_path):
    if how == "eof":  # the password from the environment
        given = ["--server", served.url]
        env = {"YIKOU_PASSWORD": served.credentials["w1"]}
    else:  # ... or from a credentials file of its own
        secrets = tmp_path / "staff.credentials"
        secrets.write_text(f'[credentials]\nw1 = "{served.credentials["w1"]}"\n', encoding="utf-8")
        given = ["--server", served.url, "--login", "w1", "--password-file", str(secrets)]
        env = {"YIKOU_PASSWORD": "not-this-one"}
    child = spawn_console(served.path, "--lang", "en", *given, env=env)
    try:
        child.expect_exact("window 1> ")
        assert "[Window 1] idle" in child.before
        if how == "eof":
            child.sendeof()
        else:
            child.sendintr()
        child.expect_exact("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "Traceback" not in child.before


def test_console_with_a_wrong_password_exits_with_a_plain_message(served):
    child = spawn_console(served.path, env={"YIKOU_PASSWORD": "not-the-password"})
    try:
        child.expect_exact("登录被拒绝：w1 的账号、密码或窗口不对")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 3
    assert "Traceback" not in child.before


def test_console_refuses_an_unknown_window(hall_path):
    child = pexpect.spawn(
        sys.executable,
        [str(ROOT / "main.py"), "counter", "--config", str(hall_path), "--window", "42"],
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=30,
    )
    child.expect_exact("no window 42")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
