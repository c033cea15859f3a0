"""The staff consoles and the residents' web pages in a real browser (headless Chromium driven by
Selenium) against a real queue server on 127.0.0.1.

The server runs on its own event loop in a thread (Selenium blocks); other terminals (a kiosk, a
window) are real websocket clients on that loop. Every wait is a WebDriverWait on a condition.
Screenshots go to the test's temporary directory; with ``YIKOU_UPDATE_DOC_SCREENSHOTS=1`` they
are also copied to docs/screenshots/web-*.png.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness.servers import credential
from queue_server.protocol import commands as C
from tests.queue_server.browser_support import CHROMEDRIVER, CHROMIUM, HallThread, chrome, text_of

DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVICE = "liuguan.residence_registration"  # queue E; windows 4, 5 and 6 serve it
BOOKABLE = "liuguan.residence_permit"  # takes appointments
WAIT_S = 15

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def hall(tmp_path):
    running = HallThread(tmp_path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    driver = chrome(tmp_path, monkeypatch, "--window-size=1400,1000", console_log=True)
    try:
        yield driver
    finally:
        driver.quit()


def phone(driver) -> None:
    """Show the pages as a common phone does: 390 x 844 CSS pixels at twice the density."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )


def wait_until(driver, condition, what: str):
    try:
        return WebDriverWait(
            driver,
            WAIT_S,
            poll_frequency=0.1,
            # Live pages redraw their lists: an element found a moment ago may be gone.
            ignored_exceptions=(StaleElementReferenceException, NoSuchElementException),
        ).until(condition)
    except Exception as exc:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"waited for {what}; page: {body!r}") from exc


def wait_text(driver, element_id: str, expected: str | re.Pattern[str]) -> str:
    def seen(d) -> str | bool:
        text = text_of(d, element_id)
        ok = expected.fullmatch(text) if isinstance(expected, re.Pattern) else text == expected
        return text if ok else False

    return wait_until(driver, seen, f"#{element_id} = {expected!r}")


def wait_contains(driver, element_id: str, part: str) -> str:
    return wait_until(
        driver, lambda d: part in text_of(d, element_id), f"#{element_id} contains {part!r}"
    )


def click(driver, element_id: str) -> None:
    """Click the element once it is enabled (found afresh: live pages redraw their lists)."""

    def clicked(d) -> bool:
        try:
            element = d.find_element(By.ID, element_id)
            if not element.is_enabled():
                return False
            element.click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False

    wait_until(driver, clicked, f"#{element_id} clicked")


