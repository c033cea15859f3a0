"""The error templates of the protocol package: one table, rendered from code and details."""

from __future__ import annotations

import ast
import inspect
import re

from queue_server import errors as E
from queue_server.engine import appointments as engine_appointments
from queue_server.engine import hall as engine_hall
from queue_server.protocol import errors as PE

# --- the words the engine still spells out at its raise sites (moved here from the document's
# generator, which now reads only the template table; goes once every raise site passes codes) --


def _render_message(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append("{" + _placeholder(value.value) + "}")
        return "".join(parts)
    return "{" + _placeholder(node) + "}"


def _placeholder(node: ast.expr) -> str:
    """A short name for a value an f-string fills in: ``held.number``, ``limit``, ``until``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return ast.unparse(node).removeprefix("self.").removeprefix("rules.")
    if isinstance(node, ast.Call):
        if node.args:
            return _placeholder(node.args[0])
        return _placeholder(node.func.value) if isinstance(node.func, ast.Attribute) else "…"
    if isinstance(node, ast.BinOp):
        return _placeholder(node.left)
    return "…"


def engine_messages() -> dict[str, list[tuple[str, str]]]:
    """code -> [(zh, en)] for every refusal the engine raises, in source order."""
    out: dict[str, list[tuple[str, str]]] = {}
    nodes = (
        node
        for module in (engine_hall, engine_appointments)
        for node in ast.walk(ast.parse(inspect.getsource(module)))
    )
    for node in nodes:
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "E"
            and len(node.args) >= 2
        ):
            continue
        cls = getattr(E, node.func.attr, None)
        if not (inspect.isclass(cls) and issubclass(cls, E.Refusal)):
            continue
        pair = (_render_message(node.args[0]), _render_message(node.args[1]))
        if pair not in out.setdefault(cls.code, []):
            out[cls.code].append(pair)
    for messages in out.values():
        messages.sort()
    return out


def engine_error_classes() -> list[type[E.EngineError]]:
    found: list[type[E.EngineError]] = []

    def walk(cls: type[E.EngineError]) -> None:
        # Only the tree of queue_server.errors: clients (the console) subclass it for their own
        # use, and whether those are imported must not change the document.
        if cls.__module__ != E.__name__:
            return
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(E.EngineError)
    return found


def test_every_engine_error_code_has_a_template() -> None:
    for cls in engine_error_classes():
        assert any(key.split(".")[0] == cls.code for key in PE.ENGINE_ERRORS), cls.code


def test_a_message_is_rendered_from_code_and_details() -> None:
    err = E.IllegalTransition("ticket", "A001", "call", "done")
    assert (err.message_zh, err.message_en) == (
        "号票 A001 当前「已办结」，不能叫号",
        "ticket A001 is done; 'call' is not allowed",
    )
    # A client renders the same words from the wire's code and details alone.
    wire = err.to_dict()
    assert PE.engine_message(wire["code"], wire["details"]) == (err.message_zh, err.message_en)
    assert E.NotFound("counter", 9).message_zh == "找不到窗口 9"


def test_a_reason_picks_the_wording_and_missing_parameters_show_their_name() -> None:
    err = E.RequeueRefused(reason="grace", ticket="A001", minutes=10)
    assert err.message_en == "A001 was skipped more than 10 minutes ago; please take a new ticket"
    assert err.to_dict()["details"] == {"reason": "grace", "ticket": "A001", "minutes": "10"}
    assert PE.engine_message("not_skilled", {"ticket": "A001"})[1] == (
        "Window {counter} does not handle the service of A001"
    )


def test_the_engines_own_words_match_a_template() -> None:
    # Until every raise site passes parameters only, the words it spells out must be a
    # template's, filled in: the table stays the one source a client renders from.
    def pattern(text: str) -> re.Pattern[str]:
        parts = re.split(r"\{[^}]*\}", text)
        return re.compile(".+".join(re.escape(part) for part in parts) + r"\Z")

    for code, pairs in engine_messages().items():
        templates = [v for k, v in PE.ENGINE_ERRORS.items() if k.split(".")[0] == code]
        for zh, en in pairs:
            filled = zh.replace("{", "<").replace("}", ">"), en.replace("{", "<").replace("}", ">")
            assert any(
                pattern(tzh).match(filled[0]) and pattern(ten).match(filled[1])
                for tzh, ten in templates
            ), (code, zh, en)
