"""Fake ESC/POS printers for the tests: one on a TCP port of 127.0.0.1, one behind a pty master.

Both drive devices.printer_sim.PrinterModel, which answers DLE EOT from its state and records the
job. The TCP one is what a network printer on port 9100 looks like to python-escpos.
"""

from __future__ import annotations

import os
import select
import socket
import threading

from devices.printer_sim import PrinterModel, PrinterState


class FakeTcpPrinter:
    def __init__(self, state: PrinterState | None = None) -> None:
        self.model = PrinterModel(state=state or PrinterState())
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            socks = [self.server, *self._clients]
            ready, _, _ = select.select(socks, [], [], 0.05)
            for s in ready:
                if s is self.server:
                    conn, _ = self.server.accept()
                    self._clients.append(conn)
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._clients.remove(s)
                    s.close()
                    continue
                answer = self.model.feed(data)
                if answer:
                    s.sendall(answer)

    def drop_connections(self) -> None:
        """The printer is switched off: connections close, new ones are refused."""
        self._stop.set()
        self._thread.join(timeout=5)
        for s in self._clients:
            s.close()
        self._clients.clear()
        self.server.close()

    def close(self) -> None:
        self.drop_connections()


class FakeFdPrinter:
    """A printer on the device side of a pty (serial printers, /dev/usb/lp0 look alike)."""

    def __init__(self, fd: int, state: PrinterState | None = None) -> None:
        self.fd = fd
        self.model = PrinterModel(state=state or PrinterState())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.fd], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            answer = self.model.feed(data)
            if answer:
                os.write(self.fd, answer)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
