"""Render docs/protocol.md from its template and the code that defines the protocol.

    python -m tools.protocol_doc > docs/protocol.md

The prose is Markdown in tools/protocol.md.tmpl; its ``{{ ... }}`` placeholders are filled from
the JSON Schema of the protocol's pydantic models (field types, required and defaults,
constraints, descriptions: the same schema as docs/protocol.schema.json), the error tables of
``queue_server.protocol.errors``, the server's role tables and limits, and the examples in
tools/protocol_examples.py. tests/tools/test_protocol_doc.py checks that the committed document
equals a fresh rendering and validates its examples.

Placeholders: ``{{ name }}`` is a value (``VALUES``); ``{{ model Name [-field ...] }}`` a model's
description and field table; ``{{ message tag }}``, ``{{ command tag }}`` and ``{{ event tag }}``
a message, command or event with its examples (every type must have its placeholder);
``{{ example name }}`` a named block of ``protocol_examples.BLOCKS``; ``{{ types client }}``,
``{{ roles }}``, ``{{ command_roles }}``, ``{{ protocol_errors }}``, ``{{ engine_errors }}``
the tables of those names. Example blocks are fenced ```` ```json client ````, ``server``,
``command`` or ``event``: the second word names the schema the block validates against.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import TypeAdapter

from queue_server import protocol as P
from queue_server import server as S
from queue_server import storage as STORAGE
from queue_server import views
from queue_server.config import ServerSettings
from queue_server.protocol import commands as C
from queue_server.protocol import events as E
from queue_server.protocol.errors import ENGINE_ERRORS
from tools import protocol_examples as X

# Beside its renderer rather than in docs/: docs/ holds what readers open, and a template there
# would show up, half-rendered, among them (and in every grep for a fact of the protocol).
TEMPLATE = Path(__file__).with_name("protocol.md.tmpl")

# The four unions the document covers, each with the schema name its example blocks carry.
UNIONS: dict[str, Any] = {
    "client": P.ClientMessage,
    "server": P.ServerMessage,
    "command": C.Command,
    "event": E.StreamEvent,
}
# Models used by one field, tabulated beneath that field's table (the first time they appear).
NESTED = ("ResidentId", "Form", "StaffIssuedTicket", "IssuedTicket")


def _models(annotation: Any) -> dict[str, str]:
    """type tag -> model name, in the union's order."""
    union = typing.get_args(annotation)[0]
    out = {}
    for member in typing.get_args(union):
        cls = typing.get_args(member)[0] if typing.get_origin(member) is Annotated else member
        tag = cls.model_fields["type"].default
        if isinstance(tag, str):  # not the catch-all for types this version does not know
            out[tag] = cls.__name__
    return out


def _definitions() -> dict[str, dict[str, Any]]:
    """Every model's JSON Schema, by name, as docs/protocol.schema.json has them."""
    _, definitions = TypeAdapter.json_schemas(
        [(name, "validation", TypeAdapter(union)) for name, union in UNIONS.items()],
        ref_template="#/$defs/{model}",
    )
    return definitions["$defs"]


# --- values the prose quotes --------------------------------------------------------------------


def _code_list(names: typing.Iterable[str], joiner: str = ", ") -> str:
    return joiner.join(f"`{name}`" for name in sorted(names))


SERVER_SETTINGS = ServerSettings.model_fields  # the [server] section's defaults

