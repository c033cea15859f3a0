"""Running a terminal app, its non-Kivy side (no Kivy is imported here).

``run_terminal`` runs a terminal's app (anything with ``async_run`` and ``stop``: the Kivy app)
beside its hall client and device workers and takes it all down again; ``run_main`` is the
``python main.py kiosk|navigator`` command around them; ``read_token`` and ``server_url`` find
the device token and the server, as every terminal (signage too) does; ``hall_today`` and
``hall_now`` read the hall's own clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import sys
import tomllib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from queue_server import protocol as P
from queue_server.client import AuthFailed, HallClient
from queue_server.config import ConfigError, HallConfig, credentials_path, load_config


def hall_today(config: HallConfig) -> dt.date:
    return dt.datetime.now(ZoneInfo(config.hall.timezone)).date()


def hall_now(config: HallConfig) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.hall.timezone)).replace(tzinfo=None)


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


def server_url(config: HallConfig) -> str:
    """The queue server's websocket address (``ServerSettings.client_url``)."""
    return config.server.client_url()


def read_token(path: Path, device_id: str) -> str:
    """The device token from a credentials file ([credentials] table) or a one-token file."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("credentials"), dict):
        try:
            return str(data["credentials"][device_id])
        except KeyError:
            raise KeyError(f"{path} holds no token for device {device_id!r}") from None
    return text.strip()


def run_main(
    args: argparse.Namespace,
    name: str,
    prepare: Callable[[HallConfig], Any],
    start: Callable[[Any, HallClient], Coroutine[Any, Any, object]],
    *,
    backoff_max: float = 5.0,
) -> int:
    """``python main.py <name>``: ``prepare(config)`` checks the configuration and returns the
    options (a ValueError or ConfigError stops here, named); ``start(options, client)`` runs
    (raising AuthFailed if the server refuses the device's token)."""
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
    auth = P.DeviceAuth(device_id=args.device_id, token=token)
    client = HallClient(url, auth, backoff_max=backoff_max)
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
