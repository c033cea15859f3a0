"""One resident's visit at the navigation terminal, as plain Python: no Kivy, no I/O, no clock.

    flow = NavigatorFlow(catalog, config, settings)
    effects = flow.code_scanned(code)      # inputs: touches, devices, the server's answers
    for effect in effects:                 # outputs: what the adapter (navigator.runtime) does
        ...                                # Query / Book / CancelBooking / Print / ReportFault
    flow.screen, flow.visit, flow.map_view()   # what the screens render

Screens::

    HOME ─> BUREAUS ─> SERVICES ─> GUIDE (materials + live queue) ─> MAP (its windows, the way)
      │       └> SEARCH ──────────────┘  └─> BOOK (day, slot) ─> NEED_CARD ─card─> WORKING ─> BOOKED
      ├─> QUEUES (every service, live) ─> GUIDE
      ├─> MAP (the hall)
      └─> BOOK_SERVICES ─> BOOK
    QR of a ticket ─> TICKET (position, estimate; once called, its window; live)
    QR of a booking ─> APPOINTMENT ─> NEED_CARD ─card─> WORKING ─> NOTICE (cancelled)
    faults: PAUSED (server away, recovers by itself), NOTICE (refusals, bad codes, card trouble)

Everything personal (the card's identity, the scanned ticket, the booking) lives in
``flow.visit`` and is dropped by ``wipe()``: when the resident finishes, after the idle
timeout, or when the next resident scans. The clear ID number leaves only as the
``resident_id`` of a Book/CancelBooking effect; nothing here logs it. What the whole hall may
see (queue lengths, estimates, who is being served) is in ``flow.live``, which is not personal.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from content import Catalog
from devices.identity import Identity
from navigator.settings import NavigatorSettings
from navigator.texts import PRINTER_PROBLEMS, T, Text
from queue_server.config import HallConfig
from queue_server.protocol.payloads import (
    AppointmentBooking,
    BookableDaysResult,
    CommandResult,
    CounterView,
    PublicSnapshot,
    RecentCall,
    ServiceStatus,
    Slot,
    SlotsResult,
    TicketResult,
    TicketView,
)
from queue_server.protocol.states import TicketState
from terminal.flow import HallOffer, IdleTimer, TerminalFlow, age_on, appointment_id

log = logging.getLogger(__name__)


class Screen(enum.StrEnum):
    HOME = "home"
    BUREAUS = "bureaus"
    SERVICES = "services"
    SEARCH = "search"
    GUIDE = "guide"
    MAP = "map"
    QUEUES = "queues"
    TICKET = "ticket"
    BOOK_SERVICES = "book_services"
    BOOK = "book"
    NEED_CARD = "need_card"
    WORKING = "working"
    BOOKED = "booked"
    APPOINTMENT = "appointment"
    NOTICE = "notice"
    PAUSED = "paused"


RESTING = frozenset({Screen.HOME, Screen.PAUSED})
# Screens that need nothing from the server to be useful (the catalog and the plan are local;
# a booking's QR code, once made, must not vanish with a network blip).
OFFLINE_OK = frozenset(
    {
        Screen.BUREAUS,
        Screen.SERVICES,
        Screen.SEARCH,
        Screen.GUIDE,
        Screen.MAP,
        Screen.NOTICE,
        Screen.BOOKED,
        Screen.APPOINTMENT,
    }
)


# --- effects: what the adapter must do ------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """Ask the server (``ticket``, ``bookable_days``, ``slots``); answer with
    ``answered(query, result)``, ``refused(...)`` or ``unreachable()``."""

    query: str
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Book:
    """Send BookAppointment; answer with ``booked(reply)``, ``refused`` or ``unreachable``."""

    service: str
    slot_start: str
    resident_id: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class CancelBooking:
    """Send CancelAppointment in the resident's name; answer ``booking_cancelled()``, ..."""

    appointment: str
    resident_id: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Print:
    """Print the booking slip; answer with ``printed()`` or ``print_failed(kind)``."""

    hall_name: str
    appointment: str
    service: str
    slot_start: dt.datetime
    note: str


