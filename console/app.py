"""``python main.py counter --window N``: a terminal staff console for one window (叫号).

    python main.py counter --config hall.toml --window 3 [--server ws://HOST:PORT/ws]
        [--login w3] [--password-file hall.toml.credentials] [--lang zh|en]

Three layers, so that the transport is only the bottom one:

- ``ConsoleCore``: pure. Parses a typed line into an engine command or a local action, renders a
  ``WindowStatus`` and the events a command produced, words an engine refusal. No I/O, no clock.
- ``HallLink``: what the loop needs from the hall — ``execute(command) -> events`` and
  ``status() -> WindowStatus``, both in the protocol's terms (``window_status`` builds the status
  from the payloads a snapshot carries: counter view, service status, ticket view).
  ``ClientLink`` implements it over the queue server (``queue_server.client.SyncClient``); the
  demo's ``EngineLink`` over an in-memory ``Hall``, for simulations and tests.
- ``run_console``: the thin read-eval-print loop around both.

The console knows the hall only through the client, the protocol and the hall's configuration:
it imports no engine.

Keys (single letters, English words or Chinese words all work)::

    n  next      call the next ticket            c A003  call a given ticket
    r  recall    call the current ticket again   s  start    start serving
    f  finish    done (办结)                      x  noshow   no-show (过号)
    t  transfer  list services; ``t 3`` sends the ticket to service 3
    p  pause     ``p 午休``: pause with a reason  u  resume   resume after a pause
    o  open      open the window                 k  close    close the window
    l  refresh   (or an empty line)              h  help     q  quit
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from queue_server import protocol as P
from queue_server.client import AuthFailed, LinkDown, LoopThread, SyncClient
from queue_server.config import HallConfig, credentials_path, load_hall_config
from queue_server.errors import (
    ConfigError,
    EngineError,
    IllegalTransition,
    NotFound,
    StorageError,
    YikouError,
)
from queue_server.protocol import commands as C
from queue_server.protocol.payloads import (
    CounterView,
    ServiceStatus,
    TicketView,
)
from queue_server.protocol.states import CounterState

log = logging.getLogger(__name__)

Lang = str  # "zh" or "en"


# --- what the loop shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowStatus:
    """One window as its console shows it: a snapshot any transport can fill in."""

    window: int
    state: CounterState
    pause_reason: str | None
    ticket: TicketView | None  # the ticket the window calls or serves
    # Waiting tickets per queue prefix, only for the services this window is skilled for.
    waiting: dict[str, int]
    served_today: int
    now: dt.datetime


def window_status(
    config: HallConfig,
    counter: CounterView,
    services: Sequence[ServiceStatus],
    ticket: TicketView | None,
    now: dt.datetime,
) -> WindowStatus:
    """The status of ``counter``'s window from what a snapshot carries (and the view of the
    ticket it holds) at ``now``."""
    waiting_by_service = {s.service: s.waiting for s in services}
    waiting: dict[str, int] = {}
    # Queues in configuration order, so the line reads the same on every prompt.
    for queue in config.queues:
        skilled = [s for s in queue.services if s in counter.skills]
        if skilled:
            waiting[queue.prefix] = sum(waiting_by_service.get(s, 0) for s in skilled)
    return WindowStatus(
        window=counter.id,
        state=counter.state,
        pause_reason=counter.pause_reason,
        ticket=ticket,
        waiting=waiting,
        served_today=counter.served_today,
        now=now,
    )


class WindowEvent(BaseModel):
    """An event a command caused, as far as the console words it: the fields it reads of the
    event the server sends (the others are ignored, so a newer server's events still read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str
    counter: int | None = None
    number: str | None = None
    recalls: int = 0
    service_s: float = 0.0
    to_service: str | None = None
    reason: str | None = None


def window_events(events: Iterable[Mapping[str, Any]]) -> list[WindowEvent]:
    """The events of a command's reply, as the console reads them."""
    out = []
    for data in events:
        try:
            out.append(WindowEvent.model_validate(data))
        except ValidationError:  # not an event: the status will show what happened
            log.warning("cannot read the server's event %s", data.get("type"))
    return out


# --- local actions (handled by the console itself) ----------------------------------------------


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Refresh:
    pass


@dataclass(frozen=True)
class ListServices:
    pass


@dataclass(frozen=True)
class Invalid:
    """A line the console could not understand; ``message`` says why, then help is shown."""

    message: str


LocalAction = Help | Quit | Refresh | ListServices | Invalid
Action = C.Command | LocalAction


# --- words ----------------------------------------------------------------------------------------

STATE_WORDS: dict[Lang, dict[CounterState, str]] = {
    "zh": {
        CounterState.CLOSED: "已关闭",
        CounterState.IDLE: "空闲",
        CounterState.CALLING: "呼叫中",
        CounterState.SERVING: "办理中",
        CounterState.PAUSED: "暂停",
    },
    "en": {
        CounterState.CLOSED: "closed",
        CounterState.IDLE: "idle",
        CounterState.CALLING: "calling",
        CounterState.SERVING: "serving",
        CounterState.PAUSED: "paused",
    },
}

TICKET_STATE_WORDS: dict[Lang, dict[str, str]] = {
    "zh": {
        "waiting": "等候中",
        "called": "已呼叫",
        "serving": "办理中",
        "done": "已办结",
        "no_show": "已过号",
        "cancelled": "已取消",
    },
    "en": {
        "waiting": "waiting",
        "called": "called",
        "serving": "being served",
        "done": "done",
        "no_show": "a no-show",
        "cancelled": "cancelled",
    },
}

# The engine's command names (in IllegalTransition) as staff say them.
ACTION_WORDS: dict[Lang, dict[str, str]] = {
    "zh": {
        "call": "叫号",
        "recall": "重呼",
        "start": "开始办理",
        "serve": "办理",
        "finish": "办结",
        "no_show": "过号",
        "transfer": "转办",
        "pause": "暂停",
        "resume": "恢复",
        "open": "开窗",
        "close": "关窗",
    },
    "en": {
        "call": "call",
        "recall": "recall",
        "start": "start",
        "serve": "serve",
        "finish": "finish",
        "no_show": "mark a no-show",
        "transfer": "transfer",
        "pause": "pause",
        "resume": "resume",
        "open": "open",
        "close": "close",
    },
}

TEXT: dict[Lang, dict[str, str]] = {
    "zh": {
        "window": "{n}号窗口",
        "prompt": "窗口{n}> ",
        "waited": "已等{m}",
        "serving_for": "办理{m}",
        "recalls": "重呼{n}次",
        "waiting": "等候",
        "served": "今日已办{n}",
        "nobody": "无人等候",
        "called": "呼叫 {number}：请 {number} 号到 {window} 号窗口",
        "recalled": "重呼 {number}（第{n}次）",
        "started": "开始办理 {number}",
        "finished": "{number} 办结，用时{m}",
        "no_show": "{number} 过号",
        "transferred": "{number} 已转至 {service}",
        "returned": "{number} 已退回队首",
        "opened": "窗口已开启",
        "closed": "窗口已关闭",
        "paused": "窗口暂停：{reason}",
        "resumed": "窗口恢复",
        "cancelled": "{number} 已取消",
        "refused": "✗ {message}",
        "counter_cannot": "{n}号窗口当前「{state}」，不能{action}",
        "ticket_cannot": "{number} 号{state}，不能{action}",
        "storage": "✗ 数据库暂时不可用：{message}",
        "link_down": "连接中断，正在重连…",
        "login_refused": "登录被拒绝：{login} 的账号、密码或窗口不对",
        "unreachable": "连不上叫号服务器 {url}",
        "unknown": "不认识的命令：{word}",
        "needs_number": "请给出号码，例如 c A003",
        "bad_number": "号码应为字母加数字，例如 A003：{word}",
        "bad_service": "没有这个事项：{word}（输入 t 查看列表）",
        "services": "可转办的事项（t 序号）：",
        "bye": "再见",
        "minutes": "{n}分",
        "seconds": "{n}秒",
    },
    "en": {
        "window": "Window {n}",
        "prompt": "window {n}> ",
        "waited": "waited {m}",
        "serving_for": "serving {m}",
        "recalls": "recalled {n}x",
        "waiting": "waiting",
        "served": "served today {n}",
        "nobody": "nobody waiting",
        "called": "Called {number}: {number} to window {window}",
        "recalled": "Recalled {number} (time {n})",
        "started": "Serving {number}",
        "finished": "{number} done in {m}",
        "no_show": "{number} did not show",
        "transferred": "{number} sent to {service}",
        "returned": "{number} back to the head of its queue",
        "opened": "Window open",
        "closed": "Window closed",
        "paused": "Window paused: {reason}",
        "resumed": "Window resumed",
        "cancelled": "{number} cancelled",
        "refused": "✗ {message}",
        "counter_cannot": "window {n} is {state}: cannot {action}",
        "ticket_cannot": "{number} is {state}: cannot {action}",
        "storage": "✗ the database is unavailable: {message}",
        "link_down": "Connection lost, reconnecting…",
        "login_refused": "login refused: wrong login, password or window for {login}",
        "unreachable": "cannot reach the hall server at {url}",
        "unknown": "unknown command: {word}",
        "needs_number": "give a number, e.g. c A003",
        "bad_number": "a ticket number is a letter and digits, e.g. A003: {word}",
        "bad_service": "no such service: {word} (type t for the list)",
        "services": "Services to transfer to (t NUMBER):",
        "bye": "bye",
        "minutes": "{n} min",
        "seconds": "{n} s",
    },
}

HELP: dict[Lang, str] = {
    "zh": """\
命令（字母、英文或中文均可）：
  n  叫号 next          c A003  指定叫号 call     r  重呼 recall
  s  开始 start         f  办结 finish            x  过号 noshow
  t  转办 transfer（t 查看事项，t 3 转至第3项）
  p  暂停 pause（p 午休）  u  恢复 resume
  o  开窗 open          k  关窗 close
  l  刷新 refresh（或直接回车）  h  帮助 help    q  退出 quit""",
    "en": """\
Commands (a letter, an English or a Chinese word):
  n  next               c A003  call a given ticket   r  recall
  s  start              f  finish                     x  noshow (skip)
  t  transfer (t lists the services, t 3 sends the ticket to the 3rd)
  p  pause (p lunch)    u  resume
  o  open               k  close
  l  refresh (or just Enter)   h  help   q  quit""",
}

# Every way of saying each command. Words are matched case-insensitively.
WORDS: dict[str, tuple[str, ...]] = {
    "next": ("n", "next", "叫号", "下一位"),
    "call": ("c", "call", "指定", "指定叫号"),
    "recall": ("r", "recall", "重呼"),
    "start": ("s", "start", "开始"),
    "finish": ("f", "finish", "done", "办结", "完成"),
    "no_show": ("x", "noshow", "no-show", "no_show", "skip", "过号"),
    "transfer": ("t", "transfer", "转办", "转"),
    "pause": ("p", "pause", "暂停"),
    "resume": ("u", "resume", "恢复"),
    "open": ("o", "open", "开窗"),
    "close": ("k", "close", "关窗"),
    "refresh": ("l", "refresh", "刷新"),
    "help": ("h", "?", "help", "帮助"),
    "quit": ("q", "quit", "exit", "退出"),
}
VERB_OF = {word: verb for verb, words in WORDS.items() for word in words}

MAX_REASON = 200

TICKET_NUMBER = re.compile(r"^([A-Za-z])0*(\d{1,4})$")


def _duration(seconds: float, lang: Lang) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return TEXT[lang]["seconds"].format(n=seconds)
    return TEXT[lang]["minutes"].format(n=seconds // 60)


# --- the pure core --------------------------------------------------------------------------------


@dataclass
class ConsoleCore:
    """Everything the console decides, without a terminal, a clock or a database."""

    config: HallConfig
    window: int
    lang: Lang = "zh"
    services: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.lang not in TEXT:
            raise ValueError(f"unknown language {self.lang!r}")
        if self.window not in {c.id for c in self.config.counters}:
            raise ValueError(f"the hall has no window {self.window}")
        # Numbered for "t 3": every service of the hall, in configuration order.
        self.services = self.config.service_ids()
        self._settings = self.config.service_settings()
        self._queue_names = {q.prefix: q for q in self.config.queues}
        self._queue_of = self.config.queue_of()

    def _t(self, key: str, **values: object) -> str:
        return TEXT[self.lang][key].format(**values)

    @property
    def prompt(self) -> str:
        return self._t("prompt", n=self.window)

    def help_text(self) -> str:
        return HELP[self.lang]

    # --- parsing ------------------------------------------------------------------------------

    def parse(self, line: str) -> Action:
        """One typed line -> an engine command or a local action. Never raises."""
        text = line.strip()
        if not text:
            return Refresh()
        # split() also splits on the full-width space a Chinese input method types.
        word, *more = text.split(None, 1)
        rest = more[0].strip() if more else ""
        verb = VERB_OF.get(word.lower())
        if verb is None:
            return Invalid(self._t("unknown", word=word))
        counter = self.window
        match verb:
            case "next":
                return C.CallNext(counter=counter)
            case "call":
                if not rest:
                    return Invalid(self._t("needs_number"))
                number = self.normalise_number(rest)
                if number is None:
                    return Invalid(self._t("bad_number", word=rest))
                return C.CallTicket(counter=counter, ticket=number)
            case "recall":
                return C.Recall(counter=counter)
            case "start":
                return C.StartService(counter=counter)
            case "finish":
                return C.FinishService(counter=counter)
            case "no_show":
                return C.MarkNoShow(counter=counter)
            case "transfer":
                if not rest:
                    return ListServices()
                service = self._service_ref(rest)
                if service is None:
                    return Invalid(self._t("bad_service", word=rest))
                return C.Transfer(counter=counter, to_service=service)
            case "pause":
                # The stored reason is at most 200 characters (the counters table's column).
                return C.PauseCounter(counter=counter, reason=rest[:MAX_REASON])
            case "resume":
                return C.ResumeCounter(counter=counter)
            case "open":
                return C.OpenCounter(counter=counter)
            case "close":
                return C.CloseCounter(counter=counter)
            case "refresh":
                return Refresh()
            case "help":
                return Help()
            case _:
                return Quit()

    @staticmethod
    def normalise_number(text: str) -> str | None:
        """ "a3", "A03" and "A003" all mean ticket A003; None if it is no ticket number."""
        match = TICKET_NUMBER.match(text.strip())
        if match is None:
            return None
        return f"{match.group(1).upper()}{int(match.group(2)):03d}"

    def _service_ref(self, text: str) -> str | None:
        if text.isdigit():
            index = int(text) - 1
            return self.services[index] if 0 <= index < len(self.services) else None
        return text if text in self.services else None

    # --- rendering ----------------------------------------------------------------------------

    def service_name(self, service: str) -> str:
        """The name staff read: the configured name if any, else the catalog id."""
        settings = self._settings.get(service)
        if settings is not None:
            name = settings.name_zh if self.lang == "zh" else settings.name_en
            if name:
                return name
        return service

    def queue_name(self, prefix: str) -> str:
        queue = self._queue_names.get(prefix)
        if queue is None:
            return prefix
        name = queue.name_zh if self.lang == "zh" else (queue.name_en or queue.name_zh)
        return f"{prefix} {name}"

    def priority_label(self, priority: str) -> str:
        cls = self.config.priority(priority)
        if cls is None:
            return priority
        return cls.label_zh if self.lang == "zh" else cls.label_en

    def render(self, status: WindowStatus) -> str:
        """The two status lines shown above each prompt."""
        state = STATE_WORDS[self.lang][status.state]
        if status.state is CounterState.PAUSED and status.pause_reason:
            state = (
                f"{state}（{status.pause_reason}）"
                if self.lang == "zh"
                else (f"{state} ({status.pause_reason})")
            )
        head = [f"[{self._t('window', n=status.window)}] {state}"]
        ticket = status.ticket
        if ticket is not None:
            head.append(f"{ticket.number} {self.service_name(ticket.service)}")
            waited_until = ticket.called_at or status.now
            head.append(
                self._t(
                    "waited",
                    m=_duration((waited_until - ticket.arrival).total_seconds(), self.lang),
                )
            )
            if ticket.started_at is not None:
                serving_s = (status.now - ticket.started_at).total_seconds()
                head.append(self._t("serving_for", m=_duration(serving_s, self.lang)))
            if ticket.priority != "normal":
                head.append(self.priority_label(ticket.priority))
            if ticket.recalls:
                head.append(self._t("recalls", n=ticket.recalls))
        head.append(self._t("served", n=status.served_today))
        if status.waiting:
            counts = " · ".join(
                f"{self.queue_name(prefix)} {count}" for prefix, count in status.waiting.items()
            )
            waiting = f"{self._t('waiting')}: {counts}"
        else:
            waiting = self._t("nobody")
        return " · ".join(head) + "\n" + waiting

    def services_text(self) -> str:
        lines = [self._t("services")]
        for i, service in enumerate(self.services, start=1):
            name = self.service_name(service)
            label = name if name == service else f"{name} ({service})"
            lines.append(f"  {i:2d}  {self._queue_of[service]}  {label}")
        return "\n".join(lines)

    def describe(self, events: Sequence[WindowEvent]) -> str:
        """What a command did, in a line per event that concerns this window."""
        lines = []
        mine = self.window
        for ev in events:
            if ev.counter != mine:
                continue
            match ev.type:
                case "ticket_called":
                    lines.append(self._t("called", number=ev.number, window=mine))
                case "ticket_recalled":
                    lines.append(self._t("recalled", number=ev.number, n=ev.recalls))
                case "ticket_started":
                    lines.append(self._t("started", number=ev.number))
                case "ticket_finished":
                    lines.append(
                        self._t("finished", number=ev.number, m=_duration(ev.service_s, self.lang))
                    )
                case "ticket_no_show":
                    lines.append(self._t("no_show", number=ev.number))
                case "ticket_transferred":
                    service = self.service_name(ev.to_service or "")
                    lines.append(self._t("transferred", number=ev.number, service=service))
                case "ticket_returned":
                    lines.append(self._t("returned", number=ev.number))
                case "ticket_cancelled":
                    lines.append(self._t("cancelled", number=ev.number))
                case "counter_opened":
                    lines.append(self._t("opened"))
                case "counter_closed":
                    lines.append(self._t("closed"))
                case "counter_paused":
                    lines.append(self._t("paused", reason=ev.reason or "—"))
                case "counter_resumed":
                    lines.append(self._t("resumed"))
        return "\n".join(lines)

    def refusal(self, exc: EngineError) -> str:
        """An engine refusal in plain words: its own message, except that an illegal move is
        reworded here, since the engine's names its states and commands by their code names."""
        message = exc.message_zh if self.lang == "zh" else exc.message_en
        if isinstance(exc, IllegalTransition):
            message = self._illegal(exc) or message
        return self._t("refused", message=message)

    def _illegal(self, exc: IllegalTransition) -> str | None:
        action = ACTION_WORDS[self.lang].get(str(exc.command))
        if action is None:
            return None
        if exc.kind == "counter":
            try:
                state = STATE_WORDS[self.lang][CounterState(str(exc.state))]
            except ValueError:
                return None
            return self._t("counter_cannot", n=exc.ident, state=state, action=action)
        if exc.kind == "ticket":
            state = TICKET_STATE_WORDS[self.lang].get(str(exc.state))
            if state is None:
                return None
            return self._t("ticket_cannot", number=exc.ident, state=state, action=action)
        return None

    def storage_problem(self, exc: StorageError) -> str:
        return self._t("storage", message=exc)

    def link_down(self) -> str:
        return self._t("link_down")

    def login_refused(self, login: str) -> str:
        return self._t("login_refused", login=login)

    def unreachable(self, url: str) -> str:
        return self._t("unreachable", url=url)

    def invalid(self, action: Invalid) -> str:
        return f"{action.message}\n{self.help_text()}"

    def goodbye(self) -> str:
        return self._t("bye")


# --- the link to the hall ---------------------------------------------------------------------


class HallLink(Protocol):
    """What the console needs from the hall."""

    def execute(self, command: C.Command) -> list[WindowEvent]: ...

    def status(self) -> WindowStatus: ...


class ClientLink:
    """``HallLink`` over the queue server: a staff login working one window.

    ``execute`` sends the engine command and returns the events of the reply; ``status`` asks
    for the hall's snapshot (this window, waiting counts) and, when the window holds a ticket,
    for that ticket's view.
    """

    def __init__(
        self,
        remote: SyncClient,
        config: HallConfig,
        window: int,
        clock: Callable[[], dt.datetime] | None = None,
    ):
        self.remote = remote
        self.config = config
        self.window = window
        self.clock = clock or (lambda: dt.datetime.now(config.zone))

    @classmethod
    def connect(
        cls,
        url: str,
        config: HallConfig,
        window: int,
        *,
        login: str,
        password: str,
        lang: Lang = "zh",
        loop: LoopThread | None = None,
        timeout: float = 10.0,
    ) -> ClientLink:
        auth = P.StaffAuth(login=login, password=password, counter=window)
        remote = SyncClient(url, auth, lang=lang, loop=loop)
        try:
            remote.connect(timeout)
        except BaseException:
            remote.close()
            raise
        return cls(remote, config, window)

    def execute(self, command: C.Command) -> list[WindowEvent]:
        reply = self.remote.command(command)
        return window_events(reply.events)

    def status(self) -> WindowStatus:
        hall = self.remote.query("snapshot").state
        counter = next((c for c in hall.counters if c.id == self.window), None)
        if counter is None:
            raise NotFound("counter", self.window)
        ticket = None
        if counter.ticket is not None:
            try:
                ticket = self.remote.query("ticket", ticket=counter.ticket).ticket
            except NotFound:  # the day turned between the two questions
                pass
        return window_status(self.config, counter, hall.services, ticket, self.clock())

    def close(self) -> None:
        self.remote.close()


# --- the loop ---------------------------------------------------------------------------------


def run_console(
    link: HallLink,
    core: ConsoleCore,
    *,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> int:
    """Prompt, read, act, until quit, end of input or Ctrl-C. Returns the exit status (0)."""
    show_status = True
    while True:
        try:
            if show_status:
                try:
                    write(core.render(link.status()))
                except EngineError as exc:
                    write(core.refusal(exc))
                except StorageError as exc:
                    write(core.storage_problem(exc))
                except LinkDown:
                    write(core.link_down())
            show_status = True
            try:
                line = read(core.prompt)
            except EOFError:
                write("")
                break
            action = core.parse(line)
            match action:
                case Quit():
                    break
                case Help():
                    write(core.help_text())
                    show_status = False
                case ListServices():
                    write(core.services_text())
                    show_status = False
                case Invalid():
                    write(core.invalid(action))
                    show_status = False
                case Refresh():
                    pass
                case _:
                    try:
                        described = core.describe(link.execute(action))
                    except EngineError as exc:
                        write(core.refusal(exc))
                    except StorageError as exc:
                        write(core.storage_problem(exc))
                    except LinkDown:
                        write(core.link_down())
                    else:
                        if described:
                            write(described)
        except KeyboardInterrupt:
            write("")
            break
    write(core.goodbye())
    return 0


# --- main.py wiring -----------------------------------------------------------------------------

PASSWORD_ENV = "YIKOU_PASSWORD"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=os.environ.get("YIKOU_CONFIG", "hall.toml"),
        help="the hall configuration, for names (default: $YIKOU_CONFIG or hall.toml)",
    )
    parser.add_argument("--window", type=int, required=True, help="the window number (窗口号)")
    parser.add_argument(
        "--server",
        help="the queue server, ws://HOST:PORT/ws (default: from the configuration's "
        "[server] table: its public_url, else host and port)",
    )
    parser.add_argument("--login", help="staff login (default: w<window>)")
    parser.add_argument(
        "--password-file",
        type=Path,
        help="TOML credentials file as `main.py init` writes it (default: <config>.credentials; "
        f"${PASSWORD_ENV} or a prompt otherwise)",
    )
    parser.add_argument("--lang", choices=sorted(TEXT), default="zh", help="language (zh or en)")


def read_credentials(path: Path) -> dict[str, str]:
    """The ``[credentials]`` table of a credentials file (``main.py init`` writes one beside the
    configuration); top-level string keys are accepted too."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    table = data.get("credentials", data)
    return {k: v for k, v in table.items() if isinstance(v, str)}


def find_password(
    login: str,
    *,
    password_file: Path | None,
    default_file: Path,
    environ: Mapping[str, str] = os.environ,
    interactive: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str:
    """The password from ``--password-file``, else ``$YIKOU_PASSWORD``, else the credentials
    file beside the configuration, else a prompt (only when someone is at the terminal).
    Raises ``ConfigError`` when there is none."""
    if password_file is not None:
        try:
            secrets = read_credentials(password_file)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the password file: {exc}") from exc
        if login not in secrets:
            raise ConfigError(f"no password for {login} in {password_file}")
        return secrets[login]
    if environ.get(PASSWORD_ENV):
        return environ[PASSWORD_ENV]
    if default_file.is_file():
        try:
            secrets = read_credentials(default_file)
        except (OSError, tomllib.TOMLDecodeError):
            secrets = {}
        if login in secrets:
            return secrets[login]
    if interactive:
        return prompt(f"{login} 的密码 / password for {login}: ")
    raise ConfigError(f"no password for {login}: use --password-file or ${PASSWORD_ENV}")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_hall_config(args.config)
        core = ConsoleCore(config, args.window, args.lang)
    except (ConfigError, ValueError) as exc:  # ValueError: no such window
        print(f"counter: {exc}", file=sys.stderr)
        return 2
    login = args.login or f"w{args.window}"
    url = args.server or config.server.client_url()
    try:
        password = find_password(
            login,
            password_file=args.password_file,
            default_file=credentials_path(Path(args.config)),
            interactive=sys.stdin.isatty(),
        )
    except ConfigError as exc:
        print(f"counter: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("", file=sys.stderr)
        return 2
    if logging.getLogger().level > logging.DEBUG:
        # The terminal is the console's: the client's reconnect chatter stays out of it (the
        # console says so itself when a command finds the connection down).
        logging.getLogger("queue_server.client").setLevel(logging.CRITICAL)
    try:
        link = ClientLink.connect(
            url, config, args.window, login=login, password=password, lang=args.lang
        )
    except AuthFailed:
        print(f"counter: {core.login_refused(login)}", file=sys.stderr)
        return 3
    except LinkDown:
        print(f"counter: {core.unreachable(url)}", file=sys.stderr)
        return 3
    try:
        return run_console(link, core)
    except YikouError as exc:
        print(f"counter: {exc}", file=sys.stderr)
        return 1
    finally:
        link.close()
