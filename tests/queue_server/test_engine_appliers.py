"""The appliers take every new state from the lifecycle tables: replaying a day that makes
every kind of event, each event moves its ticket, counter or booking exactly as the table says
for the command it records; an event the table forbids is refused on replay."""

from __future__ import annotations

import pytest

from queue_server import errors as E
from queue_server.engine import events as V
from queue_server.engine.hall import Hall
from queue_server.engine.lifecycle import APPOINTMENT_MOVES, COUNTER_MOVES, TICKET_MOVES
from queue_server.protocol import commands as C
from queue_server.protocol.states import TicketState
from tests.queue_server.hall_factory import BIRTH, EMPLOYMENT, SI_CARD, Driver, local

# Event -> the command the tables know it by, for its ticket and for its counter (None: the
# event leaves the counter's state alone).
TICKET_COMMAND = {
    V.TicketIssued: "issue",
    V.TicketCalled: "call",
    V.TicketRecalled: "recall",
    V.TicketStarted: "start",
    V.TicketFinished: "finish",
    V.TicketNoShow: "no_show",
    V.TicketRequeued: "requeue",
    V.TicketTransferred: "transfer",
    V.TicketReturned: "return",
    V.TicketMoved: "move",
    V.TicketPriorityChanged: "change_priority",
}
COUNTER_COMMAND = {
    V.TicketCalled: "call",
    V.TicketRecalled: "recall",
    V.TicketStarted: "start",
    V.TicketFinished: "finish",
    V.TicketNoShow: "no_show",
    V.CounterOpened: "open",
    V.CounterClosed: "close",
    V.CounterPaused: "pause",
    V.CounterResumed: "resume",
    V.CounterReskilled: "reskill",
}
APPOINTMENT_COMMAND = {
    V.AppointmentBooked: "book",
    V.AppointmentCancelled: "cancel",
    V.AppointmentCheckedIn: "check_in",
    V.AppointmentNoShow: "no_show",
}


def called(events: list[V.Event]) -> str:
    return next(e.number for e in events if isinstance(e, V.TicketCalled))


def busy_day() -> Driver:
    """Thursday and Friday with every kind of ticket, counter and booking event."""
    d = Driver()
    d.do(C.Tick())
    booked = [
        d.do(C.BookAppointment(resident_key=r, service=BIRTH, slot_start=local(2026, 11, 27, h)))
        for r, h in (("r1", 10), ("r2", 11), ("r3", 14))
    ]
    d.do(C.CancelAppointment(appointment=booked[2][0].appointment_id))
    tickets = [d.issue(s).number for s in (BIRTH, BIRTH, EMPLOYMENT, BIRTH, BIRTH, BIRTH)]
    d.do(C.MoveTicket(ticket=tickets[3], other=tickets[1]))
    d.do(C.ChangePriority(ticket=tickets[4], priority="elderly"))
    d.do(C.CallNext(counter=1))
    d.do(C.Recall(counter=1))
    d.do(C.StartService(counter=1))
    d.clock.advance(minutes=5)
    d.do(C.FinishService(counter=1))
    skipped = called(d.do(C.CallNext(counter=1)))
    d.do(C.MarkNoShow(counter=1))
    d.do(C.Requeue(ticket=skipped))
    d.do(C.CallNext(counter=1))
    d.do(C.StartService(counter=1))
    d.do(C.Transfer(counter=1, to_service=SI_CARD))  # while served
    d.do(C.Transfer(ticket=called(d.do(C.CallNext(counter=2))), to_service=BIRTH))  # called
    d.do(C.Transfer(ticket=tickets[5], to_service=EMPLOYMENT))  # waiting
    d.do(C.CancelTicket(ticket=called(d.do(C.CallNext(counter=1)))))  # called: frees counter 1
    d.do(C.CallNext(counter=1))
    d.do(C.CloseCounter(counter=1))  # hands its called resident back
    d.do(C.OpenCounter(counter=1))
    d.do(C.CallNext(counter=1))
    d.do(C.StartService(counter=1))
    d.do(C.CloseCounter(counter=1))  # hands its served resident back
    d.do(C.OpenCounter(counter=1))
    d.do(C.PauseCounter(counter=1, reason="break"))
    d.do(C.ResumeCounter(counter=1))
    d.do(C.Reskill(counter=1, skills=[["A"], ["B"]]))
    # The day ends with residents waiting, called, served and skipped.
    for _ in range(3):
        d.issue(BIRTH)
    d.do(C.CallNext(counter=1))
    d.do(C.MarkNoShow(counter=1))
    d.do(C.CallNext(counter=1))
    d.do(C.StartService(counter=1))
    d.do(C.CallNext(counter=5))
    d.clock.set(local(2026, 11, 27, 10, 0))  # Friday: the first booking checks in
    d.do(C.CheckIn(appointment=booked[0][0].appointment_id))
    d.clock.set(local(2026, 11, 27, 11, 30))  # the second one lapses
    d.do(C.Tick())
    return d


