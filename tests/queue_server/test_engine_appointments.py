"""Appointments (预约): slots, booking limits, cancelling, check-in and no-shows."""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest

from queue_server import errors as E
from queue_server.engine import events as V
from queue_server.protocol import commands as C
from queue_server.protocol.states import AppointmentState, TicketState
from tests.queue_server.hall_factory import (
    BIRTH,
    EMPLOYMENT,
    PERMIT,
    REGISTRATION,
    Clock,
    Driver,
    local,
    make_config,
)
from tests.queue_server.test_engine import refused, types

FRI = dt.date(2026, 11, 27)
MON = dt.date(2026, 11, 30)


@pytest.fixture
def d() -> Driver:
    driver = Driver()  # Thursday 2026-11-26 09:00
    driver.do(C.Tick())
    return driver


def book(d: Driver, resident: str = "r1", service: str = BIRTH, when=None) -> str:
    when = when or local(2026, 11, 27, 10, 0)
    events = d.do(C.BookAppointment(resident_key=resident, service=service, slot_start=when))
    booked = [e for e in events if isinstance(e, V.AppointmentBooked)]
    assert len(booked) == 1 and events[-1] is booked[0]
    return booked[0].appointment_id


def goto(d: Driver, when: dt.datetime) -> list:
    """Move the clock and let time act (a new day, bookings past their grace)."""
    d.clock.set(when)
    return d.do(C.Tick())


def test_slots(d):
    slots = d.hall.slots(BIRTH, FRI)
    assert len(slots) == 16
    assert slots[0] == (local(2026, 11, 27, 9, 0), local(2026, 11, 27, 9, 30))
    assert slots[-1] == (local(2026, 11, 27, 16, 30), local(2026, 11, 27, 17, 0))
    assert d.hall.slots(REGISTRATION, FRI) == []  # takes no appointments
    assert d.hall.slots(BIRTH, dt.date(2026, 11, 28)) == []  # Saturday
    with pytest.raises(E.NotFound):
        d.hall.slots("nope.nothing", FRI)


def test_bookable_days_are_the_next_five_working_days(d):
    assert d.hall.bookable_days(d.clock.now) == [
        FRI,
        MON,
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 2),
        dt.date(2026, 12, 3),
    ]


def test_bookable_days_skip_holidays_and_may_include_today():
    config = make_config(
        hours={"holidays": [FRI]}, appointments={"min_days_ahead": 0, "days_ahead": 2}
    )
    d = Driver(config)
    assert d.hall.bookable_days(d.clock.now) == [dt.date(2026, 11, 26), MON, dt.date(2026, 12, 1)]


def test_book(d):
    events = d.do(
        C.BookAppointment(resident_key="r1", service=BIRTH, slot_start=local(2026, 11, 27, 10))
    )
    event = events[0]
    assert (event.slot_start, event.slot_end, event.channel) == (
        local(2026, 11, 27, 10, 0),
        local(2026, 11, 27, 10, 30),
        "web",
    )
    appointment = d.hall.appointments[event.appointment_id]
    assert appointment.state is AppointmentState.BOOKED and appointment.resident_key == "r1"
    assert d.hall.slot_free(BIRTH, local(2026, 11, 27, 10)) == 0
    # The same instant written in UTC is the same slot.
    utc = local(2026, 11, 27, 10, 30).astimezone(dt.UTC)
    book(d, "r2", when=utc)


@pytest.mark.parametrize(
    "slot_start",
    [
        local(2026, 11, 26, 15, 0),  # today: at least one working day ahead
        local(2026, 12, 4, 10, 0),  # the sixth working day
        local(2026, 11, 28, 10, 0),  # Saturday
        local(2026, 11, 27, 10, 10),  # not a slot boundary
        local(2026, 11, 27, 17, 0),  # after closing
        local(2026, 11, 27, 8, 30),  # before opening
    ],
)
def test_book_refuses_invalid_slots(d, slot_start):
    command = C.BookAppointment(resident_key="r1", service=BIRTH, slot_start=slot_start)
    refused(d, command, E.SlotInvalid)
    assert d.hall.appointments == {}