def screenshot(driver, tmp_path: Path, name: str, *, whole_page: bool = False) -> Path:
    path = tmp_path / f"web-{name}.png"
    if whole_page:  # a desktop page taller than the window: grow the window to fit it
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, height + 140)
    assert driver.save_screenshot(str(path)), name
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("YIKOU_UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
    return path


def no_severe_logs(driver) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def only_own_resources(driver, base: str) -> None:
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert all(url.startswith(base + "/") for url in resources), resources


def log_in(driver, base: str, login: str, window: int | None) -> None:
    driver.get(f"{base}/{'staff' if window is not None else 'manager'}")
    driver.find_element(By.ID, "login-name").send_keys(login)
    driver.find_element(By.ID, "login-password").send_keys(credential(login))
    if window is not None:
        driver.find_element(By.ID, "login-window").send_keys(str(window))
    driver.find_element(By.ID, "login-submit").click()


# --- the window console -----------------------------------------------------------------------


def test_a_window_logs_in_calls_and_the_resident_page_follows(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    mine = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    number = mine.ticket.number

    # The resident's page in one tab, the window console in another.
    browser.get(f"{hall.base}/t/{mine.resident_token}")
    wait_text(browser, "state", "排队中")
    resident_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    console_tab = browser.current_window_handle

    # A wrong password is refused in plain words; the right one opens the desk.
    driver = browser
    driver.get(f"{hall.base}/staff")
    driver.find_element(By.ID, "login-name").send_keys("w5")
    driver.find_element(By.ID, "login-password").send_keys("not-the-password")
    driver.find_element(By.ID, "login-window").send_keys("5")
    driver.find_element(By.ID, "login-submit").click()
    wait_contains(driver, "login-error", "登录失败")
    log_in(driver, hall.base, "w5", 5)
    wait_contains(driver, "who", "5 号窗口 · w5")
    wait_text(driver, "conn", "已连接")
    wait_until(
        driver,
        lambda d: "等候 1 人" in text_of(d, "waiting"),
        "the window's queues with their waiting counts",
    )

    click(driver, "btn-call-next")
    wait_text(driver, "ticket-number", number)
    wait_text(driver, "ticket-service", "居住登记")
    wait_text(driver, "ticket-state", "已叫号")
    wait_text(driver, "ticket-priority", "普通")
    wait_contains(driver, "materials", "居民身份证")
    # Issued at the kiosk without a form: said in plain words, and the channel in Chinese.
    wait_text(driver, "form-missing", "未提交表格")
    wait_text(driver, "ticket-channel", "自助填表机")
    wait_text(driver, "message", f"已呼叫 {number}")

    driver.switch_to.window(resident_tab)
    wait_text(driver, "call-text", "请到 5 号窗口")
    driver.switch_to.window(console_tab)

    click(driver, "btn-recall")
    click(driver, "btn-start")
    wait_text(driver, "ticket-state", "办理中")
    screenshot(driver, tmp_path, "staff-serving")
    driver.switch_to.window(resident_tab)
    wait_text(driver, "state", "正在 5 号窗口办理")
    driver.switch_to.window(console_tab)

    click(driver, "btn-finish")
    wait_text(driver, "no-ticket", "暂无办理中的群众")
    wait_text(driver, "stat-served", "1")
    wait_text(driver, "stat-service", re.compile(r"\d+\.\d 分钟"))
    wait_text(driver, "stat-wait", re.compile(r"\d+\.\d 分钟"))
    driver.switch_to.window(resident_tab)
    wait_text(driver, "state", "已办结")
    driver.switch_to.window(console_tab)

    # A second resident: called by number, transferred to another service.
    second = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    driver.find_element(By.ID, "call-number").send_keys(second.ticket.number)
    click(driver, "btn-call-ticket")
    wait_text(driver, "ticket-number", second.ticket.number)
    click(driver, "btn-start")
    wait_text(driver, "ticket-state", "办理中")
    Select(driver.find_element(By.ID, "transfer-service")).select_by_value(BOOKABLE)
    click(driver, "btn-transfer")
    wait_text(driver, "no-ticket", "暂无办理中的群众")
    ticket = hall.run(kiosk.query("ticket", ticket=second.ticket.number)).ticket
    assert (ticket.service, ticket.state) == (BOOKABLE, "waiting")

    # Pause with a reason, then resume.
    driver.find_element(By.ID, "pause-input").send_keys("系统维护")
    click(driver, "btn-pause")
    wait_text(driver, "counter-state", "暂停")
    wait_text(driver, "pause-reason", "暂停原因：系统维护")
    # Paused: nobody can be called until the window resumes.
    assert not driver.find_element(By.ID, "btn-call-next").is_enabled()
    assert driver.find_element(By.ID, "btn-resume").is_enabled()
    screenshot(driver, tmp_path, "staff-paused")
    click(driver, "btn-resume")
    wait_text(driver, "counter-state", "空闲")

    # A command the engine refuses is said in plain words: no such ticket today.
    driver.find_element(By.ID, "call-number").clear()
    driver.find_element(By.ID, "call-number").send_keys("E999")
    click(driver, "btn-call-ticket")
    wait_until(driver, lambda d: d.find_element(By.ID, "message").get_attribute("class")
               == "message error", "an error message")  # fmt: skip
    assert text_of(driver, "message")
    only_own_resources(driver, hall.base)
    no_severe_logs(driver)


# --- the manager console ----------------------------------------------------------------------


def queue_order(driver, service: str) -> list[str]:
    items = driver.find_elements(By.CSS_SELECTOR, f"[id='queue-{service}'] li")
    return [item.get_attribute("data-number") for item in items]


def wait_order(driver, service: str, expected: list[str]) -> None:
    wait_until(driver, lambda d: queue_order(d, service) == expected, f"queue order {expected}")


def test_the_manager_moves_reprioritises_cancels_reskills_and_exports(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    window = hall.connect(lambda: hall.hall.staff("w1", 1))
    numbers = [
        hall.run(kiosk.command(C.IssueTicket(service=SERVICE))).ticket.number for _ in range(4)
    ]
    assert numbers == ["E001", "E002", "E003", "E004"]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    log_in(browser, hall.base, "manager", None)
    wait_text(browser, "conn", "已连接")
    wait_order(browser, SERVICE, numbers)
    wait_text(browser, "stat-issued", "4")

    # Move E003 before E002: the window's next calls follow the new order.
    click(browser, "up-E003")
    wait_order(browser, SERVICE, ["E001", "E003", "E002", "E004"])
    # E004 becomes elderly priority: ahead of every normal ticket.
    Select(browser.find_element(By.ID, "priority-E004")).select_by_value("elderly")
    wait_order(browser, SERVICE, ["E004", "E001", "E003", "E002"])
    # E002 is cancelled (after a confirmation).
    click(browser, "cancel-E002")
    wait_until(browser, lambda d: d.switch_to.alert, "the confirmation").accept()
    wait_order(browser, SERVICE, ["E004", "E001", "E003"])

    # Window 1 serves A, then B, then D: re-skilled to serve E first, it calls the new order.
    skills = browser.find_element(By.ID, "skills-1")
    assert skills.get_attribute("value") == "A; B; D"
    skills.clear()
    skills.send_keys("E; A B")
    click(browser, "reskill-1")
    wait_until(
        browser,
        lambda d: d.find_element(By.ID, "skills-1").get_attribute("data-current") == "E; A B",
        "window 1 re-skilled",
    )
    called = [
        hall.run(window.command(C.CallNext(counter=1))).events[-1]["number"],
    ]
    hall.run(window.command(C.StartService(counter=1)))
    wait_text(browser, "stat-issued", "4")
    wait_until(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, "#counter-1 td:nth-child(3)").text == "E004",
        "window 1 serving E004 in the table",
    )
    hall.run(window.command(C.FinishService(counter=1)))
    called.append(hall.run(window.command(C.CallNext(counter=1))).events[-1]["number"])
    assert called == ["E004", "E001"]
    wait_order(browser, SERVICE, ["E003"])

    # Close window 3 and open it again.
    click(browser, "close-3")
    wait_until(browser, lambda d: d.find_element(By.ID, "counter-3").get_attribute("data-state")
               == "closed", "window 3 closed")  # fmt: skip
    click(browser, "open-3")
    wait_until(browser, lambda d: d.find_element(By.ID, "counter-3").get_attribute("data-state")
               != "closed", "window 3 open")  # fmt: skip

    # A notice to the screens, seen by a screen's public stream, then removed.
    browser.find_element(By.ID, "notice-zh").send_keys("今日 16:00 起暂停办理居住证")
    browser.find_element(By.ID, "notice-en").send_keys("Residence permits stop at 16:00 today")
    click(browser, "btn-post-notice")
    wait_contains(browser, "notices", "今日 16:00 起暂停办理居住证")
    notices = hall.run(kiosk.query("snapshot")).state.notices
    assert [n.text_zh for n in notices] == ["今日 16:00 起暂停办理居住证"]

    # Device health: the kiosk's printer runs out of paper; the screens never connected.
    hall.run(kiosk.request({"type": "device_status", "part": "printer", "ok": False,
                            "detail": "paper_out"}))  # fmt: skip
    wait_contains(browser, "alerts", "kiosk-1 打印机 缺纸")
    assert "signage-main 离线" in text_of(browser, "alerts")
    wait_until(browser, lambda d: d.find_element(By.ID, "device-kiosk-1").get_attribute(
        "data-alert") == "1", "the kiosk flagged")  # fmt: skip

    wait_text(browser, "stat-served", "1")
    wait_until(browser, lambda d: d.find_elements(By.ID, "load-1"), "window 1's load row")
    screenshot(browser, tmp_path, "manager", whole_page=True)
    hall.run(kiosk.request({"type": "device_status", "part": "printer", "ok": True}))
    wait_until(browser, lambda d: d.find_element(By.ID, "device-kiosk-1").get_attribute(
        "data-alert") == "0", "the kiosk well again")  # fmt: skip
    assert "kiosk-1" not in text_of(browser, "alerts")
    browser.find_element(By.CSS_SELECTOR, "#notices button").click()
    wait_until(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#notices li"),
               "the notice removed")  # fmt: skip
    assert hall.run(kiosk.query("snapshot")).state.notices == []

    # The day's figures as CSV, as the server computed them from the event log.
    click(browser, "btn-csv")
    csv_files = wait_until(
        browser,
        lambda _: [p for p in downloads.glob("*.csv") if p.stat().st_size] or False,
        "the CSV download",
    )
    text = csv_files[0].read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[1].startswith("issued,served,no_shows") and lines[2].startswith("4,1,0,1,")
    assert any(line.startswith("1,2,1,0,") for line in lines), lines  # window 1: 2 calls, 1 done
    only_own_resources(browser, hall.base)
    no_severe_logs(browser)


# --- the residents' pages ---------------------------------------------------------------------

RESIDENT_ID = "110101199003071234"


def free_places(driver, start: str) -> int:
    button = driver.find_element(By.CSS_SELECTOR, f"#slots button[data-start='{start}']")
    return int(button.find_element(By.TAG_NAME, "small").get_attribute("data-free"))


def test_a_resident_finds_a_guide_books_and_cancels_from_a_phone(hall, browser, tmp_path):
    phone(browser)
    browser.get(f"{hall.base}/guide")
    wait_contains(browser, "services", "居住证办理")
    browser.find_element(By.ID, "search").send_keys("jzz")  # pinyin initials of 居住证
    wait_until(
        browser,
        lambda d: (
            [a.text for a in d.find_elements(By.CSS_SELECTOR, "#services a")][:1]
            == ["居住证办理\n可预约"]
        ),
        "the search result",
    )
    screenshot(browser, tmp_path, "guide-search")
    browser.find_element(By.CSS_SELECTOR, f"#services a[data-service='{BOOKABLE}']").click()
    wait_text(browser, "g-name", "居住证办理")
    wait_contains(browser, "g-materials", "居民身份证")
    assert text_of(browser, "g-steps")
    screenshot(browser, tmp_path, "guide")

    click(browser, "g-book")
    wait_until(browser, lambda d: d.find_element(By.ID, "form").get_attribute("data-ready"),
               "the booking page connected")  # fmt: skip
    wait_until(browser, lambda d: Select(d.find_element(By.ID, "service"))
               .first_selected_option.get_attribute("value") == BOOKABLE,
               "the service chosen from the guide")  # fmt: skip
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    days = [day.isoformat() for day in hall.run(kiosk.query("bookable_days")).days]
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#slots button:not([disabled])"),
               "free slots")  # fmt: skip
    # The day's last slot: far enough ahead to be cancelled (2 h before) whatever the hour.
    first = browser.find_elements(By.CSS_SELECTOR, "#slots button:not([disabled])")[-1]
    start = first.get_attribute("data-start")
    assert start.startswith(days[0])
    before = free_places(browser, start)
    first.click()

    # A wrong ID number is caught in the page; a right one books.
    browser.find_element(By.ID, "id-number").send_keys("12345")
    click(browser, "btn-book")
    wait_text(browser, "book-error", "请填写正确的 18 位身份证号码")
    browser.find_element(By.ID, "id-number").clear()
    browser.find_element(By.ID, "id-number").send_keys(RESIDENT_ID)
    click(browser, "btn-book")
    appointment = wait_text(browser, "v-id", re.compile(r"预约号 AP\d+")).split()[-1]
    wait_until(
        browser,
        lambda d: d.execute_script(
            "var i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0"
        ),
        "the QR code drawn",
    )
    assert text_of(browser, "v-service") == "居住证办理"
    screenshot(browser, tmp_path, "book-booked")
    slots = hall.run(kiosk.query("slots", service=BOOKABLE, day=days[0])).slots
    assert next(s.free for s in slots if s.start.isoformat() == start) == before - 1
    with urllib.request.urlopen(f"{hall.base}/qr/{appointment}.svg", timeout=5) as response:
        assert response.headers["Content-Type"] == "image/svg+xml"
        assert b"<svg" in response.read()

    # Somebody else's ID number cannot cancel it; the resident's own can.
    browser.find_element(By.ID, "cancel-number").send_keys("110101198001010011")
    click(browser, "btn-cancel")
    wait_until(browser, lambda d: d.find_element(By.ID, "cancel-result").get_attribute("class")
               == "error" and text_of(d, "cancel-result"), "the refusal")  # fmt: skip
    browser.find_element(By.ID, "cancel-number").clear()
    browser.find_element(By.ID, "cancel-number").send_keys(RESIDENT_ID)
    click(browser, "btn-cancel")
    wait_text(browser, "cancel-result", f"预约 {appointment} 已取消")
    wait_until(browser, lambda d: d.find_element(By.ID, "form").is_displayed(), "the form back")
    wait_until(browser, lambda d: free_places(d, start) == before, "the place given back")
    screenshot(browser, tmp_path, "book-cancelled")
    slots = hall.run(kiosk.query("slots", service=BOOKABLE, day=days[0])).slots
    assert next(s.free for s in slots if s.start.isoformat() == start) == before
    only_own_resources(browser, hall.base)
    no_severe_logs(browser)
    # The page kept no ID number anywhere.
    stored = browser.execute_script("return JSON.stringify(localStorage)")
    assert RESIDENT_ID not in stored


def test_the_catalog_api_serves_the_halls_services_and_guides(hall):
    with urllib.request.urlopen(f"{hall.base}/api/services", timeout=5) as response:
        listing = json.load(response)
    ids = {s["id"] for s in listing["services"]}
    assert ids == set(hall.hall.config.service_ids())
    with urllib.request.urlopen(f"{hall.base}/api/services?q=jzz", timeout=5) as response:
        assert json.load(response)["services"][0]["id"] == BOOKABLE
    with urllib.request.urlopen(f"{hall.base}/api/services/{BOOKABLE}", timeout=5) as response:
        guide = json.load(response)
    assert guide["appointments"] is True and guide["materials"][0]["describe_zh"]
    for missing in ("/api/services/nope.nothing", "/qr/bad%20id.svg"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(hall.base + missing, timeout=5)
        assert caught.value.code == 404
