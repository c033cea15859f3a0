"""``python main.py navigator``: the navigation terminal (导航信息机).

    python main.py navigator --config /etc/yikou/hall.toml
    python main.py navigator --config hall.toml --scanner 'serial:///dev/ttyACM0' \\
        --reader samv:///dev/ttyUSB0 --printer 'usb://0416:5011?profile=gb18030-80'

A resident finds a service's guide (by bureau or pinyin search), sees its queue now (waiting,
estimated wait, now serving: live from the public stream), the way to its windows on the hall
map, scans a ticket to see where it stands, and books an appointment with the ID card (its QR
code shown and printed). The ``[navigator]`` section of the configuration places the windows
and this terminal on the floor plan (navigator/settings.py).

The devices' URLs come from this terminal's ``[[devices]]`` entry (``reader``, ``printer``,
``scanner``); a command-line flag overrides one; ``printer = "none"`` (``--printer none``) for a
terminal without a printer (the booking's QR code is then only shown). A device named nowhere
stops the start (exit 2, naming the setting) unless started with ``--demo``: then it is
simulated, the demo buttons show and every screen is marked 演示. Kivy is imported only when
the navigator starts (``run``). Under systemd it reports READY and pets the watchdog from the
UI clock.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from queue_server.client import AuthFailed, HallClient
from queue_server.config import HallConfig
from terminal.app import hall_today, run_main, run_terminal
from terminal.devices import terminal_devices
from ui.window import setup_window

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the hall configuration")
    parser.add_argument("--server", help="queue server URL (default: from the configuration)")
    parser.add_argument("--device-id", default="navigator-1", help="this terminal's device id")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="the device token: a file holding it, or a credentials file "
        "(default: <config>.credentials)",
    )
    parser.add_argument("--reader", help="ID reader URL (default: the [[devices]] entry's)")
    parser.add_argument(
        "--printer", help="slip printer URL (default: the entry's); none: no printer"
    )
    parser.add_argument(
        "--printer-profile", help="printer profile (default: the URL's ?profile= or raster-80)"
    )
    parser.add_argument("--scanner", help="QR scanner URL (default: the entry's)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="a demonstration terminal: simulate every device not named, show the demo "
        "buttons, mark every screen 演示",
    )
    parser.add_argument(
        "--position", help="this terminal on the plan, X,Y as fractions (default: [navigator])"
    )
    parser.add_argument(
        "--demo-code", help="what the simulated scanner's demo button scans (with --demo)"
    )
    parser.add_argument("--size", default="1920x1080", help="window size WxH (not fullscreen)")
    parser.add_argument("--fullscreen", action="store_true", help="fill the screen (terminal)")


@dataclasses.dataclass
class Options:
    """What the navigator runs with. A device URL left None comes from the device's
    ``[[devices]]`` entry, else (``demo`` only) from its simulator; else ConfigError, naming the
    setting."""

    config: HallConfig
    config_dir: Path | None = None  # where a relative [navigator] map path starts
    device_id: str = "navigator-1"
    reader: str | None = None
    printer: str | None = None  # "none": no printer
    printer_profile: str | None = None
    scanner: str | None = None
    demo: bool = False
    position: tuple[float, float] | None = None
    demo_code: str = ""
    size: tuple[int, int] = (1920, 1080)
    fullscreen: bool = False
    maxfps: int = 30

    def __post_init__(self) -> None:
        given = {"reader": self.reader, "printer": self.printer, "scanner": self.scanner}
        urls = terminal_devices(self.config, self.device_id, "navigator", given, demo=self.demo)
        self.reader, self.printer, self.scanner = urls["reader"], urls["printer"], urls["scanner"]


def setup_kivy(options: Options) -> None:
    # A resident's Esc must not close the terminal.
    setup_window(options.size, options.fullscreen, options.maxfps, exit_on_escape=False)


async def run_navigator(
    options: Options,
    client: HallClient,
    *,
    on_built: Callable | None = None,
    today: Callable[[], dt.date] | None = None,
    wall: Callable[[], float] | None = None,
) -> object:
    """Run the navigator until its window closes; return the app. Tests pass ``on_built``."""
    from navigator.settings import load_settings

    config = options.config
    settings = load_settings(config)
    if options.position is not None:
        settings = settings.model_copy(update={"terminal": options.position})
    setup_kivy(options)
    from content import default_catalog
    from navigator.flow import NavigatorFlow
    from navigator.gui import NavigatorApp
    from navigator.runtime import NavigatorRuntime
    from terminal.devices import open_workers
    from terminal.notify import Notifier

    loop = asyncio.get_running_loop()
    has_printer = options.printer != "none"
    flow = NavigatorFlow(
        default_catalog(),
        config,
        settings,
        today=today or (lambda: hall_today(config)),
        has_printer=has_printer,
        **({"wall": wall} if wall is not None else {}),
    )
    app = NavigatorApp(
        flow=flow,
        hall_name=(config.hall.name_zh, config.hall.name_en),
        map_source=str(settings.map_path(options.config_dir)),
    )
    runtime = NavigatorRuntime(flow, client, None, on_change=app.changed)
    app.runtime = runtime
    app.demo_code = options.demo_code or ""

    def sink(event) -> None:
        loop.call_soon_threadsafe(app.device_event, event)

    urls = {"reader": options.reader, "scanner": options.scanner, "printer": options.printer}
    by_part = open_workers(urls, options.printer_profile, sink)
    app.reader, app.scanner = by_part["reader"].reader, by_part["scanner"].scanner
    app.mark_devices(urls, demo=options.demo)
    if "printer" in by_part:
        app.printer = by_part["printer"].printer
        runtime.printer = by_part["printer"]
    workers = list(by_part.values())
    app.workers = workers
    runtime.workers = workers
    app.notifier = Notifier.from_environment()
    app.on_built = on_built

    async def connected() -> None:
        log.info("navigator %s connected to %s", options.device_id, client.url)
        await runtime.follow()

    connecting = await run_terminal(
        app, client, runtime, workers, name="navigator", connected=connected
    )
    if connecting.done() and not connecting.cancelled():
        failure = connecting.exception()
        if isinstance(failure, AuthFailed):
            raise failure
    return app


def parse_position(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    x, _, y = text.partition(",")
    point = (float(x), float(y))
    if not all(0 <= v <= 1 for v in point):
        raise ValueError(f"--position {text}: X and Y are fractions of the plan, 0 to 1")
    return point


def options_from_args(args: argparse.Namespace, config: HallConfig) -> Options:
    width, _, height = args.size.lower().partition("x")
    return Options(
        config=config,
        config_dir=args.config.resolve().parent,
        device_id=args.device_id,
        reader=args.reader,
        printer=args.printer,
        printer_profile=args.printer_profile,
        scanner=args.scanner,
        demo=args.demo,
        position=parse_position(args.position),
        demo_code=args.demo_code or "",
        size=(int(width), int(height)),
        fullscreen=args.fullscreen,
    )


def run(args: argparse.Namespace) -> int:
    from navigator.settings import load_settings

    def prepare(config: HallConfig) -> Options:
        load_settings(config)  # a bad [navigator] section stops here, named
        return options_from_args(args, config)  # and so does a device named nowhere

    return run_main(args, "navigator", prepare, run_navigator)
