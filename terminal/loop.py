"""The loop on a thread a terminal runs its hall client in, beside the asyncio loop that runs
Kivy: the client's own ``LoopThread`` (``queue_server/client/sync.py``, the one bridge between
threads and an event loop), named here so that ``ui``, which imports only ``terminal``, can
take one. ``RECANCEL_S``: how long a cancelled task may take before it is cancelled again."""

from queue_server.client.sync import RECANCEL_S, LoopThread

__all__ = ["RECANCEL_S", "LoopThread"]
