"""The client every terminal, console and test uses to talk to the queue server.

- ``connection``: ``HallClient``, the asyncio client (reconnects, resumes its streams);
- ``errors``: the client's errors, and ``engine_error`` (a server's typed error as the engine
  error of its code);
- ``sync``: ``LoopThread``, the one bridge from threads to the client's event loop, and
  ``SyncClient``, a ``HallClient`` for blocking callers.

Of ours, this package imports only ``queue_server.protocol`` and ``queue_server.errors``.
"""

from queue_server.client.connection import ConnectionState, HallClient, new_request_key
from queue_server.client.errors import (
    AuthFailed,
    ClientError,
    Disconnected,
    RemoteRefusal,
    ServerError,
    engine_error,
)
from queue_server.client.sync import LinkDown, LoopThread, SyncClient

__all__ = [
    "AuthFailed",
    "ClientError",
    "ConnectionState",
    "Disconnected",
    "HallClient",
    "LinkDown",
    "LoopThread",
    "RemoteRefusal",
    "ServerError",
    "SyncClient",
    "engine_error",
    "new_request_key",
]
