"""The hall engine: ``Hall.handle(command, now) -> list[Event]``.

Sans-I/O: it never awaits, sleeps, reads a clock or touches a socket, file or database. Each
handler validates first and then emits events; the appliers (``apply``) are the only code that
changes state, so replaying the event log rebuilds the state exactly. Each applier takes the new
state of a ticket, counter or booking from the lifecycle tables (``move``), which also refuse a
move they do not hold. The storage adapter takes the events and the changed records
(``take_changes``) and commits both in one transaction.

The hall keeps the command dispatch and the lifecycle of tickets and counters; the wait
estimates are an ``Estimator`` (estimate.py) and the bookings an ``AppointmentBook``
(appointments.py), both built here on the hall's own state.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from queue_server import errors as E
from queue_server.config import HallConfig
from queue_server.engine import events as V
from queue_server.engine.appointments import AppointmentBook
from queue_server.engine.dispatch import DefaultPolicy, DispatchPolicy
from queue_server.engine.estimate import (  # noqa: F401 (tests read the constants here)
    OPEN_COUNTER_STATES,
    OVERTAKING_LOOKBACK_S,
    REPLAY_LIMIT,
    Estimate,
    Estimator,
)
from queue_server.engine.lifecycle import (
    COUNTER_MOVES,
    TICKET_MOVES,
    TICKET_OPEN,
    move,
)
from queue_server.engine.model import Appointment, Counter, DayState, Notice, Ticket
from queue_server.engine.waiting import Arrivals, WaitingIndex
from queue_server.protocol import commands as C
from queue_server.protocol.states import CounterState, TicketState

HEAD_RANK = -1  # a resident handed back by a closing counter goes before every class
HELD = {TicketState.CALLED, TicketState.SERVING}  # the ticket states that occupy a counter
DAY_CLOSED = "day_closed"  # the reason of the cancellations that end a day (expire)


@dataclass
class Changes:
    """Records changed since the last ``take_changes``: what the storage must upsert."""

    tickets: list[Ticket] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    removed_notices: list[str] = field(default_factory=list)
    day: DayState | None = None


class Hall:
    """One hall's queues, counters, appointments and notices for the current day."""

    def __init__(self, config: HallConfig, *, policy: DispatchPolicy | None = None):
        self.config = config
        self.zone = config.zone
        self.rules = config.rules
        self.queue_of = config.queue_of()
        self.settings = config.service_settings()
        self.classes = {c.name: c for c in config.priority_classes}
        self.policy = policy or DefaultPolicy(config.rules.starvation_minutes * 60)
        self.seq = 0
        self.today = DayState()
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, str] = {}
        # Waiting tickets per service, in insertion order; the policy orders them.
        self.waiting: dict[str, dict[str, Ticket]] = {s: {} for s in self.queue_of}
        # The same tickets kept sorted, so calls and estimates need not walk them all.
        self.index = WaitingIndex(self.queue_of)
        # Today's tickets by class and arrival: the estimate's overtaking reads the last hour of
        # the better classes only.
        self.arrivals = Arrivals()
        self.open_by_resident: dict[tuple[str, str], str] = {}
        self.counters: dict[int, Counter] = {}
        for counter in config.counters:
            tiers, _ = config.expand_skills(counter.skills)
            self.counters[counter.id] = Counter(id=counter.id, kind=counter.kind, skills=tiers)
        self.book = AppointmentBook(config)
        self.appointments = self.book.appointments  # the same dicts, for readers of the hall
        self.slot_load = self.book.slot_load
        self.notices: dict[str, Notice] = {}
        self.estimates = Estimator(config, self)  # reads the state above (HallState)
        self.service_times = self.estimates.service_times  # the measured times, read by tests
        # Ticket objects, not ids: a new day drops yesterday's tickets from memory before they
        # are written.
        self._dirty_tickets: dict[str, Ticket] = {}
        self._dirty_counters: set[int] = set()
        self._dirty_notices: set[str] = set()
        self._removed_notices: set[str] = set()
        self._dirty_day = False
        self._out: list[V.Event] = []
        self._handlers: dict[type, Callable] = {
            C.IssueTicket: self._issue,
            C.CallNext: self._call_next,
            C.CallTicket: self._call_ticket,
            C.Recall: self._recall,
            C.StartService: self._start,
            C.FinishService: self._finish,
            C.MarkNoShow: self._no_show,
            C.Transfer: self._transfer,
            C.Requeue: self._requeue,
            C.PauseCounter: self._pause,
            C.ResumeCounter: self._resume,
            C.OpenCounter: self._open_counter,
            C.CloseCounter: self._close_counter,
            C.MoveTicket: self._move,
            C.ChangePriority: self._change_priority,
            C.Reskill: self._reskill,
            C.CancelTicket: self._cancel,
            C.PostNotice: self._post_notice,
            C.RemoveNotice: self._remove_notice,
            C.BookAppointment: self._book,
            C.CancelAppointment: self._cancel_appointment,
            C.CheckIn: self._check_in,
            C.Tick: lambda cmd, now: None,
        }
        self._appliers: dict[type, Callable] = {
            V.DayOpened: self._on_day_opened,
            V.TicketIssued: self._on_issued,
            V.TicketCalled: self._on_called,
            V.TicketRecalled: self._on_recalled,
            V.TicketStarted: self._on_started,
            V.TicketFinished: self._on_finished,
            V.TicketNoShow: self._on_no_show,
            V.TicketRequeued: self._on_requeued,
            V.TicketTransferred: self._on_transferred,
            V.TicketReturned: self._on_returned,
            V.TicketCancelled: self._on_cancelled,
            V.TicketMoved: self._on_moved,
            V.TicketPriorityChanged: self._on_priority_changed,
            V.CounterOpened: self._on_counter_opened,
            V.CounterClosed: self._on_counter_closed,
            V.CounterPaused: self._on_counter_paused,
            V.CounterResumed: self._on_counter_resumed,
            V.CounterReskilled: self._on_counter_reskilled,
            V.AppointmentBooked: self.book.on_booked,
            V.AppointmentCancelled: self.book.on_cancelled,
            V.AppointmentCheckedIn: self.book.on_checked_in,
            V.AppointmentNoShow: self.book.on_no_show,
            V.NoticePosted: self._on_notice_posted,
            V.NoticeRemoved: self._on_notice_removed,
        }

    # --- the one entry point -----------------------------------------------------------------

    def handle(self, command: C.Command, now: dt.datetime) -> list[V.Event]:
        """Carry out ``command`` at time ``now`` (timezone-aware) and return its events.

        Time's own effects (a new day, bookings past their grace) come first. A refused command
        raises a typed ``EngineError`` whose ``events`` holds those effects, which did happen.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._out = []
        try:
            self._housekeep(now)
            housekeeping = len(self._out)
            try:
                self._handlers[type(command)](command, now)
            except E.EngineError as exc:
                exc.events = self._out[:housekeeping]
                raise
            return self._out
        finally:
            self._out = []

    def apply(self, event: V.Event) -> None:
        """Apply one event from the log (replay, or another process's commands)."""
        if event.seq != self.seq + 1:
            raise E.StorageError(f"event {event.seq} out of order after {self.seq}")
        self.seq = event.seq
        self.estimates.changed()
        self._appliers[type(event)](event)

    def take_changes(self) -> Changes:
        """The records changed since the last call, for the storage adapter to write."""
        changes = Changes(
            tickets=list(self._dirty_tickets.values()),
            counters=[self.counters[i] for i in self._dirty_counters],
            appointments=self.book.take_changed(),
            notices=[self.notices[i] for i in self._dirty_notices if i in self.notices],
            removed_notices=sorted(self._removed_notices),
            day=self.today if self._dirty_day else None,
        )
        self._dirty_tickets.clear()
        self._dirty_counters.clear()
        self._dirty_notices.clear()
        self._removed_notices.clear()
        self._dirty_day = False
        return changes

    # --- emitting -----------------------------------------------------------------------------

    def _emit(self, cls: type, now: dt.datetime, **fields) -> V.Event:
        event = cls(seq=self.seq + 1, at=now, **fields)
        self.apply(event)
        self._out.append(event)
        return event

    # --- time ---------------------------------------------------------------------------------

    def local(self, now: dt.datetime) -> dt.datetime:
        return now.astimezone(self.zone)

    def _housekeep(self, now: dt.datetime) -> None:
        day = self.local(now).date()
        # Only forward: a clock stepped back over midnight must not reopen yesterday.
        if self.today.day is None or day > self.today.day:
            self._roll_over(day, now)
        for appointment_id in self.book.lapsed(now):
            self._emit(V.AppointmentNoShow, now, appointment_id=appointment_id)

    def _roll_over(self, day: dt.date, now: dt.datetime) -> None:
        # Yesterday's open tickets end with the day; the counters close.
        for ticket in list(self.tickets.values()):
            if ticket.state in TICKET_OPEN or ticket.state is TicketState.NO_SHOW:
                move("ticket", TICKET_MOVES, ticket.number, ticket.state, "expire")
                self._emit(
                    V.TicketCancelled,
                    now,
                    ticket_id=ticket.id,
                    number=ticket.number,
                    reason=DAY_CLOSED,
                    # Only a called or served ticket is at a counter; a no-show's is history.
                    counter=ticket.counter if ticket.state in HELD else None,
                )
        for counter in self.counters.values():
            if counter.state is not CounterState.CLOSED:
                self._emit(V.CounterClosed, now, counter=counter.id)
        self._emit(V.DayOpened, now, day=day)
        if self.config.hours.is_workday(day):
            for spec in self.config.counters:
                if spec.open_at_start:
                    self._emit(V.CounterOpened, now, counter=spec.id)

    def is_open_for_tickets(self, now: dt.datetime) -> bool:
        local = self.local(now)
        hours = self.config.hours
        return (
            hours.is_workday(local.date())
            and hours.open <= local.time().replace(tzinfo=None) < hours.ticket_until
        )

    # --- look-ups -----------------------------------------------------------------------------

    def ticket(self, ref: str) -> Ticket:
        """A ticket of today by id ("20261126-A001") or number ("A001")."""
        ticket = self.tickets.get(ref) or self.tickets.get(self.by_number.get(ref, ""))
        if ticket is None:
            raise E.NotFound("ticket", ref)
        return ticket

    def counter(self, counter_id: int) -> Counter:
        counter = self.counters.get(counter_id)
        if counter is None:
            raise E.NotFound("counter", counter_id)
        return counter

    def _service(self, service: str) -> str:
        if service not in self.queue_of:
            raise E.NotFound("service", service)
        return service

    def _class(self, name: str):
        cls = self.classes.get(name)
        if cls is None:
            raise E.NotFound("priority class", name)
        return cls

    def waiting_tickets(self, services: Iterable[str] | None = None) -> Iterator[Ticket]:
        for service in services if services is not None else self.waiting:
            yield from self.waiting.get(service, {}).values()

    def ordered_waiting(self, service: str | None = None) -> list[Ticket]:
        """Waiting tickets in dispatch order (rank, then order key) — what screens list."""
        tickets = self.waiting_tickets([service] if service else None)
        return sorted(tickets, key=lambda t: (t.rank, t.order_key))

    # --- estimates (estimate.py) -------------------------------------------------------------

    def estimate(self, ticket: Ticket, now: dt.datetime) -> Estimate:
        """(people ahead in its queue, expected wait in seconds or None when no counter is open)."""
        return self.estimates.estimate(ticket, now)

    def estimate_new(self, service: str, now: dt.datetime, priority: str = "normal") -> Estimate:
        """What a resident taking a ticket for ``service`` now would be told."""
        return self.estimates.estimate(self._probe(service, now, priority), now)

    def estimate_new_all(self, now: dt.datetime, priority: str = "normal") -> dict[str, Estimate]:
        """``estimate_new`` for every service, from one replay (what the screens show)."""
        probes = [self._probe(service, now, priority) for service in self.queue_of]
        return self.estimates.estimate_new_all(probes, now)

    def _probe(self, service: str, now: dt.datetime, priority: str) -> Ticket:
        """The ticket a resident taking a ticket for ``service`` now would get (not issued)."""
        cls = self._class(priority)
        return Ticket(
            id=f"(probe {service})",
            number="(probe)",
            day=self.local(now).date(),
            service=service,
            queue=self.queue_of[self._service(service)],
            priority=cls.name,
            rank=cls.rank,
            channel="kiosk",
            resident_key=None,
            arrival=now,
            order_key=now.timestamp(),
            queued_at=now,
        )

    def people_ahead(self, ticket: Ticket) -> int:
        return self.estimates.people_ahead(ticket)

    def waiting_within(self, limit: int) -> list[Ticket]:
        return self.estimates.waiting_within(limit)

    def waiting_count(self) -> int:
        return self.estimates.waiting_count()

    def open_counters_for(self, service: str) -> list[Counter]:
        return self.estimates.open_counters_for(service)

    def mean_service_s(self, service: str) -> float:
        return self.estimates.mean_service_s(service)

    def mean_call_s(self) -> float:
        return self.estimates.mean_call_s()

    def typical_service_s(self, service: str) -> float:
        return self.estimates.typical_service_s(service)

    # The estimate's parts under their old names: the estimate tests compare them one by one
    # with the full recomputation (tests/queue_server/estimate_reference.py).
    def _work_ahead_wait(self, ticket: Ticket, now: dt.datetime) -> float:
        return self.estimates.work_ahead_wait(ticket, now)

    def _overtaking(self, ticket: Ticket, now_ts: float, mean_of) -> float:
        return self.estimates.overtaking(ticket, now_ts, mean_of)

    def _free_at(self, counter: Counter, now_ts: float, mean_of: Callable[[str], float]) -> float:
        return self.estimates.free_at(counter, now_ts, mean_of)

    def _calling_starts(self, now: dt.datetime) -> float:
        return self.estimates.calling_starts(now)

    # --- ticket commands ----------------------------------------------------------------------

    def _new_ticket(self, service, priority, channel, resident_key, now, appointment_id=None):
        queue = self.queue_of[service]
        number_no = self.today.sequences.get(queue, 0) + 1
        number = f"{queue}{number_no:03d}"
        # Issuing always follows housekeeping; only an estimate_new() probe may come before the
        # hall's first command, when no day is open yet.
        day = self.today.day or self.local(now).date()
        return Ticket(
            id=f"{day:%Y%m%d}-{number}",
            number=number,
            day=day,
            service=service,
            queue=queue,
            priority=priority,
            rank=self.classes[priority].rank,
            channel=channel,
            resident_key=resident_key,
            arrival=now,
            order_key=now.timestamp(),
            queued_at=now,
            appointment_id=appointment_id,
        )

    def _check_resident(self, resident_key: str | None, service: str) -> None:
        if (
            resident_key
            and self.rules.one_open_ticket_per_service
            and (resident_key, service) in self.open_by_resident
        ):
            held = self.tickets[self.open_by_resident[(resident_key, service)]]
            raise E.AlreadyHoldingTicket(ticket=held.number, service=service)

    def _check_open(self, now: dt.datetime) -> None:
        if not self.is_open_for_tickets(now):
            hours = self.config.hours
            raise E.HallClosed(
                days=",".join(hours.days),
                open=f"{hours.open:%H:%M}",
                until=f"{hours.ticket_until:%H:%M}",
            )

    def _issue(self, cmd: C.IssueTicket, now: dt.datetime) -> None:
        service = self._service(cmd.service)
        self._class(cmd.priority)
        self._check_open(now)
        quota = self.settings[service].daily_quota
        if quota is not None and self.today.issued.get(service, 0) >= quota:
            raise E.QuotaExhausted(service=service, quota=quota)
        self._check_resident(cmd.resident_key, service)
        self._emit_issue(service, cmd.priority, cmd.channel, cmd.resident_key, now)

    def _emit_issue(self, service, priority, channel, resident_key, now, appointment_id=None):
        ticket = self._new_ticket(service, priority, channel, resident_key, now, appointment_id)
        ahead, wait = self.estimate(ticket, now)
        data = V.TicketData(
            id=ticket.id,
            number=ticket.number,
            day=ticket.day,
            service=ticket.service,
            queue=ticket.queue,
            priority=ticket.priority,
            rank=ticket.rank,
            channel=ticket.channel,
            resident_key=ticket.resident_key,
            arrival=ticket.arrival,
            order_key=ticket.order_key,
            appointment_id=appointment_id,
        )
        return self._emit(V.TicketIssued, now, ticket=data, ahead=ahead, estimated_wait_s=wait)

    def _call_next(self, cmd: C.CallNext, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "call")
        # The heads of the sorted queues, not a walk of them all (under the default policy).
        ticket = self.policy.pick_ordered(counter, self.index, now.timestamp())
        if ticket is None:
            raise E.QueueEmpty(counter=counter.id)
        self._emit_call(counter, ticket, now)

    def _emit_call(self, counter: Counter, ticket: Ticket, now: dt.datetime) -> None:
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "call")
        self._emit(
            V.TicketCalled,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            service=ticket.service,
            counter=counter.id,
        )

    def _call_ticket(self, cmd: C.CallTicket, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        ticket = self.ticket(cmd.ticket)
        if not self.rules.allow_call_specific:
            raise E.CallSpecificNotAllowed(counter=counter.id, ticket=ticket.number)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "call")
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "call")
        if ticket.service not in counter.skills:
            raise E.NotSkilled(counter=counter.id, ticket=ticket.number, service=ticket.service)
        self._emit_call(counter, ticket, now)

    def _current(self, counter: Counter) -> Ticket:
        if counter.ticket_id is None:
            raise E.IllegalTransition("counter", counter.id, "serve", counter.state)
        return self.tickets[counter.ticket_id]

    def _recall(self, cmd: C.Recall, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "recall")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "recall")
        self._emit(
            V.TicketRecalled,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            counter=counter.id,
            recalls=ticket.recalls + 1,
        )

    def _start(self, cmd: C.StartService, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "start")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "start")
        self._emit(
            V.TicketStarted, now, ticket_id=ticket.id, number=ticket.number, counter=counter.id
        )

    def _finish(self, cmd: C.FinishService, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "finish")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "finish")
        service_s = max((now - (ticket.started_at or now)).total_seconds(), 0.0)
        self._emit(
            V.TicketFinished,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            counter=counter.id,
            service=ticket.service,
            service_s=service_s,
        )

    def _no_show(self, cmd: C.MarkNoShow, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "no_show")
        ticket = self._current(counter)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "no_show")
        self._emit(
            V.TicketNoShow, now, ticket_id=ticket.id, number=ticket.number, counter=counter.id
        )

    def _transfer(self, cmd: C.Transfer, now: dt.datetime) -> None:
        to_service = self._service(cmd.to_service)
        if cmd.counter is not None:
            counter = self.counter(cmd.counter)
            move("counter", COUNTER_MOVES, counter.id, counter.state, "transfer")
            ticket = self._current(counter)
        elif cmd.ticket is not None:
            ticket = self.ticket(cmd.ticket)
            counter = self.counters.get(ticket.counter) if ticket.counter else None
        else:
            raise E.NotFound("ticket", "(none given)")
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "transfer")
        if to_service == ticket.service:
            raise E.IllegalTransition("ticket", ticket.number, f"transfer to {to_service}", "same")
        if ticket.resident_key and (ticket.resident_key, to_service) in self.open_by_resident:
            self._check_resident(ticket.resident_key, to_service)
        self._emit(
            V.TicketTransferred,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            from_service=ticket.service,
            to_service=to_service,
            queue=self.queue_of[to_service],
            rank=self.classes[ticket.priority].rank,
            counter=counter.id if counter else None,
        )

    def _requeue(self, cmd: C.Requeue, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "requeue")
        grace = self.rules.requeue_grace_minutes * 60
        if ticket.requeued:
            raise E.RequeueRefused(reason="once", ticket=ticket.number)
        if (now - ticket.no_show_at).total_seconds() > grace:
            raise E.RequeueRefused(
                reason="grace",
                ticket=ticket.number,
                minutes=f"{self.rules.requeue_grace_minutes:g}",
            )
        self._check_resident(ticket.resident_key, ticket.service)
        self._emit(
            V.TicketRequeued,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            order_key=now.timestamp(),
        )

    def _cancel(self, cmd: C.CancelTicket, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "cancel")
        counter = ticket.counter if ticket.state is TicketState.CALLED else None
        if counter is not None:
            move("counter", COUNTER_MOVES, counter, self.counters[counter].state, "release")
        self._emit(
            V.TicketCancelled,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            reason=cmd.reason,
            counter=counter,
        )

    def _move(self, cmd: C.MoveTicket, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        other = self.ticket(cmd.other)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "move")
        move("ticket", TICKET_MOVES, other.number, other.state, "move")
        if ticket is other:
            return
        # The neighbour on the far side of `other`, among tickets of the same rank.
        same_rank = [
            t.order_key for t in self.waiting_tickets() if t.rank == other.rank and t is not ticket
        ]
        if cmd.position == "before":
            lower = [k for k in same_rank if k < other.order_key]
            bound = max(lower) if lower else other.order_key - 2.0
        else:
            higher = [k for k in same_rank if k > other.order_key]
            bound = min(higher) if higher else other.order_key + 2.0
        self._emit(
            V.TicketMoved,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            rank=other.rank,
            order_key=(bound + other.order_key) / 2,
        )

    def _change_priority(self, cmd: C.ChangePriority, now: dt.datetime) -> None:
        ticket = self.ticket(cmd.ticket)
        cls = self._class(cmd.priority)
        move("ticket", TICKET_MOVES, ticket.number, ticket.state, "change_priority")
        self._emit(
            V.TicketPriorityChanged,
            now,
            ticket_id=ticket.id,
            number=ticket.number,
            priority=cls.name,
            rank=cls.rank,
        )

    # --- counter commands ---------------------------------------------------------------------

    def _pause(self, cmd: C.PauseCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "pause")
        self._emit(V.CounterPaused, now, counter=counter.id, reason=cmd.reason)

    def _resume(self, cmd: C.ResumeCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "resume")
        self._emit(V.CounterResumed, now, counter=counter.id)

    def _open_counter(self, cmd: C.OpenCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "open")
        self._emit(V.CounterOpened, now, counter=counter.id)

    def _close_counter(self, cmd: C.CloseCounter, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "close")
        if counter.ticket_id is not None:
            ticket = self.tickets[counter.ticket_id]
            move("ticket", TICKET_MOVES, ticket.number, ticket.state, "return")
            self._emit(
                V.TicketReturned, now, ticket_id=ticket.id, number=ticket.number, counter=counter.id
            )
        self._emit(V.CounterClosed, now, counter=counter.id)

    def _reskill(self, cmd: C.Reskill, now: dt.datetime) -> None:
        counter = self.counter(cmd.counter)
        move("counter", COUNTER_MOVES, counter.id, counter.state, "reskill")
        prefixes = set(self.queue_of.values())
        for tier in cmd.skills:
            for skill in tier:
                if skill not in prefixes:
                    self._service(skill)
        tiers, _ = self.config.expand_skills(cmd.skills)
        self._emit(V.CounterReskilled, now, counter=counter.id, skills=tiers)

    # --- notices ------------------------------------------------------------------------------

    def _post_notice(self, cmd: C.PostNotice, now: dt.datetime) -> None:
        self._emit(
            V.NoticePosted,
            now,
            notice_id=f"N{self.seq + 1}",
            text_zh=cmd.text_zh,
            text_en=cmd.text_en,
            starts=cmd.starts,
            ends=cmd.ends,
        )

    def _remove_notice(self, cmd: C.RemoveNotice, now: dt.datetime) -> None:
        if cmd.notice not in self.notices:
            raise E.NotFound("notice", cmd.notice)
        self._emit(V.NoticeRemoved, now, notice_id=cmd.notice)

    # --- appointments (appointments.py) -------------------------------------------------------

    def slots(self, service: str, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The bookable slots of ``service`` on ``day`` (empty if it takes no appointments)."""
        return self.book.slots(service, day)

    def slot_free(self, service: str, slot_start: dt.datetime) -> int:
        return self.book.slot_free(service, slot_start)

    def bookable_days(self, now: dt.datetime) -> list[dt.date]:
        return self.book.bookable_days(now)

    def appointment(self, appointment_id: str) -> Appointment:
        return self.book.appointment(appointment_id)

    def _book(self, cmd: C.BookAppointment, now: dt.datetime) -> None:
        service, slot = self.book.check_booking(cmd, now)
        self._emit(
            V.AppointmentBooked,
            now,
            appointment_id=f"AP{self.seq + 1}",
            resident_key=cmd.resident_key,
            service=service,
            slot_start=slot[0],
            slot_end=slot[1],
            channel=cmd.channel,
        )

    def _cancel_appointment(self, cmd: C.CancelAppointment, now: dt.datetime) -> None:
        appointment = self.book.check_cancel(cmd, now)
        self._emit(V.AppointmentCancelled, now, appointment_id=appointment.id)

    def _check_in(self, cmd: C.CheckIn, now: dt.datetime) -> None:
        appointment = self.book.check_in(cmd, now)
        # The slot's own window, not the walk-in ticket hours, decides: the hall sold this slot
        # (the last one starts at last_ticket; the early grace of the first precedes opening).
        # Only a day made a holiday after booking stays closed.
        if not self.config.hours.is_workday(self.local(now).date()):
            self._check_open(now)
        self._check_resident(appointment.resident_key, appointment.service)
        issued = self._emit_issue(
            appointment.service,
            self.config.appointments.priority,
            cmd.channel,
            appointment.resident_key,
            now,
            appointment_id=appointment.id,
        )
        self._emit(
            V.AppointmentCheckedIn,
            now,
            appointment_id=appointment.id,
            ticket_id=issued.ticket.id,
        )

    # --- appliers: the only code that changes state --------------------------------------------
    # Each takes the new state from the lifecycle table (``move``), so no move is written twice;
    # a log that asks for a move the table does not hold raises IllegalTransition.

    def _touch(self, ticket: Ticket) -> None:
        self._dirty_tickets[ticket.id] = ticket

    def _touch_counter(self, counter: Counter, at: dt.datetime) -> None:
        counter.since = at
        self._dirty_counters.add(counter.id)

    def _move_ticket(self, ticket: Ticket, command: str) -> None:
        ticket.state = move("ticket", TICKET_MOVES, ticket.number, ticket.state, command)

    def _move_counter(self, counter: Counter, command: str) -> None:
        counter.state = move("counter", COUNTER_MOVES, counter.id, counter.state, command)

    def _leave_queue(self, ticket: Ticket) -> None:
        self.waiting[ticket.service].pop(ticket.id, None)
        self.index.remove(ticket.id)

    def _release(self, counter_id: int | None, command: str, at: dt.datetime) -> None:
        """The counter's resident is gone (``command``: finish, no_show, transfer, release)."""
        if counter_id is None:
            return
        counter = self.counters[counter_id]
        counter.ticket_id = None
        self._move_counter(counter, command)
        self._touch_counter(counter, at)

    def _unlink(self, counter_id: int, at: dt.datetime) -> None:
        """The counter's resident is gone and the counter is closing: the CounterClosed that
        follows at once moves it (close)."""
        counter = self.counters[counter_id]
        counter.ticket_id = None
        self._touch_counter(counter, at)

    def _close_resident(self, ticket: Ticket) -> None:
        if ticket.resident_key:
            key = (ticket.resident_key, ticket.service)
            if self.open_by_resident.get(key) == ticket.id:
                del self.open_by_resident[key]

    def _on_day_opened(self, ev: V.DayOpened) -> None:
        self.today = DayState(day=ev.day)
        self._dirty_day = True
        self.tickets.clear()
        self.by_number.clear()
        for queue in self.waiting.values():
            queue.clear()
        self.index.clear()
        self.arrivals.clear()
        self.open_by_resident.clear()
        self.estimates.clear()
        for counter in self.counters.values():
            counter.served_today = 0
            self._touch_counter(counter, ev.at)
        # Bookings older than the no-show look-back no longer matter.
        self.book.forget_before(ev.at - dt.timedelta(days=self.config.appointments.ban_days + 31))

    def _on_issued(self, ev: V.TicketIssued) -> None:
        data = ev.ticket
        ticket = Ticket(
            id=data.id,
            number=data.number,
            day=data.day,
            service=data.service,
            queue=data.queue,
            priority=data.priority,
            rank=data.rank,
            channel=data.channel,
            resident_key=data.resident_key,
            arrival=data.arrival,
            order_key=data.order_key,
            queued_at=ev.at,
            appointment_id=data.appointment_id,
            state=move("ticket", TICKET_MOVES, data.number, None, "issue"),
        )
        self._index_ticket(ticket)
        self.today.sequences[ticket.queue] = int(ticket.number[1:])
        if ticket.appointment_id is None:
            self.today.issued[ticket.service] = self.today.issued.get(ticket.service, 0) + 1
        self._dirty_day = True
        self._touch(ticket)

    def _index_ticket(self, ticket: Ticket, *, arrival: bool = True) -> None:
        if ticket.id not in self.tickets:
            self.tickets[ticket.id] = ticket
            if arrival:
                self.arrivals.add(ticket, self._class_rank(ticket))
        self.by_number[ticket.number] = ticket.id
        if ticket.state is TicketState.WAITING:
            self.waiting[ticket.service][ticket.id] = ticket
            self.index.add(ticket)
        if ticket.resident_key and ticket.state in TICKET_OPEN:
            self.open_by_resident[(ticket.resident_key, ticket.service)] = ticket.id

    def _on_called(self, ev: V.TicketCalled) -> None:
        ticket = self.tickets[ev.ticket_id]
        counter = self.counters[ev.counter]
        self._leave_queue(ticket)
        self._move_ticket(ticket, "call")
        ticket.counter = counter.id
        ticket.called_at = ev.at
        self._move_counter(counter, "call")
        counter.ticket_id = ticket.id
        self._touch(ticket)
        self._touch_counter(counter, ev.at)

    def _on_recalled(self, ev: V.TicketRecalled) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._move_ticket(ticket, "recall")
        self._move_counter(self.counters[ev.counter], "recall")
        ticket.recalls = ev.recalls
        self._touch(ticket)

    def _on_started(self, ev: V.TicketStarted) -> None:
        ticket = self.tickets[ev.ticket_id]
        counter = self.counters[ev.counter]
        if ticket.called_at is not None:
            self.estimates.record_call((ev.at - ticket.called_at).total_seconds())
        self._move_ticket(ticket, "start")
        ticket.started_at = ev.at
        self._move_counter(counter, "start")
        self._touch(ticket)
        self._touch_counter(counter, ev.at)

    def _on_finished(self, ev: V.TicketFinished) -> None:
        ticket = self.tickets[ev.ticket_id]
        counter = self.counters[ev.counter]
        self._move_ticket(ticket, "finish")
        ticket.finished_at = ev.at
        self._close_resident(ticket)
        counter.served_today += 1
        self._release(counter.id, "finish", ev.at)
        self.estimates.record_service(ev.service, ev.service_s)
        self._touch(ticket)

    def _on_no_show(self, ev: V.TicketNoShow) -> None:
        ticket = self.tickets[ev.ticket_id]
        if ticket.called_at is not None:
            self.estimates.record_call((ev.at - ticket.called_at).total_seconds())
        self._move_ticket(ticket, "no_show")
        ticket.no_show_at = ev.at
        self._close_resident(ticket)
        self._release(ev.counter, "no_show", ev.at)
        self._touch(ticket)

    def _on_requeued(self, ev: V.TicketRequeued) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._move_ticket(ticket, "requeue")
        ticket.requeued = True
        ticket.counter = None
        # Back of its own class: a head-of-queue hand-back (HEAD_RANK) was used up when called.
        ticket.rank = self.classes[ticket.priority].rank
        ticket.order_key = ev.order_key
        ticket.queued_at = ev.at
        self._index_ticket(ticket)
        self._touch(ticket)

    def _on_transferred(self, ev: V.TicketTransferred) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._leave_queue(ticket)
        self._close_resident(ticket)
        if ev.counter is not None and self.counters[ev.counter].ticket_id == ticket.id:
            self._release(ev.counter, "transfer", ev.at)
        ticket.service = ev.to_service
        ticket.queue = ev.queue
        ticket.rank = ev.rank
        self._move_ticket(ticket, "transfer")
        ticket.counter = None
        ticket.queued_at = ev.at
        ticket.transfers += 1
        self._index_ticket(ticket)
        self._touch(ticket)

    def _on_returned(self, ev: V.TicketReturned) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._move_ticket(ticket, "return")
        ticket.counter = None
        ticket.rank = HEAD_RANK
        ticket.queued_at = ev.at
        self._index_ticket(ticket)
        self._unlink(ev.counter, ev.at)  # its counter is closing (_close_counter)
        self._touch(ticket)

    def _on_cancelled(self, ev: V.TicketCancelled) -> None:
        ticket = self.tickets[ev.ticket_id]
        held = ticket.state
        self._leave_queue(ticket)
        self._close_resident(ticket)
        self._move_ticket(ticket, "expire" if ev.reason == DAY_CLOSED else "cancel")
        ticket.cancel_reason = ev.reason
        ticket.finished_at = ev.at
        if ev.counter is not None and self.counters[ev.counter].ticket_id == ticket.id:
            if held is TicketState.CALLED:
                self._release(ev.counter, "release", ev.at)
            else:  # served: only the day's end cancels it, and closes its counter next
                self._unlink(ev.counter, ev.at)
        self._touch(ticket)

    def _class_rank(self, ticket: Ticket) -> int | None:
        """Its class's rank; None for a class since removed from the configuration."""
        cls = self.classes.get(ticket.priority)
        return cls.rank if cls is not None else None

    def _on_moved(self, ev: V.TicketMoved) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._move_ticket(ticket, "move")
        ticket.rank = ev.rank
        ticket.order_key = ev.order_key
        self.index.rekey(ticket)
        self._touch(ticket)

    def _on_priority_changed(self, ev: V.TicketPriorityChanged) -> None:
        ticket = self.tickets[ev.ticket_id]
        self._move_ticket(ticket, "change_priority")
        ticket.priority = ev.priority
        ticket.rank = ev.rank
        self.index.rekey(ticket)
        self.arrivals.refile(ticket, self._class_rank(ticket))
        self._touch(ticket)

    def _on_counter_opened(self, ev: V.CounterOpened) -> None:
        counter = self.counters[ev.counter]
        self._move_counter(counter, "open")
        self._touch_counter(counter, ev.at)

    def _on_counter_closed(self, ev: V.CounterClosed) -> None:
        counter = self.counters[ev.counter]
        self._move_counter(counter, "close")
        counter.ticket_id = None
        counter.pause_reason = None
        self._touch_counter(counter, ev.at)

    def _on_counter_paused(self, ev: V.CounterPaused) -> None:
        counter = self.counters[ev.counter]
        self._move_counter(counter, "pause")
        counter.pause_reason = ev.reason
        self._touch_counter(counter, ev.at)

    def _on_counter_resumed(self, ev: V.CounterResumed) -> None:
        counter = self.counters[ev.counter]
        self._move_counter(counter, "resume")
        counter.pause_reason = None
        self._touch_counter(counter, ev.at)

    def _on_counter_reskilled(self, ev: V.CounterReskilled) -> None:
        counter = self.counters[ev.counter]
        self._move_counter(counter, "reskill")
        counter.skills = dict(ev.skills)
        self._touch_counter(counter, ev.at)

    def _on_notice_posted(self, ev: V.NoticePosted) -> None:
        self.notices[ev.notice_id] = Notice(
            id=ev.notice_id,
            text_zh=ev.text_zh,
            text_en=ev.text_en,
            starts=ev.starts,
            ends=ev.ends,
            posted_at=ev.at,
        )
        self._dirty_notices.add(ev.notice_id)

    def _on_notice_removed(self, ev: V.NoticeRemoved) -> None:
        self.notices.pop(ev.notice_id, None)
        self._dirty_notices.discard(ev.notice_id)
        self._removed_notices.add(ev.notice_id)

    # --- restoring from stored records ---------------------------------------------------------

    def restore(
        self,
        *,
        seq: int,
        day: DayState,
        tickets: Iterable[Ticket],
        counters: Iterable[Counter],
        appointments: Iterable[Appointment],
        notices: Iterable[Notice],
    ) -> None:
        """Load the stored state (a start-up after a crash or a restart); no event is emitted."""
        estimates = self.estimates
        estimates.drop_caches()
        self.seq = seq
        self.today = day
        tickets = [t for t in tickets if t.day == day.day]
        # The last calls, by when they were called (ties as listed), that the deque keeps: a
        # pick of the few, not a sort of the day's.
        calls = [
            (t.called_at, i, held) for i, t in enumerate(tickets)
            if t.called_at is not None and (end := t.started_at or t.no_show_at) is not None
            and (held := (end - t.called_at).total_seconds()) >= 0
        ]  # fmt: skip
        kept = heapq.nlargest(estimates.call_times.maxlen or len(calls), calls)
        for _, _, held in sorted(kept):
            estimates.record_call(held)
        for ticket in sorted(tickets, key=lambda t: t.finished_at or t.arrival):
            self._index_ticket(ticket, arrival=False)
            if ticket.state is TicketState.DONE and ticket.started_at and ticket.finished_at:
                service_s = (ticket.finished_at - ticket.started_at).total_seconds()
                estimates.record_service(ticket.service, service_s)
        # Filed at once, not one by one (a day holds tens of thousands).
        ranks = {name: cls.rank for name, cls in self.classes.items()}
        self.arrivals.bulk(self.tickets.values(), lambda t: ranks.get(t.priority))
        for counter in counters:
            if counter.id in self.counters:  # a counter removed from the config is gone
                self.counters[counter.id] = counter
        self.book.restore(appointments)
        for notice in notices:
            self.notices[notice.id] = notice
        self.take_changes()
