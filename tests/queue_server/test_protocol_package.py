"""The protocol package stands alone: a terminal speaks it without the engine or the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("queue_server", "content", "devices", "kiosk", "navigator", "signage", "console", "ui")


def test_importing_the_protocol_loads_nothing_else_of_ours():
    code = (
        "import json, sys\n"
        "import queue_server.protocol, queue_server.protocol.payloads\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = [m for m in json.loads(out) if m.split(".")[0] in OURS]
    assert loaded and all(
        m in ("queue_server", "queue_server.protocol") or m.startswith("queue_server.protocol.")
        for m in loaded
    ), loaded


def test_a_client_reads_a_reply_from_a_newer_server_that_carries_a_new_field():
    from queue_server.protocol.payloads import CommandResult

    reply = CommandResult.model_validate({"seq": 3, "events": [], "added_later": {"x": 1}})
    assert reply.seq == 3 and not hasattr(reply, "added_later")
