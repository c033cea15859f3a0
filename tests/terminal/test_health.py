"""terminal.health: one reporter for every terminal; what the workers' health says to the manager."""

from __future__ import annotations

import asyncio
import dataclasses

from devices.runner import Health
from queue_server.client import Disconnected, ServerError
from terminal.health import HealthReporter, worker_health


class FakeClient:
    """The part of HallClient the reporter uses; ``fail`` raises on the next reports."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.told: list[tuple[str, bool, str]] = []
        self.fail: list[Exception] = []

    async def device_status(self, part: str, ok: bool, detail: str = "") -> dict:
        if self.fail:
            raise self.fail.pop(0)
        self.told.append((part, ok, detail))
        return {}


@dataclasses.dataclass
class Worker:
    name: str
    state: str

    def health(self) -> Health:
        return Health(self.name, self.state, "", 0.0, 0)


async def settle(reporter: HealthReporter) -> None:
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.gather(*reporter._tasks)


async def test_changes_are_told_once_and_everything_again_after_a_reconnect():
    client = FakeClient()
    reporter = HealthReporter(client)
    reporter.set("screen", True)
    reporter.sync()  # not connected: nothing told, nothing lost
    assert client.told == []
    client.connected.set()
    reporter.sync()
    await settle(reporter)
    assert client.told == [("screen", True, "")]
    reporter.set("screen", True)  # no change: not told again
    reporter.set("printer", False, "paper_out")
    await settle(reporter)
    assert client.told[1:] == [("printer", False, "paper_out")]
    client.reconnects += 1  # the server may have restarted: it hears every part again
    reporter.sync()
    await settle(reporter)
    assert sorted(client.told[2:]) == [("printer", False, "paper_out"), ("screen", True, "")]
    assert reporter.sent == client.told


async def test_a_report_lost_with_the_connection_goes_again_one_refused_does_not():
    client = FakeClient()
    client.connected.set()
    reporter = HealthReporter(client)
    reporter.sync()
    client.fail = [Disconnected("gone")]
    reporter.set("reader", False, "offline")
    await settle(reporter)
    assert client.told == []
    reporter.sync()
    await settle(reporter)
    assert client.told == [("reader", False, "offline")]
    client.fail = [ServerError("unknown_device", "未知", "unknown")]
    reporter.set("speaker", False, "error")
    await settle(reporter)
    reporter.sync()
    await settle(reporter)
    assert ("speaker", False, "error") not in client.told


async def test_set_from_another_thread_is_told_on_the_client_loop():
    client = FakeClient()
    client.connected.set()
    reporter = HealthReporter(client)
    reporter.sync()
    await asyncio.to_thread(reporter.set, "screen", False, "error")
    for _ in range(50):
        if client.told:
            break
        await asyncio.sleep(0.01)
    assert client.told == [("screen", False, "error")]


def test_the_workers_health_in_the_consoles_words():
    workers = [Worker("id", "ok"), Worker("qr", "lost"), Worker("printer", "ok")]
    assert worker_health(workers, "paper_out") == {
        "reader": (True, ""),
        "scanner": (False, "offline"),
        "printer": (False, "paper_out"),
    }
    assert worker_health(workers, "no_answer")["printer"] == (False, "offline")
    # A printer whose first status is not read yet, and a worker still starting: not told.
    assert worker_health([Worker("printer", "ok"), Worker("id", "starting")], "starting") == {}
