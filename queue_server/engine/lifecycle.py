"""The lifecycle tables: every legal move of a ticket, a counter and an appointment.

Each table maps (state, command) to the next state; ``None`` stands for "not yet created". The
tables are checked when this module is imported: every state must be reachable, and every state
that is not declared final must have a way out. Moving anything goes through ``move()``, which
raises ``IllegalTransition`` naming the object, the command and the state.
"""

from __future__ import annotations

from enum import StrEnum

from queue_server.errors import IllegalTransition
from queue_server.protocol.states import AppointmentState, CounterState, TicketState

T, C, A = TicketState, CounterState, AppointmentState

TICKET_MOVES: dict[tuple[TicketState | None, str], TicketState] = {
    (None, "issue"): T.WAITING,
    (T.WAITING, "call"): T.CALLED,
    (T.CALLED, "recall"): T.CALLED,
    (T.CALLED, "start"): T.SERVING,
    (T.SERVING, "finish"): T.DONE,
    (T.CALLED, "no_show"): T.NO_SHOW,
    (T.NO_SHOW, "requeue"): T.WAITING,
    # A transfer (受理 then 制证) sends the ticket to another service's queue.
    (T.WAITING, "transfer"): T.WAITING,
    (T.CALLED, "transfer"): T.WAITING,
    (T.SERVING, "transfer"): T.WAITING,
    # A counter closing hands its resident back to the head of the queue.
    (T.CALLED, "return"): T.WAITING,
    (T.SERVING, "return"): T.WAITING,
    (T.WAITING, "move"): T.WAITING,
    (T.WAITING, "change_priority"): T.WAITING,
    (T.WAITING, "cancel"): T.CANCELLED,
    (T.CALLED, "cancel"): T.CANCELLED,
    (T.NO_SHOW, "cancel"): T.CANCELLED,
    # The day ends: whatever is still open is cancelled.
    (T.WAITING, "expire"): T.CANCELLED,
    (T.CALLED, "expire"): T.CANCELLED,
    (T.SERVING, "expire"): T.CANCELLED,
    (T.NO_SHOW, "expire"): T.CANCELLED,
}
TICKET_FINAL = {T.DONE, T.CANCELLED}
TICKET_OPEN = {T.WAITING, T.CALLED, T.SERVING}

COUNTER_MOVES: dict[tuple[CounterState | None, str], CounterState] = {
    (None, "create"): C.CLOSED,
    (C.CLOSED, "open"): C.IDLE,
    (C.IDLE, "close"): C.CLOSED,
    (C.PAUSED, "close"): C.CLOSED,
    (C.CALLING, "close"): C.CLOSED,
    (C.SERVING, "close"): C.CLOSED,
    (C.IDLE, "pause"): C.PAUSED,
    (C.PAUSED, "resume"): C.IDLE,
    (C.IDLE, "call"): C.CALLING,
    (C.CALLING, "recall"): C.CALLING,
    (C.CALLING, "start"): C.SERVING,
    (C.SERVING, "finish"): C.IDLE,
    (C.CALLING, "no_show"): C.IDLE,
    (C.CALLING, "transfer"): C.IDLE,
    (C.SERVING, "transfer"): C.IDLE,
    # The resident's ticket was cancelled while called (left the hall, manager's decision).
    (C.CALLING, "release"): C.IDLE,
    (C.IDLE, "reskill"): C.IDLE,
    (C.CLOSED, "reskill"): C.CLOSED,
    (C.PAUSED, "reskill"): C.PAUSED,
    (C.CALLING, "reskill"): C.CALLING,
    (C.SERVING, "reskill"): C.SERVING,
}
COUNTER_FINAL: set[CounterState] = set()

APPOINTMENT_MOVES: dict[tuple[AppointmentState | None, str], AppointmentState] = {
    (None, "book"): A.BOOKED,
    (A.BOOKED, "cancel"): A.CANCELLED,
    (A.BOOKED, "check_in"): A.CHECKED_IN,
    (A.BOOKED, "no_show"): A.NO_SHOW,
}
APPOINTMENT_FINAL = {A.CHECKED_IN, A.CANCELLED, A.NO_SHOW}


def move(kind: str, table: dict, ident: object, state: StrEnum | None, command: str) -> StrEnum:
    """The state after ``command``, or ``IllegalTransition`` if the table forbids it."""
    try:
        return table[(state, command)]
    except KeyError:
        raise IllegalTransition(kind, ident, command, state or "new") from None


def check_table(table: dict, states: type[StrEnum], final: set) -> None:
    """Reject unreachable states and traps (non-final states with no way out)."""
    reachable: set = set()
    frontier = [None]
    while frontier:
        current = frontier.pop()
        for (source, _command), target in table.items():
            if source == current and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    unreachable = set(states) - reachable
    if unreachable:
        raise AssertionError(f"{states.__name__}: unreachable states {sorted(unreachable)}")
    for state in states:
        exits = {target for (source, _), target in table.items() if source == state}
        leaves = exits - {state}
        if state in final and exits:
            raise AssertionError(f"{states.__name__}: final state {state} has moves {exits}")
        if state not in final and not leaves:
            raise AssertionError(f"{states.__name__}: {state} is a trap (no way out)")


check_table(TICKET_MOVES, TicketState, TICKET_FINAL)
check_table(COUNTER_MOVES, CounterState, COUNTER_FINAL)
check_table(APPOINTMENT_MOVES, AppointmentState, APPOINTMENT_FINAL)
