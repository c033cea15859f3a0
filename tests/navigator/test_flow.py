"""The navigator's flow without a window, a server or a clock of its own: data in, effects out."""

from __future__ import annotations

import datetime as dt

import pytest

from content import default_catalog
from devices.sim import SAMPLE_CARDS
from harness.servers import hall_config
from navigator.flow import (
    Book,
    CancelBooking,
    NavigatorFlow,
    Print,
    Query,
    ReportFault,
    Screen,
    appointment_id,
    ticket_of,
    way,
)
from navigator.settings import NavigatorSettings, load_settings
from queue_server.errors import ConfigError
from queue_server.protocol.payloads import BookableDaysResult, SlotsResult
from tests.support.payloads import booking_reply, public_snapshot, ticket_result

YOUNG = SAMPLE_CARDS["resident_expiring"]
ELDER = SAMPLE_CARDS["resident"]
SERVICE = "liuguan.residence_permit"
TODAY = dt.date(2026, 11, 26)
NOW = dt.datetime(2026, 11, 26, 10, 0).timestamp()
URL = "http://127.0.0.1:8765/t/20261126-E001.1795708800.q1w2e3r4t5y6u7i8o9p0aa"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def config():
    return hall_config("sqlite:///:memory:")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def flow(config, clock):
    return NavigatorFlow(
        default_catalog(), config, clock=clock, wall=lambda: NOW, today=lambda: TODAY
    )


def snapshot(waiting=3, counters=(), wait_s=480.0, open_windows=(4, 5, 6)):
    return public_snapshot(
        SERVICE, waiting=waiting, wait_s=wait_s, open_windows=open_windows, called=tuple(counters)
    )


def test_search_by_pinyin_initials_finds_the_hall_s_services(flow):
    flow.open("bureaus")
    flow.open_search()
    for key in "jzz":
        flow.type_key(key)
    assert [s.id for s in flow.search_results()][0] == SERVICE
    flow.type_key("delete")
    assert flow.visit.search_text == "jz"
    flow.choose_service(SERVICE)
    assert flow.screen == Screen.GUIDE and flow.service.id == SERVICE


def test_choosing_a_service_lights_its_windows_and_draws_the_way(flow):
    flow.open("bureaus")
    flow.choose_bureau("liuguan")
    flow.choose_service(SERVICE)
    flow.show_map()
    view = flow.map_view()
    # Windows 5 and 6 have it in their first skill tier (4 only as back-up).
    assert [n for n, _x, _y, lit in view.windows if lit] == [5, 6]
    assert flow.windows_for(SERVICE) == [5, 6, 4]
    assert view.target == 5  # the nearer of the two to this terminal
    assert view.path[0] == flow.settings.terminal and view.path[-1] == flow.windows[5]
    # Only window 6 open now: the way leads there instead.
    flow.live_update(snapshot(open_windows=(6,)))
    assert flow.map_view().target == 6
    flow.back()
    assert flow.screen == Screen.GUIDE
    # The hall map from home lights nothing and draws no way.
    flow.home()
    flow.open("map")
    view = flow.map_view()
    assert not any(lit for *_rest, lit in view.windows) and view.path == []


def test_way_goes_along_the_aisle():
    assert way((0.5, 0.9), (0.2, 0.2), 0.3) == [(0.5, 0.9), (0.5, 0.3), (0.2, 0.3), (0.2, 0.2)]
    assert way((0.5, 0.9), (0.5, 0.2), 0.3) == [(0.5, 0.9), (0.5, 0.3), (0.5, 0.2)]


def test_live_queue_figures(flow):
    assert flow.queue_info(SERVICE) is None  # nothing known yet: the screen says so
    flow.live_update(snapshot(counters=[(5, "E001")]))
    info = flow.queue_info(SERVICE)
    assert info.waiting == 3 and info.wait_minutes == 8
    assert info.windows == [4, 5, 6] and info.serving == [("E001", 5)]
    flow.connection(False)
    assert flow.queue_info(SERVICE) is None  # stale figures are not shown as live


def test_codes_of_tickets_and_bookings():
    assert ticket_of(URL) == ("20261126-E001", 1795708800)
    assert ticket_of("20261126-E001.1795708800.q1w2e3r4t5y6u7i8o9p0aa") is not None
    assert ticket_of("http://x/t/nonsense") is None and ticket_of("E001") is None
    assert appointment_id("AP26") == "AP26" and appointment_id("https://h.cn/a/AP7") == "AP7"
    assert appointment_id("APX") is None


