"""``python main.py init PATH``: write the commented example hall configuration."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import tomli_w

from queue_server.config import credentials_path, load_config
from queue_server.errors import ConfigError
from queue_server.example_config import example_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="where to write the configuration (TOML)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def write_example(path: Path, *, force: bool = False) -> dict[str, str]:
    if path.exists() and not force:
        raise FileExistsError(path)
    text, credentials = example_config()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    secrets_file = credentials_path(path)
    # The clear passwords and tokens: readable by root only, for the technician to hand out.
    fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    with os.fdopen(fd, "wb") as out:
        tomli_w.dump({"credentials": credentials}, out)
    load_config(path)  # what we write must load
    return credentials


def run(args: argparse.Namespace) -> int:
    try:
        write_example(args.path, force=args.force)
    except FileExistsError:
        print(f"{args.path} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    except ConfigError as exc:  # a bug in the template: say so plainly
        print(f"the example configuration does not validate: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.path} and its credentials in {credentials_path(args.path)}")
    return 0