@dataclass(frozen=True)
class ReportFault:
    """Tell the hall manager: logged, and sent as the part's device_status."""

    device: str
    kind: str
    detail: str


Effect = Query | Book | CancelBooking | Print | ReportFault


# --- the visit and what the hall shows -------------------------------------------------------


@dataclass
class Visit:
    """Everything personal about the resident at the terminal now. Dropped whole by ``wipe``."""

    identity: Identity | None = field(default=None, repr=False)
    elderly_offered: bool = False
    bureau: str | None = None
    service: str | None = None
    search_text: str = ""
    page: int = 0
    map_service: str | None = None  # the map highlights this service's windows
    map_window: int | None = None  # ... or leads to this one window (a called ticket)
    ticket_id: str | None = None
    ticket: TicketView | None = field(default=None, repr=False)
    ticket_problem: str | None = None  # a T key: ticket_expired, ticket_unknown
    days: list[str] | None = None
    day: str | None = None
    slots: list[Slot] | None = None
    slot: Slot | None = None
    card_for: str | None = None  # "book" or "cancel"
    appointment: str | None = None  # a scanned booking's id
    booking: AppointmentBooking | None = field(default=None, repr=False)
    print_state: str | None = None  # "printing", "printed", "failed", "none"
    pending: Effect | None = field(default=None, repr=False)
    notice_title: Text | None = None
    notice_body: Text | None = None
    previous: Screen | None = None
    trail: list[Screen] = field(default_factory=list)  # for back()


@dataclass
class Live:
    """The hall now, from the public snapshot: nothing personal in it."""

    known: bool = False
    services: dict[str, ServiceStatus] = field(default_factory=dict)
    counters: dict[int, CounterView] = field(default_factory=dict)
    recent: list[RecentCall] = field(default_factory=list)
    version: int = 0  # bumped on every update, so screens know to redraw


@dataclass(frozen=True)
class QueueInfo:
    waiting: int | None
    wait_minutes: int | None
    windows: list[int]  # open windows that serve it
    serving: list[tuple[str, int]]  # (number, window) being called or served for it


@dataclass(frozen=True)
class MapView:
    windows: list[tuple[int, float, float, bool]]  # (number, x, y, highlighted)
    terminal: tuple[float, float]
    path: list[tuple[float, float]]  # from the terminal to the target window; empty: none
    target: int | None


# The kiosk prints the ticket page's address: <public url>/t/<ticket id>.<expiry>.<signature>.
TICKET_TOKEN_RE = re.compile(r"(?:^|/t/)([0-9A-Za-z_-]{1,40})\.(\d{1,12})\.([0-9A-Za-z_-]{8,64})$")


def ticket_of(code: str) -> tuple[str, int] | None:
    """(ticket id, expiry in epoch seconds) of a ticket's QR code, or None.

    The signature is the server's to check; the navigator only reads public facts of the
    ticket (number, position, window), which any screen in the hall shows anyway.
    """
    match = TICKET_TOKEN_RE.search(code.strip().split("?")[0].split("#")[0])
    if not match:
        return None
    return match.group(1), int(match.group(2))


def way(
    start: tuple[float, float], end: tuple[float, float], aisle: float
) -> list[tuple[float, float]]:
    """A walk on the plan: from ``start`` along to the aisle, across it, then to ``end``."""
    points = [start, (start[0], aisle), (end[0], aisle), end]
    out: list[tuple[float, float]] = []
    for p in points:
        if not out or out[-1] != p:
            out.append(p)
    return out