def test_a_booking_time_without_a_time_zone_is_not_a_command():
    with pytest.raises(pydantic.ValidationError):
        C.BookAppointment(
            resident_key="r1", service=BIRTH, slot_start=dt.datetime(2026, 11, 27, 10)
        )


def test_a_booking_needs_the_residents_identity(d):
    command = C.BookAppointment(service=BIRTH, slot_start=local(2026, 11, 27, 10))
    exc = refused(d, command, E.IdentityRequired)
    assert exc.message_zh and exc.message_en


def test_book_a_service_without_appointments(d):
    command = C.BookAppointment(
        resident_key="r1", service=REGISTRATION, slot_start=local(2026, 11, 27, 10)
    )
    exc = refused(d, command, E.SlotInvalid)
    assert "appointments" in exc.message_en


def test_slot_capacity(d):
    book(d, "r1", PERMIT)
    book(d, "r2", PERMIT)
    command = C.BookAppointment(
        resident_key="r3", service=PERMIT, slot_start=local(2026, 11, 27, 10)
    )
    refused(d, command, E.SlotFull)
    book(d, "r3", PERMIT, local(2026, 11, 27, 10, 30))
    book(d, "r3", BIRTH, local(2026, 11, 30, 10, 0))  # capacity is per service and slot


def test_one_booking_per_resident_per_day(d):
    book(d, "r1", BIRTH, local(2026, 11, 27, 10))
    command = C.BookAppointment(
        resident_key="r1", service=EMPLOYMENT, slot_start=local(2026, 11, 27, 14)
    )
    exc = refused(d, command, E.BookingLimit)
    assert "a day" in exc.message_en


def test_two_bookings_per_resident_per_week(d):
    book(d, "r1", when=local(2026, 11, 30, 10))
    book(d, "r1", when=local(2026, 12, 1, 10))
    command = C.BookAppointment(resident_key="r1", service=BIRTH, slot_start=local(2026, 12, 2, 10))
    exc = refused(d, command, E.BookingLimit)
    assert "a week" in exc.message_en
    book(d, "r1", when=local(2026, 11, 27, 10))  # Friday is in the previous week


def test_bookings_per_resident_per_month():
    config = make_config(appointments={"per_resident_per_month": 2, "per_resident_per_week": 5})
    d = Driver(config)
    book(d, "r1", when=local(2026, 11, 27, 10))
    book(d, "r1", when=local(2026, 11, 30, 10))
    command = C.BookAppointment(
        resident_key="r1", service=BIRTH, slot_start=local(2026, 11, 27, 11)
    )
    exc = refused(d, command, E.BookingLimit)
    assert "a day" in exc.message_en  # the day limit comes first
    config = make_config(
        appointments={
            "per_resident_per_month": 2,
            "per_resident_per_week": 5,
            "per_resident_per_day": 3,
        }
    )
    d = Driver(config)
    book(d, "r1", when=local(2026, 11, 27, 10))
    book(d, "r1", when=local(2026, 11, 30, 10))
    command = C.BookAppointment(
        resident_key="r1", service=BIRTH, slot_start=local(2026, 11, 30, 11)
    )
    exc = refused(d, command, E.BookingLimit)
    assert "a month" in exc.message_en
    book(d, "r1", when=local(2026, 12, 1, 10))  # December is another month


def test_cancelled_bookings_free_the_slot_and_the_limit(d):
    first = book(d, "r1")
    d.do(C.CancelAppointment(appointment=first, resident_key="r1"))
    assert d.hall.appointments[first].state is AppointmentState.CANCELLED
    assert d.hall.slot_free(BIRTH, local(2026, 11, 27, 10)) == 1
    book(d, "r2")
    book(d, "r1", when=local(2026, 11, 27, 11))


