"""``python main.py kiosk``: the self-service form-filling machine (自助填表机).

    python main.py kiosk --config /etc/yikou/hall.toml
    python main.py kiosk --config hall.toml --reader samv:///dev/ttyUSB0 \\
        --printer 'usb://0416:5011?profile=gb18030-80' --scanner 'serial:///dev/ttyACM0'
    python main.py kiosk --config hall.toml --demo

The ``[kiosk]`` section of the configuration (kiosk/settings.py) sets the timeouts, whether a
ticket needs the ID card, the help desk's name and the paper ticket's wording.
The devices' URLs come from this kiosk's ``[[devices]]`` entry (``reader``, ``printer``,
``scanner``); a command-line flag overrides one. A device named nowhere stops the start (exit
2, naming the setting) unless the kiosk is started with ``--demo``: then it is simulated
(``sim://``), the welcome screen has buttons that place a sample card through the simulated
reader, and every screen is marked 演示. The machine connects to the queue server with its
device token (``--device-id``'s entry of ``<config>.credentials`` by default).
Kivy is imported only when the kiosk starts (``run``), never when ``main.py`` builds its parser.
Under systemd (``$NOTIFY_SOCKET``) it reports READY and pets the watchdog from the UI clock.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from queue_server.client import HallClient
from queue_server.config import HallConfig
from terminal.app import hall_now, hall_today, run_main, run_terminal
from terminal.devices import terminal_devices
from ui.window import setup_window


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the hall configuration")
    parser.add_argument("--server", help="queue server URL (default: from the configuration)")
    parser.add_argument("--device-id", default="kiosk-1", help="this kiosk's device id")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="the device token: a file holding it, or a credentials file "
        "(default: <config>.credentials)",
    )
    parser.add_argument("--reader", help="ID reader URL (default: the [[devices]] entry's)")
    parser.add_argument("--printer", help="ticket printer URL (default: the entry's)")
    parser.add_argument(
        "--printer-profile", help="printer profile (default: the URL's ?profile= or raster-80)"
    )
    parser.add_argument("--scanner", help="QR scanner URL (default: the entry's)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="a demonstration kiosk: simulate every device not named, show the sample-card "
        "buttons, mark every screen 演示",
    )
    parser.add_argument("--size", default="1920x1080", help="window size WxH (not fullscreen)")
    parser.add_argument("--fullscreen", action="store_true", help="fill the screen (terminal)")


@dataclasses.dataclass
class Options:
    """What the kiosk runs with. A device URL left None comes from the device's ``[[devices]]``
    entry, else (``demo`` only) from its simulator; else ConfigError, naming the setting."""

    config: HallConfig
    device_id: str = "kiosk-1"
    reader: str | None = None
    printer: str | None = None
    printer_profile: str | None = None
    scanner: str | None = None
    demo: bool = False
    size: tuple[int, int] = (1920, 1080)
    fullscreen: bool = False
    maxfps: int = 30

    def __post_init__(self) -> None:
        given = {"reader": self.reader, "printer": self.printer, "scanner": self.scanner}
        urls = terminal_devices(self.config, self.device_id, "kiosk", given, demo=self.demo)
        self.reader, self.printer, self.scanner = urls["reader"], urls["printer"], urls["scanner"]


def setup_kivy(options: Options) -> None:
    # A resident's Esc must not close the kiosk.
    setup_window(options.size, options.fullscreen, options.maxfps, exit_on_escape=False)


async def run_kiosk(
    options: Options,
    client: HallClient,
    *,
    on_built: Callable | None = None,
    today: Callable[[], dt.date] | None = None,
    settings=None,
) -> object:
    """Run the kiosk until its window closes; return the app. Tests pass ``on_built``."""
    setup_kivy(options)
    from content import default_catalog
    from kiosk.flow import KioskFlow
    from kiosk.gui import KioskApp
    from kiosk.runtime import KioskRuntime
    from kiosk.settings import load_settings
    from terminal.devices import open_workers
    from terminal.notify import Notifier

    config = options.config
    loop = asyncio.get_running_loop()
    catalog = default_catalog()
    if settings is None:
        settings = load_settings(config.kiosk, catalog)
    flow = KioskFlow(catalog, config, settings, today=today or (lambda: hall_today(config)))
    app = KioskApp(flow=flow, hall_name=(config.hall.name_zh, config.hall.name_en))
    runtime = KioskRuntime(
        flow, client, None, on_change=app.changed, wall_clock=lambda: hall_now(config)
    )
    app.runtime = runtime

    def sink(event) -> None:
        loop.call_soon_threadsafe(app.device_event, event)

    urls = {"reader": options.reader, "scanner": options.scanner, "printer": options.printer}
    by_part = open_workers(urls, options.printer_profile, sink)
    app.reader, app.scanner = by_part["reader"].reader, by_part["scanner"].scanner
    app.printer = by_part["printer"].printer
    app.mark_devices(urls, demo=options.demo)
    workers = list(by_part.values())
    runtime.printer = by_part["printer"]
    runtime.workers = workers
    app.workers = workers
    notifier = Notifier.from_environment()
    app.notifier = notifier
    app.on_built = on_built

    await run_terminal(app, client, runtime, workers, name="kiosk")
    return app


def options_from_args(args: argparse.Namespace, config: HallConfig) -> Options:
    width, _, height = args.size.lower().partition("x")
    return Options(
        config=config,
        device_id=args.device_id,
        reader=args.reader,
        printer=args.printer,
        printer_profile=args.printer_profile,
        scanner=args.scanner,
        demo=args.demo,
        size=(int(width), int(height)),
        fullscreen=args.fullscreen,
    )


def run(args: argparse.Namespace) -> int:
    from content import default_catalog
    from kiosk.settings import load_settings

    def prepare(config: HallConfig) -> Options:
        load_settings(config.kiosk, default_catalog())  # a bad [kiosk] section stops here
        return options_from_args(args, config)  # and so does a device named nowhere

    return run_main(args, "kiosk", prepare, run_kiosk)
