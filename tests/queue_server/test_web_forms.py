"""The window console shows the form a resident submitted at the kiosk, in a real browser
(headless Chromium driven by Selenium) against a real queue server on 127.0.0.1, and files the
materials the window checked; a kiosk then finds them on file for that resident, and when the
resident comes back on a new ticket the console shows them on file as soon as it calls them.
The browser runs in another time zone than the hall's: times are shown in hall time.

The screenshots of the console (with the form; with the returning resident's materials on file)
go to the test's temporary directory, and to docs/screenshots/web-staff-form.png and
web-staff-on-file.png (which docs/privacy.md and docs/consoles.md show) when missing or
``YIKOU_UPDATE_DOC_SCREENSHOTS=1``, as for the other web pages.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.servers import credential
from queue_server.protocol import commands as C
from tests.queue_server.browser_support import CHROMEDRIVER, CHROMIUM, HallThread, chrome, text_of

DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVICE = "liuguan.residence_registration"  # queue E; window 5 serves it first
WAIT_S = 15
# Not the hall's zone (Asia/Shanghai, +08:00) and 13 hours away from it in November.
BROWSER_ZONE = "America/New_York"
NUMBER = "11010519491231002X"
FORM = {
    "fields": {
        "name": "张秀兰",
        "id_number": NUMBER,
        "sex": "female",
        "nation": "汉族",
        "birth_date": "1949-12-31",
        "address": "北京市朝阳区示范街道幸福里7号楼3单元501",
        "phone": "13912345678",
    },
    "materials": ["id_card", "lease_contract"],
}

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)",
        allow_module_level=True,
    )
pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


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


def wait_until(driver, condition, what: str):
    try:
        return WebDriverWait(
            driver,
            WAIT_S,
            poll_frequency=0.1,
            ignored_exceptions=(StaleElementReferenceException, NoSuchElementException),
        ).until(condition)
    except Exception as exc:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"waited for {what}; page: {body!r}") from exc


def wait_text(driver, element_id: str, expected: str) -> None:
    wait_until(driver, lambda d: text_of(d, element_id) == expected, f"#{element_id} = {expected}")


def click(driver, element_id: str) -> None:
    def clicked(d) -> bool:
        element = d.find_element(By.ID, element_id)
        if not element.is_enabled():
            return False
        element.click()
        return True

    wait_until(driver, clicked, f"#{element_id} clicked")


def keep_screenshot(driver, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = DOC_SCREENSHOTS / name
    if os.environ.get("YIKOU_UPDATE_DOC_SCREENSHOTS") == "1" or not doc.exists():
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, doc)


def marked_filed(driver) -> list[str]:
    return [
        li.get_attribute("data-material")
        for li in driver.find_elements(By.CSS_SELECTOR, "#materials li")
        if li.find_elements(By.CSS_SELECTOR, ".tag.filed")
    ]


def test_the_window_console_shows_the_submitted_form_and_files_materials(hall, browser, tmp_path):
    kiosk = hall.connect(lambda: hall.hall.device("kiosk-1"))
    issued = hall.run(
        kiosk.command(C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM)
    )
    assert issued.form_stored is True
    number = issued.ticket.number
    store = hall.hall.server.actor.store
    stored = hall.run(hall.hall.server.actor.call(store.ticket_form, issued.ticket.id))
    submitted = stored["submitted_at"].astimezone(hall.hall.config.zone)

    driver = browser
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_ZONE})
    driver.get(f"{hall.base}/staff")
    driver.find_element(By.ID, "login-name").send_keys("w5")
    driver.find_element(By.ID, "login-password").send_keys(credential("w5"))
    driver.find_element(By.ID, "login-window").send_keys("5")
    driver.find_element(By.ID, "login-submit").click()
    wait_text(driver, "conn", "已连接")
    # Nobody called yet: no form on the page at all.
    assert "张秀兰" not in driver.find_element(By.TAG_NAME, "body").text

    click(driver, "btn-call-next")
    wait_text(driver, "ticket-number", number)
    wait_text(driver, "ticket-channel", "自助填表机")
    # The form, with the catalog's Chinese labels and a choice shown by its label.
    wait_text(driver, "form-field-name", "张秀兰")
    wait_text(driver, "form-field-id_number", NUMBER)
    wait_text(driver, "form-field-sex", "女")
    rows = driver.find_elements(By.CSS_SELECTOR, "#form-fields > div")
    labels = [row.find_element(By.TAG_NAME, "dt").text for row in rows]
    assert labels == ["姓名", "公民身份号码", "性别", "民族", "出生日期", "户籍地址", "联系电话"]
    assert not driver.find_element(By.ID, "form-missing").is_displayed()
    # When it was submitted, in hall time although the browser's clock is in New York.
    zone = driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert zone == BROWSER_ZONE
    wait_text(driver, "form-submitted", "提交于 " + submitted.strftime("%Y-%m-%d %H:%M"))
    # A first visit: nothing on file yet, nothing ticked.
    wait_until(
        driver,
        lambda d: d.find_element(By.ID, "materials").get_attribute("data-on-file") == "ok",
        "the materials on file asked",
    )
    assert marked_filed(driver) == []
    assert not driver.find_element(By.ID, "material-id_card").is_selected()
    # What the resident said they bring is marked beside the guide's materials.
    brought = driver.find_elements(By.CSS_SELECTOR, "#materials li .tag")
    assert len(brought) == 2

    click(driver, "btn-start")
    wait_text(driver, "ticket-state", "办理中")
    driver.find_element(By.ID, "material-id_card").click()
    driver.find_element(By.ID, "material-lease_contract").click()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, height + 140)
    click(driver, "btn-file-materials")
    wait_text(driver, "message", "已存档 2 项材料")
    filed = wait_until(driver, lambda d: marked_filed(d) or False, "materials marked as filed")
    assert filed == ["id_card", "lease_contract"]
    keep_screenshot(driver, tmp_path, "web-staff-form.png")

    on_file = hall.run(kiosk.query("materials_on_file", resident_id={"number": NUMBER}))
    assert on_file.materials == ["id_card", "lease_contract"]

    # Finished: the resident's form leaves the page with them.
    click(driver, "btn-finish")
    wait_text(driver, "no-ticket", "暂无办理中的群众")
    assert "张秀兰" not in driver.find_element(By.TAG_NAME, "body").text

    # The next resident came without a form: said in plain words.
    plain = hall.run(kiosk.command(C.IssueTicket(service=SERVICE)))
    click(driver, "btn-call-next")
    wait_text(driver, "ticket-number", plain.ticket.number)
    wait_text(driver, "form-missing", "未提交表格")
    assert not driver.find_elements(By.CSS_SELECTOR, "#form-fields > div")
    # Nor with a document: nothing can be filed for it, said before anything is ticked.
    wait_text(driver, "materials-note", "这张号票没有登记证件，无法存档材料")
    assert not driver.find_element(By.ID, "btn-file-materials").is_enabled()
    assert marked_filed(driver) == []
    click(driver, "btn-no-show")
    wait_text(driver, "no-ticket", "暂无办理中的群众")

    # The first resident comes back for a new ticket: as soon as the window calls them, the
    # materials filed on the earlier ticket show on file, ticked and greyed, before anyone
    # files anything.
    again = hall.run(
        kiosk.command(C.IssueTicket(service=SERVICE), resident_id={"number": NUMBER}, form=FORM)
    )
    click(driver, "btn-call-next")
    wait_text(driver, "ticket-number", again.ticket.number)
    wait_text(driver, "ticket-state", "已叫号")
    wait_text(driver, "form-field-name", "张秀兰")
    on_file = wait_until(driver, lambda d: marked_filed(d) or False, "materials shown on file")
    assert on_file == ["id_card", "lease_contract"]
    for key in on_file:
        box = driver.find_element(By.ID, f"material-{key}")
        assert box.is_selected() and not box.is_enabled(), key
        item = driver.find_element(By.CSS_SELECTOR, f'#materials li[data-material="{key}"]')
        assert "on-file" in item.get_attribute("class").split()
        assert "已存档" in item.text
    others = driver.find_elements(By.CSS_SELECTOR, "#materials li:not(.on-file) input")
    assert others and all(b.is_enabled() and not b.is_selected() for b in others)
    assert driver.find_element(By.ID, "btn-file-materials").is_enabled()
    assert not driver.find_element(By.ID, "materials-note").is_displayed()
    keep_screenshot(driver, tmp_path, "web-staff-on-file.png")
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