def test_cancel_at_least_two_hours_before(d):
    appointment = book(d)
    d.clock.set(local(2026, 11, 27, 8, 0))  # exactly two hours before: allowed
    d.do(C.CancelAppointment(appointment=appointment))
    other = book(d, "r2", when=local(2026, 11, 30, 10))
    d.clock.set(local(2026, 11, 30, 8, 0, 1))
    exc = refused(d, C.CancelAppointment(appointment=other), E.CancelTooLate)
    assert "2 hours" in exc.message_en
    assert d.hall.appointments[other].state is AppointmentState.BOOKED


def test_cancel_refusals(d):
    appointment = book(d)
    with pytest.raises(E.NotFound):
        d.do(C.CancelAppointment(appointment=appointment, resident_key="someone-else"))
    with pytest.raises(E.NotFound):
        d.do(C.CancelAppointment(appointment="AP999"))
    d.do(C.CancelAppointment(appointment=appointment))
    exc = refused(d, C.CancelAppointment(appointment=appointment), E.IllegalTransition)
    assert (exc.kind, exc.state) == ("appointment", "cancelled")


def test_check_in_within_the_window_issues_an_appointment_ticket(d):
    appointment = book(d)
    goto(d, local(2026, 11, 27, 9, 0))
    walk_in = d.issue(BIRTH)
    elderly = d.issue(BIRTH, priority="elderly")
    d.clock.set(local(2026, 11, 27, 9, 45))  # 15 minutes early: the earliest allowed
    events = d.do(C.CheckIn(appointment=appointment))
    assert types(events) == ["ticket_issued", "appointment_checked_in"]
    issued = events[0].ticket
    assert (issued.priority, issued.rank, issued.appointment_id) == ("appointment", 3, appointment)
    assert issued.resident_key == "r1" and events[0].ahead == 1  # only the elderly resident
    assert d.hall.appointments[appointment].state is AppointmentState.CHECKED_IN
    assert d.hall.appointments[appointment].ticket_id == issued.id
    order = [t.number for t in d.hall.ordered_waiting()]
    assert order == [elderly.number, issued.number, walk_in.number]
    # Checked-in tickets do not use up the walk-in quota.
    assert d.hall.today.issued[BIRTH] == 2


def test_check_in_by_resident_key_picks_todays_booking(d):
    book(d, "r1", BIRTH, local(2026, 11, 27, 10))
    book(d, "r1", EMPLOYMENT, local(2026, 11, 30, 10))
    goto(d, local(2026, 11, 27, 10, 10))  # the late grace's last instant
    events = d.do(C.CheckIn(resident_key="r1"))
    assert events[0].ticket.service == BIRTH
    with pytest.raises(E.NotFound):
        d.do(C.CheckIn(resident_key="r1"))  # nothing more today
    with pytest.raises(E.NotFound):
        d.do(C.CheckIn(resident_key="r2"))
    with pytest.raises(E.NotFound):
        d.do(C.CheckIn())


def test_check_in_too_early(d):
    appointment = book(d)
    d.clock.set(local(2026, 11, 27, 9, 44, 59))
    exc = refused(d, C.CheckIn(appointment=appointment), E.TooEarly)
    assert "09:45" in exc.message_en and "09:45" in exc.message_zh
    assert d.hall.appointments[appointment].state is AppointmentState.BOOKED


def test_check_in_too_late_is_a_no_show(d):
    appointment = book(d)
    goto(d, local(2026, 11, 27, 10, 0))
    d.clock.set(local(2026, 11, 27, 10, 10, 1))
    exc = refused(d, C.CheckIn(appointment=appointment), E.TooLate)
    # Housekeeping marked the booking a no-show before the check-in was refused.
    assert types(exc.events) == ["appointment_no_show"]
    assert d.hall.appointments[appointment].state is AppointmentState.NO_SHOW
    refused(d, C.CheckIn(resident_key="r1"), E.TooLate)
    d.issue(BIRTH, resident_key="r1")  # an ordinary ticket is still possible


def test_check_in_of_another_residents_booking(d):
    appointment = book(d)
    d.clock.set(local(2026, 11, 27, 10, 0))
    with pytest.raises(E.NotFound):
        d.do(C.CheckIn(appointment=appointment, resident_key="r2"))


