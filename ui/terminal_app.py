"""The app scaffolding the kiosk and the navigator share (and the window setup signage shares).

``terminal_devices`` picks each device's URL (command line, the terminal's ``[[devices]]``
entry, or a simulator only with ``--demo``) and refuses the start when one is named nowhere;
``setup_window`` sets Kivy's environment and window before Kivy is imported anywhere;
``run_terminal`` runs a terminal's Kivy app beside its hall client and device workers and takes
it all down again; ``run_main`` is the ``python main.py kiosk|navigator`` command around them.
Kivy is imported only inside ``setup_window``; importing this module imports nothing heavy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from zoneinfo import ZoneInfo

from queue_server import protocol as P
from queue_server.client import AuthFailed, HallClient
from queue_server.config import ROLE_DEVICES, HallConfig
from queue_server.errors import ConfigError


def hall_today(config: HallConfig) -> dt.date:
    return dt.datetime.now(ZoneInfo(config.hall.timezone)).date()


def hall_now(config: HallConfig) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.hall.timezone)).replace(tzinfo=None)


DEVICE_WORDS = {"reader": "ID reader", "printer": "printer", "scanner": "QR scanner"}


def terminal_devices(
    config: HallConfig,
    device_id: str,
    role: str,
    given: dict[str, str | None],
    *,
    demo: bool,
) -> dict[str, str]:
    """This terminal's device URLs: each from the command line (``given``), else from its
    ``[[devices]]`` entry, else, only when started with ``--demo``, its simulator (``sim://``).

    A device named nowhere outside a demo raises ConfigError naming the setting: a hall's
    terminal must never issue tickets to simulated identities because a URL was forgotten.
    """
    index, entry = next(
        ((i, d) for i, d in enumerate(config.devices) if d.id == device_id), (None, None)
    )
    if entry is not None and entry.role != role:
        raise ConfigError(
            f"{device_id} is a {entry.role}, not a {role}", field=f"devices[{index}].role"
        )
    urls: dict[str, str] = {}
    for kind in ROLE_DEVICES[role]:
        url = given.get(kind) or (getattr(entry, kind) if entry is not None else None)
        if url is None:
            if not demo:
                raise ConfigError(_unnamed(device_id, role, kind, index))
            url = "sim://"
        urls[kind] = url
    return urls


def _unnamed(device_id: str, role: str, kind: str, index: int | None) -> str:
    word = DEVICE_WORDS[kind]
    if index is None:
        where = f'devices: no entry with id = "{device_id}" names this {role}\'s {word}; add one'
    else:
        where = f"devices[{index}].{kind}: this {role}'s {word} is not set; set it"
    return (
        f'{where} with {kind} = "URL" (or pass --{kind} URL), or start with --demo to use '
        "simulators"
    )


def setup_window(
    size: tuple[int, int], fullscreen: bool, maxfps: int, *, exit_on_escape: bool
) -> None:
    """Set Kivy's environment and window before Kivy is imported anywhere."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    from kivy.config import Config

    width, height = size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "resizable", "1")
    Config.set("graphics", "maxfps", str(maxfps))
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "1" if exit_on_escape else "0")


async def run_terminal(
    app: Any,
    client: HallClient,
    runtime: Any,
    workers: list,
    *,
    name: str,
    connected: Callable[[], Awaitable[None]] | None = None,
) -> asyncio.Task:
    """Start the device workers, connect the client (then ``connected()``) while the app runs;
    when its window closes, stop everything and wipe the visit. Returns the connecting task, done,
    so the caller can see whether the server refused the device token."""
    log = logging.getLogger(f"{name}.app")

    async def connect() -> None:
        try:
            await client.connect(timeout=3600 * 24 * 365)
        except AuthFailed:
            log.error("the server refused this %s's device token", name)
            app.stop()
            raise
        if connected is not None:
            await connected()

    for worker in workers:
        worker.start()
    connecting = asyncio.create_task(connect(), name=f"{name}-connect")
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
        runtime.flow.wipe()
    return connecting


def run_main(
    args: argparse.Namespace,
    name: str,
    prepare: Callable[[HallConfig], Any],
    start: Callable[[Any, HallClient], Coroutine[Any, Any, object]],
) -> int:
    """``python main.py <name>``: ``prepare(config)`` checks the configuration and returns the
    options (a ValueError or ConfigError stops here, named); ``start(options, client)`` runs."""
    from queue_server.cli import credentials_path
    from queue_server.config import load_config
    from signage.app import read_token, server_url

    try:
        config = load_config(args.config)
        options = prepare(config)
    except (ConfigError, ValueError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    token_file = args.token_file or credentials_path(args.config)
    try:
        token = read_token(token_file, args.device_id)
    except (OSError, KeyError) as exc:
        print(f"{name}: no device token: {exc}", file=sys.stderr)
        return 2
    url = args.server or server_url(config)
    client = HallClient(url, P.DeviceAuth(device_id=args.device_id, token=token), backoff_max=5.0)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    try:
        asyncio.run(start(options, client))
    except KeyboardInterrupt:
        return 0
    except AuthFailed as exc:
        print(f"{name}: the server refused the device token: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed device URL
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    return 0
