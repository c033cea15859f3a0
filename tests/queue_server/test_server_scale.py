"""2,000 concurrent connections: authenticated, subscribed to the public stream, each receiving
every call. The crowd lives in a child process, as screens live on other machines."""

from __future__ import annotations

import asyncio
import resource
import sys

import pytest

from harness.servers import ROOT, credential, running_server
from queue_server.protocol import commands as C

CONNECTIONS = 2000
CALLS = 10
SERVICE = "liuguan.residence_registration"


def raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.mark.slow
async def test_2000_subscribers_each_receive_every_call(tmp_path):
    raise_open_files(CONNECTIONS + 512)
    async with running_server(tmp_path) as hall:
        kiosk, window = hall.device("kiosk-1"), hall.staff("w5", 5)
        await kiosk.connect()
        await window.connect()
        for _ in range(CALLS):
            await kiosk.command(C.IssueTicket(service=SERVICE))
        crowd = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.queue_server.crowd_worker", hall.url, "signage-main",
            credential("signage-main"), str(CONNECTIONS), str(CALLS),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            ready = await asyncio.wait_for(crowd.stdout.readline(), 60)
            assert ready.startswith(b"READY"), ready
            assert len(hall.server.subscribers["public"]) == CONNECTIONS
            assert hall.server.m_connections.labels("signage")._value.get() == CONNECTIONS
            expected = []
            for _ in range(CALLS):
                reply = await window.command(C.CallNext(counter=5))
                called = reply.events[-1]
                expected.append(f"{called['seq']}:{called['number']}")
                await window.command(C.MarkNoShow(counter=5))
            done = (await asyncio.wait_for(crowd.stdout.readline(), 60)).decode().split()
            assert done[0] == "DONE"
            assert int(done[1]) == CONNECTIONS, "some connections missed calls"
            assert done[2] == ",".join(expected), "the connections saw different calls"
            assert await asyncio.wait_for(crowd.wait(), 60) == 0
        finally:
            if crowd.returncode is None:
                crowd.kill()
                await crowd.wait()
        await kiosk.close()
        await window.close()
