"""HTTP on the websocket port: /healthz, /metrics (Prometheus text format) and 404s."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from harness.servers import running_server
from queue_server.protocol import commands as C
from queue_server.server import SERVER_VERSION

SERVICE = "liuguan.residence_registration"


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


async def get(hall, path: str) -> tuple[int, str, bytes]:
    return await asyncio.to_thread(_get, f"http://127.0.0.1:{hall.server.port}{path}")


async def test_healthz_reports_database_uptime_and_version(tmp_path):
    async with running_server(tmp_path) as hall:
        status, content_type, body = await get(hall, "/healthz")
        assert status == 200 and content_type == "application/json"
        health = json.loads(body)
        assert health["database"] is True and health["status"] == "ok"
        assert health["version"] == SERVER_VERSION
        assert isinstance(health["uptime_s"], int | float) and health["uptime_s"] >= 0
        assert health["hall"] == hall.config.hall.id


async def test_healthz_is_503_while_the_database_is_gone(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    async with running_server(tmp_path, url=f"sqlite:///{folder / 'hall.db'}") as hall:
        assert (await get(hall, "/healthz"))[0] == 200
        # The database disappears: its folder is gone (a file stands in its way, so not even
        # root can recreate it) and the pooled connections are dropped.
        hall.server.actor.store.engine.dispose()
        folder.rename(tmp_path / "db.away")
        folder.write_text("not a folder")
        status, _type, body = await get(hall, "/healthz")
        assert status == 503
        assert json.loads(body)["database"] is False
        # It comes back: so does the health.
        folder.unlink()
        (tmp_path / "db.away").rename(folder)
        status, _type, body = await get(hall, "/healthz")
        assert status == 200 and json.loads(body)["database"] is True


async def test_metrics_in_prometheus_text_format(tmp_path):
    async with running_server(tmp_path) as hall:
        kiosk, window, screen = (
            hall.device("kiosk-1"),
            hall.staff("w5", 5),
            hall.device("signage-main"),
        )
        for client in (kiosk, window, screen):
            await client.connect()
        await screen.subscribe("public")
        for _ in range(3):
            await kiosk.command(C.IssueTicket(service=SERVICE))
        await window.command(C.CallNext(counter=5))
        status, content_type, body = await get(hall, "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}

        tickets = {s.labels["state"]: s.value for s in families["yikou_tickets"].samples}
        assert tickets["waiting"] == 2 and tickets["called"] == 1 and tickets["done"] == 0
        connections = {s.labels["role"]: s.value for s in families["yikou_connections"].samples}
        assert connections == {"kiosk": 1, "counter": 1, "signage": 1}

        def sample(family: str, suffix: str) -> float:
            return next(s.value for s in families[family].samples if s.name == family + suffix)

        assert sample("yikou_wait_seconds", "_count") == 1
        assert sample("yikou_publish_seconds", "_count") >= 4  # one per committed batch
        assert families["yikou_seq"].samples[0].value >= 10
        commands = {
            (s.labels["type"], s.labels["outcome"]): s.value
            for s in families["yikou_commands"].samples
            if s.name == "yikou_commands_total"
        }
        assert commands[("issue_ticket", "ok")] == 3 and commands[("call_next", "ok")] == 1
        for client in (kiosk, window, screen):
            await client.close()
        # Connections that end are no longer counted.
        families = {
            f.name: f
            for f in text_string_to_metric_families((await get(hall, "/metrics"))[2].decode())
        }
        assert all(s.value == 0 for s in families["yikou_connections"].samples)


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/metrics/x", "/static/../server.py", "/static/%2e%2e/server.py", "/t"]
)
async def test_unknown_paths_are_404(tmp_path, path):
    async with running_server(tmp_path) as hall:
        status, content_type, _body = await get(hall, path)
        assert status == 404 and content_type == "text/plain"


async def test_a_websocket_on_another_path_is_404(tmp_path):
    async with running_server(tmp_path) as hall:
        with pytest.raises(InvalidStatus) as refused:
            await connect(hall.url.replace("/ws", "/elsewhere"))
        assert refused.value.response.status_code == 404
        async with connect(hall.url.replace("/ws", "/")) as ws:  # both / and /ws serve it
            await ws.send('{"v": 1, "type": "ping", "id": 1}')
            assert json.loads(await ws.recv())["code"] == "not_authenticated"