def test_every_applier_takes_the_tables_state():
    d = busy_day()
    twin = Hall(d.hall.config, policy=d.hall.policy)
    seen: set[type] = set()
    ticket_moves: set[tuple] = set()
    for event in d.log:
        kind = type(event)
        seen.add(kind)
        ticket_before = counter_before = appointment_before = None
        ticket_id = getattr(event, "ticket_id", None)
        if kind is V.TicketIssued:
            ticket_id = event.ticket.id
        if ticket_id in twin.tickets:
            ticket_before = twin.tickets[ticket_id].state
        counter_id = getattr(event, "counter", None)
        if counter_id is not None:
            counter_before = twin.counters[counter_id].state
            holder = twin.counters[counter_id].ticket_id
        if kind in APPOINTMENT_COMMAND and event.appointment_id in twin.appointments:
            appointment_before = twin.appointments[event.appointment_id].state
        twin.apply(event)
        if kind in TICKET_COMMAND or kind is V.TicketCancelled:
            command = TICKET_COMMAND.get(kind)
            if kind is V.TicketCancelled:
                command = "expire" if event.reason == "day_closed" else "cancel"
            expected = TICKET_MOVES[(ticket_before, command)]
            ticket_moves.add((ticket_before, command))
            assert twin.tickets[ticket_id].state is expected, (event, command)
        if counter_id is not None:
            command = COUNTER_COMMAND.get(kind)
            if kind in (V.TicketTransferred, V.TicketCancelled) and holder == ticket_id:
                # The counter that held the ticket is freed; a served ticket is only cancelled
                # when the day ends, and its counter's close follows.
                command = "transfer" if kind is V.TicketTransferred else "release"
                if ticket_before is TicketState.SERVING and kind is V.TicketCancelled:
                    command = None
            state = twin.counters[counter_id].state
            if command is None:
                assert state is counter_before, event
            else:
                assert state is COUNTER_MOVES[(counter_before, command)], (event, command)
        if kind in APPOINTMENT_COMMAND:
            expected = APPOINTMENT_MOVES[(appointment_before, APPOINTMENT_COMMAND[kind])]
            assert twin.appointments[event.appointment_id].state is expected, event
    assert set(TICKET_COMMAND) | set(COUNTER_COMMAND) | set(APPOINTMENT_COMMAND) <= seen
    # The day's end expired residents waiting, called, served and skipped.
    assert {(state, "expire") for state in TicketState if state not in ("done", "cancelled")} <= (
        ticket_moves
    )
    # Every transition the busy day made was one of the table's, and the twin is the hall.
    assert {t.id: t.state for t in twin.tickets.values()} == {
        t.id: t.state for t in d.hall.tickets.values()
    }
    assert {c.id: c.state for c in twin.counters.values()} == {
        c.id: c.state for c in d.hall.counters.values()
    }


def test_an_event_the_table_forbids_is_refused_on_replay():
    d = Driver()
    d.do(C.Tick())
    ticket = d.issue(BIRTH)
    twin = d.replay()
    started = V.TicketStarted(
        seq=twin.seq + 1, at=d.clock.now, ticket_id=ticket.id, number=ticket.number, counter=1
    )
    with pytest.raises(E.IllegalTransition) as info:
        twin.apply(started)
    assert info.value.to_dict()["details"] == {
        "kind": "ticket",
        "ident": ticket.number,
        "command": "start",
        "state": "waiting",
    }
