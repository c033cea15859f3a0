"""docs/protocol.schema.json: current, and naming every message of both directions."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from queue_server import protocol as P
from tools import protocol_schema

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json"


def test_the_committed_schema_equals_a_fresh_generation():
    assert SCHEMA.read_text(encoding="utf-8") == protocol_schema.render(), (
        "docs/protocol.schema.json is out of date: "
        "python -m tools.protocol_schema > docs/protocol.schema.json"
    )


def test_each_side_maps_every_message_type_to_its_model():
    defs = json.loads(SCHEMA.read_text(encoding="utf-8"))["$defs"]
    for side, union in (("ClientMessage", P.ClientMessage), ("ServerMessage", P.ServerMessage)):
        models = typing.get_args(typing.get_args(union)[0])
        mapping = defs[side]["discriminator"]["mapping"]
        assert mapping == {
            cls.model_fields["type"].default: f"#/$defs/{cls.__name__}" for cls in models
        }
        for cls in models:
            assert defs[cls.__name__]["properties"]["type"]["const"] == (
                cls.model_fields["type"].default
            )
    # The payloads are typed, not free objects: a snapshot names its models.
    state = defs["Snapshot"]["properties"]["state"]
    assert {"#/$defs/PublicSnapshot", "#/$defs/ManagerSnapshot"} <= {
        ref["$ref"] for ref in state["anyOf"]
    }
