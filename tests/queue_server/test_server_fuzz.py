"""Fuzzing (hypothesis): random and malformed messages over real connections, authenticated and
not. The server answers each with exactly one typed error or reply, the connection stays usable,
nothing is logged as a failure, and the hall in memory equals the hall rebuilt from the database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import types
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from harness.halls import fingerprint
from harness.servers import auth_of, running_server
from queue_server import protocol as P
from queue_server.client import LoopThread
from queue_server.protocol import commands as C
from queue_server.server import Client
from queue_server.storage import Store

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
ANSWERS = ("reply", "error", "welcome", "pong")


class ThreadedHall:
    """The server on its own event loop thread, so hypothesis' synchronous examples can use
    blocking clients."""

    def __init__(self, tmp_path):
        self.loop = LoopThread("fuzz-hall")
        self._cm = running_server(tmp_path)
        self.hall = self.run(self._cm.__aenter__())
        self.url = self.hall.url
        self.ids = itertools.count()
        self.token = ""

    def run(self, coro, timeout: float = 30.0):
        return self.loop.run(coro, timeout)

    def close(self) -> None:
        try:
            self.run(self._cm.__aexit__(None, None, None))
        finally:
            self.loop.close(10)

    def fingerprints(self) -> tuple[dict, dict]:
        actor = self.hall.server.actor
        live = self.run(actor.call(lambda: fingerprint(actor.store.hall)))
        store = Store(self.hall.config)
        try:
            return live, fingerprint(store.hall)
        finally:
            store.close()


class Session:
    """One blocking connection; ``exchange`` sends a message and returns what answered it."""

    def __init__(self, fuzz: ThreadedHall, auth: dict | None):
        self.fuzz, self.auth = fuzz, auth
        self.ws = None
        self.open()

    def open(self) -> None:
        self.ws = connect(self.fuzz.url, max_size=None, open_timeout=10).__enter__()
        if self.auth is not None:
            self.ws.send(json.dumps({"v": 1, "type": "hello", "id": "hi", "auth": self.auth}))
            assert self.read_until("hi")[-1]["type"] == "welcome"

    def read_until(self, msg_id: str) -> list[dict]:
        got = []
        while True:
            message = P.SERVER_ADAPTER.validate_json(self.ws.recv(timeout=20)).model_dump()
            got.append(message)
            if message.get("id") == msg_id and message["type"] in ANSWERS:
                return got

    def exchange(self, raw: str | bytes) -> list[dict]:
        """Send ``raw`` then a snapshot query; return the answers that came before its reply.

        The query shows the connection still works and the hall can still be shown (a bad
        value the engine accepted would typically break the snapshot of everyone after it)."""
        sentinel = f"sentinel-{next(self.fuzz.ids)}"
        self.ws.send(raw)
        self.ws.send(json.dumps({"v": 1, "type": "query", "query": "snapshot", "id": sentinel}))
        got = self.read_until(sentinel)
        if self.auth:
            assert got[-1]["type"] == "reply", got[-1]
        else:
            assert got[-1]["code"] == "not_authenticated"
        return [m for m in got[:-1] if m["type"] in ANSWERS]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    hall = ThreadedHall(tmp_path_factory.mktemp("fuzz"))
    # Fuzzing tests decoding and handling, not the rate limit (test_server_flood does that).
    saved = Client.RATE, Client.BURST
    Client.RATE, Client.BURST = 1e6, 1e6
    try:
        # A few tickets, so random references sometimes hit real ones.
        with connect(hall.url) as ws:
            ws.send(json.dumps({"v": 1, "type": "hello", "id": 0, "auth": auth_of("kiosk-1")}))
            ws.recv(timeout=10)
            for i in range(8):
                service = ("liuguan.residence_registration", "renshe.social_insurance_card")[i % 2]
                command = {"type": "issue_ticket", "service": service}
                ws.send(json.dumps({"v": 1, "type": "command", "id": i, "command": command}))
                reply = json.loads(ws.recv(timeout=10))
                while reply["type"] != "reply":
                    reply = json.loads(ws.recv(timeout=10))
                hall.token = reply["result"]["resident_token"]
        yield hall
    finally:
        Client.RATE, Client.BURST = saved
        hall.close()


@pytest.fixture
def no_failures_logged(caplog):
    caplog.set_level(logging.WARNING, logger="queue_server")
    yield
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures]


def check_consistent(fuzz: ThreadedHall) -> None:
    live, stored = fuzz.fingerprints()
    assert live == stored


def assert_one_answer(answers: list[dict], sent) -> None:
    assert len(answers) == 1, answers
    answer = answers[0]
    assert answer["type"] in ANSWERS
    if answer["type"] == "error":
        assert answer["code"] != "internal_error", (sent, answer)
        assert answer["message_zh"] and answer["message_en"]
    if isinstance(sent, dict) and sent.get("v") == 1:
        msg_id = sent.get("id")
        if isinstance(msg_id, int | str) and not isinstance(msg_id, bool):
            assert answer["id"] == msg_id


# --- strategies -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TYPES = ["hello", "command", "query", "subscribe", "ping", "event", "welcome", "reply", ""]
random_dicts = st.fixed_dictionaries(
    {
        "type": st.sampled_from(TYPES) | st.text(max_size=10),
        "v": st.sampled_from([1, 1, 1, 0, 2, "1", None, True, 1.0, -1]),
        "id": json_values,
    },
    optional={
        "command": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        "query": st.sampled_from(["snapshot", "ticket", "slots", "x"]) | st.text(max_size=5),
        "streams": json_values,
        "since": json_values,
        "auth": json_values,
        "resident_id": json_values,
        "extra": json_values,
    },
)

TICKETS = st.sampled_from(["E001", "E002", "B001", "E999", "20261126-E001", ""]) | st.text(
    max_size=12
)
SERVICES = st.sampled_from(
    ["liuguan.residence_registration", "liuguan.residence_permit", "renshe.social_insurance_card"]
) | st.text(max_size=12)
TIMES = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.none() | st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))]),
)
BY_NAME = {
    "ticket": TICKETS,
    "other": TICKETS,
    "service": SERVICES,
    "to_service": SERVICES,
    "counter": st.integers(min_value=1, max_value=6) | st.integers(),
    "priority": st.sampled_from(["normal", "elderly", "military", "nope"]),
    "notice": st.sampled_from(["N1", "N20", "x"]),
}


def value_for(name: str, annotation) -> st.SearchStrategy:
    if name in BY_NAME:
        return BY_NAME[name]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(value_for(name, a) for a in typing.get_args(annotation)))
    if origin is list:
        return st.lists(value_for(name, typing.get_args(annotation)[0]), max_size=3)
    if annotation is type(None):
        return st.none()
    if annotation is int:
        return st.integers()
    if annotation is float:
        return st.floats(allow_nan=False)
    if annotation is bool:
        return st.booleans()
    if annotation is dt.datetime:
        return TIMES.map(lambda t: t.isoformat())
    return st.text(max_size=30)


def command_strategy(cls) -> st.SearchStrategy:
    required = {"type": st.just(cls.model_fields["type"].default)}
    optional = {}
    hints = typing.get_type_hints(cls)
    for name, info in cls.model_fields.items():
        if name != "type":
            target = required if info.is_required() else optional
            target[name] = value_for(name, hints[name])
    return st.fixed_dictionaries(required, optional=optional)


COMMAND_CLASSES = typing.get_args(typing.get_args(C.Command)[0])
IDENTITIES = st.fixed_dictionaries(
    {"number": st.sampled_from(["110101195001010028", "11010119800101002X"]) | st.text()},
    optional={"doc_type": st.sampled_from(["id", "other", "passport"])},
)


def command_messages(cls) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "v": st.just(1),
            "type": st.just("command"),
            "id": st.integers(0, 10**6),
            "command": command_strategy(cls),
        },
        optional={"resident_id": IDENTITIES},
    )


other_messages = st.one_of(
    st.fixed_dictionaries(
        {
            "v": st.just(1),
            "type": st.just("query"),
            "id": st.integers(0, 100),
            "query": st.sampled_from(["snapshot", "ticket", "slots", "services", "bookable_days"]),
        },
        optional={
            "ticket": TICKETS,
            "service": SERVICES,
            "day": st.dates().map(str) | st.text(max_size=10),
        },
    ),
    st.fixed_dictionaries(
        {
            "v": st.just(1),
            "type": st.just("subscribe"),
            "id": st.text(max_size=5),
            "streams": st.lists(
                st.sampled_from(["public", "counter", "manager", "resident", "x"]), max_size=5
            ),
        },
        optional={"since": st.integers(-3, 10**6) | st.integers()},
    ),
    st.fixed_dictionaries(
        {
            "v": st.just(1),
            "type": st.just("hello"),
            "id": st.integers(0, 9),
            "auth": st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["device", "staff", "resident", "x"]),
                    "device_id": st.sampled_from(["kiosk-1", "nobody"]),
                    "token": st.text(max_size=20),
                }
            ),
        }
    ),
)


# --- the tests -------------------------------------------------------------------------------------


def sessions(fuzz: ThreadedHall) -> dict[str, Session]:
    return {
        "anonymous": Session(fuzz, None),
        "manager": Session(fuzz, auth_of("manager")),
        "counter": Session(fuzz, auth_of("w5", 5)),
        "kiosk": Session(fuzz, auth_of("kiosk-1")),
        "resident": Session(fuzz, {"kind": "resident", "token": fuzz.token}),
    }


ROLES = st.sampled_from(["anonymous", "manager", "counter", "kiosk", "resident"])


def run_fuzz(fuzz, strategy, encode, examples: int = 150, roles=ROLES) -> None:
    open_sessions = sessions(fuzz)

    @settings(FUZZ, max_examples=examples)
    @given(role=roles, message=strategy)
    def example(role, message):
        session = open_sessions[role]
        try:
            answers = session.exchange(encode(message))
        except ConnectionClosed as exc:
            # An unauthenticated connection may be closed after its hello timeout; nothing else.
            assert role == "anonymous" and exc.rcvd and exc.rcvd.code == 4001, exc
            session.open()
            return
        assert_one_answer(answers, message)

    try:
        example()
    finally:
        for session in open_sessions.values():
            session.close()
    check_consistent(fuzz)


def test_random_json_values(fuzz, no_failures_logged):
    run_fuzz(fuzz, json_values, lambda v: json.dumps(v))


def test_random_messages_with_random_type_version_and_id(fuzz, no_failures_logged):
    run_fuzz(fuzz, random_dicts, lambda v: json.dumps(v))


@pytest.mark.parametrize("cls", COMMAND_CLASSES, ids=lambda cls: cls.__name__)
def test_random_commands_with_random_fields(fuzz, no_failures_logged, cls):
    # Mostly as the manager, who may send every command, so the engine gets fuzzed too.
    roles = st.sampled_from(["manager"] * 4 + ["anonymous", "counter", "kiosk", "resident"])
    run_fuzz(fuzz, command_messages(cls), json.dumps, examples=40, roles=roles)


def test_random_queries_subscriptions_and_hellos(fuzz, no_failures_logged):
    run_fuzz(fuzz, other_messages, lambda v: json.dumps(v))


def test_random_bytes_and_text(fuzz, no_failures_logged):
    run_fuzz(fuzz, st.binary(max_size=200) | st.text(max_size=200), lambda v: v)


def test_oversize_messages(fuzz, no_failures_logged):
    for role, session in sessions(fuzz).items():
        for size in (P.MAX_MESSAGE_BYTES + 1, 200_000, (1 << 20) - 16):
            for raw in ("x" * size, b"\x00" * size):
                (answer,) = session.exchange(raw)
                assert answer["code"] == "too_large", role
        session.close()
    # Past the websocket layer's own limit the connection is closed (1009), and only it.
    big, bystander = Session(fuzz, auth_of("manager")), Session(fuzz, auth_of("kiosk-1"))
    with pytest.raises(ConnectionClosed) as closed:
        big.exchange("x" * ((1 << 20) + 1))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert bystander.exchange(json.dumps({"v": 1, "type": "query", "id": 1, "query": "services"}))
    bystander.close()
    check_consistent(fuzz)