def test_check_in_twice_is_illegal(d):
    appointment = book(d)
    d.clock.set(local(2026, 11, 27, 10, 0))
    d.do(C.CheckIn(appointment=appointment))
    exc = refused(d, C.CheckIn(appointment=appointment), E.IllegalTransition)
    assert exc.state == "checked_in"


def test_check_in_while_holding_a_ticket_for_the_service(d):
    appointment = book(d)
    d.clock.set(local(2026, 11, 27, 9, 50))
    d.issue(BIRTH, resident_key="r1")
    refused(d, C.CheckIn(appointment=appointment), E.AlreadyHoldingTicket)
    assert d.hall.appointments[appointment].state is AppointmentState.BOOKED


@pytest.mark.parametrize(
    ("slot", "arrive"),
    [
        ((16, 30), (16, 35)),  # the day's last slot starts at last_ticket (16:30)
        ((16, 30), (16, 40)),  # ... until the end of its late grace
        ((9, 0), (8, 50)),  # early grace before the doors open for walk-ins
    ],
)
def test_check_in_honours_the_booking_outside_walk_in_hours(d, slot, arrive):
    # Caught a bug: check-in applied the walk-in ticket hours, so a resident who booked the
    # 16:30 slot, or came within the early/late grace of a first or late slot, was refused
    # with HallClosed although the hall had sold that slot.
    appointment = book(d, when=local(2026, 11, 27, *slot))
    d.clock.set(local(2026, 11, 27, *arrive))
    events = d.do(C.CheckIn(appointment=appointment))
    assert events[-1].type == "appointment_checked_in"


def test_check_in_on_a_day_made_a_holiday_after_booking_is_refused():
    d = Driver()
    appointment = book(d)
    holiday = make_config(hours={"holidays": [FRI]})
    later = Driver(holiday, clock=Clock(local(2026, 11, 27, 10, 0)))
    for event in d.log:
        later.hall.apply(event)
    refused(later, C.CheckIn(appointment=appointment), E.HallClosed)


def test_booking_not_checked_in_becomes_a_no_show(d):
    appointment = book(d, "r1", PERMIT)
    goto(d, local(2026, 11, 27, 10, 0))
    d.clock.set(local(2026, 11, 27, 10, 10))
    assert d.do(C.Tick()) == []  # the grace's last instant: still booked
    d.clock.advance(seconds=1)
    events = d.do(C.Tick())
    assert [(e.type, e.appointment_id) for e in events] == [("appointment_no_show", appointment)]
    assert d.hall.appointments[appointment].state is AppointmentState.NO_SHOW
    assert d.hall.slot_free(PERMIT, local(2026, 11, 27, 10)) == 2


def test_two_no_shows_ban_booking(d):
    book(d, "r1", when=local(2026, 11, 27, 10))
    d.clock.set(local(2026, 11, 27, 11, 0))
    d.do(C.Tick())
    book(d, "r1", when=local(2026, 11, 30, 10))  # one no-show: still allowed
    d.clock.set(local(2026, 11, 30, 11, 0))
    d.do(C.Tick())
    command = C.BookAppointment(resident_key="r1", service=BIRTH, slot_start=local(2026, 12, 1, 10))
    exc = refused(d, command, E.BookingBanned)
    assert "2027-02-28" in exc.message_en  # 90 days after the last missed slot
    book(d, "r2", when=local(2026, 12, 1, 10))  # others are not affected
    d.clock.set(local(2027, 3, 1, 9, 0))
    book(d, "r1", when=local(2027, 3, 2, 10))  # the ban is over


def test_checked_in_ticket_follows_the_ticket_lifecycle(d):
    appointment = book(d)
    goto(d, local(2026, 11, 27, 10, 0))
    ticket_id = d.do(C.CheckIn(appointment=appointment))[0].ticket.id
    d.do(C.CallNext(counter=1))
    d.do(C.StartService(counter=1))
    d.do(C.FinishService(counter=1))
    assert d.hall.tickets[ticket_id].state is TicketState.DONE
    assert [e.type for e in d.log if isinstance(e, V.AppointmentNoShow)] == []
