"""``python main.py install``: install one terminal role as a systemd service (run as root).

    python main.py install --role kiosk --config /etc/yikou/hall.toml
    python main.py install --role signage --config /etc/yikou/hall.toml --dry-run
    python main.py install --role kiosk --config hall.toml --dry-run --root /tmp/stage
    python main.py install --role kiosk --config hall.toml --demo      # a showroom kiosk

Renders the template unit ``kiosk.service`` (at the repository root) to
``<root>/etc/systemd/system/yikou@.service`` with this checkout's python and paths, adds a
drop-in for roles that do not speak sd_notify yet, creates the unprivileged user with the
device groups when it is missing, then ``systemctl daemon-reload`` and
``systemctl enable --now yikou@ROLE.service``.

A kiosk or navigator is installed only if its ``[[devices]]`` entry in the configuration names
a real device (not ``sim://``) for each of its devices: a hall's terminal must not issue tickets
to simulated identities. ``--demo`` installs a demonstration terminal instead, and goes into its
command line (a drop-in, ``yikou@ROLE.service.d/20-command.conf``, with ``--device-id`` too).

``--dry-run`` runs no command: it prints each one (and the unit); files are written only under
an explicit ``--root`` (a staging folder, as the tests use).
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "kiosk.service"
UNIT = "yikou@.service"
ROLES = ("kiosk", "navigator", "signage", "server")
# Roles whose app reports READY/WATCHDOG to systemd (terminal.notify); the others run as
# Type=simple without a watchdog until they do.
NOTIFYING = frozenset({"kiosk", "navigator"})
# Roles with devices that may be simulated: installed only with real ones, or with --demo.
TERMINALS = ("kiosk", "navigator")
GROUPS = ("dialout", "lp", "plugdev", "video", "audio", "input")
DEFAULT_USER = "yikou"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", required=True, choices=ROLES, help="the terminal's role")
    parser.add_argument("--config", required=True, type=Path, help="the hall configuration")
    parser.add_argument("--user", default=DEFAULT_USER, help="the unprivileged user to run as")
    parser.add_argument(
        "--python", type=Path, default=Path(sys.executable), help="the venv's python"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be done")
    parser.add_argument(
        "--root", type=Path, help="write the files under this folder instead of / (staging)"
    )
    parser.add_argument("--no-start", action="store_true", help="enable, but do not start now")
    parser.add_argument(
        "--device-id",
        help="the terminal's device id, put on its command line (default: the role's own, "
        "kiosk-1, navigator-1, signage-main)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="a demonstration kiosk or navigator: its devices may be simulators; the service "
        "runs it with --demo",
    )


@dataclass
class Plan:
    files: dict[Path, str] = field(default_factory=dict)  # absolute system path -> content
    commands: list[list[str]] = field(default_factory=list)


def existing_groups(names=GROUPS) -> list[str]:
    """The device groups this machine has (systemd refuses to start with an unknown group)."""
    out = []
    for name in names:
        try:
            grp.getgrnam(name)
        except KeyError:
            continue
        out.append(name)
    return out


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def render_unit(*, python: Path, repo: Path, config: Path, user: str, groups: list[str]) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in {
        "@PYTHON@": str(python),
        "@REPO@": str(repo),
        "@CONFIG@": str(config),
        "@USER@": user,
        "@GROUPS@": " ".join(groups),
    }.items():
        text = text.replace(key, value)
    if not groups:
        text = "\n".join(
            line for line in text.splitlines() if not line.startswith("SupplementaryGroups=")
        )
    return text


def drop_in(role: str) -> str | None:
    if role in NOTIFYING:
        return None
    return (
        f"# yikou@{role} does not report to systemd (sd_notify) yet: no READY, no watchdog.\n"
        "[Service]\nType=simple\nWatchdogSec=0\n"
    )


def command_drop_in(unit: str, role: str, extra: list[str]) -> str | None:
    """The template's ExecStart with ``extra`` options (--device-id, --demo) for this role only:
    the template is shared by every role, and these belong to one."""
    if not extra:
        return None
    start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    start = start.replace(" $YIKOU_ARGS", f" {shlex.join(extra)} $YIKOU_ARGS")
    return f"# yikou@{role}'s own options.\n[Service]\nExecStart=\n{start}\n"


def refusal(args: argparse.Namespace) -> str | None:
    """Why this terminal cannot be installed as a hall's real one, or None: a kiosk or navigator
    whose [[devices]] entry leaves a device unnamed or simulated (unless ``--demo``)."""
    if args.role not in TERMINALS or args.demo:
        return None
    from queue_server.config import ROLE_DEVICES, load_config
    from queue_server.errors import ConfigError

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return str(exc)
    device_id = args.device_id or f"{args.role}-1"
    index, entry = next(
        ((i, d) for i, d in enumerate(config.devices) if d.id == device_id), (None, None)
    )
    if entry is None:
        problem = f'no [[devices]] entry with id = "{device_id}"'
    elif entry.role != args.role:
        problem = f"devices[{index}].role: {device_id} is a {entry.role}"
    else:
        urls = {kind: getattr(entry, kind) for kind in ROLE_DEVICES[args.role]}
        unreal = [
            f"devices[{index}].{kind} {'is not set' if url is None else 'is ' + url}"
            for kind, url in urls.items()
            if url is None or url.startswith("sim:")
        ]
        if not unreal:
            return None
        problem = ", ".join(unreal)
    return (
        f"{args.config}: {args.role} {device_id} needs real devices ({problem}); set its "
        f"reader, printer and scanner in its [[devices]] entry, or install a demonstration "
        f"{args.role} with --demo"
    )


def plan(args: argparse.Namespace) -> Plan:
    config = args.config if args.config.is_absolute() else Path.cwd() / args.config
    groups = existing_groups()
    result = Plan()
    units = Path("/etc/systemd/system")
    unit = render_unit(python=args.python, repo=REPO, config=config, user=args.user, groups=groups)
    result.files[units / UNIT] = unit
    extra = drop_in(args.role)
    if extra is not None:
        result.files[units / f"yikou@{args.role}.service.d" / "10-role.conf"] = extra
    options = (["--device-id", args.device_id] if args.device_id else []) + (
        ["--demo"] if args.demo else []
    )
    command = command_drop_in(unit, args.role, options)
    if command is not None:
        result.files[units / f"yikou@{args.role}.service.d" / "20-command.conf"] = command
    if not user_exists(args.user):
        result.commands.append(
            ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/yikou",
             "--shell", "/usr/sbin/nologin", args.user]
        )  # fmt: skip
    if groups:
        result.commands.append(["usermod", "--append", "--groups", ",".join(groups), args.user])
    result.commands.append(["systemctl", "daemon-reload"])
    enable = ["systemctl", "enable"] + ([] if args.no_start else ["--now"])
    result.commands.append([*enable, f"yikou@{args.role}.service"])
    return result


def run(args: argparse.Namespace) -> int:
    if not args.dry_run and os.geteuid() != 0:
        print("install: run as root (or with --dry-run to see what it would do)", file=sys.stderr)
        return 1
    if not TEMPLATE.is_file():
        print(f"install: the unit template {TEMPLATE.name} is missing", file=sys.stderr)
        return 2
    if args.demo and args.role not in TERMINALS:
        print("install: --demo is for the kiosk and the navigator", file=sys.stderr)
        return 2
    if args.device_id and args.role == "server":
        print("install: the server has no device id", file=sys.stderr)
        return 2
    refused = refusal(args)
    if refused is not None:
        print(f"install: {refused}", file=sys.stderr)
        return 2
    the_plan = plan(args)
    root = args.root
    for path, text in the_plan.files.items():
        target = (root / path.relative_to("/")) if root is not None else path
        if args.dry_run and root is None:
            print(f"# would write {path}:\n{text}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
        print(f"wrote {target}")
    for command in the_plan.commands:
        if args.dry_run:
            print(f"would run: {shlex.join(command)}")
            continue
        print(f"running: {shlex.join(command)}")
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            print(f"install: {command[0]} failed ({done.returncode})", file=sys.stderr)
            return 1
    if not args.dry_run:
        print(f"yikou@{args.role} installed; logs: journalctl -u yikou@{args.role} -f")
    return 0