class NavigatorFlow(TerminalFlow):
    """The state machine of one navigator; every input method returns the effects to carry out."""

    def __init__(
        self,
        catalog: Catalog,
        config: HallConfig,
        settings: NavigatorSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        today: Callable[[], dt.date] = dt.date.today,
        has_printer: bool = True,
        offer: HallOffer | None = None,
    ):
        super().__init__(
            catalog,
            screens=Screen,
            fault_effect=ReportFault,
            offer=offer or HallOffer(catalog, config),
            idle=IdleTimer(clock),
        )
        self.config = config
        self.settings = settings or NavigatorSettings()
        self.clock = clock
        self.wall = wall
        self.today = today
        self.has_printer = has_printer
        hall_settings = config.service_settings()
        self.bookable = {
            s.id
            for s in self.services
            if s.appointment_allowed and hall_settings[s.id].appointment_capacity > 0
        }
        self.windows = self.settings.window_positions(config)
        # Which windows serve a service, and in which skill tier (0: its own windows).
        self.skills: dict[str, dict[int, int]] = {}
        for counter in config.counters:
            tiers, _ = config.expand_skills(counter.skills)
            for service, tier in tiers.items():
                self.skills.setdefault(service, {})[counter.id] = tier
        self.lang = "zh"
        self.elderly = False
        self.screen = Screen.HOME
        self.server_up = True
        self.printer_problem: str | None = "starting" if has_printer else None
        self.visit = Visit()
        self.live = Live()

    # --- what the screens read --------------------------------------------------------------

    def t(self, key: str, **values: object) -> str:
        text = T[key]
        return (text.format(**values) if values else text).get(self.lang)

    def service_name(self, service_id: str) -> str:
        if service_id in self.catalog:
            return self.catalog.service(service_id).name(self.lang)
        return service_id

    @property
    def page_size(self) -> int:
        if self.screen == Screen.BOOK:
            return 4 if self.elderly else 8
        if self.screen == Screen.QUEUES:
            return 3 if self.elderly else 6
        return self.settings.page_size_elderly if self.elderly else self.settings.page_size

    def _choices(self) -> list:
        if self.screen == Screen.BUREAUS:
            return self.bureaus
        if self.screen == Screen.SERVICES:
            return self.offer.in_bureau(self.visit.bureau)
        if self.screen == Screen.SEARCH:
            return self.search_results()
        if self.screen == Screen.BOOK_SERVICES:
            return [s for s in self.services if s.id in self.bookable]
        if self.screen == Screen.QUEUES:
            return self.services
        if self.screen == Screen.BOOK:
            return self.free_slots()
        return []

    def free_slots(self) -> list[Slot]:
        return [s for s in self.visit.slots or [] if s.free > 0]

    def materials(self) -> list[tuple[str, bool]]:
        service = self.service
        if service is None:
            return []
        return [(m.describe(self.lang), m.reusable_e_copy) for m in service.materials]

    def queue_info(self, service_id: str) -> QueueInfo | None:
        """The live figures of one service; None while the hall's state is unknown."""
        if not self.live.known or not self.server_up:
            return None
        status = self.live.services.get(service_id)
        if status is None:
            return None
        wait = status.estimated_wait_s
        serving = [
            (c.ticket, cid)
            for cid, c in sorted(self.live.counters.items())
            if c.ticket and c.service == service_id
        ]
        return QueueInfo(
            waiting=status.waiting,
            wait_minutes=None if wait is None else max(0, round(wait / 60)),
            windows=sorted(status.counters),
            serving=serving,
        )

    def windows_for(self, service_id: str) -> list[int]:
        """The windows that serve it, its own windows first (skill tier), then by number."""
        tiers = self.skills.get(service_id, {})
        return sorted(tiers, key=lambda c: (tiers[c], c))

    def map_view(self) -> MapView:
        """What the map shows now: lit windows and the way from this terminal."""
        terminal = tuple(self.settings.terminal)
        lit: set[int] = set()
        target: int | None = None
        if self.visit.map_window is not None:
            target = self.visit.map_window
            lit = {target}
        elif self.visit.map_service is not None:
            tiers = self.skills.get(self.visit.map_service, {})
            best = min(tiers.values(), default=0)
            lit = {c for c, tier in tiers.items() if tier == best}
            open_now = set()
            info = self.queue_info(self.visit.map_service)
            if info is not None:
                open_now = set(info.windows) & lit
            # Lead to the nearest of its own windows, preferring one that is open now.
            candidates = sorted(open_now or lit)
            if candidates:
                tx, ty = terminal
                target = min(
                    candidates,
                    key=lambda c: (self.windows[c][0] - tx) ** 2 + (self.windows[c][1] - ty) ** 2,
                )
        windows = [(c, x, y, c in lit) for c, (x, y) in sorted(self.windows.items())]
        path = []
        if target is not None and target in self.windows:
            path = way(terminal, self.windows[target], self.settings.aisle)  # type: ignore[arg-type]
        return MapView(windows, terminal, path, target)  # type: ignore[arg-type]

    def ticket_status(self) -> tuple[Text | None, Text | None]:
        """The scanned ticket's headline and second line."""
        v = self.visit
        if v.ticket_problem:
            return T[v.ticket_problem], None
        ticket = v.ticket
        if ticket is None:
            return T["ticket_loading"], None
        state = ticket.state
        if state == TicketState.WAITING:
            ahead = ticket.ahead or 0
            wait = ticket.estimated_wait_s
            second = (
                T["ticket_wait"].format(m=max(1, round(wait / 60))) if wait else T["ticket_live"]
            )
            return T["ticket_waiting"].format(n=ahead), second
        if state == TicketState.CALLED:
            return T["ticket_called"].format(window=ticket.counter), T["ticket_called_sub"]
        if state == TicketState.SERVING:
            return T["ticket_serving"].format(window=ticket.counter), None
        if state == TicketState.DONE:
            return T["ticket_done"], None
        if state == TicketState.NO_SHOW:
            return T["ticket_no_show"], None
        return T["ticket_cancelled"], None

    def slot_time(self, slot: Slot | AppointmentBooking | None) -> tuple[str, str, str]:
        """(day, start, end) of a slot, or of a booking's, in the hall's local time, for
        showing."""
        if slot is None:
            return "", "", ""
        zone = self.config.zone
        if isinstance(slot, Slot):
            start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
        else:
            start, end = slot.slot_start.astimezone(zone), slot.slot_end.astimezone(zone)
        return self.day_label(start.date().isoformat()), f"{start:%H:%M}", f"{end:%H:%M}"

    def day_label(self, day: str) -> str:
        date = dt.date.fromisoformat(day)
        weekday = T["weekday"].get(self.lang).split()[date.weekday()]
        if self.lang == "zh":
            return f"{date.month}月{date.day}日 {weekday}"
        return f"{weekday} {date.day} {date:%b}"

    def timeout_s(self) -> float | None:
        if self.screen in RESTING or self.screen == Screen.WORKING:
            return None
        s = self.settings
        idle = s.idle_s_elderly if self.elderly else s.idle_s
        if self.screen == Screen.BOOKED:
            return max(idle, s.booked_s)
        return idle

    def remaining(self) -> float | None:
        return self.idle.left(self.timeout_s())

    def countdown(self) -> int | None:
        left = self.remaining()
        if left is None:
            return None
        warn = self.settings.warn_s_elderly if self.elderly else self.settings.warn_s
        return math.ceil(left) if left <= warn else None

    # --- moving between screens ---------------------------------------------------------------

    def _go(self, screen: Screen, *, remember: bool = True) -> None:
        if screen != self.screen:
            transient = (Screen.NOTICE, Screen.WORKING, Screen.PAUSED, Screen.NEED_CARD)
            if remember and self.screen not in transient and screen not in transient:
                self.visit.trail.append(self.screen)
            self.screen = screen
            self.visit.page = 0
        self.idle.restart()

    def wipe(self) -> None:
        """Forget the resident: identity, ticket, booking, language, mode. Back home."""
        self.visit = Visit()
        self.lang = "zh"
        self.elderly = False
        self.screen = Screen.HOME if self.server_up else Screen.PAUSED
        self.idle.restart()

    def back(self) -> list[Effect]:
        self.touch()
        if self.screen in (Screen.WORKING, Screen.PAUSED, Screen.HOME):
            return []
        if self.screen == Screen.NEED_CARD:
            self.visit.card_for = None
            target = Screen.APPOINTMENT if self.visit.appointment else Screen.BOOK
            self._go(target, remember=False)
            return []
        trail = self.visit.trail
        target = trail.pop() if trail else Screen.HOME
        if target == Screen.HOME:
            self.wipe()
            return []
        if self.screen == Screen.MAP:
            self.visit.map_window = None
        self._go(target, remember=False)
        return []

    def open(self, name: str) -> list[Effect]:
        """From home: ``bureaus``, ``queues``, ``map`` or ``book_services``."""
        targets = {
            "bureaus": Screen.BUREAUS,
            "queues": Screen.QUEUES,
            "map": Screen.MAP,
            "book_services": Screen.BOOK_SERVICES,
        }
        target = targets.get(name)
        if target is None or self.screen not in (Screen.HOME, Screen.BUREAUS):
            return []
        if target in (Screen.QUEUES, Screen.BOOK_SERVICES) and not self.server_up:
            self._go(Screen.PAUSED)
            return []
        if target == Screen.MAP:
            self.visit.map_service = self.visit.map_window = None
        self._go(target)
        return []

    def type_key(self, key: str) -> list[Effect]:
        """The search keyboard: a letter or digit, ``space``, ``delete`` or ``clear``."""
        if self.screen != Screen.SEARCH:
            return []
        self.touch()
        text = self.visit.search_text
        if key == "delete":
            text = text[:-1]
        elif key == "clear":
            text = ""
        elif key == "space":
            text += " "
        elif len(key) == 1 and len(text) < 30:
            text += key.lower()
        self.visit.search_text = text
        self.visit.page = 0
        return []

    def choose_service(self, service_id: str) -> list[Effect]:
        if service_id not in self.offer:
            return []
        if self.screen == Screen.BOOK_SERVICES:
            self.visit.service = service_id
            return self.open_booking()
        if self.screen not in (Screen.SERVICES, Screen.SEARCH, Screen.QUEUES):
            return []
        self.visit.service = service_id
        self._go(Screen.GUIDE)
        return []

    def show_map(self) -> list[Effect]:
        """From a guide: the map with the service's windows lit; from a called ticket: its
        window."""
        if self.screen == Screen.GUIDE and self.visit.service:
            self.visit.map_service, self.visit.map_window = self.visit.service, None
        elif self.screen == Screen.TICKET and self.visit.ticket:
            counter = self.visit.ticket.counter
            if counter is None:
                service = self.visit.ticket.service
                self.visit.map_service, self.visit.map_window = service, None
            else:
                self.visit.map_service, self.visit.map_window = None, counter
        else:
            return []
        self._go(Screen.MAP)
        return []

    # --- live information ---------------------------------------------------------------------

    def live_update(self, state: PublicSnapshot) -> list[Effect]:
        """A public snapshot of the hall (services, counters, recent calls); nothing personal."""
        live = self.live
        live.services = {s.service: s for s in state.services}
        live.counters = {c.id: c for c in state.counters}
        live.recent = list(state.recent_calls)
        live.known = True
        live.version += 1
        # A scanned ticket on screen follows the hall: ask for its state again.
        if self.screen == Screen.TICKET and self.visit.ticket_id and not self.visit.ticket_problem:
            return [Query("ticket", (("ticket", self.visit.ticket_id),))]
        return []

    # --- devices ------------------------------------------------------------------------------

    def code_scanned(self, code: str) -> list[Effect]:
        if self.screen in (Screen.WORKING, Screen.PAUSED):
            return []
        self.wipe()  # a scan starts a new visit: the last resident's things go
        appointment = appointment_id(code)
        if appointment is not None:
            self.visit.appointment = appointment
            self._go(Screen.APPOINTMENT)
            return []
        ticket = ticket_of(code)
        if ticket is None:
            self._notice(T["bad_code_title"], T["bad_code_body"])
            return []
        ticket_id, expires = ticket
        self.visit.ticket_id = ticket_id
        self._go(Screen.TICKET)
        if expires < self.wall():
            self.visit.ticket_problem = "ticket_expired"
            return []
        return [Query("ticket", (("ticket", ticket_id),))]

    def card_read(self, identity: Identity) -> list[Effect]:
        if self.screen in (Screen.WORKING, Screen.PAUSED):
            return []
        if self.screen in (Screen.NOTICE, Screen.BOOKED):
            self.wipe()  # the next resident
        self.touch()
        self.visit.identity = identity
        if (
            age_on(identity.birth_date, self.today()) >= self.config.rules.elderly_age
            and not self.visit.elderly_offered
        ):
            self.visit.elderly_offered = True
            self.elderly = True
        if self.screen == Screen.NEED_CARD:
            return self._with_card()
        return []

    def card_error(self, zh: str, en: str) -> list[Effect]:
        if self.screen in (Screen.WORKING, Screen.PAUSED):
            return []
        self._notice(
            T["card_error_title"], Text(f"{zh}\n{T['card_help'].zh}", f"{en}\n{T['card_help'].en}")
        )
        return []

    def connection(self, up: bool) -> list[Effect]:
        was = self.server_up
        self.server_up = up
        if not up and self.screen not in OFFLINE_OK and self.screen != Screen.WORKING:
            # Nothing here works without the server; what was personal goes.
            self.wipe()
        elif up and not was and self.screen == Screen.PAUSED:
            self.wipe()
        return []

    # --- booking ------------------------------------------------------------------------------

    def open_booking(self) -> list[Effect]:
        service = self.visit.service
        if self.screen not in (Screen.GUIDE, Screen.BOOK_SERVICES) or service not in self.bookable:
            return []
        if not self.server_up:
            self.wipe()
            return []
        self.visit.days = self.visit.slots = self.visit.slot = self.visit.day = None
        self._go(Screen.BOOK)
        return [Query("bookable_days", (("service", service),))]

    def choose_day(self, day: str) -> list[Effect]:
        if self.screen != Screen.BOOK or day not in (self.visit.days or []):
            return []
        self.touch()
        self.visit.day = day
        self.visit.slots = None
        self.visit.page = 0
        return [Query("slots", (("service", self.visit.service or ""), ("day", day)))]

    def choose_slot(self, start: str) -> list[Effect]:
        """``start``: the slot's start as the wire writes it (``slot.start.isoformat()``)."""
        if self.screen != Screen.BOOK:
            return []
        slot = next((s for s in self.free_slots() if s.start.isoformat() == start), None)
        if slot is None:
            return []
        self.visit.slot = slot
        self.visit.card_for = "book"
        if self.visit.identity is not None:
            return self._with_card()
        self._go(Screen.NEED_CARD)
        return []

    def cancel_booking(self) -> list[Effect]:
        """From the booked screen (the card is there) or a scanned booking (card needed)."""
        if self.screen == Screen.BOOKED and self.visit.booking:
            self.visit.appointment = self.visit.booking.id
        elif self.screen != Screen.APPOINTMENT or not self.visit.appointment:
            return []
        self.visit.card_for = "cancel"
        if self.visit.identity is not None:
            return self._with_card()
        self._go(Screen.NEED_CARD)
        return []

    def _with_card(self) -> list[Effect]:
        resident = self.resident_id()
        assert resident is not None
        if not self.server_up:
            self.wipe()  # to the paused screen: nothing can be booked or cancelled now
            return []
        purpose = self.visit.card_for
        effect: Effect
        if purpose == "book" and self.visit.slot and self.visit.service:
            effect = Book(self.visit.service, self.visit.slot.start.isoformat(), resident)
        elif purpose == "cancel" and self.visit.appointment:
            effect = CancelBooking(self.visit.appointment, resident)
        else:
            return []
        self.visit.pending = effect
        self._go(Screen.WORKING)
        return [effect]

    # --- the server's and printer's answers -----------------------------------------------------

    def answered(
        self, query: str, result: TicketResult | BookableDaysResult | SlotsResult
    ) -> list[Effect]:
        """A query's result (``ticket``, ``bookable_days``, ``slots``)."""
        v = self.visit
        if isinstance(result, TicketResult):
            if (
                query == "ticket"
                and self.screen == Screen.TICKET
                and result.ticket.id == v.ticket_id
            ):
                v.ticket = result.ticket
        elif isinstance(result, BookableDaysResult) and self.screen == Screen.BOOK:
            v.days = [day.isoformat() for day in result.days]
            if v.days:
                return self.choose_day(v.days[0])
        elif isinstance(result, SlotsResult) and self.screen == Screen.BOOK:
            if result.day.isoformat() == v.day:
                v.slots = list(result.slots)
                v.page = 0
        return []

    def booked(self, reply: CommandResult) -> list[Effect]:
        pending = self.visit.pending
        if self.screen != Screen.WORKING or not isinstance(pending, Book):
            return []
        appointment = reply.appointment
        if appointment is None:
            raise ValueError("the reply to a booking carries no appointment")
        self.visit.pending = None
        self.visit.booking = appointment
        self._go(Screen.BOOKED, remember=False)
        log.info("navigator: booking %s made for %s", appointment.id, appointment.service)
        if not self.has_printer:
            self.visit.print_state = "none"
            return []
        if self.printer_problem is not None:
            self.visit.print_state = "failed"
            return [ReportFault("printer", self.printer_problem, "booking slip not printed")]
        self.visit.print_state = "printing"
        rules = self.config.appointments
        start = appointment.slot_start.astimezone(self.config.zone)
        end = appointment.slot_end.astimezone(self.config.zone)
        service = self.catalog.service(appointment.service)
        bring = [m.name_zh for m in service.materials if m.required][:4]
        note = (
            f"预约时段：{start:%Y-%m-%d %H:%M}–{end:%H:%M}\n"
            f"请在时段开始前{rules.early_minutes:g}分钟至开始后{rules.late_minutes:g}分钟内，"
            "到自助填表机扫描本二维码签到。\n"
            + ("请携带：" + "、".join(bring) + "\n" if bring else "")
            + "不能前来请提前取消。"
        )
        return [
            Print(
                hall_name=self.config.hall.name_zh,
                appointment=appointment.id,
                service=service.name_zh,
                slot_start=start.replace(tzinfo=None),
                note=note,
            )
        ]

    def printed(self) -> list[Effect]:
        if self.visit.print_state == "printing":
            self.visit.print_state = "printed"
        return []

    def print_failed(self, kind: str) -> list[Effect]:
        if self.visit.print_state != "printing":
            return []
        self.visit.print_state = "failed"
        self.printer_problem = kind
        return [ReportFault("printer", kind, "booking slip not printed")]

    def booking_cancelled(self) -> list[Effect]:
        pending = self.visit.pending
        if self.screen != Screen.WORKING or not isinstance(pending, CancelBooking):
            return []
        self.visit.pending = None
        appointment = pending.appointment
        self.visit.booking = None
        self._notice(T["cancelled_title"], T["cancelled_body"].format(appointment=appointment))
        return []

    def refused(self, code: str, zh: str, en: str) -> list[Effect]:
        """The server said no: show its reason (meant for residents) as it is."""
        if self.screen == Screen.TICKET and code == "not_found":
            self.visit.ticket_problem = "ticket_unknown"
            return []
        if self.screen in (Screen.TICKET, Screen.BOOK) and self.visit.pending is None:
            self._notice(T["refused_title"], Text(zh, en))
            return []
        if self.screen != Screen.WORKING:
            return []
        self.visit.pending = None
        self._notice(T["refused_title"], Text(zh, en))
        return []

    def unreachable(self) -> list[Effect]:
        """The server went away before answering."""
        pending = self.visit.pending
        self.server_up = False
        if self.screen == Screen.WORKING and pending is not None:
            self.visit.pending = None
            self._notice(T["paused_title"], T["unknown_outcome"])
            return []
        if self.screen not in OFFLINE_OK:
            self.wipe()
        return []

    def _notice(self, title: Text, body: Text) -> None:
        self.visit.notice_title, self.visit.notice_body = title, body
        self._go(Screen.NOTICE)

    def printer_text(self) -> Text:
        return PRINTER_PROBLEMS.get(self.printer_problem or "fault", PRINTER_PROBLEMS["fault"])

    # --- for tests and audits ---------------------------------------------------------------
