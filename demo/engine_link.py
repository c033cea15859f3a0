"""The staff console's ``HallLink`` on an in-memory ``Hall``: no server, a clock of one's own.

The demo's simulated clerks and the console's tests drive a hall this way. What it returns is
what a ``ClientLink`` would get from the server: the events as the server sends them to a
window, the window's status from the same views the server's snapshot carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from console.app import WindowEvent, WindowStatus, window_events, window_status
from queue_server import views
from queue_server.engine.hall import Hall
from queue_server.protocol import commands as C


class EngineLink:
    """``HallLink`` over an in-memory ``Hall`` and a given clock: simulations and tests."""

    def __init__(self, hall: Hall, window: int, clock: Callable[[], dt.datetime]):
        self.hall = hall
        self.window = window
        self.clock = clock

    def execute(self, command: C.Command) -> list[WindowEvent]:
        return window_events(
            views.manager_event(ev).model_dump(mode="json")
            for ev in self.hall.handle(command, self.clock())
        )

    def status(self) -> WindowStatus:
        now = self.clock()
        counter = self.hall.counter(self.window)  # NotFound for a window the hall lacks
        view = next(c for c in views.counters_view(self.hall) if c.id == counter.id)
        ticket = None
        if counter.ticket_id is not None and counter.ticket_id in self.hall.tickets:
            held = self.hall.tickets[counter.ticket_id]
            ticket = views.ticket_view(self.hall, held, now, full=True)
        services = views.services_status(self.hall, now)
        return window_status(self.hall.config, view, services, ticket, now)
