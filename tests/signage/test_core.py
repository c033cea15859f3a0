"""The signage's Kivy-free state: built from the public stream's messages, no window."""

from __future__ import annotations

import asyncio

from harness.servers import running_server
from queue_server.protocol import commands as C
from queue_server.protocol.states import CounterState
from signage.core import Call, SignageState, format_wait, mask_name


def ev(seq: int, **event) -> dict:
    event = {"at": "2026-11-26T01:30:12Z", **event}  # the time every event carries
    return {"type": "event", "stream": "public", "seq": seq, "event": {"seq": seq, **event}}


def counter(id: int, state: str, ticket=None, service=None, pause_reason=None) -> dict:
    """A window as the public snapshot carries it."""
    return {"id": id, "kind": "normal", "state": state, "pause_reason": pause_reason,
            "ticket": ticket, "service": service, "skills": {}, "served_today": 0}  # fmt: skip


def service(id: str, name_zh: str, queue: str, waiting: int, wait_s: float | None) -> dict:
    return {"service": id, "name_zh": name_zh, "name_en": id, "queue": queue,
            "waiting": waiting, "estimated_wait_s": wait_s, "counters": []}  # fmt: skip


def recent(number: str, counter: int | None, service: str = "a.one", state="called") -> dict:
    return {"number": number, "counter": counter, "service": service, "state": state}


SNAPSHOT = {
    "type": "snapshot",
    "stream": "public",
    "seq": 10,
    "state": {
        "day": "2026-11-26",
        "open_for_tickets": True,
        "counters": [
            counter(1, "calling", "A003", "a.one"),
            counter(2, "idle"),
            counter(3, "paused", pause_reason="午休"),
        ],
        "services": [
            service("a.one", "一号业务", "A", 2, 300.0),
            service("a.two", "二号业务", "A", 1, 600.0),
            service("b.one", "乙业务", "B", 0, None),
        ],
        "recent_calls": [recent("A003", 1, "a.one"), recent("B001", 2, "b.one", "done")],
        "notices": [
            {"id": "n1", "text_zh": "今日系统维护", "text_en": "", "starts": None, "ends": None}
        ],
    },
}


def loaded() -> SignageState:
    state = SignageState(queue_names={"A": "甲队", "B": "乙队"})
    assert state.apply(SNAPSHOT) == []  # a snapshot is old news: nothing to announce
    return state


def test_a_snapshot_builds_the_whole_state_and_announces_nothing():
    state = loaded()
    assert state.seq == 10
    assert state.newest == Call("A003", 1, "a.one")
    assert [c.number for c in state.recent] == ["A003", "B001"]
    assert state.counter(1).state is CounterState.CALLING and state.counter(1).ticket == "A003"
    assert state.counter(3).paused and state.counter(3).pause_reason == "午休"
    assert state.counter(99).paused  # unknown windows show as closed
    queues = state.queues()
    assert [(q.prefix, q.name, q.waiting) for q in queues] == [("A", "甲队", 3), ("B", "乙队", 0)]
    assert queues[0].estimated_wait_s == 600.0 and queues[1].estimated_wait_s is None
    assert state.service_name("a.one") == "一号业务"
    assert [n.text for n in state.notices.values()] == ["今日系统维护"]


def test_calls_and_recalls_are_announced_in_order_and_move_to_the_top():
    state = loaded()
    calls = state.apply(ev(11, type="ticket_called", ticket_id="x", number="B002",
                           service="b.one", counter=2))  # fmt: skip
    assert calls == [Call("B002", 2, "b.one", False, 11)]
    assert state.newest.number == "B002" and state.counter(2).ticket == "B002"
    recall = state.apply(ev(12, type="ticket_recalled", ticket_id="y", number="A003",
                            counter=1, recalls=1))  # fmt: skip
    assert recall == [Call("A003", 1, "a.one", True, 12)]
    # One line per ticket: the recalled one is back on top, not listed twice.
    assert [c.number for c in state.recent] == ["A003", "B002", "B001"]


def test_the_recent_list_keeps_the_newest_calls_when_full():
    state = SignageState(recent_limit=3)
    snapshot = {**SNAPSHOT, "state": {**SNAPSHOT["state"], "recent_calls": [
        recent(f"A{n:03d}", 1) for n in (9, 8, 7, 6, 5)]}}  # fmt: skip
    state.apply(snapshot)
    assert [c.number for c in state.recent] == ["A009", "A008", "A007"]
    for seq, number in enumerate(("B001", "B002", "B003", "B004"), start=11):
        state.apply(ev(seq, type="ticket_called", ticket_id=number, number=number,
                       service="b.one", counter=2))  # fmt: skip
        assert state.newest.number == number
    assert [c.number for c in state.recent] == ["B004", "B003", "B002"]


def test_an_event_seen_twice_is_applied_once():
    state = loaded()
    message = ev(11, type="ticket_called", ticket_id="x", number="A004", service="a.one",
                 counter=1)  # fmt: skip
    assert len(state.apply(message)) == 1
    assert state.apply(message) == []
    assert state.apply(ev(9, type="ticket_called", ticket_id="z", number="A001",
                          service="a.one", counter=1)) == []  # fmt: skip
    assert [c.number for c in state.recent].count("A004") == 1