VALUES: dict[str, str] = {
    "version": str(P.VERSION),
    "hello_timeout": f"{S.HELLO_TIMEOUT:g}",
    "request_key_days": str(STORAGE.REQUEST_KEY_DAYS),
    "login_address_limit": str(S.LoginThrottle.ADDRESS_LIMIT),
    "login_window_s": f"{S.LoginThrottle.WINDOW_S:.0f}",
    "login_credential_limit": str(S.LoginThrottle.CREDENTIAL_LIMIT),
    "login_spacing_s": f"{S.LoginThrottle.SPACING_S:g}",
    "login_max_wait_s": f"{S.LoginThrottle.MAX_WAIT_S:.0f}",
    "web_command_limit": str(S.WEB_COMMAND_LIMIT),
    "web_command_window_s": f"{S.WEB_COMMAND_WINDOW_S:.0f}",
    "counter_bound": _code_list(S._COUNTER_BOUND),
    "form_roles": _code_list(S.FORM_ROLES, " and "),
    "file_roles": _code_list(S.FILE_ROLES, " and "),
    "recent_events": f"{S.RECENT_EVENTS:,}",
    "max_buffer_kib": f"{S.MAX_BUFFER // 1024:,}",
    "max_message_bytes": f"{P.MAX_MESSAGE_BYTES:,}",
    "max_message_kib": str(P.MAX_MESSAGE_BYTES // 1024),
    "max_form_message_bytes": f"{P.MAX_FORM_MESSAGE_BYTES:,}",
    "max_form_message_kib": str(P.MAX_FORM_MESSAGE_BYTES // 1024),
    "form_max_fields": str(P.FORM_MAX_FIELDS),
    "form_max_value": str(P.FORM_MAX_VALUE),
    "form_max_total": f"{P.FORM_MAX_TOTAL:,}",
    "form_max_materials": str(P.FORM_MAX_MATERIALS),
    "max_strikes": str(S.MAX_STRIKES),
    "command_timeout_s": f"{SERVER_SETTINGS['command_timeout_s'].default:g}",
    "healthz_timeout_s": f"{SERVER_SETTINGS['healthz_timeout_s'].default:g}",
    "rate": f"{S.Client.RATE:g}",
    "burst": f"{S.Client.BURST:g}",
    "ticket_page_url": f"{X.PUBLIC_URL}/t/{X.TOKEN}",
}


# --- what each error code means: the "when" column of the error tables ----------------------------

ENGINE_ERROR_NOTES = {
    "engine_error": "Base of every engine refusal; never sent as such.",
    "illegal_transition": "The lifecycle table forbids this move for the object's current state. "
    "`details`: `kind`, `ident`, `command`, `state`.",
    "not_found": "Unknown ticket, counter, service, priority class, appointment or notice. "
    "`details`: `kind`, `ident`.",
    "refused": "Base of the hall-rule refusals below; never sent as such. Their messages are "
    "meant for the resident and may be shown as they are.",
    "hall_closed": "Outside ticket-issuing hours (or a non-working day).",
    "quota_exhausted": "Today's tickets for this service are all taken. `details`: `service`.",
    "already_holding_ticket": "This resident already holds an open ticket for this service. "
    "`details`: `ticket`.",
    "queue_empty": "`call_next`: nobody waits for this window's skills.",
    "not_skilled": "`call_ticket`: the window does not handle that ticket's service.",
    "call_specific_not_allowed": "`call_ticket`: the hall calls in order only.",
    "requeue_refused": "`requeue`: already requeued once, or the grace period has passed.",
    "appointment_refused": "Base of the appointment refusals below; never sent as such.",
    "slot_invalid": "`book_appointment`: no such slot, past, out of the booking window, or the "
    "service takes no appointments.",
    "slot_full": "`book_appointment`: the slot has no room left.",
    "booking_limit": "`book_appointment`: the per-resident limit (day, week or month) is reached.",
    "booking_banned": "`book_appointment`: too many recent no-shows.",
    "cancel_too_late": "`cancel_appointment`: too close to the slot.",
    "check_in_too_early": "`check_in`: before the check-in window opens.",
    "check_in_too_late": "`check_in`: after the check-in window closed; the booking is void.",
    "identity_required": "`book_appointment` naming no resident (neither `resident_key` nor the "
    "message's `resident_id`).",
}

PROTOCOL_ERROR_NOTES = {
    "bad_json": "The frame is not JSON (or not UTF-8).",
    "bad_message": "Not an object, unknown `type`, a missing or extra field, a wrong value "
    '(of the wrong JSON type too: `true`, `"2"` or `2.0` where an integer is due: nothing '
    "is converted), JSON nested deeper than the server reads, or text that is not Unicode (a "
    "lone surrogate escape such as `\\ud800`). `details`: `field` (dotted path), `why`.",
    "unsupported_version": "`v` is not a version this server speaks. `details`: `supported`.",
    "too_large": f"The message is over {P.MAX_MESSAGE_BYTES} bytes. `details`: `limit`.",
    "not_authenticated": "Anything but `hello` before a `welcome`.",
    "already_authenticated": "A second `hello` on one connection.",
    "auth_failed": "Unknown device or login, wrong token or password, a staff member without the "
    "role or window asked for, or a forged resident token.",
    "token_expired": "A genuine resident token past its day, or for a ticket the hall no longer "
    "holds.",
    "forbidden": "The role may not send this command, query or stream (or a counter session "
    "named another window), submit a `form` or file materials. `details`: `command`, `query`, "
    "`streams`, `field` (`form`; `resident_id` for a window's `materials_on_file`) or "
    "`message`.",
    "rate_limited": "Messages arrive faster than the connection's rate; the excess is dropped. "
    "Or a login waited too long in line behind failed ones (see [Guessing](#guessing); "
    "`details`: `retry_after`), or the web channel's address sent too many bookings.",
    "unavailable": "The database could not commit, or did not answer within "
    "`[server] command_timeout_s`. Retry with the same `request_key`: see "
    "[Retries and request keys](#retries-and-request-keys).",
    "bad_query": "The query lacks a parameter it needs. `details`: `field`.",
    "identity_required": "A `web` session sent `book_appointment` without `resident_id`; a "
    "kiosk, navigator or web session sent `cancel_appointment` without `resident_id` or "
    "`appointment_token`; or a kiosk or navigator sent `materials_on_file` without "
    "`resident_id`.",
    "proof_invalid": "`cancel_appointment` with an `appointment_token` that is forged, expired "
    "or for another booking. Nothing was cancelled.",
    "form_invalid": f"A `form` that breaks its limits (more than {P.FORM_MAX_FIELDS} fields, a "
    f"value over {P.FORM_MAX_VALUE} characters, over {P.FORM_MAX_TOTAL} characters in all, more "
    f"than {P.FORM_MAX_MATERIALS} materials, a key not like `id_card`, a value not text, yes/no "
    "or a number), or a form with a command other than `issue_ticket`. `details`: `field`, "
    "`why` (never the value). Nothing was issued.",
    "form_not_yours": "`ticket_form`, `file_materials` or a window's `materials_on_file` for a "
    "ticket this window has not called "
    "and is not serving (waiting, finished, no-show, at another window). `details`: `ticket`.",
    "form_not_found": "`ticket_form`: no form was submitted with the ticket, or it passed its "
    "retention. `details`: `ticket`.",
    "form_unreadable": "`ticket_form`: the stored form does not open with the hall's key (the key "
    "or the secret it is derived from changed). `details`: `ticket`.",
    "no_resident": "`file_materials` or a window's `materials_on_file` for a ticket issued "
    "without a document (`resident_id`): there is nobody to keep them for, or to look up. "
    "`details`: `ticket`.",
}


# --- Markdown pieces ------------------------------------------------------------------------------


def _json(data: Any, indent: int = 0, used: int = 0, width: int = 96) -> str:
    """Indented JSON that keeps a value on one line when it fits (easier to read than indent=2).
    ``indent``: the indentation of the line the value starts on; ``used``: columns already
    taken on that line."""
    flat = json.dumps(data, ensure_ascii=False)
    if used + len(flat) <= width or not isinstance(data, dict | list) or not data:
        return flat
    pad = " " * (indent + 2)
    if isinstance(data, dict):
        items = []
        for key, value in data.items():
            head = f"{pad}{json.dumps(key, ensure_ascii=False)}: "
            items.append(head + _json(value, indent + 2, len(head) + 1, width))
    else:
        items = [pad + _json(value, indent + 2, len(pad) + 1, width) for value in data]
    opening, closing = ("{", "}") if isinstance(data, dict) else ("[", "]")
    return opening + "\n" + ",\n".join(items) + "\n" + " " * indent + closing


def _block(kind: str, data: Any) -> str:
    return f"```json {kind}\n{_json(data)}\n```\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """A docstring or description as one Markdown paragraph (reST ``code`` becomes `code`)."""
    return " ".join(text.split()).replace("``", "`")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --- field tables from the JSON Schema -------------------------------------------------------------

_SCALARS = ("string", "integer", "number", "boolean", "null")
_FORMATS = {"date-time": "date-time", "date": "date"}
# A field holding a union on this property: what the table calls its type.
_UNION_LINKS = {
    "propertyName:type": "[command](#engine-commands)",
    "propertyName:kind": "[auth](#authentication)",
}
_CONSTRAINTS = (
    ("minLength", "min length {}"),
    ("maxLength", "max length {}"),
    ("minItems", "min length {}"),
    ("maxItems", "max length {}"),
    ("maxProperties", "max length {}"),
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("pattern", "pattern `{}`"),
)


def _ref_name(schema: dict[str, Any]) -> str:
    return schema["$ref"].rsplit("/", 1)[-1]


def _ref_name_or(schema: dict[str, Any]) -> str | None:
    return _ref_name(schema) if "$ref" in schema else None


def _type_name(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        target = defs[_ref_name(schema)]
        if "enum" in target:
            return " | ".join(json.dumps(value) for value in target["enum"])
        return f"{_ref_name(schema)} object"
    if "discriminator" in schema:
        key = f"propertyName:{schema['discriminator']['propertyName']}"
        return f"{_UNION_LINKS[key]} object"
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if "enum" in schema:
        return " | ".join(json.dumps(value, ensure_ascii=False) for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type_name(member, defs) for member in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type_name(schema.get('items', {}), defs)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if values is None and "patternProperties" in schema:
            values = next(iter(schema["patternProperties"].values()))
        value_name = _type_name(values, defs) if isinstance(values, dict) else "any"
        return f"object (string → {value_name})"
    if kind == "string" and schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    return kind if kind in _SCALARS else "any"


def _constraints(schema: dict[str, Any]) -> str:
    """Constraints of a field (or of the non-null member of an optional one), and of each item
    of an array or key of an object."""
    found = []
    for part in [schema, *schema.get("anyOf", [])]:
        found += [word.format(part[key]) for key, word in _CONSTRAINTS if key in part]
        if isinstance(part.get("items"), dict) and _constraints(part["items"]):
            found.append(f"each: {_constraints(part['items'])}")
        keys = {**part.get("propertyNames", {})}
        for pattern in part.get("patternProperties", {}):  # pydantic writes one: the keys'
            keys["pattern"] = pattern
        if keys:
            found.append(f"keys: {_constraints(keys)}")
        values = [*part.get("patternProperties", {}).values(), part.get("additionalProperties")]
        for value in (v for v in values if isinstance(v, dict) and _constraints(v)):
            found.append(f"values: {_constraints(value)}")
    return ", ".join(found)


class _Renderer:
    """Fills one template; remembers which types and nested models it has rendered."""

    def __init__(self) -> None:
        self.defs = _definitions()
        self.done: dict[str, set[str]] = {kind: set() for kind in UNIONS}
        self.nested_shown: dict[str, str] = {}
        self.models = {kind: _models(union) for kind, union in UNIONS.items()}

    # --- placeholders -------------------------------------------------------------------------

    def model(self, name: str, *skip: str, where: str = "") -> str:
        """A model's description and its field table (``-field`` leaves a field out)."""
        return self.description(name) + self.table(name, *skip, where=where)

    def description(self, name: str) -> str:
        text = self.defs[name].get("description")
        return f"{_prose(text)}\n\n" if text else ""

    def table(self, name: str, *skip: str, where: str = "") -> str:
        """A model's field table, then the table of each nested model (``NESTED``) a field
        uses, or a link to where it was first shown."""
        schema = self.defs[name]
        out = []
        required = set(schema.get("required", ()))
        rows, nested = [], []
        for field, prop in schema["properties"].items():
            if f"-{field}" in skip:
                continue
            if field in required:
                need = "required"
            elif "default" in prop:
                need = f"default `{json.dumps(prop['default'], ensure_ascii=False)}`"
            else:
                need = "optional"
            notes = [_constraints(prop), prop.get("description", "")]
            type_text = _type_name(prop, self.defs)
            rows.append(
                [f"`{field}`", _cell(type_text), need, _cell(". ".join(filter(None, notes)))]
            )
            refs = [prop] if "$ref" in prop else prop.get("anyOf", [])
            nested += [(field, _ref_name(r)) for r in refs if _ref_name_or(r) in NESTED]
        out.append(_table(["field", "type", "required / default", "notes"], rows))
        for field, sub in nested:
            if sub in self.nested_shown:
                out.append(f"\n`{field}`: as in {self.nested_shown[sub]}.\n")
                continue
            self.nested_shown[sub] = where or name
            out.append(f"\n`{field}` ({sub}):\n\n{self.model(sub)}")
        return "".join(out)

    def message(self, tag: str) -> str:
        kind = "client" if tag in self.models["client"] else "server"
        self.done[kind].add(tag)
        examples = (X.CLIENT_EXAMPLES if kind == "client" else X.SERVER_EXAMPLES)[tag]
        out = [self.model(self.models[kind][tag], where=f"[`{tag}`](#{tag})")]
        for note, example in examples:
            out.append(f"\n{note}\n\n" if note else "\n")
            out.append(_block(kind, example))
        return "".join(out)

    def command(self, tag: str) -> str:
        self.done["command"].add(tag)
        name = self.models["command"][tag]
        example = next(c for c in X.COMMAND_EXAMPLES if c.type == tag)
        out = [self.description(name), f"Who: {self._roles_for(tag)}.\n\n", self.table(name)]
        if "resident_key" in self.defs[name]["properties"]:
            out.append(
                "\nSend the resident's document as the message's `resident_id`; the server "
                "computes `resident_key` from it and puts it in the command. See "
                "[Privacy](#privacy).\n"
            )
        out.append("\n" + _block("command", example.model_dump(mode="json")))
        return "".join(out)

    def event(self, tag: str) -> str:
        """An event's fields, the event in full, and what each stream sends of it."""
        self.done["event"].add(tag)
        ev = next(e for e in X.EVENT_EXAMPLES if e.type == tag)
        # In full as the manager and counter streams see it: the engine's own event also
        # carries what no client sees (the resident key).
        full = views.manager_event(ev).model_dump(mode="json")
        out = [self.model(self.models["event"][tag], "-seq", "-at", "-type")]
        out.append("\n" + _block("event", full))
        public = views.public_event(ev)
        public = None if public is None else public.model_dump(mode="json")
        counter = getattr(ev, "counter", None)
        names = ["public"] * (public is not None) + ["counter"] * (counter is not None)
        out.append(f"\nStreams: {', '.join([*names, 'manager'])}.")
        if public is not None and public != full:
            out.append(" On the public stream:\n\n")
            out.append(_block("server", self._event_msg("public", ev.seq, public)))
        return "".join(out).rstrip("\n") + "\n"

    def example(self, name: str) -> str:
        kind, data = X.BLOCKS[name]
        return _block(kind, data)

    def types(self, kind: str) -> str:
        return ", ".join(f"`{tag}`" for tag in self.models[kind])

    def roles(self) -> str:
        how = {
            "kiosk": "device token",
            "navigator": "device token",
            "signage": "device token",
            "counter": "staff login + `counter`",
            "manager": "staff login, no `counter`",
            "resident": "resident token",
            "web": "`kind: web`, no secret",
        }
        commands = list(self.models["command"])
        rows = []
        for role, way in how.items():
            allowed = S.ROLE_COMMANDS[role]
            if set(commands) <= allowed:
                command_text = "all"
            else:
                command_text = ", ".join(f"`{c}`" for c in commands if c in allowed) or "none"
            queries = [q for q in typing.get_args(P.QueryName) if q in S.ROLE_QUERIES[role]]
            streams = [s for s in typing.get_args(P.StreamName) if s in S.ROLE_STREAMS[role]]
            rows.append(
                [
                    role,
                    way,
                    command_text,
                    ", ".join(f"`{q}`" for q in queries),
                    ", ".join(f"`{s}`" for s in streams),
                ]
            )
        return _table(["role", "authenticates with", "commands", "queries", "streams"], rows)

    def command_roles(self) -> str:
        rows = [[f"[`{tag}`](#{tag})", self._roles_for(tag)] for tag in self.models["command"]]
        return _table(["command", "who may send it"], rows)

    def protocol_errors(self) -> str:
        rows = [
            [f"`{code}`", zh, en, _cell(PROTOCOL_ERROR_NOTES.get(code, ""))]
            for code, (zh, en) in P.PROTOCOL_ERRORS.items()
        ]
        return _table(["code", "zh", "en", "when"], rows)

    def engine_errors(self) -> str:
        """One row per code; a code with several wordings (``code.reason``) lists them all."""
        wordings: dict[str, list[tuple[str, str]]] = {}
        for key, pair in ENGINE_ERRORS.items():
            wordings.setdefault(key.split(".")[0], []).append(pair)
        rows = [
            [
                f"`{code}`",
                _cell(ENGINE_ERROR_NOTES.get(code, "")),
                "<br>".join(_cell(zh) for zh, _ in pairs),
                "<br>".join(_cell(en) for _, en in pairs),
            ]
            for code, pairs in wordings.items()
        ]
        return _table(["code", "meaning", "zh", "en"], rows)

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _roles_for(command: str) -> str:
        return ", ".join(role for role, allowed in S.ROLE_COMMANDS.items() if command in allowed)

    @staticmethod
    def _event_msg(stream: str, seq: int, event: dict[str, Any]) -> dict[str, Any]:
        return {"v": 1, "type": "event", "stream": stream, "seq": seq, "event": event}

    def fill(self, template: str) -> str:
        directives: dict[str, Callable[..., str]] = {
            "model": self.model,
            "table": self.table,
            "message": self.message,
            "command": self.command,
            "event": self.event,
            "example": self.example,
            "types": self.types,
            "roles": self.roles,
            "command_roles": self.command_roles,
            "protocol_errors": self.protocol_errors,
            "engine_errors": self.engine_errors,
        }

        def placeholder(match: re.Match[str]) -> str:
            name, *args = match["body"].split()
            if name in VALUES and not args:
                return VALUES[name]
            if name not in directives:
                raise ValueError(f"unknown placeholder {match[0]}")
            # A block's own last newline: the template's line break ends it.
            return directives[name](*args).removesuffix("\n")

        text = re.sub(r"\{\{\s*(?P<body>[^{}]+?)\s*\}\}", placeholder, template)
        missing = {
            kind: sorted(set(self.models[kind]) - self.done[kind]) for kind in ("command", "event")
        }
        missing["message"] = sorted(
            (set(self.models["client"]) | set(self.models["server"]))
            - self.done["client"]
            - self.done["server"]
        )
        if any(missing.values()):
            raise ValueError(f"the template has no placeholder for {missing}")
        return text


def render() -> str:
    return _Renderer().fill(TEMPLATE.read_text(encoding="utf-8"))


def main() -> None:
    import sys

    sys.stdout.write(render())


if __name__ == "__main__":
    main()
