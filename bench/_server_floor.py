"""The fan-out floor: the least a websockets server can do to push one message to N clients.

    python -m bench._server_floor [--host H] [--port P]

A client sends "hello" (answered "welcome", as our server answers an authentication) and
"sub" (joins the subscribers, answered "ok"). Any other text message is a trigger: its bytes go
unchanged to every subscriber through ``websockets.asyncio.server.broadcast()``. The server
runs with the library's defaults (permessage-deflate offered, keepalive pings), as our queue
server does, so the two differ only in what happens between the request and the broadcast.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed


async def main(host: str, port: int) -> None:
    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        try:
            async for message in ws:
                if message == "hello":
                    await ws.send("welcome")
                elif message == "sub":
                    subscribers.add(ws)
                    await ws.send("ok")
                else:
                    broadcast(subscribers, message)
        except ConnectionClosed:
            pass
        finally:
            subscribers.discard(ws)

    async with serve(handler, host, port, ping_interval=20, ping_timeout=20) as server:
        # The parent reads the port from this line.
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
    sys.exit(0)
