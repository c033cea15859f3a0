"""The resident's ticket page in a real browser: headless Chromium driven by Selenium.

A real queue server runs on 127.0.0.1 in a thread of its own (Selenium blocks, the server must
not); a kiosk client issues tickets, a window client calls them, and the browser, opened on the
ticket's URL, must show each change live. Screenshots go to the test's temporary directory; with
``YIKOU_UPDATE_DOC_SCREENSHOTS=1`` they are also copied to docs/screenshots/ for the docs.

Uses the system's Chromium and chromedriver (Debian packages ``chromium`` and
``chromium-driver``): nothing is downloaded at run time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest

from queue_server import server as S
from queue_server.protocol import commands as C
from queue_server.tokens import make_token
from tests.queue_server.browser_support import CHROMEDRIVER, CHROMIUM, HallThread, chrome, text_of

DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVICE = "liuguan.residence_registration"  # queue E; windows 4, 5 and 6 serve it
WAIT_S = 15

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver; "
        "scripts/setup.sh installs them)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class TicketHall(HallThread):
    """The hall in a thread, with what the ticket page's tests need of it."""

    def page_url(self, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/t/{token}"

    def open_connections(self) -> int:
        async def count() -> int:
            return len(self.hall.server._server.connections)

        return self.run(count())

    def drop_residents(self) -> None:
        """Cut every resident connection at the TCP level, as a phone losing its network."""

        async def drop() -> None:
            for client in list(self.hall.server.clients):
                if client.role == "resident":
                    client.ws.transport.abort()

        self.run(drop())


@pytest.fixture
def hall(tmp_path):
    running = TicketHall(tmp_path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    driver = chrome(tmp_path, monkeypatch, mobile=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_text(driver, element_id: str, expected: str | re.Pattern[str]) -> str:
    """Wait until the visible text of ``element_id`` equals (or matches) ``expected``."""

    def seen(d) -> str | bool:
        text = text_of(d, element_id)
        ok = expected.fullmatch(text) if isinstance(expected, re.Pattern) else text == expected
        return text if ok else False

    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(seen)
    except Exception as exc:
        raise AssertionError(
            f"#{element_id} shows {text_of(driver, element_id)!r}, expected {expected!r}; "
            f"page: {driver.find_element(By.TAG_NAME, 'body').text!r}"
        ) from exc


def wait_attribute(driver, element_id: str, name: str, value: str) -> None:
    WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(
        lambda d: d.find_element(By.ID, element_id).get_attribute(name) == value
    )


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"ticket-page-{name}.png"
    assert driver.save_screenshot(str(path)), name
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("YIKOU_UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
    return path


def test_the_page_follows_a_ticket_live_from_issue_to_call(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    window = hall.connect(lambda: hall.hall.staff("w5", 5))
    first = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    mine = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    token = mine.resident_token
    assert mine.ticket_url.endswith(f"/t/{token}")

    browser.get(hall.page_url(token))
    assert wait_text(browser, "number", mine.ticket.number) == "E002"
    wait_text(browser, "service", "居住登记")
    wait_text(browser, "state", "排队中")
    wait_text(browser, "ahead", "1 人")
    # Windows 4, 5 and 6 can serve queue E and all are idle: the estimate (a replay of the
    # dispatch) says both tickets are called at once.
    wait_text(browser, "wait", "马上就到")
    wait_text(browser, "hall", hall.hall.config.hall.name_zh)
    wait_attribute(browser, "conn", "data-state", "live")
    assert not browser.find_element(By.ID, "call").is_displayed()
    assert not browser.find_element(By.ID, "priority").is_displayed()  # normal: no badge
    screenshot(browser, tmp_path, "waiting")

    # The phone loses its connection and the window calls the ticket ahead (before or after the
    # page is back: it cannot tell). The page reconnects by itself, once, and shows the position
    # as it is now.
    assert browser.find_element(By.ID, "conn").get_attribute("data-sessions") == "1"
    hall.drop_residents()
    called = hall.run(window.command(C.CallNext(counter=5)))
    assert called.events[-1]["number"] == first.ticket.number
    wait_attribute(browser, "conn", "data-sessions", "2")
    wait_text(browser, "ahead", "0 人")
    wait_attribute(browser, "conn", "data-state", "live")

    for command in (C.StartService(counter=5), C.FinishService(counter=5), C.CallNext(counter=5)):
        hall.run(window.command(command))
    wait_text(browser, "call-text", "请到 5 号窗口")
    wait_text(browser, "state", "正在叫您的号")
    assert not browser.find_element(By.ID, "waiting").is_displayed()
    assert "请到 5 号窗口" in browser.title
    screenshot(browser, tmp_path, "called")

    browser.find_element(By.ID, "lang").click()
    wait_text(browser, "call-text", "Please go to window 5")
    wait_text(browser, "service", "Residence registration")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    screenshot(browser, tmp_path, "called-en")
    browser.find_element(By.ID, "lang").click()
    wait_text(browser, "call-text", "请到 5 号窗口")

    hall.run(window.command(C.Recall(counter=5)))
    wait_text(browser, "call-hint", "第 2 次叫号，请尽快前往")
    hall.run(window.command(C.StartService(counter=5)))
    wait_text(browser, "state", "正在 5 号窗口办理")
    hall.run(window.command(C.FinishService(counter=5)))
    wait_text(browser, "state", "已办结")
    wait_text(browser, "advice", "业务已办结，感谢您的耐心等候。")
    screenshot(browser, tmp_path, "done")


def test_a_priority_ticket_shows_the_class_the_hall_granted(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    mine = hall.run(
        kiosk.command(
            C.IssueTicket(service=SERVICE, priority="elderly"),
            resident_id={"number": "11010119500101001X", "doc_type": "id"},
        )
    )
    browser.get(hall.page_url(mine.resident_token))
    wait_text(browser, "number", mine.ticket.number)
    assert wait_text(browser, "priority", "老年人优先")
    wait_text(browser, "state", "排队中")
    screenshot(browser, tmp_path, "priority")
    browser.find_element(By.ID, "lang").click()
    wait_text(browser, "priority", "Priority: Elderly")


def test_a_missed_ticket_is_said_in_plain_words(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    window = hall.connect(lambda: hall.hall.staff("w5", 5))
    mine = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    browser.get(hall.page_url(mine.resident_token))
    wait_text(browser, "ahead", "0 人")
    hall.run(window.command(C.CallNext(counter=5)))
    wait_text(browser, "call-text", "请到 5 号窗口")
    hall.run(window.command(C.MarkNoShow(counter=5)))
    wait_text(browser, "state", "已过号")
    wait_text(browser, "advice", "您的号已过号。如仍需办理，请到服务台咨询或重新取号。")
    assert not browser.find_element(By.ID, "call").is_displayed()


def test_a_forged_or_expired_code_is_refused_in_plain_words(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    mine = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    ticket_id = mine.ticket.id

    browser.get(hall.page_url(f"{ticket_id}.9999999999.forged-signature"))
    wait_text(browser, "error-text", "二维码无效，请重新取号")
    assert not browser.find_element(By.ID, "ticket").is_displayed()
    screenshot(browser, tmp_path, "invalid")

    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    expired = make_token(hall.hall.config.security.resident_key_secret, ticket_id, yesterday)
    browser.get(hall.page_url(expired))
    wait_text(browser, "error-text", "二维码已过期，请重新取号")
    assert not browser.find_element(By.ID, "ticket").is_displayed()
    screenshot(browser, tmp_path, "expired")
    # A refused code is final: the page closes its websocket and does not knock again. (Well
    # before the server's own HELLO_TIMEOUT would close it; the kiosk's stays open.)
    assert S.HELLO_TIMEOUT >= 10
    WebDriverWait(browser, 5, poll_frequency=0.1).until(lambda _: hall.open_connections() == 1)


def test_the_page_loads_nothing_from_outside_the_hall_server(hall, browser):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    mine = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    browser.get(hall.page_url(mine.resident_token))
    wait_text(browser, "number", mine.ticket.number)
    origin = f"http://127.0.0.1:{hall.port}/"
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(url.startswith(origin) for url in resources), resources
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_ticket_url_comes_from_the_configured_public_url(hall):
    """The QR code's URL is ``<public_url>/t/<token>`` (the page's own address)."""
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    mine = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    public_url = hall.hall.config.server.public_url.rstrip("/")
    assert mine.ticket_url == f"{public_url}/t/{mine.resident_token}"
