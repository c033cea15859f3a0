"""terminal.notify: the sd_notify helper against a real datagram socket."""

from __future__ import annotations

import os
import socket

from terminal.notify import Notifier


def test_notifier_sends_ready_and_watchdog(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "30000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        notifier = Notifier.from_environment()
        assert notifier.enabled and notifier.interval == 15.0
        assert notifier.ready("up") and notifier.pet()
        assert server.recv(256) == b"READY=1\nSTATUS=up"
        assert server.recv(256) == b"WATCHDOG=1"
        notifier.close()
    finally:
        server.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not Notifier.from_environment().pet()  # outside systemd: nothing, no error