def test_window_states_follow_the_events():
    state = loaded()
    state.apply(ev(11, type="ticket_started", ticket_id="x", number="A003", counter=1))
    assert state.counter(1).state is CounterState.SERVING
    state.apply(ev(12, type="ticket_finished", ticket_id="x", number="A003", counter=1,
                   service="a.one", service_s=60.0))  # fmt: skip
    assert state.counter(1).state is CounterState.IDLE and state.counter(1).ticket is None
    state.apply(ev(13, type="counter_paused", counter=1, reason="午休"))
    assert state.counter(1).paused
    state.apply(ev(14, type="counter_resumed", counter=1))
    assert state.counter(1).state is CounterState.IDLE
    state.apply(ev(15, type="counter_closed", counter=2))
    assert state.counter(2).state is CounterState.CLOSED
    state.apply(ev(16, type="counter_opened", counter=2))
    assert state.counter(2).state is CounterState.IDLE
    state.apply(ev(17, type="notice_posted", notice_id="n2", text_zh="新通知", text_en="",
                   starts=None, ends=None))  # fmt: skip
    state.apply(ev(18, type="notice_removed", notice_id="n1"))
    assert [n.text for n in state.notices.values()] == ["新通知"]
    state.apply(ev(19, type="day_opened", day="2026-11-27"))
    assert not state.recent and state.newest is None and state.day == "2026-11-27"


def test_status_replaces_the_waiting_counts():
    state = loaded()
    version = state.version
    state.apply({"type": "status", "seq": 10, "services": [service("a.one", "", "A", 7, 1260.0)]})
    assert [(q.prefix, q.waiting) for q in state.queues()] == [("A", 7)]
    assert state.version > version


def test_a_snapshot_after_an_outage_replaces_the_state_without_announcing_old_calls():
    state = loaded()
    state.apply(ev(11, type="ticket_called", ticket_id="x", number="A004", service="a.one",
                   counter=1))  # fmt: skip
    later = {**SNAPSHOT, "seq": 40}
    assert state.apply(later) == []
    assert state.seq == 40 and state.newest.number == "A003"


def test_connection_state_changes_bump_the_version_once():
    state = SignageState()
    assert state.set_connected(True) and not state.set_connected(True)
    assert state.set_connected(False) and not state.connected


def test_names_are_masked_and_waits_are_worded():
    assert mask_name("张三丰") == "张*" and mask_name("李四") == "李*"
    assert mask_name(" Smith ") == "S*" and mask_name("") == "" and mask_name(None) == ""
    assert format_wait(None) == "—" and format_wait(20) == "少于1分钟"
    assert format_wait(12 * 60 + 10) == "约12分钟"


async def test_state_from_a_real_server_stream(tmp_path):
    """The public stream of a real server, applied message by message."""
    async with running_server(tmp_path) as hall:
        screen, kiosk = hall.device("signage-main"), hall.device("kiosk-1")
        w1, w5 = hall.staff("w1", 1), hall.staff("w5", 5)
        for client in (screen, kiosk, w1, w5):
            await client.connect()
        await screen.subscribe("public")
        state = SignageState(queue_names={q.prefix: q.name_zh for q in hall.config.queues})
        announced: list[Call] = []
        state.apply(await screen.next_message(5))  # the snapshot
        await kiosk.command(C.IssueTicket(service="jisheng.birth_registration"))
        await kiosk.command(C.IssueTicket(service="liuguan.residence_registration"))
        await kiosk.command(C.IssueTicket(service="jisheng.birth_registration"))
        await asyncio.gather(w1.command(C.CallNext(counter=1)), w5.command(C.CallNext(counter=5)))
        await w1.command(C.Recall(counter=1))
        await w5.command(C.StartService(counter=5))
        await w5.command(C.FinishService(counter=5))
        await w5.command(C.PauseCounter(counter=5, reason="break"))
        while not state.counter(5).paused:  # the last event of the story
            announced += state.apply(await screen.next_message(5))
        while screen.pending_messages():
            announced += state.apply(await screen.next_message(5))
        numbers = sorted((c.number, c.counter, c.recall) for c in announced)
        assert numbers == [("A001", 1, False), ("A001", 1, True), ("E001", 5, False)]
        assert state.newest == announced[-1] and state.newest.recall
        assert [(q.prefix, q.waiting) for q in state.queues() if q.waiting] == [("A", 1)]
        for client in (screen, kiosk, w1, w5):
            await client.close()


def test_an_event_it_cannot_read_is_skipped_and_the_next_applies():
    state = loaded()
    assert state.apply(ev(11, type="ticket_called", number="A004")) == []  # no window
    calls = state.apply(ev(12, type="ticket_called", ticket_id="x", number="A005",
                           service="a.one", counter=1))  # fmt: skip
    assert [c.number for c in calls] == ["A005"]
