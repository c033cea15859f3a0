"""Generate docs/protocol.schema.json, the JSON Schema of every websocket message, from the
protocol's pydantic models.

    python -m tools.protocol_schema > docs/protocol.schema.json

``ClientMessage`` is what a client may send, ``ServerMessage`` what the server sends; both are
unions on ``type``. tests/tools/test_protocol_schema.py checks that the committed file equals a
fresh generation.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from queue_server import protocol as P

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema() -> dict[str, Any]:
    """One document: the two unions as ``$defs`` (with every model they use) and a top level
    that accepts any message of either."""
    refs, definitions = TypeAdapter.json_schemas(
        [
            ("client", "validation", TypeAdapter(P.ClientMessage)),
            ("server", "validation", TypeAdapter(P.ServerMessage)),
        ],
        ref_template="#/$defs/{model}",
    )
    defs = definitions["$defs"]
    # Name the two unions, so a validator (or a reader) can refer to one side.
    defs["ClientMessage"] = refs[("client", "validation")]
    defs["ServerMessage"] = refs[("server", "validation")]
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"Yikou hall protocol, version {P.VERSION}",
        "description": "Every websocket message between the queue server and its clients: a "
        "JSON object with `v` and `type`. See docs/protocol.md.",
        "anyOf": [{"$ref": "#/$defs/ClientMessage"}, {"$ref": "#/$defs/ServerMessage"}],
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    import sys

    sys.stdout.write(render())


if __name__ == "__main__":
    main()
