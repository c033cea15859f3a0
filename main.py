"""Yikou's single entry point: ``python main.py <role or command> [options]``.

Every terminal of the hall (server, kiosk, navigator, signage, staff console) and every tool
(init, demo, devices, content, ...) starts here. Each command lives in its own module that
offers ``configure(parser)`` and ``run(args) -> int``; this file only wires them together, so
nothing heavy (Kivy, database drivers) is imported until its command runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Iterable

# name -> (module, one-line help). Order is the order of `--help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("queue_server.cli", "write a commented example hall configuration"),
    "server": ("queue_server.server", "the queue server: websocket + HTTP for every terminal"),
    "db": ("queue_server.storage.cli", "the database's schema: upgrade, current"),
    "demo": ("demo.hall", "start a demo hall: server, simulated kiosk, staff console"),
    "counter": ("console.app", "terminal staff console for one window (叫号)"),
    "devices": ("devices.cli", "technician tools: list, check, read-card, scan, print-test"),
    "content": ("content.cli", "service catalog: check, guide, search"),
    "simulate": ("sim.cli", "simulate hall days through the real engine"),
    "signage": ("signage.app", "call-number screens (综合屏, 窗口屏) and the calling voice"),
    "kiosk": ("kiosk.app", "self-service form-filling machine (自助填表机)"),
    "navigator": ("navigator.app", "navigation terminal (导航信息机): map, guides, booking"),
    "install": ("deploy.install", "install a terminal role as a systemd service (as root)"),
}


def build_parser(configure: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The command line. Only the commands in ``configure`` (all when None) import their module
    to add their options: ``--help`` and every other command import nothing of them."""
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Yikou (一口受理): the software of a community public-service hall.",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING, ...)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = set(COMMANDS if configure is None else configure)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name in wanted:
            module = importlib.import_module(module_name)
            module.configure(command_parser)
            command_parser.set_defaults(_module=module)
    return parser


def _command_named(argv: list[str]) -> str | None:
    """The command word of ``argv`` (the first argument that is not an option of main's own)."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_named(argv)
    parser = build_parser([command] if command in COMMANDS else [])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Nothing personal in any log at any level (the websocket library's frame logs included).
    from queue_server.logsafe import install

    install()
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
