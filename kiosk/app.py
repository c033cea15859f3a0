"""``python main.py kiosk``: the self-service form-filling machine (自助填表机).

    python main.py kiosk --config /etc/yikou/hall.toml
    python main.py kiosk --config hall.toml --reader samv:///dev/ttyUSB0 \\
        --printer 'usb://0416:5011?profile=gb18030-80' --scanner 'serial:///dev/ttyACM0'

The ``[kiosk]`` section of the configuration (kiosk/settings.py) sets the timeouts, whether a
ticket needs the ID card, the help desk's name and the paper ticket's wording.
Devices default to their simulators (``sim://``), with buttons on the welcome screen that place
a sample card or scan a code through the simulated drivers. The machine connects to the queue
server with its device token (``--device-id``'s entry of ``<config>.credentials`` by default).
Kivy is imported only when the kiosk starts (``run``), never when ``main.py`` builds its parser.
Under systemd (``$NOTIFY_SOCKET``) it reports READY and pets the watchdog from the UI clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from queue_server import protocol as P
from queue_server.client import AuthFailed, HallClient
from queue_server.config import HallConfig

log = logging.getLogger(__name__)


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
    parser.add_argument("--reader", default="sim://", help="ID reader URL (default: simulator)")
    parser.add_argument("--printer", default="sim://", help="ticket printer URL (simulator)")
    parser.add_argument(
        "--printer-profile", help="printer profile (default: the URL's ?profile= or raster-80)"
    )
    parser.add_argument("--scanner", default="sim://", help="QR scanner URL (simulator)")
    parser.add_argument("--size", default="1920x1080", help="window size WxH (not fullscreen)")
    parser.add_argument("--fullscreen", action="store_true", help="fill the screen (terminal)")


@dataclasses.dataclass
class Options:
    config: HallConfig
    device_id: str = "kiosk-1"
    reader: str = "sim://"
    printer: str = "sim://"
    printer_profile: str | None = None
    scanner: str = "sim://"
    size: tuple[int, int] = (1920, 1080)
    fullscreen: bool = False
    maxfps: int = 30


def hall_today(config: HallConfig) -> dt.date:
    return dt.datetime.now(ZoneInfo(config.hall.timezone)).date()


def hall_now(config: HallConfig) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.hall.timezone)).replace(tzinfo=None)


def setup_kivy(options: Options) -> None:
    from signage.app import Options as SignageOptions
    from signage.app import setup_kivy as signage_setup

    signage_setup(
        SignageOptions(
            config=options.config,
            settings=None,  # type: ignore[arg-type]  # only the window keys are read
            size=options.size,
            fullscreen=options.fullscreen,
            maxfps=options.maxfps,
        )
    )
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")  # a resident's Esc must not close the kiosk


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
    from deploy.notify import Notifier
    from devices.printer import open_printer
    from devices.reader import open_reader
    from devices.runner import PrinterWorker, ReaderWorker, ScannerWorker
    from devices.scanner import open_scanner
    from kiosk.flow import KioskFlow
    from kiosk.gui import KioskApp
    from kiosk.runtime import KioskRuntime
    from kiosk.settings import load_settings

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

    reader = open_reader(options.reader)
    scanner = open_scanner(options.scanner)
    printer = open_printer(options.printer, options.printer_profile)
    app.reader, app.scanner, app.printer = reader, scanner, printer
    app.simulated = {
        "reader": options.reader.startswith("sim:"),
        "scanner": options.scanner.startswith("sim:"),
        "printer": options.printer.startswith("sim:"),
    }
    workers = [
        ReaderWorker("id", reader, sink),
        ScannerWorker("qr", scanner, sink),
        PrinterWorker("printer", printer, sink),
    ]
    runtime.printer = workers[2]
    runtime.workers = workers
    app.workers = workers
    notifier = Notifier.from_environment()
    app.notifier = notifier
    app.on_built = on_built

    async def connect() -> None:
        try:
            await client.connect(timeout=3600 * 24 * 365)
        except AuthFailed:
            log.error("the server refused this kiosk's device token")
            app.stop()
            raise

    for worker in workers:
        worker.start()
    connecting = asyncio.create_task(connect(), name="kiosk-connect")
    try:
        await app.async_run(async_lib="asyncio")
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, AuthFailed):
            await connecting
        await runtime.close()
        await client.close()
        for worker in workers:
            await asyncio.to_thread(worker.stop)
        flow.wipe()
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
        size=(int(width), int(height)),
        fullscreen=args.fullscreen,
    )


def run(args: argparse.Namespace) -> int:
    from content import default_catalog
    from kiosk.settings import load_settings
    from queue_server.cli import credentials_path
    from queue_server.config import load_config
    from queue_server.errors import ConfigError
    from signage.app import read_token, server_url

    try:
        config = load_config(args.config)
        load_settings(config.kiosk, default_catalog())  # a bad [kiosk] section stops here
        options = options_from_args(args, config)
    except (ConfigError, ValueError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    token_file = args.token_file or credentials_path(args.config)
    try:
        token = read_token(token_file, args.device_id)
    except (OSError, KeyError) as exc:
        print(f"kiosk: no device token: {exc}", file=sys.stderr)
        return 2
    url = args.server or server_url(config)
    client = HallClient(url, P.DeviceAuth(device_id=args.device_id, token=token), backoff_max=5.0)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    try:
        asyncio.run(run_kiosk(options, client))
    except KeyboardInterrupt:
        return 0
    except AuthFailed as exc:
        print(f"kiosk: the server refused the device token: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed device URL
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    return 0
