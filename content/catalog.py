"""Loading, validating and indexing the service catalog.

A catalog is a folder of TOML files: one per bureau (``jisheng.toml`` holds the bureau
``jisheng`` and its services), plus shared libraries whose names start with ``_``:
``_materials.toml`` (documents many services ask for, by key) and ``_fields.toml`` (form fields
many services share, by key). The format is described for hall staff in docs/catalog.md.
"""

from __future__ import annotations

import difflib
import logging
import tomllib
from collections.abc import Iterable, Iterator
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from content.errors import (
    CatalogError,
    MissingServicesError,
    Problem,
    UnknownBureauError,
    UnknownServiceError,
)
from content.schema import Bureau, FormField, Material, Service
from content.search import SearchIndex, pinyin_key

log = logging.getLogger(__name__)

DEFAULT_CATALOG = Path(__file__).resolve().parent / "catalog"
MATERIALS_FILE = "_materials.toml"
FIELDS_FILE = "_fields.toml"
# The service keys a file-level [defaults] table may set for all its services.
DEFAULTABLE = {
    "counter_kind",
    "appointment_allowed",
    "id_card_required",
    "daily_quota",
    "avg_service_minutes",
    "fees",
    "notes",
}


class Catalog:
    """The loaded catalog: bureaus, services and their search index. Immutable once built."""

    def __init__(
        self,
        bureaus: Iterable[Bureau],
        services: Iterable[Service],
        *,
        materials: dict[str, Material] | None = None,
        fields: dict[str, FormField] | None = None,
        source: Path | None = None,
    ) -> None:
        self.source = source
        self._bureaus = {b.code: b for b in sorted(bureaus, key=lambda b: (b.order, b.code))}
        # Lookups by id need no order; the pinyin order (`_ordered`) is sorted on first use, so
        # a server that only checks its hall's ids never imports pypinyin.
        self._services = {s.id: s for s in services}
        self.materials: dict[str, Material] = dict(materials or {})
        self.fields: dict[str, FormField] = dict(fields or {})
        problems = [
            Problem(source, f"service {s.id!r}", "bureau", f"unknown bureau {s.bureau!r}")
            for s in self._services.values()
            if s.bureau not in self._bureaus
        ]
        if problems:
            raise CatalogError(problems)

    # Read access -------------------------------------------------------------------------

    @property
    def services(self) -> tuple[Service, ...]:
        """Every service, in pinyin order of the Chinese name."""
        return self._ordered

    @property
    def bureaus(self) -> tuple[Bureau, ...]:
        """Every bureau, in menu order."""
        return tuple(self._bureaus.values())

    def __len__(self) -> int:
        return len(self._services)

    def __iter__(self) -> Iterator[Service]:
        return iter(self._ordered)

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._services

    def service(self, service_id: str) -> Service:
        """The service with this id; raises UnknownServiceError (a KeyError) naming close ids."""
        try:
            return self._services[service_id]
        except KeyError:
            raise UnknownServiceError(service_id, self._close_ids(service_id)) from None

    def bureau(self, code: str) -> Bureau:
        try:
            return self._bureaus[code]
        except KeyError:
            raise UnknownBureauError(code, list(self._bureaus)) from None

    def by_bureau(self, code: str) -> list[Service]:
        """The services of one bureau, in pinyin order."""
        self.bureau(code)
        return [s for s in self._ordered if s.bureau == code]

    def search(self, text: str, *, lang: str | None = None, limit: int = 20) -> list[Service]:
        """Services matching ``text``, best first.

        ``text`` may be Chinese, full pinyin, pinyin initials ("jzz"), English words or a
        bureau (流管, liuguan). ``lang`` limits matching to "zh" (Chinese and pinyin) or "en".
        """
        if lang not in (None, "zh", "en"):
            raise ValueError(f"lang must be None, 'zh' or 'en', not {lang!r}")
        return self._index.search(text, lang=lang, limit=limit)

    def check_hall_services(self, ids: Iterable[str]) -> None:
        """Raise MissingServicesError listing every id in ``ids`` the catalog lacks."""
        missing = list(dict.fromkeys(i for i in ids if i not in self._services))
        if missing:
            suggestions = {i: self._close_ids(i) for i in missing}
            raise MissingServicesError(missing, {k: v for k, v in suggestions.items() if v})

    # Internals -----------------------------------------------------------------------------

    @cached_property
    def _ordered(self) -> tuple[Service, ...]:
        # Python's sort is stable and the key ends with the characters themselves, so the
        # order is the one an eager sort at construction gave.
        return tuple(sorted(self._services.values(), key=lambda s: pinyin_key(s.name_zh)))

    @cached_property
    def _index(self) -> SearchIndex:
        # Built on the first search (a kiosk builds it in the background after its first
        # frame: `prepare_search`), not at load: the server and the first frame need none.
        return SearchIndex(self._ordered, self._bureaus)

    def prepare_search(self) -> None:
        """Build the pinyin order and the search index now (from a background thread, say), so
        the first keystroke does not wait for them."""
        self._index  # noqa: B018

    def _close_ids(self, service_id: str) -> list[str]:
        close = difflib.get_close_matches(service_id, list(self._services), n=3, cutoff=0.85)
        if not close and "." in service_id:
            # A right slug under a wrong bureau: minzheng.residence_permit.
            slug = service_id.split(".", 1)[1]
            close = [s.id for s in self._ordered if s.id.split(".", 1)[1] == slug]
        return close


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load and validate a catalog folder (default: the catalog shipped with Yikou); its search
    index is built on the first search or by `Catalog.prepare_search`.

    Raises CatalogError listing every problem found, each naming file, entry and field.
    """
    root = Path(path) if path is not None else DEFAULT_CATALOG
    if not root.is_dir():
        raise CatalogError([Problem(root, None, None, "not a catalog folder")])
    problems: list[Problem] = []
    materials = _load_library(root / MATERIALS_FILE, "materials", Material, problems)
    fields = _load_library(root / FIELDS_FILE, "fields", FormField, problems)
    bureaus: list[Bureau] = []
    services: dict[str, tuple[Service, Path]] = {}
    files = sorted(p for p in root.glob("*.toml") if not p.name.startswith("_"))
    if not files:
        problems.append(Problem(root, None, None, "no bureau files (*.toml) in the folder"))
    for file in files:
        bureau, file_services = _load_bureau_file(file, materials, fields, problems)
        if bureau is not None:
            bureaus.append(bureau)
        for service in file_services:
            if service.id in services:
                other = services[service.id][1].name
                problems.append(
                    Problem(
                        file, f"service {service.id!r}", "id", f"duplicate id (also in {other})"
                    )
                )
            else:
                services[service.id] = (service, file)
    if problems:
        raise CatalogError(problems)
    catalog = Catalog(
        bureaus,
        (s for s, _ in services.values()),
        materials=materials,
        fields=fields,
        source=root,
    )
    log.info("loaded catalog %s: %d bureaus, %d services", root, len(bureaus), len(catalog))
    return catalog


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return load_catalog()


# Reading files -----------------------------------------------------------------------------


def _read_toml(file: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        with file.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(file, None, None, f"TOML syntax error: {exc}"))
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read: {exc.strerror or exc}"))
    return None


def _validation_problems(file: Path, entry: str, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or None
        message = err["msg"].removeprefix("Value error, ")
        out.append(Problem(file, entry, loc, message))
    return out


def _load_library(file: Path, table: str, model, problems: list[Problem]) -> dict:
    if not file.exists():
        return {}
    data = _read_toml(file, problems)
    if data is None:
        return {}
    extra = set(data) - {table}
    if extra:
        problems.append(Problem(file, None, None, f"unknown tables {sorted(extra)}"))
    out = {}
    for key, raw in data.get(table, {}).items():
        entry = f"{table[:-1]} {key!r}"
        if not isinstance(raw, dict):
            problems.append(Problem(file, entry, None, "must be a table"))
            continue
        try:
            out[key] = model.model_validate({"key": key, **raw})
        except ValidationError as exc:
            problems.extend(_validation_problems(file, entry, exc))
    return out


def _load_bureau_file(
    file: Path,
    materials: dict[str, Material],
    fields: dict[str, FormField],
    problems: list[Problem],
) -> tuple[Bureau | None, list[Service]]:
    data = _read_toml(file, problems)
    if data is None:
        return None, []
    extra = set(data) - {"bureau", "defaults", "services"}
    if extra:
        problems.append(
            Problem(
                file,
                None,
                None,
                f"unknown top-level keys {sorted(extra)}; "
                "expected [bureau], [defaults] and [[services]]",
            )
        )
    bureau = None
    try:
        bureau = Bureau.model_validate(data.get("bureau", {}))
    except ValidationError as exc:
        problems.extend(_validation_problems(file, "[bureau]", exc))
    if bureau is not None and bureau.code != file.stem:
        problems.append(
            Problem(file, "[bureau]", "code", f"{bureau.code!r} must match the file name")
        )
        bureau = None
    defaults = data.get("defaults", {})
    bad_defaults = set(defaults) - DEFAULTABLE
    if bad_defaults:
        problems.append(
            Problem(
                file,
                "[defaults]",
                None,
                f"cannot default {sorted(bad_defaults)}; allowed: {sorted(DEFAULTABLE)}",
            )
        )
    services = []
    for number, raw in enumerate(data.get("services", []), start=1):
        entry = f"service #{number}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            entry = f"service {raw['id']!r}"
        if not isinstance(raw, dict):
            problems.append(Problem(file, entry, None, "must be a table ([[services]])"))
            continue
        raw = {**{k: v for k, v in defaults.items() if k in DEFAULTABLE}, **raw}
        raw.setdefault("bureau", file.stem)
        for key, library in (("materials", materials), ("form", fields)):
            if key in raw:
                raw[key] = _resolve(raw[key], library, key, file, entry, problems)
        try:
            services.append(Service.model_validate(raw))
        except ValidationError as exc:
            problems.extend(_validation_problems(file, entry, exc))
    if "services" not in data:
        problems.append(Problem(file, None, "services", "no [[services]] in this file"))
    return bureau, services


def _resolve(
    items: Any,
    library: dict[str, Any],
    what: str,
    file: Path,
    entry: str,
    problems: list[Problem],
) -> Any:
    """Expand references to the shared library: "id_card" or {ref = "id_card", count = 2}."""
    if not isinstance(items, list):
        return items  # let the schema report a missing or malformed list
    out = []
    for i, item in enumerate(items):
        ref = item if isinstance(item, str) else item.get("ref") if isinstance(item, dict) else None
        if ref is None:
            out.append(item)
            continue
        base = library.get(ref)
        if base is None:
            close = difflib.get_close_matches(ref, list(library), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            source = MATERIALS_FILE if what == "materials" else FIELDS_FILE
            problems.append(
                Problem(
                    file,
                    entry,
                    f"{what}.{i}",
                    f"unknown {what} reference {ref!r} in {source}{hint}",
                )
            )
            continue
        overrides = {k: v for k, v in item.items() if k != "ref"} if isinstance(item, dict) else {}
        renamed = {"name_zh", "name_en"} & set(overrides)
        if what == "materials" and renamed and "key" not in overrides:
            # One key, one document: the kiosk reuses e-copies by key across services.
            problems.append(
                Problem(
                    file,
                    entry,
                    f"{what}.{i}",
                    f"renames library material {ref!r}; give the different document its own key",
                )
            )
            continue
        out.append({**base.model_dump(exclude_defaults=True), **overrides})
    return out
