"""Appointments (预约): the bookable slots, booking with its quotas and no-show bans,
cancelling, finding the booking a resident checks in with, and the bookings past their grace.

``AppointmentBook`` holds the hall's bookings and the load of each slot. The hall asks it
whether a command may go ahead (``check_booking``, ``check_cancel``, ``check_in``; each raises
the typed refusal, or returns what the event needs) and emits the events; the book's appliers
(``on_booked`` …) are the only code that changes a booking, each taking the new state from
``APPOINTMENT_MOVES``. A check-in issues a ticket: that part is the hall's.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator

from queue_server import errors as E
from queue_server.config import HallConfig
from queue_server.engine import events as V
from queue_server.engine.lifecycle import APPOINTMENT_MOVES, move
from queue_server.engine.model import Appointment
from queue_server.protocol import commands as C
from queue_server.protocol.states import AppointmentState

ACTIVE = (AppointmentState.BOOKED, AppointmentState.CHECKED_IN)  # the states that hold a slot


class AppointmentBook:
    """One hall's bookings, the load of their slots and the bookings still awaiting check-in."""

    def __init__(self, config: HallConfig):
        self.rules = config.appointments
        self.hours = config.hours
        self.zone = config.zone
        self.queue_of = config.queue_of()
        self.settings = config.service_settings()
        self.appointments: dict[str, Appointment] = {}
        self.slot_load: dict[tuple[str, float], int] = {}
        # (slot start, id) of the bookings not yet checked in: the next to lapse is the first.
        self._grace_heap: list[tuple[float, str]] = []
        self._dirty: set[str] = set()

    # --- reading ---------------------------------------------------------------------------

    def local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(self.zone)

    def appointment(self, appointment_id: str) -> Appointment:
        appointment = self.appointments.get(appointment_id)
        if appointment is None:
            raise E.NotFound("appointment", appointment_id)
        return appointment

    def _service(self, service: str) -> str:
        if service not in self.queue_of:
            raise E.NotFound("service", service)
        return service

    def slots(self, service: str, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The bookable slots of ``service`` on ``day`` (empty if it takes no appointments)."""
        if self.settings[self._service(service)].appointment_capacity <= 0:
            return []
        hours = self.hours
        if not hours.is_workday(day):
            return []
        step = dt.timedelta(minutes=self.rules.slot_minutes)
        start = dt.datetime.combine(day, hours.open, self.zone)
        close = dt.datetime.combine(day, hours.close, self.zone)
        out = []
        while start + step <= close:
            out.append((start, start + step))
            start += step
        return out

    def slot_free(self, service: str, slot_start: dt.datetime) -> int:
        capacity = self.settings[service].appointment_capacity
        return capacity - self.slot_load.get((service, slot_start.timestamp()), 0)

    def bookable_days(self, now: dt.datetime) -> list[dt.date]:
        rules = self.rules
        hours = self.hours
        day = self.local(now).date()
        out: list[dt.date] = []
        workdays = 0
        if rules.min_days_ahead == 0 and hours.is_workday(day):
            out.append(day)
        while workdays < rules.days_ahead:
            day += dt.timedelta(days=1)
            if hours.is_workday(day):
                workdays += 1
                if workdays >= rules.min_days_ahead:
                    out.append(day)
        return out

    def lapsed(self, now: dt.datetime) -> Iterator[str]:
        """The bookings whose check-in grace ended before ``now``, next to lapse first, each
        once. The hall emits each one's no-show before it asks for the next."""
        grace = self.rules.late_minutes * 60
        now_ts = now.timestamp()
        while self._grace_heap and self._grace_heap[0][0] + grace < now_ts:
            _, appointment_id = heapq.heappop(self._grace_heap)
            appointment = self.appointments.get(appointment_id)
            if appointment is not None and appointment.state is AppointmentState.BOOKED:
                yield appointment_id

    # --- commands: checked here, emitted by the hall -----------------------------------------

    def check_booking(
        self, cmd: C.BookAppointment, now: dt.datetime
    ) -> tuple[str, tuple[dt.datetime, dt.datetime]]:
        """The service and slot ``cmd`` books, or the refusal: the slot must exist and be free,
        the resident named, within their quotas and not banned for no-shows."""
        service = self._service(cmd.service)
        if not cmd.resident_key:
            raise E.IdentityRequired(service=service)
        rules = self.rules
        if cmd.slot_start.tzinfo is None:
            raise E.SlotInvalid(reason="no_offset")
        slot_start = cmd.slot_start.astimezone(self.zone)
        day = slot_start.date()
        if self.settings[service].appointment_capacity <= 0:
            raise E.SlotInvalid(reason="no_appointments", service=service)
        if day not in self.bookable_days(now):
            raise E.SlotInvalid(
                reason="out_of_window", min_days=rules.min_days_ahead, max_days=rules.days_ahead
            )
        slot = next((s for s in self.slots(service, day) if s[0] == slot_start), None)
        if slot is None:
            raise E.SlotInvalid(reason="no_such_slot", slot=slot_start.isoformat())
        if slot_start <= now:
            raise E.SlotInvalid(reason="past", slot=slot_start.isoformat())
        mine = [a for a in self.appointments.values() if a.resident_key == cmd.resident_key]
        ban_from = now - dt.timedelta(days=rules.ban_days)
        no_shows = [
            a for a in mine if a.state is AppointmentState.NO_SHOW and a.slot_start >= ban_from
        ]
        if len(no_shows) >= rules.no_show_limit:
            until = max(a.slot_start for a in no_shows) + dt.timedelta(days=rules.ban_days)
            raise E.BookingBanned(count=len(no_shows), until=f"{self.local(until):%Y-%m-%d}")
        active = [self.local(a.slot_start).date() for a in mine if a.state in ACTIVE]
        limits = (
            (sum(d == day for d in active), rules.per_resident_per_day, "day"),
            (
                sum(d.isocalendar()[:2] == day.isocalendar()[:2] for d in active),
                rules.per_resident_per_week,
                "week",
            ),
            (
                sum((d.year, d.month) == (day.year, day.month) for d in active),
                rules.per_resident_per_month,
                "month",
            ),
        )
        for count, limit, per in limits:
            if count >= limit:
                raise E.BookingLimit(per=per, limit=limit)
        if self.slot_free(service, slot_start) <= 0:
            raise E.SlotFull(service=service, slot=slot_start.isoformat())
        return service, slot

    def check_cancel(self, cmd: C.CancelAppointment, now: dt.datetime) -> Appointment:
        """The booking ``cmd`` cancels, or the refusal (someone else's, closed, too late)."""
        appointment = self.appointment(cmd.appointment)
        if cmd.resident_key is not None and cmd.resident_key != appointment.resident_key:
            raise E.NotFound("appointment", cmd.appointment)
        move("appointment", APPOINTMENT_MOVES, appointment.id, appointment.state, "cancel")
        before = dt.timedelta(minutes=self.rules.cancel_before_minutes)
        if now > appointment.slot_start - before:
            raise E.CancelTooLate(hours=f"{before.total_seconds() / 3600:g}")
        return appointment

    def check_in(self, cmd: C.CheckIn, now: dt.datetime) -> Appointment:
        """The booking ``cmd`` checks in with (named, or the resident's first of today), or the
        refusal: none, already lapsed or closed, too late or too early for its slot."""
        early = dt.timedelta(minutes=self.rules.early_minutes)
        late = dt.timedelta(minutes=self.rules.late_minutes)
        if cmd.appointment is not None:
            appointment = self.appointment(cmd.appointment)
            if cmd.resident_key is not None and cmd.resident_key != appointment.resident_key:
                raise E.NotFound("appointment", cmd.appointment)
        elif cmd.resident_key is not None:
            today = self.local(now).date()
            mine = sorted(
                (
                    a
                    for a in self.appointments.values()
                    if a.resident_key == cmd.resident_key
                    and self.local(a.slot_start).date() == today
                    and (cmd.service is None or a.service == cmd.service)
                    and a.state in (AppointmentState.BOOKED, AppointmentState.NO_SHOW)
                ),
                key=lambda a: (a.state is not AppointmentState.BOOKED, a.slot_start),
            )
            if not mine:
                raise E.NotFound("appointment", "today")
            appointment = mine[0]
        else:
            raise E.NotFound("appointment", "(none given)")
        too_late = E.TooLate(appointment=appointment.id)
        if appointment.state is AppointmentState.NO_SHOW:
            raise too_late
        move("appointment", APPOINTMENT_MOVES, appointment.id, appointment.state, "check_in")
        if now > appointment.slot_start + late:
            raise too_late
        if now < appointment.slot_start - early:
            opens = self.local(appointment.slot_start - early)
            raise E.TooEarly(appointment=appointment.id, opens=f"{opens:%H:%M}")
        return appointment

    # --- appliers: the only code that changes a booking --------------------------------------

    def on_booked(self, ev: V.AppointmentBooked) -> None:
        appointment = Appointment(
            id=ev.appointment_id,
            resident_key=ev.resident_key,
            service=ev.service,
            slot_start=ev.slot_start,
            slot_end=ev.slot_end,
            booked_at=ev.at,
            channel=ev.channel,
            state=move("appointment", APPOINTMENT_MOVES, ev.appointment_id, None, "book"),
        )
        self._file(appointment)
        self._dirty.add(appointment.id)

    def on_cancelled(self, ev: V.AppointmentCancelled) -> None:
        self._close(ev.appointment_id, "cancel", ev.at)

    def on_checked_in(self, ev: V.AppointmentCheckedIn) -> None:
        self._close(ev.appointment_id, "check_in", ev.at).ticket_id = ev.ticket_id

    def on_no_show(self, ev: V.AppointmentNoShow) -> None:
        self._close(ev.appointment_id, "no_show", ev.at)

    def _close(self, appointment_id: str, command: str, at: dt.datetime) -> Appointment:
        appointment = self.appointments[appointment_id]
        state = move("appointment", APPOINTMENT_MOVES, appointment_id, appointment.state, command)
        appointment.state = state
        appointment.closed_at = at
        if state is not AppointmentState.CHECKED_IN:  # a checked-in booking used its slot
            key = (appointment.service, appointment.slot_start.timestamp())
            self.slot_load[key] = self.slot_load.get(key, 1) - 1
        self._dirty.add(appointment_id)
        return appointment

    def _file(self, appointment: Appointment) -> None:
        self.appointments[appointment.id] = appointment
        if appointment.state in ACTIVE:
            key = (appointment.service, appointment.slot_start.timestamp())
            self.slot_load[key] = self.slot_load.get(key, 0) + 1
        if appointment.state is AppointmentState.BOOKED:
            heapq.heappush(self._grace_heap, (appointment.slot_start.timestamp(), appointment.id))

    def forget_before(self, horizon: dt.datetime) -> None:
        """Drop the bookings of slots before ``horizon`` (older than any look-back needs)."""
        for appointment_id in [a.id for a in self.appointments.values() if a.slot_start < horizon]:
            appointment = self.appointments.pop(appointment_id)
            self.slot_load.pop((appointment.service, appointment.slot_start.timestamp()), None)

    def restore(self, appointments: Iterable[Appointment]) -> None:
        """Load stored bookings (no event)."""
        for appointment in appointments:
            self._file(appointment)

    def take_changed(self) -> list[Appointment]:
        """The bookings changed since the last call (those since forgotten left out)."""
        changed = [self.appointments[i] for i in self._dirty if i in self.appointments]
        self._dirty.clear()
        return changed
