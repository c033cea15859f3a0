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

# name -> (module, one-line help). Order is the order of `--help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("queue_server.cli", "write a commented example hall configuration"),
    "server": ("queue_server.server", "the queue server: websocket + HTTP for every terminal"),
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


def available_commands() -> dict[str, tuple[str, str]]:
    """The commands whose module exists in this checkout."""
    return {
        name: entry
        for name, entry in COMMANDS.items()
        if importlib.util.find_spec(entry[0]) is not None
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Yikou (一口受理): the software of a community public-service hall.",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING, ...)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in available_commands().items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
