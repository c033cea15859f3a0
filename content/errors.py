"""Errors of the content package.

One tree, so a caller can catch everything with ``ContentError`` or pick what it handles::

    ContentError
    ├── CatalogError              the catalog's files are unusable (syntax, schema, references);
    │   │                         carries every ``Problem`` found, each naming file, entry, field
    │   └── MissingServicesError  the hall names services the catalog lacks (start-up check)
    ├── SignageError              the signage file is unusable; also carries ``Problem`` s
    ├── UnknownServiceError       ``Catalog.service(id)`` with an id not in the catalog (a KeyError)
    └── UnknownBureauError        ``Catalog.bureau(code)`` / ``by_bureau`` with an unknown code
                                  (a KeyError)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file: where (file, entry, field) and what."""

    file: Path | None
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [str(self.file) if self.file else "<catalog>"]
        if self.entry:
            where.append(self.entry)
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{': '.join(where)}: {self.message}"


class ContentError(Exception):
    """Base of every error raised by the content package."""


class _ProblemsError(ContentError):
    """An error that lists one or more problems; the first one names file, entry and field."""

    what = "content"

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("an error needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        if len(self.problems) == 1:
            return f"invalid {self.what}: {self.problems[0]}"
        lines = [f"invalid {self.what}: {len(self.problems)} problems"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)

    @property
    def file(self) -> Path | None:
        return self.problems[0].file

    @property
    def entry(self) -> str | None:
        return self.problems[0].entry

    @property
    def field(self) -> str | None:
        return self.problems[0].field


class CatalogError(_ProblemsError):
    """The catalog cannot be used as it stands; ``problems`` lists everything found."""

    what = "catalog"


class MissingServicesError(CatalogError):
    """The hall configuration names service ids that the catalog does not contain."""

    def __init__(self, missing: Iterable[str], suggestions: dict[str, list[str]] | None = None):
        self.missing: tuple[str, ...] = tuple(missing)
        self.suggestions = suggestions or {}
        problems = []
        for service_id in self.missing:
            hint = self.suggestions.get(service_id)
            message = "the hall names this service but the catalog lacks it"
            if hint:
                message += f" (did you mean {', '.join(hint)}?)"
            problems.append(Problem(None, f"service {service_id!r}", None, message))
        super().__init__(problems)

    def _message(self) -> str:
        lines = [f"the catalog lacks {len(self.missing)} service(s) the hall names:"]
        for service_id in self.missing:
            hint = self.suggestions.get(service_id)
            suffix = f"  (did you mean {', '.join(hint)}?)" if hint else ""
            lines.append(f"  - {service_id}{suffix}")
        return "\n".join(lines)


class SignageError(_ProblemsError):
    """The signage content cannot be used as it stands."""

    what = "signage"


class _UnknownKeyError(ContentError, KeyError):
    # KeyError's str() quotes its argument; keep the plain sentence.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownServiceError(_UnknownKeyError):
    """No service with this id; ``suggestions`` holds close ids, best first."""

    def __init__(self, service_id: str, suggestions: Sequence[str] = ()) -> None:
        self.service_id = service_id
        self.suggestions = list(suggestions)
        message = f"unknown service {service_id!r}"
        if self.suggestions:
            message += f" (did you mean {', '.join(self.suggestions)}?)"
        super().__init__(message)


class UnknownBureauError(_UnknownKeyError):
    """No bureau with this code."""

    def __init__(self, code: str, known: Sequence[str] = ()) -> None:
        self.code = code
        message = f"unknown bureau {code!r}"
        if known:
            message += f" (known: {', '.join(known)})"
        super().__init__(message)
