"""Shared pieces of the real-browser tests: a queue server on its own event loop in a thread
(Selenium blocks the test's thread) and headless Debian Chromium driven by Selenium."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.servers import Running, running_server
from queue_server.client import HallClient, LoopThread

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# No downloads, no background traffic: the machine's network is closed.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",
)


class HallThread:
    """A queue server on its own event loop in a thread; ``run`` awaits a coroutine there."""

    def __init__(self, tmp_path: Path):
        self.loop = LoopThread("hall")
        self.clients: list[HallClient] = []
        self._context = running_server(tmp_path)
        try:
            self.hall: Running = self.run(self._context.__aenter__())
        except BaseException:
            self._stop_loop()
            raise

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return self.loop.run(coro, timeout)

    def connect(self, make) -> HallClient:
        async def connected() -> HallClient:
            client = make()
            await client.connect()
            return client

        client = self.run(connected())
        self.clients.append(client)
        return client

    @property
    def port(self) -> int:
        return urlsplit(self.hall.url).port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _stop_loop(self) -> None:
        self.loop.close(10)

    def close(self) -> None:
        try:
            for client in self.clients:
                self.run(client.close())
            self.run(self._context.__aexit__(None, None, None))
        finally:
            self._stop_loop()


def chrome(
    tmp_path: Path, monkeypatch, *flags: str, mobile: bool = False, console_log: bool = False
):
    """A headless Chromium with a fresh profile under ``tmp_path``; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download anything
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, *flags, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    if mobile:  # a common phone: 390 x 844 CSS pixels at twice the density
        options.add_experimental_option(
            "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}}
        )
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
    )
    return webdriver.Chrome(service=service, options=options)


def text_of(driver, element_id: str) -> str:
    """The visible text of an element ('' while it is hidden)."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, element_id)
    return element.text if element.is_displayed() else ""