def test_a_scanned_ticket_follows_the_hall(flow):
    effects = flow.code_scanned(URL)
    assert flow.screen == Screen.TICKET
    assert effects == [Query("ticket", (("ticket", "20261126-E001"),))]
    head, _ = flow.ticket_status()
    assert head.zh == "正在查询……"
    flow.answered(
        "ticket",
        ticket_result(id="20261126-E001", service=SERVICE, ahead=2, estimated_wait_s=600),
    )
    head, second = flow.ticket_status()
    assert head.zh == "前面还有 2 人" and second.zh == "预计还要等约 10 分钟"
    # The hall changes: the ticket is asked for again.
    assert flow.live_update(snapshot()) == effects
    flow.answered(
        "ticket",
        ticket_result(id="20261126-E001", service=SERVICE, state="called", ahead=None, counter=5),
    )
    head, second = flow.ticket_status()
    assert head.zh == "请到 5 号窗口" and head.en == "Please go to window 5"
    flow.show_map()
    assert flow.screen == Screen.MAP and flow.map_view().target == 5
    assert [n for n, _x, _y, lit in flow.map_view().windows if lit] == [5]


def test_old_unknown_and_foreign_codes(flow):
    old = "http://x/t/20261120-E001.1795190400.q1w2e3r4t5y6u7i8o9p0aa"
    assert flow.code_scanned(old) == []
    assert flow.screen == Screen.TICKET and flow.ticket_status()[0].zh.startswith("这是以前的号票")
    flow.code_scanned(URL)
    flow.refused("not_found", "没有", "none")
    assert flow.ticket_status()[0].zh == "查不到这张号票"
    flow.code_scanned("https://example.com/something")
    assert flow.screen == Screen.NOTICE and flow.visit.notice_title.zh == "无法识别这个二维码"
    flow.code_scanned("AP26")
    assert flow.screen == Screen.APPOINTMENT and flow.visit.appointment == "AP26"


def test_booking_with_the_id_card(flow):
    flow.open("book_services")
    assert flow.screen == Screen.BOOK_SERVICES
    assert SERVICE in {s.id for s in flow.visible()}
    effects = flow.choose_service(SERVICE)
    assert flow.screen == Screen.BOOK
    assert effects == [Query("bookable_days", (("service", SERVICE),))]
    days = BookableDaysResult.model_validate({"days": ["2026-11-27", "2026-11-30"]})
    effects = flow.answered("bookable_days", days)
    assert effects == [Query("slots", (("service", SERVICE), ("day", "2026-11-27")))]
    slots = [
        {"start": "2026-11-27T09:00:00+08:00", "end": "2026-11-27T09:30:00+08:00", "free": 0},
        {"start": "2026-11-27T09:30:00+08:00", "end": "2026-11-27T10:00:00+08:00", "free": 2},
    ]
    result = {"service": SERVICE, "day": "2026-11-27", "slots": slots}
    flow.answered("slots", SlotsResult.model_validate(result))
    # a full slot is not offered
    assert [s.model_dump(mode="json") for s in flow.free_slots()] == slots[1:]
    assert flow.choose_slot(slots[0]["start"]) == []  # nor taken
    assert flow.choose_slot(slots[1]["start"]) == []
    assert flow.screen == Screen.NEED_CARD
    effects = flow.card_read(YOUNG)
    assert effects == [Book(SERVICE, slots[1]["start"], {"doc_type": "id", "number": YOUNG.number})]
    assert flow.screen == Screen.WORKING
    assert YOUNG.number not in repr(effects)  # the number is kept out of logs and reprs
    reply = booking_reply("AP9", SERVICE, slots[1]["start"], slots[1]["end"])
    flow.printer_status(None)
    effects = flow.booked(reply)
    assert flow.screen == Screen.BOOKED and flow.visit.print_state == "printing"
    [slip] = effects
    assert isinstance(slip, Print) and slip.appointment == "AP9"
    assert slip.slot_start == dt.datetime(2026, 11, 27, 9, 30) and "签到" in slip.note
    flow.printed()
    assert flow.visit.print_state == "printed"
    # The same resident cancels on the spot: the card is still known.
    effects = flow.cancel_booking()
    assert effects == [CancelBooking("AP9", {"doc_type": "id", "number": YOUNG.number})]
    flow.booking_cancelled()
    assert flow.screen == Screen.NOTICE and "AP9" in flow.visit.notice_body.zh


