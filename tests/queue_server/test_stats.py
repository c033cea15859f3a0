"""Today's statistics from the event log: data in, figures out (queue_server.stats)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from queue_server import stats as S
from queue_server.engine import events as V

DAY = dt.date(2026, 11, 26)
T0 = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
SERVICE = "liuguan.residence_registration"
OTHER = "liuguan.residence_permit"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


class Log:
    """Builds a day's events with consecutive seqs."""

    def __init__(self) -> None:
        self.events: list[V.Event] = []

    def add(self, cls, minute: float, **fields) -> None:
        self.events.append(cls(seq=len(self.events) + 1, at=at(minute), **fields))

    def issue(self, minute: float, number: str, service: str = SERVICE) -> str:
        ticket = V.TicketData(
            id=f"20261126-{number}", number=number, day=DAY, service=service,
            queue=number[0], priority="normal", rank=0, channel="kiosk", resident_key="k",
            arrival=at(minute), order_key=minute,
        )  # fmt: skip
        self.add(V.TicketIssued, minute, ticket=ticket, ahead=0, estimated_wait_s=None)
        return ticket.id

    def call(self, minute, tid, counter, service=SERVICE):
        self.add(V.TicketCalled, minute, ticket_id=tid, number=tid[-4:], service=service,
                 counter=counter)  # fmt: skip

    def finish(self, minute, tid, counter, service_s, service=SERVICE):
        self.add(V.TicketFinished, minute, ticket_id=tid, number=tid[-4:], counter=counter,
                 service=service, service_s=service_s)  # fmt: skip


def a_day() -> Log:
    log = Log()
    log.add(V.DayOpened, 0, day=DAY)
    log.add(V.CounterOpened, 0, counter=1)
    log.add(V.CounterOpened, 0, counter=2)
    e1, e2, e3 = log.issue(0, "E001"), log.issue(5, "E002"), log.issue(6, "E003")
    log.call(10, e1, 1)  # waited 10 min
    log.add(V.TicketStarted, 11, ticket_id=e1, number="E001", counter=1)
    log.finish(20, e1, 1, 540.0)  # busy 10:00-20:00
    log.call(20, e2, 1)  # waited 15 min
    log.add(V.TicketNoShow, 25, ticket_id=e2, number="E002", counter=1)  # busy 20-25
    log.call(26, e3, 2)  # waited 20 min
    log.add(V.TicketStarted, 27, ticket_id=e3, number="E003", counter=2)
    # Sent on to another service from window 2: a new stay in a queue from minute 30.
    log.add(V.TicketTransferred, 30, ticket_id=e3, number="E003", from_service=SERVICE,
            to_service=OTHER, queue="E", rank=0, counter=2)  # fmt: skip
    log.call(40, e3, 1, OTHER)  # waited 10 min more
    log.finish(50, e3, 1, 600.0, OTHER)
    log.add(V.CounterPaused, 50, counter=2, reason="午休")
    log.add(V.CounterResumed, 60, counter=2)
    log.add(V.CounterClosed, 60, counter=1)
    return log


def test_waits_service_times_no_shows_and_totals():
    figures = S.day_stats(a_day().events, at(60))
    assert figures["day"] == "2026-11-26"
    assert (figures["issued"], figures["served"], figures["no_shows"]) == (3, 2, 1)
    assert figures["wait"]["count"] == 4
    assert figures["wait"]["mean_s"] == (10 + 15 + 20 + 10) * 60 / 4
    # p90 of 600, 600, 900, 1200 s interpolated as the simulator's: 900 + 0.7 * 300.
    assert figures["wait"]["max_s"] == 1200.0 and figures["wait"]["p90_s"] == 1110.0
    assert figures["service"]["mean_s"] == 570.0


def test_load_per_window_is_busy_time_over_open_time():
    rows = {r["counter"]: r for r in S.day_stats(a_day().events, at(60))["counters"]}
    one, two = rows[1], rows[2]
    # Window 1: open 0-60; busy 10-20, 20-25, 40-50 = 25 min.
    assert (one["open_s"], one["busy_s"]) == (3600.0, 1500.0)
    assert one["busy_share"] == round(1500 / 3600, 3)
    assert (one["calls"], one["served"], one["no_shows"]) == (3, 2, 1)
    assert one["mean_service_s"] == 570.0
    # Window 2: still open at minute 60 (counted up to now); busy 26-30; paused 50-60.
    assert (two["open_s"], two["busy_s"], two["paused_s"]) == (3600.0, 240.0, 600.0)
    assert two["served"] == 0 and two["mean_service_s"] is None


def test_running_intervals_count_up_to_now():
    log = Log()
    log.add(V.DayOpened, 0, day=DAY)
    tid = log.issue(0, "E001")
    log.call(4, tid, 3)  # window 3 never had a counter_opened today: open since the first event
    rows = S.day_stats(log.events, at(8))["counters"]
    assert rows == [
        {"counter": 3, "calls": 1, "served": 0, "no_shows": 0, "mean_service_s": None,
         "mean_wait_s": 240.0, "open_s": 480.0, "busy_s": 240.0, "paused_s": 0.0,
         "busy_share": 0.5}
    ]  # fmt: skip


def test_per_service_rows_follow_transfers():
    services = {s["service"]: s for s in S.day_stats(a_day().events, at(60))["services"]}
    assert services[SERVICE]["issued"] == 3 and services[SERVICE]["no_shows"] == 1
    assert services[SERVICE]["served"] == 1
    assert services[OTHER]["served"] == 1 and services[OTHER]["mean_wait_s"] == 600.0


def test_an_empty_day_and_a_windows_own_row():
    figures = S.day_stats([], at(0))
    assert figures["issued"] == 0 and figures["wait"]["mean_s"] is None
    own = S.counter_stats(figures, 4)
    assert own["window"]["served"] == 0 and own["window"]["busy_share"] is None
    own = S.counter_stats(S.day_stats(a_day().events, at(60)), 1)
    assert own["window"]["served"] == 2


def test_csv_holds_totals_windows_and_services():
    text = S.to_csv(S.day_stats(a_day().events, at(60)))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["day", "2026-11-26"]
    assert rows[1][:3] == ["issued", "served", "no_shows"] and rows[2][:3] == ["3", "2", "1"]
    header = rows.index(S.COUNTER_COLUMNS)
    assert rows[header + 1][:4] == ["1", "3", "2", "1"]
    services = rows.index(S.SERVICE_COLUMNS)
    assert {r[0] for r in rows[services + 1 :]} == {SERVICE, OTHER}
    assert "\r\n" in text  # as spreadsheets expect
