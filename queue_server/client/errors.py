"""The client's errors, and the engine error a server's typed error stands for.

    ClientError
     ├── AuthFailed     the server refused the credentials (final: no reconnect)
     ├── Disconnected   no connection now, or it dropped before the reply (a command's
     │                  outcome is then unknown: look it up before retrying)
     └── ServerError    the server answered with a typed error (code, message_zh, message_en)

``engine_error(exc)`` turns a ``ServerError`` back into the ``queue_server.errors`` class of its
code (``IllegalTransition`` with its kind, ident, command and state, ``QueueEmpty``, ...), so
synchronous callers (``SyncClient``) catch the same errors an in-process engine raises; a code
of the server's own (``forbidden``, ``rate_limited``) becomes a ``RemoteRefusal``.
"""

from __future__ import annotations

from typing import Any

from queue_server.errors import EngineError, IllegalTransition, NotFound, Refusal


class ClientError(Exception):
    """Base of the client's errors."""


class AuthFailed(ClientError):
    pass


class Disconnected(ClientError):
    pass


class ServerError(ClientError):
    def __init__(self, code: str, message_zh: str, message_en: str, details: dict | None = None):
        self.code, self.message_zh, self.message_en = code, message_zh, message_en
        self.details = details or {}
        super().__init__(f"{code}: {message_en}")

    def message(self, lang: str = "zh") -> str:
        return self.message_zh if lang == "zh" else self.message_en


class RemoteRefusal(EngineError):
    """A refusal the server worded itself (``forbidden``, ``rate_limited``, ...): its ``code``
    is the server's."""

    def __init__(self, code: str, message_zh: str, message_en: str, **details: Any):
        super().__init__(message_zh, message_en, **details)
        self.code = code


# Engine refusals that are built from their two messages (and details), by code.
def _refusal_classes() -> dict[str, type[EngineError]]:
    found: dict[str, type[EngineError]] = {}
    todo: list[type[EngineError]] = [Refusal]
    while todo:
        cls = todo.pop()
        found[cls.code] = cls
        todo.extend(cls.__subclasses__())
    return found


_REFUSALS = _refusal_classes()


def engine_error(exc: ServerError) -> EngineError:
    """The engine error a server's typed error stands for, carrying the server's own words."""
    details = dict(exc.details)
    err: EngineError
    if exc.code == IllegalTransition.code and {"kind", "ident", "command", "state"} <= set(details):
        ident: object = details["ident"]
        if details["kind"] == "counter" and str(ident).isdigit():
            ident = int(str(ident))
        err = IllegalTransition(details["kind"], ident, details["command"], details["state"])
    elif exc.code == NotFound.code and {"kind", "ident"} <= set(details):
        err = NotFound(details["kind"], details["ident"])
    elif exc.code in _REFUSALS:
        err = _REFUSALS[exc.code](exc.message_zh, exc.message_en, **details)
    else:
        err = RemoteRefusal(exc.code, exc.message_zh, exc.message_en, **details)
    err.message_zh, err.message_en = exc.message_zh, exc.message_en
    return err
