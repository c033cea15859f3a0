"""``python main.py content ...``: check the catalog, print a guide, search."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from content.catalog import load_catalog
from content.errors import CatalogError, ContentError, SignageError, UnknownServiceError
from content.guide import render_guide
from content.signage import load_signage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog folder (default: the shipped one)"
    )
    sub = parser.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate the catalog and signage, print a summary")
    check.add_argument(
        "--signage", type=Path, default=None, help="signage file (default: the shipped one)"
    )
    check.add_argument(
        "--hall-services",
        default=None,
        metavar="ID,ID,...",
        help="also check that the catalog has these service ids",
    )
    guide = sub.add_parser("guide", help="print the guide of one service")
    guide.add_argument(
        "service", metavar="SERVICE", help="service id, e.g. liuguan.residence_permit"
    )
    guide.add_argument("--lang", choices=("zh", "en"), default="zh")
    search = sub.add_parser("search", help="search services (Chinese, pinyin, initials, English)")
    search.add_argument("text", metavar="TEXT", nargs="+")
    search.add_argument("--lang", choices=("zh", "en"), default=None)
    search.add_argument("--limit", type=int, default=10)


def run(args: argparse.Namespace) -> int:
    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.content_command == "check":
        return _check(catalog, args)
    if args.content_command == "guide":
        try:
            service = catalog.service(args.service)
        except UnknownServiceError as exc:
            print(exc, file=sys.stderr)
            found = catalog.search(args.service, limit=5)
            if found:
                print("matching services:", file=sys.stderr)
                for s in found:
                    print(f"  {s.id:40} {s.name_zh}", file=sys.stderr)
            return 1
        print(render_guide(service, catalog.bureau(service.bureau), lang=args.lang))
        return 0
    text = " ".join(args.text)
    found = catalog.search(text, lang=args.lang, limit=args.limit)
    if not found:
        print(f"no service matches {text!r}")
        return 1
    for s in found:
        bureau = catalog.bureau(s.bureau)
        instant = "即办" if s.instant else f"{s.time_limit_days}个工作日"
        print(f"{s.id:42} {s.name_zh}（{bureau.short_zh}，{instant}）  {s.name_en}")
    return 0


def _check(catalog, args: argparse.Namespace) -> int:
    rc = 0
    services = catalog.services
    instant = sum(s.instant for s in services)
    print(
        f"catalog: {len(catalog.bureaus)} bureaus, {len(services)} services, "
        f"{instant} instant ({instant / max(len(services), 1):.0%})"
    )
    for bureau in catalog.bureaus:
        own = catalog.by_bureau(bureau.code)
        print(
            f"  {bureau.code:10} {bureau.short_zh:4} {len(own):3} services, "
            f"{sum(s.instant for s in own):2} instant   {bureau.name_zh}"
        )
    if args.hall_services:
        try:
            catalog.check_hall_services(i.strip() for i in args.hall_services.split(",") if i)
            print("hall services: all present")
        except ContentError as exc:
            print(exc, file=sys.stderr)
            rc = 1
    try:
        signage = load_signage(args.signage)
        now = dt.datetime.now(signage.tz)
        print(f"signage: {len(signage.items)} items, {len(signage.active_items(now))} active now")
    except SignageError as exc:
        print(exc, file=sys.stderr)
        rc = 1
    return rc
