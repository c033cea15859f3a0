"""ui.bridge without a window: the client's loop on a thread (``LoopThread``, which ui takes
through ``terminal.loop``) and the inbox that hands items over.

The Kivy clock is replaced by ``FakeClock`` (a trigger wakes a consumer thread that drains the
inbox, as Kivy's clock runs a trigger on its own thread in the next frame); the real clock is
used by the signage app's tests (tests/signage/test_app.py).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from terminal.loop import LoopThread
from ui.bridge import Inbox, run_app_with


class FakeClock:
    """Plays the Kivy thread: a trigger wakes it; it runs the callback once per wake-up."""

    def __init__(self):
        self.wake = threading.Event()
        self.stopping = False
        self.callback = None
        self.triggers = 0
        self.runs = 0
        self.thread = threading.Thread(target=self._run, name="fake-kivy", daemon=True)

    def schedule(self, callback):
        self.callback = callback

        def trigger() -> None:
            self.triggers += 1
            self.wake.set()

        return trigger

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.stopping:
                return
            self.runs += 1
            self.callback()

    def __enter__(self) -> FakeClock:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join(10)


class Collected:
    """What a handler got, with a condition to wait on (from any thread)."""

    def __init__(self):
        self.items: list = []
        self.calls: list[int] = []
        self.cond = threading.Condition()

    def __call__(self, items: list) -> None:
        with self.cond:
            self.items.extend(items)
            self.calls.append(len(items))
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)


async def test_the_client_thread_runs_coroutines_in_its_own_loop_and_stops_them_cleanly():
    here = threading.get_ident()
    cleaned = threading.Event()

    async def where() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()  # the stop lets it run its finally, as asyncio.run would

    thread = LoopThread("test-client")  # running from its construction
    try:
        assert thread.running
        ident = await thread.run_async(where())
        assert ident != here and ident == thread.submit(where()).result(10)
        thread.submit(forever())
        with pytest.raises(ZeroDivisionError):
            await thread.run_async(_fail())  # its error reaches the caller
    finally:
        thread.close()
    assert cleaned.is_set() and not thread.running
    with pytest.raises(RuntimeError, match="not running"):
        thread.submit(where())
    thread.close()  # closing twice is harmless


async def test_an_app_is_not_run_beside_a_closed_thread():
    class App:  # never started: the refusal comes first
        def async_run(self, async_lib: str):
            raise AssertionError("the app ran")

    thread = LoopThread("test-closed")
    thread.close()
    background = _fail()
    with pytest.raises(RuntimeError, match="test-closed is not running"):
        await run_app_with(App(), background, thread=thread)
    assert background.cr_frame is None  # closed, so never "never awaited"


async def _fail() -> None:
    raise ZeroDivisionError


def test_an_inbox_hands_over_a_burst_in_one_call_in_order():
    triggers: list[int] = []
    got = Collected()
    inbox = Inbox(got, schedule=lambda callback: lambda: triggers.append(1))
    for n in range(5):
        inbox.put(n)
    assert inbox.pending() == 5 and len(triggers) == 5  # pulled each time; Kivy runs it once
    assert inbox.drain() == 5 and inbox.drain() == 0
    assert got.items == [0, 1, 2, 3, 4] and got.calls == [5]
    assert inbox.delivered == 5


def test_a_failing_handler_loses_nothing_after_it(caplog):
    seen: list[list[int]] = []

    def handler(items: list[int]) -> None:
        seen.append(items)
        if 13 in items:
            raise ValueError("bad message")

    inbox = Inbox(handler, schedule=lambda callback: lambda: None)
    inbox.put(12)
    inbox.put(13)
    inbox.drain()
    inbox.put(14)
    inbox.drain()
    assert seen == [[12, 13], [14]]
    assert "handling 2 item(s) from the client thread failed" in caplog.text


def test_items_from_many_threads_all_arrive_each_thread_in_order():
    producers, per_producer = 4, 2000
    got = Collected()
    with FakeClock() as clock:
        inbox = Inbox(got, schedule=clock.schedule)
        start = threading.Barrier(producers)

        def produce(p: int) -> None:
            start.wait()
            for i in range(per_producer):
                inbox.put((p, i))

        threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert got.wait_for(lambda: len(got.items) == producers * per_producer)
    assert len(set(got.items)) == producers * per_producer  # none twice
    for p in range(producers):
        assert [i for q, i in got.items if q == p] == list(range(per_producer))
    # One hand-over per wake-up at most, each with everything waiting then.
    assert len(got.calls) <= clock.runs and sum(got.calls) == producers * per_producer
