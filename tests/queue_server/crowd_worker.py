"""A crowd of public subscribers in their own process, for the 2,000-connection test.

python -m tests.queue_server.crowd_worker URL DEVICE_ID TOKEN CONNECTIONS CALLS

Opens CONNECTIONS websocket connections, authenticates each as the device and subscribes it to
"public"; prints "READY <seq>" (the highest subscription seq). Then each connection reads until
it has seen CALLS ticket_called events; prints "DONE <n> <digest>" where n counts connections
that saw all of them and digest is the list of called numbers each saw, if they all agree.
Closes everything and exits.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from websockets.asyncio.client import connect


async def member(url: str, auth: dict, opening: asyncio.Semaphore, ready: list) -> object:
    async with opening:
        ws = await connect(url, open_timeout=60, max_size=None, ping_interval=None)
        await ws.send(json.dumps({"v": 1, "type": "hello", "id": 0, "auth": auth}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        await ws.send(json.dumps({"v": 1, "type": "subscribe", "id": 1, "streams": ["public"]}))
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "reply":
                ready.append(message["result"]["seq"])
                return ws


async def watch(ws, calls: int) -> list[str]:
    seen: list[str] = []
    while len(seen) < calls:
        message = json.loads(await ws.recv())
        if message["type"] == "event" and message["event"]["type"] == "ticket_called":
            seen.append(f"{message['seq']}:{message['event']['number']}")
    return seen


async def main(url: str, device: str, token: str, connections: int, calls: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, connections + 256)), hard))
    auth = {"kind": "device", "device_id": device, "token": token}
    opening = asyncio.Semaphore(100)  # no more half-open at once than a listen backlog takes
    ready: list[int] = []
    crowd = await asyncio.gather(*(member(url, auth, opening, ready) for _ in range(connections)))
    print(f"READY {max(ready)}", flush=True)
    seen = await asyncio.gather(*(watch(ws, calls) for ws in crowd))
    complete = sum(1 for s in seen if len(s) == calls)
    digest = ",".join(seen[0]) if all(s == seen[0] for s in seen) else "DISAGREE"
    print(f"DONE {complete} {digest}", flush=True)
    await asyncio.gather(*(ws.close() for ws in crowd))
    return 0


if __name__ == "__main__":
    url, device, token, connections, calls = sys.argv[1:6]
    sys.exit(asyncio.run(main(url, device, token, int(connections), int(calls))))
