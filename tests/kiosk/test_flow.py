"""The kiosk's flow without a window, without a server: inputs in, screens and effects out."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from content import default_catalog
from devices.sim import SAMPLE_CARDS
from harness.servers import hall_config
from kiosk.flow import (
    Cancel,
    CheckIn,
    Issue,
    KioskFlow,
    LookUpOnFile,
    Print,
    ReportFault,
    Screen,
    Visit,
    age_on,
    appointment_id,
)
from kiosk.settings import load_settings
from queue_server.errors import ConfigError
from tests.support.payloads import issue_reply, ticket_view

TODAY = dt.date(2026, 11, 26)
ELDER = SAMPLE_CARDS["resident"]  # born 1949-12-31: 76
YOUNG = SAMPLE_CARDS["resident_expiring"]  # born 1990-03-07
TICKET = ticket_view(
    service_name_zh="居住登记",
    service_name_en="Residence registration",
    ahead=3,
    estimated_wait_s=600.0,
)
REPLY = issue_reply(
    TICKET,
    resident_token="20261126-E002.1795708800.sig",
    ticket_url="http://127.0.0.1/t/20261126-E002.1795708800.sig",
)


def granted(priority: str, **labels: str):
    """REPLY with the ticket of the class the hall granted."""
    return REPLY.model_copy(
        update={"ticket": TICKET.model_copy(update={"priority": priority, **labels})}
    )


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


ENQUIRY = "fangguan.progress_inquiry"  # id_card_required = false in the catalog


def with_enquiry(config):
    """The example hall with an enquiry (ticketed without the card) in queue D."""
    queues = [
        q.model_copy(update={"services": [*q.services, ENQUIRY]}) if q.prefix == "D" else q
        for q in config.queues
    ]
    return config.model_copy(update={"queues": queues})


@pytest.fixture(scope="module")
def config():
    return with_enquiry(hall_config("sqlite:///unused.db"))


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def flow(config, clock):
    f = KioskFlow(default_catalog(), config, clock=clock, today=lambda: TODAY)
    f.printer_status(None)
    return f


def to_guide(flow, service="liuguan.residence_registration"):
    flow.start() if flow.screen == Screen.WELCOME else None
    flow.choose_bureau(service.split(".")[0])
    assert flow.screen == Screen.SERVICES
    flow.choose_service(service)
    assert flow.screen == Screen.GUIDE


def test_card_then_service_guide_form_ticket_then_welcome(flow, clock):
    effects = flow.card_read(YOUNG)
    assert flow.screen == Screen.WORKING and not flow.elderly
    check, lookup = effects  # a booking today? and which materials are on file
    assert isinstance(check, CheckIn) and check.appointment is None
    assert check.resident_id == {"doc_type": "id", "number": YOUNG.number}
    assert isinstance(lookup, LookUpOnFile) and lookup.resident_id == check.resident_id
    assert YOUNG.number not in repr(lookup)
    assert flow.refused("not_found", "找不到预约", "no appointment") == []
    assert flow.screen == Screen.BUREAUS  # no booking: the ordinary way, silently
    assert "李*" in flow.greeting()
    to_guide(flow)
    materials = flow.materials()
    assert materials[0][0].startswith("居民身份证") and not any(m[2] for m in materials)
    flow.open_form()
    assert flow.screen == Screen.FORM
    form = flow.visit.form
    assert form["name"] == "李四" and form["id_number"] == YOUNG.number
    assert form["sex"] == "male" and form["birth_date"] == "1990-03-07"
    # current_address and phone are required and empty.
    assert flow.submit_form() == [] and set(flow.visit.form_errors) == {"current_address", "phone"}
    flow.set_field("phone", "12345")
    flow.set_field("current_address", "朝阳区金盏乡1号")
    flow.submit_form()
    assert flow.visit.form_errors["phone"].zh.startswith("请输入11位")
    flow.set_field("phone", "13800138000")
    [issue] = flow.submit_form()
    assert isinstance(issue, Issue) and issue.priority == "normal"
    assert issue.form == {"fields": flow.visit.form, "materials": []}
    assert issue.form["fields"]["phone"] == "13800138000"
    assert issue.resident_id["number"] == YOUNG.number
    assert YOUNG.number not in repr(issue)  # the clear number never shows in a repr or log
    [job] = flow.issued(REPLY)
    assert isinstance(job, Print) and job.number == "E002" and job.people_ahead == 3
    assert job.wait_minutes == 10 and job.qr_data == REPLY.ticket_url
    assert YOUNG.name not in repr(job) and YOUNG.number not in repr(job)
    assert flow.printed() == [] and flow.screen == Screen.TICKET
    assert flow.countdown() == 20
    clock.now += 21
    flow.tick()
    assert flow.screen == Screen.WELCOME
    assert flow.personal_state() == dataclasses.asdict(Visit()) | {"lang": "zh", "elderly": False}
    assert flow.visit.identity is None and flow.visit.form == {} and flow.visit.ticket is None


def test_without_card_only_where_the_catalog_allows(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    assert flow.card_hint().zh == "本事项可不刷卡取号"
    [issue] = flow.take_ticket()
    assert issue.resident_id is None and issue.form is None and issue.priority == "normal"
    flow.refused("quota_exhausted", "今日该事项号源已发完", "all taken")
    flow.home()
    for service in ("liuguan.residence_registration", "liuguan.residence_permit"):
        flow.start() if flow.screen == Screen.WELCOME else flow.home()
        to_guide(flow, service)  # the resident's own record: real-name
        assert flow.card_hint().zh == "本事项需刷身份证取号"
        assert flow.take_ticket() == [] and flow.screen == Screen.NEED_CARD
        assert "咨询台" in flow.t("no_card_help")
        flow.home()
    flow.start()
    to_guide(flow, "liuguan.residence_permit")
    flow.take_ticket()
    [issue] = flow.card_read(YOUNG)  # placed now: no check-in probe, straight on
    assert issue.service == "liuguan.residence_permit" and issue.resident_id["number"]
    assert flow.card_hint() is None  # the card is there: nothing to say


def settings_flow(config, clock, **kiosk):
    settings = load_settings(kiosk, default_catalog())
    flow = KioskFlow(default_catalog(), config, settings, clock=clock, today=lambda: TODAY)
    flow.printer_status(None)
    return flow


@pytest.mark.parametrize(
    ("kiosk", "needs"),
    [
        ({}, {ENQUIRY: False, "liuguan.residence_registration": True}),
        ({"id_required": "always"}, {ENQUIRY: True, "liuguan.residence_registration": True}),
        ({"id_required": "never"}, {ENQUIRY: False, "liuguan.residence_permit": False}),
        ({"card_required": [ENQUIRY]}, {ENQUIRY: True, "liuguan.residence_permit": True}),
        (
            {"card_optional": ["liuguan.residence_registration"]},
            {"liuguan.residence_registration": False, "liuguan.residence_permit": True},
        ),
    ],
)
def test_the_hall_decides_where_the_card_is_needed(config, clock, kiosk, needs):
    for service, needed in needs.items():
        flow = settings_flow(config, clock, **kiosk)
        flow.start()
        to_guide(flow, service)
        effects = flow.take_ticket()
        assert (flow.screen == Screen.NEED_CARD) is needed, service
        assert (effects == []) is needed and (flow.card_hint().zh.startswith("本事项需")) is needed


@pytest.mark.parametrize(
    ("kiosk", "message"),
    [
        ({"idel_s": 30}, "idel_s: Extra inputs are not permitted"),
        ({"idle_s": 10, "warn_s": 15}, "warn_s (15) must be shorter than idle_s"),
        ({"id_required": "sometimes"}, "id_required: Input should be"),
        ({"card_optional": ["liuguan.residence_permits"]}, "did you mean liuguan.residence_permit"),
        ({"card_optional": [ENQUIRY], "card_required": [ENQUIRY]}, "both in card_required"),
        ({"elderly_age": 30}, "elderly_age: Input should be greater than or equal to 50"),
    ],
)
def test_a_bad_kiosk_section_is_named(kiosk, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(kiosk, default_catalog())
    assert str(caught.value).startswith("kiosk") and message in str(caught.value)


def test_kiosk_section_timeouts_language_and_help_desk(config, clock):
    flow = settings_flow(
        config,
        clock,
        idle_s=30,
        warn_s=10,
        language="en",
        help_desk_zh="一楼服务台",
        help_desk_en="service desk, ground floor",
    )
    assert flow.lang == "en"
    flow.start()
    to_guide(flow, ENQUIRY)
    clock.now += 19
    assert flow.countdown() is None
    clock.now += 2
    assert flow.countdown() == 9
    flow.printer_status("paper_out")
    flow.take_ticket()
    assert "一楼服务台" in flow.visit.notice_body.zh
    assert "service desk, ground floor" in flow.visit.notice_body.en
    assert "咨询台" not in flow.visit.notice_body.zh
    assert "一楼服务台" in flow.t("paused_body") or flow.lang == "en"
    flow.toggle_lang()
    flow.notice_ok()
    assert flow.lang == "en"  # each visit starts in the hall's language


def test_printer_trouble_is_told_before_the_card_is_asked_for(flow):
    flow.printer_status("cover_open")
    flow.start()
    to_guide(flow, "liuguan.residence_permit")
    [fault] = flow.take_ticket()
    assert fault.kind == "cover_open" and flow.screen == Screen.NOTICE


def test_elderly_card_turns_on_elderly_mode_and_priority(flow, clock, config):
    assert age_on(ELDER.birth_date, TODAY) == 76 >= config.rules.elderly_age
    flow.card_read(ELDER)
    assert flow.elderly and flow.visit.elderly_offered
    flow.refused("not_found", "", "")
    assert flow.page_size == 4 and len(flow.visible()) == 4 and flow.pages() == 2
    flow.next_page()
    assert flow.visit.page == 1 and len(flow.visible()) == 4
    flow.next_page()
    assert flow.visit.page == 1  # no page beyond the last
    # Longer timeouts: 150 s, the countdown in the last 30 s.
    clock.now += 119
    assert flow.countdown() is None
    clock.now += 2
    assert flow.countdown() == 29
    flow.touch()
    assert flow.countdown() is None
    flow.set_elderly(False)  # the resident may turn it off; the priority stays (it is the card's)
    assert flow.page_size == 8
    to_guide(flow)
    [issue] = flow.take_ticket()
    assert issue.priority == "elderly"


def test_elderly_age_is_the_halls(config, clock):
    strict = config.model_copy(
        update={"rules": config.rules.model_copy(update={"elderly_age": 80})}
    )
    flow = KioskFlow(default_catalog(), strict, clock=clock, today=lambda: TODAY)
    flow.printer_status(None)
    flow.card_read(ELDER)
    assert not flow.elderly and flow.priority() == "normal"


def test_elderly_button_without_card_grants_no_priority(flow):
    flow.set_elderly(True)
    flow.start()
    assert flow.page_size == 4
    to_guide(flow, ENQUIRY)
    [issue] = flow.take_ticket()
    assert issue.priority == "normal"


def test_search_by_pinyin_initials(flow):
    flow.start()
    flow.open_search()
    for key in "jzz":
        flow.type_key(key)
    ids = [s.id for s in flow.visible()]
    assert ids[0] == "liuguan.residence_permit"
    assert all(s in flow.offer for s in ids)  # only what this hall queues
    flow.type_key("delete")
    assert flow.visit.search_text == "jz"
    flow.type_key("clear")
    assert flow.visible() == []
    for key in "jzz":
        flow.type_key(key)
    flow.choose_service("liuguan.residence_permit")
    assert flow.screen == Screen.GUIDE
    flow.back()
    assert flow.screen == Screen.SEARCH and flow.visit.search_text == "jzz"


def test_english_one_tap_and_back_to_chinese_after_the_visit(flow):
    flow.toggle_lang()
    assert flow.lang == "en" and flow.t("welcome_prompt").startswith("Place your ID card")
    flow.start()
    flow.home()
    assert flow.lang == "zh"


def test_idle_countdown_wipes_everything_personal(flow, clock):
    flow.card_read(YOUNG)
    flow.refused("not_found", "", "")
    to_guide(flow)
    flow.open_form()
    flow.set_field("phone", "13800138000")
    flow.toggle_lang()
    clock.now += 44
    assert flow.countdown() is None
    clock.now += 2
    assert flow.countdown() == 14
    clock.now += 14
    flow.tick()
    assert flow.screen == Screen.WELCOME
    state = repr(flow.personal_state()) + repr(vars(flow))
    assert YOUNG.number not in state and "13800138000" not in state and "李四" not in state
    assert flow.lang == "zh" and not flow.elderly


def test_appointment_by_qr_code(flow):
    assert appointment_id("AP26") == "AP26"
    assert appointment_id("https://hall.example.cn/a/AP26") == "AP26"
    assert appointment_id("hello") is None
    [check] = flow.code_scanned("AP26")
    assert check == CheckIn(appointment="AP26")
    [job] = flow.issued(granted("appointment"))
    flow.printed()
    assert flow.screen == Screen.TICKET and flow.visit.checked_in
    assert flow.visit.ticket["priority"] == "appointment"


def test_unknown_code_and_early_check_in(flow):
    assert flow.code_scanned("not a booking") == []
    assert flow.screen == Screen.NOTICE and flow.visit.notice_title.zh == "无法识别这个二维码"
    flow.notice_ok()
    flow.card_read(YOUNG)
    flow.refused("check_in_too_early", "还未到签到时间，请于 10:45 后签到", "Too early")
    assert flow.screen == Screen.NOTICE and "10:45" in flow.visit.notice_body.zh
    flow.notice_next()  # "take an ordinary ticket"
    assert flow.screen == Screen.BUREAUS and flow.visit.identity is YOUNG


def test_refusal_shows_the_servers_words(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    flow.take_ticket()
    flow.refused(
        "already_holding_ticket", "您已领取本事项的 E001 号，请留意叫号", "You already hold E001"
    )
    assert flow.screen == Screen.NOTICE
    assert flow.visit.notice_body.zh == "您已领取本事项的 E001 号，请留意叫号"
    flow.toggle_lang()
    assert flow.visit.notice_body.get(flow.lang) == "You already hold E001"


def test_printer_not_ready_means_no_ticket(flow):
    assert flow.printer_status("paper_out") == [
        ReportFault("printer", "paper_out", "printer status changed")
    ]
    flow.start()
    to_guide(flow)
    effects = flow.take_ticket()
    assert not any(isinstance(e, Issue) for e in effects)
    assert [e.kind for e in effects] == ["paper_out"]
    assert flow.screen == Screen.NOTICE and "缺纸" in flow.visit.notice_body.zh
    assert "咨询台" in flow.visit.notice_body.zh
    # A QR check-in is refused too (nothing could be printed).
    flow.notice_ok()
    assert not any(isinstance(e, CheckIn) for e in flow.code_scanned("AP3"))


def test_print_failure_after_issue_cancels_with_the_tickets_token(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    flow.take_ticket()
    flow.issued(REPLY)
    effects = flow.print_failed("paper_out")
    assert effects[0] == ReportFault("printer", "paper_out", "ticket E002 not printed")
    assert effects[1] == Cancel("20261126-E002", REPLY.resident_token)
    flow.cancelled(True)
    assert flow.screen == Screen.NOTICE and "已作废" in flow.visit.notice_body.zh
    assert flow.printer_problem == "paper_out"


def test_print_failure_not_cancelled_shows_the_number(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    flow.take_ticket()
    flow.issued(REPLY)
    flow.print_failed("no_answer")
    flow.cancelled(False)
    assert "E002" in flow.visit.notice_body.zh and "E002" in flow.visit.notice_body.en


def test_server_away_pauses_and_recovers(flow):
    flow.connection(False)
    assert flow.screen == Screen.PAUSED
    assert flow.start() == [] and flow.card_read(YOUNG) == []
    flow.connection(True)
    assert flow.screen == Screen.WELCOME
    # Away in the middle of a visit: browsing goes on; taking a ticket pauses.
    flow.start()
    to_guide(flow)
    flow.connection(False)
    assert flow.screen == Screen.GUIDE
    assert flow.take_ticket() == [] and flow.screen == Screen.PAUSED
    flow.connection(True)
    assert flow.screen == Screen.WELCOME


def test_lost_reply_is_told_plainly(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    flow.take_ticket()
    flow.unreachable()
    assert flow.screen == Screen.NOTICE and "不要重复取号" in flow.visit.notice_body.zh


def test_unreadable_card_gets_plain_instructions(flow):
    flow.card_error("请重新放置身份证", "Place the card again")
    assert flow.screen == Screen.NOTICE
    assert (
        "平放" in flow.visit.notice_body.zh and "Place the card again" in flow.visit.notice_body.en
    )


def test_next_resident_on_the_ticket_screen_starts_afresh(flow):
    flow.card_read(ELDER)
    flow.refused("not_found", "", "")
    to_guide(flow)
    flow.take_ticket()
    flow.issued(REPLY)
    flow.printed()
    check, _lookup = flow.card_read(YOUNG)
    assert check.resident_id["number"] == YOUNG.number and not flow.elderly
    assert flow.visit.ticket is None


def test_busy_screen_ignores_touches(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    flow.take_ticket()
    assert flow.home() == [] and flow.start() == [] and flow.screen == Screen.WORKING
    assert flow.code_scanned("AP1") == [] and flow.timeout_s() is None


def test_priority_shows_on_the_ticket_and_its_paper(flow, config):
    flow.card_read(ELDER)
    flow.refused("not_found", "", "")
    to_guide(flow)
    [issue] = flow.take_ticket()
    assert issue.priority == "elderly"
    [job] = flow.issued(granted("elderly"))  # the view always says what the hall granted
    assert flow.priority_label(flow.visit.ticket["priority"]).zh == "老年人优先"
    assert job.note.startswith("【老年人优先】\n请携带：居民身份证")
    assert job.note.endswith("过号请重新取号，谢谢！")
    assert flow.priority_label("appointment").zh == "预约优先"
    assert flow.priority_label("appointment").en == "Priority: Appointment"
    assert flow.priority_label("normal") is None and flow.priority_label(None) is None


def test_the_ticket_follows_the_class_the_server_granted(flow):
    flow.card_read(ELDER)
    flow.refused("not_found", "", "")
    to_guide(flow)
    [issue] = flow.take_ticket()
    assert issue.priority == "elderly"
    # The hall granted less than was asked (its rules decide): the ticket says so.
    [job] = flow.issued(granted("normal"))
    assert flow.visit.ticket["priority"] == "normal" and not job.note.startswith("【")
    # A class this kiosk's config does not know: the labels the server sent.
    flow.printed()
    flow.home()
    flow.card_read(ELDER)
    flow.refused("not_found", "", "")
    to_guide(flow)
    flow.take_ticket()
    veteran = granted("veteran", priority_label_zh="退役军人优先", priority_label_en="Veteran")
    [job] = flow.issued(veteran)
    assert job.note.startswith("【退役军人优先】")
    assert flow.priority_label("veteran").en == "Priority: Veteran"


def test_paper_ticket_wording_is_the_halls(config, clock):
    flow = settings_flow(
        config, clock, print_materials=0, print_priority=False, print_note_zh="请留意叫号"
    )
    flow.card_read(ELDER)
    flow.refused("not_found", "", "")
    to_guide(flow)
    flow.take_ticket()
    [job] = flow.issued(REPLY)
    assert job.note == "请留意叫号"


def test_elderly_age_for_large_print_is_the_kiosks_priority_the_halls(config, clock):
    flow = settings_flow(config, clock, elderly_age=80)
    flow.card_read(ELDER)  # 76: past the hall's 60, short of the kiosk's 80
    assert not flow.elderly and flow.priority() == "elderly"
    young_old = settings_flow(config, clock, elderly_age=50)
    young_old.card_read(SAMPLE_CARDS["resident_expiring"])  # 36
    assert not young_old.elderly


def test_materials_on_file_are_marked_and_ticked_ones_go_with_the_form(flow):
    service = "jisheng.birth_registration"  # asks for the marriage certificate (e-copy ok)
    check, lookup = flow.card_read(YOUNG)
    flow.refused("not_found", "", "")
    to_guide(flow, service)
    assert not any(line.on_file for line in flow.materials())  # not known yet: no marks
    flow.on_file_known(LookUpOnFile(lookup.resident_id), ["marriage_cert"])  # someone else's
    assert flow.visit.on_file is None
    flow.on_file_known(lookup, ["marriage_cert", "id_card"])
    lines = {line.key: line for line in flow.materials()}
    assert lines["marriage_cert"].on_file and lines["marriage_cert"].reusable
    assert not lines["id_card"].on_file  # the original is still to be shown
    flow.toggle_material("id_card")
    flow.toggle_material("hukou_book")
    flow.toggle_material("hukou_book")  # a second touch unticks
    flow.toggle_material("marriage_cert")  # on file: nothing to bring
    flow.toggle_material("no_such_material")
    assert [line.key for line in flow.materials() if line.bringing] == ["id_card"]
    [issue] = flow.take_ticket()  # no form, but the ticks go
    assert issue.form == {"fields": {}, "materials": ["id_card"]}
    assert flow.card_read(YOUNG) == []  # busy
    flow.refused("quota_exhausted", "", "")
    flow.notice_ok()
    assert flow.visit.on_file is None and flow.visit.bringing == set()  # wiped with the visit


def test_no_card_no_lookup_and_nothing_ticked_sends_no_form(flow):
    flow.start()
    to_guide(flow, ENQUIRY)
    assert flow.submission() is None
    [issue] = flow.take_ticket()
    assert issue.form is None