def test_booking_slip_fails_to_print_the_booking_stands(flow):
    flow.printer_status("paper_out")
    flow.visit.card_for = "book"
    flow.visit.identity = YOUNG
    flow.screen = Screen.WORKING
    flow.visit.pending = Book(SERVICE, "2026-11-27T09:30:00+08:00", {"number": "x"})
    effects = flow.booked(
        booking_reply("AP3", SERVICE, "2026-11-27T09:30:00+08:00", "2026-11-27T10:00:00+08:00")
    )
    assert flow.screen == Screen.BOOKED and flow.visit.print_state == "failed"
    assert effects == [ReportFault("printer", "paper_out", "booking slip not printed")]


def test_cancelling_a_scanned_booking_asks_for_the_card(flow):
    flow.code_scanned("AP26")
    assert flow.cancel_booking() == [] and flow.screen == Screen.NEED_CARD
    flow.back()
    assert flow.screen == Screen.APPOINTMENT
    flow.cancel_booking()
    [effect] = flow.card_read(ELDER)
    assert effect == CancelBooking("AP26", {"doc_type": "id", "number": ELDER.number})
    assert flow.elderly  # a senior's card turns large print on
    flow.refused("forbidden", "不是您的预约", "not yours")
    assert flow.screen == Screen.NOTICE and flow.visit.notice_body.zh == "不是您的预约"


def test_idle_wipes_everything_personal(flow, clock):
    flow.code_scanned("AP26")
    flow.cancel_booking()
    flow.card_read(ELDER)  # pending, on the working screen: no timeout there
    flow.unreachable()
    assert flow.screen == Screen.NOTICE and flow.visit.notice_body.zh.startswith("连接中断")
    flow.connection(True)
    flow.toggle_lang()
    assert flow.countdown() is None
    clock.now += flow.settings.idle_s_elderly - 10
    assert flow.countdown() == 10
    flow.tick()
    assert flow.screen == Screen.NOTICE
    clock.now += 10
    flow.tick()
    assert flow.screen == Screen.HOME
    state = repr(flow.personal_state())
    assert ELDER.number not in state and "AP26" not in state and ELDER.name not in state
    assert flow.lang == "zh" and not flow.elderly


def test_server_lost_and_recovered(flow):
    flow.connection(False)
    assert flow.screen == Screen.PAUSED
    flow.connection(True)
    assert flow.screen == Screen.HOME
    # Reading a guide needs no server: it stays; booking does not start.
    flow.open("bureaus")
    flow.choose_bureau("liuguan")
    flow.choose_service(SERVICE)
    flow.connection(False)
    assert flow.screen == Screen.GUIDE
    assert flow.open_booking() == [] and flow.screen == Screen.PAUSED
    flow.connection(True)
    assert flow.screen == Screen.HOME
    # A scanned ticket's screen cannot work without the server: it goes.
    flow.code_scanned(URL)
    flow.connection(False)
    assert flow.screen == Screen.PAUSED and flow.visit.ticket_id is None
    flow.connection(True)
    # A booking's QR code on screen stays through an outage; cancelling waits for the server.
    flow.code_scanned("AP26")
    flow.connection(False)
    assert flow.screen == Screen.APPOINTMENT
    flow.visit.identity = YOUNG
    assert flow.cancel_booking() == [] and flow.screen == Screen.PAUSED
    assert flow.visit.identity is None


def test_settings_place_every_window(config):
    settings = load_settings(config)
    positions = settings.window_positions(config)
    assert sorted(positions) == [c.id for c in config.counters]
    mine = NavigatorSettings(map="plan.png", windows={"1": (0.1, 0.1)})
    positions = mine.window_positions(config)
    assert positions[1] == (0.1, 0.1) and len(positions) == len(config.counters)
    assert mine.place_list() == []  # one's own plan: no demo names written over it
    bad = config.model_copy(update={"navigator": {"windows": {"42": [0.1, 0.2]}}})
    with pytest.raises(ConfigError, match="window 42"):
        load_settings(bad)
    bad = config.model_copy(update={"navigator": {"terminal": [1.5, 0.2]}})
    with pytest.raises(ConfigError, match="navigator.terminal"):
        load_settings(bad)
    bad = config.model_copy(update={"navigator": {"colour": "red"}})
    with pytest.raises(ConfigError, match="navigator.colour"):
        load_settings(bad)
