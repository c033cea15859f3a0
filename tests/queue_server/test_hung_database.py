"""A hung PostgreSQL (its processes stopped, as a frozen VM or a stuck disk leaves them) must
not hang the hall: commands are refused as `unavailable` within [server] command_timeout_s,
/healthz says 503 within its own deadline, and a retry with the same request key after the
database comes back gets the ticket the first attempt committed, never a second one.

The database runs in a cluster of its own (scripts/pg.sh), so stopping it stalls no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.halls import pg_url
from harness.servers import ROOT, credential, hall_config
from queue_server import protocol as P
from queue_server.client import HallClient, ServerError, new_request_key
from queue_server.server import QueueServer
from queue_server.storage import Store

pytestmark = pytest.mark.postgres

SERVICE = "liuguan.residence_permit"
COMMAND_TIMEOUT_S = 1.5
HEALTHZ_TIMEOUT_S = 1.0
# Far beyond both deadlines: a server that waited on the database would still be waiting when
# this runs out (the database resumes only after the answers came).
NO_HANG_S = 20.0


@dataclass
class Cluster:
    directory: Path
    url: str

    def pids(self) -> list[int]:
        """The postmaster and its children (they run as the postgres user)."""
        postmaster = int((self.directory / "data" / "postmaster.pid").read_text().split()[0])
        found = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True)
        return [postmaster, *(int(pid) for pid in found.stdout.split())]


@pytest.fixture(scope="module")
def cluster():
    pg_url()  # skips (or fails in CI) where the suite runs without PostgreSQL
    started = subprocess.run(
        ["bash", "-c", 'source scripts/pg.sh && pg_start >/dev/null && echo "$PG_DIR"'],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    directory = Path(started.stdout.split()[-1])
    port = (directory / "data" / "postmaster.pid").read_text().split("\n")[3]
    try:
        yield Cluster(directory, f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            ["bash", "-c", f"source scripts/pg.sh && PG_DIR={directory} pg_stop"],
            cwd=ROOT, timeout=120,
        )  # fmt: skip


@contextlib.contextmanager
def stopped(cluster: Cluster):
    """SIGSTOP every process of the cluster; SIGCONT them whatever happens."""
    pids = cluster.pids()
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=NO_HANG_S) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def ticket_ids(url: str, hall_id: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.exec_driver_sql(
                    "SELECT id FROM tickets WHERE hall_id = %(hall)s ORDER BY id", {"hall": hall_id}
                ).scalars()
            )
    finally:
        engine.dispose()


async def test_a_stopped_database_is_unavailable_in_time_and_a_retry_issues_once(cluster):
    config = hall_config(cluster.url)
    server_settings = config.server.model_copy(
        update={
            "command_timeout_s": COMMAND_TIMEOUT_S,
            "healthz_timeout_s": HEALTHZ_TIMEOUT_S,
            "tick_seconds": 3600,  # no tick of the clock is in flight when the database stops
        }
    )
    config = config.model_copy(update={"server": server_settings})
    server = QueueServer(config, Store(config), host="127.0.0.1", port=0)
    await server.start()
    auth = P.DeviceAuth(device_id="kiosk-1", token=credential("kiosk-1"))
    kiosk = HallClient(f"ws://127.0.0.1:{server.port}/ws", auth, request_timeout=NO_HANG_S)
    issue = {"type": "issue_ticket", "service": SERVICE}
    try:
        await kiosk.connect()
        before = await kiosk.command(issue, request_key=new_request_key())
        in_flight, queued = new_request_key(), new_request_key()

        with stopped(cluster):
            # The first reaches the database and waits there; the second waits behind it.
            first = asyncio.create_task(kiosk.command(issue, request_key=in_flight))
            await asyncio.sleep(0.2)  # so the first is the one the database holds
            second = asyncio.create_task(kiosk.command(issue, request_key=queued))
            for attempt in (first, second):
                with pytest.raises(ServerError) as refused:
                    await attempt
                assert refused.value.code == "unavailable"
            assert await asyncio.to_thread(healthz, server.port) == 503

        # The first attempt commits once the database resumes; its retry is answered from it.
        retried = await kiosk.command(issue, request_key=in_flight)
        assert server.m_commands.labels("issue_ticket", "replayed")._value.get() == 1
        # The second never began: its retry issues it now, and once.
        other = await kiosk.command(issue, request_key=queued)
        again = await kiosk.command(issue, request_key=queued)
        assert again.ticket.id == other.ticket.id != retried.ticket.id
        assert again.resident_token == other.resident_token
        assert await asyncio.to_thread(healthz, server.port) == 200

        ids = ticket_ids(cluster.url, config.hall.id)
        expected = {before.ticket.id, retried.ticket.id, other.ticket.id}
        assert sorted(ids) == sorted(expected)
    finally:
        await kiosk.close()
        async with asyncio.timeout(NO_HANG_S):  # a server that hangs fails, not the suite
            await server.stop()
