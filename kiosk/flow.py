"""One resident's visit at the kiosk, as plain Python: no Kivy, no I/O, no clock of its own.

    flow = KioskFlow(catalog, config)
    effects = flow.card_read(identity)     # inputs: touches, devices, the server's answers
    for effect in effects:                 # outputs: what the adapter (kiosk.app) must do
        ...                                # Issue / CheckIn / Print / Cancel / ReportFault
    flow.screen, flow.visit, flow.countdown()   # what the screens render

Screens::

    WELCOME ──card──> (CheckIn by resident) ──none booked──> BUREAUS ─> SERVICES ─> GUIDE
       │ start                   │ checked in                  │ search      │
       └──────> BUREAUS          └──> Print ─> TICKET          └> SEARCH     ├─> FORM ─┐
                                                                              │         v
    QR scanned ─> CheckIn by appointment ─> Print ─> TICKET     NEED_CARD <───┴─ take ticket
                                                                   (card) ──> Issue ─> Print ─> TICKET
    faults: PAUSED (server away, recovers by itself), NOTICE (refusals, card and printer trouble)

Everything personal (the card's identity, the form, the ticket) lives in ``flow.visit`` and is
dropped by ``wipe()``: when the resident finishes, after the idle timeout, or when the next
resident starts. The clear ID number leaves only as the ``resident_id`` of an Issue/CheckIn
effect; nothing here logs it.

Times come from the injected ``clock`` (monotonic seconds) and ``today`` (the hall's date).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from content import Catalog, Service
from devices.identity import Identity, Sex, is_valid_gb11643
from kiosk.settings import KioskSettings
from kiosk.texts import PRINTER_PROBLEMS, T, Text
from queue_server.config import HallConfig
from queue_server.protocol.payloads import CommandResult
from terminal.flow import HallOffer, IdleTimer, TerminalFlow, age_on, appointment_id

log = logging.getLogger(__name__)


class Screen(enum.StrEnum):
    WELCOME = "welcome"
    BUREAUS = "bureaus"
    SERVICES = "services"
    SEARCH = "search"
    GUIDE = "guide"
    FORM = "form"
    NEED_CARD = "need_card"
    WORKING = "working"
    TICKET = "ticket"
    NOTICE = "notice"
    PAUSED = "paused"


# Screens where nothing personal is shown and no timeout runs.
RESTING = frozenset({Screen.WELCOME, Screen.PAUSED})


# --- effects: what the adapter must do ------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """Send IssueTicket; answer with ``issued(reply)``, ``refused(...)`` or ``unreachable()``.

    ``form`` goes with it as the protocol's Form: ``{"fields": {key: value}, "materials":
    [material keys the resident ticked as bringing]}``, stored sealed for the serving window."""

    service: str
    priority: str
    resident_id: dict[str, str] | None = field(repr=False)
    form: dict[str, Any] | None = field(repr=False)


@dataclass(frozen=True, eq=False)
class LookUpOnFile:
    """Ask the server which materials the hall holds for this resident (``materials_on_file``);
    answer with ``on_file_known(effect, keys)`` (nothing on failure: no marks)."""

    resident_id: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class CheckIn:
    """Send CheckIn by appointment id or by the resident; answers as for Issue."""

    appointment: str | None = None
    resident_id: dict[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Print:
    """Print the ticket; answer with ``printed()`` or ``print_failed(kind)``."""

    hall_name: str
    number: str
    service: str
    people_ahead: int
    wait_minutes: int | None
    qr_data: str
    note: str


@dataclass(frozen=True)
class Cancel:
    """Cancel an issued ticket whose paper never came out (with the ticket's own resident
    token: a kiosk may not cancel tickets itself); answer with ``cancelled(ok)``."""

    ticket: str
    resident_token: str = field(repr=False)


@dataclass(frozen=True)
class ReportFault:
    """Tell the hall manager: the runtime logs it to ``kiosk.faults``; the part's health goes
    to the server (``device_status``) as the runtime sees it change."""

    device: str
    kind: str
    detail: str


Effect = Issue | CheckIn | Print | Cancel | ReportFault | LookUpOnFile


class MaterialLine(NamedTuple):
    """One line of the guide's materials."""

    text: str
    reusable: bool  # an electronic copy is accepted
    on_file: bool  # the hall holds it for this resident: not needed
    key: str
    bringing: bool  # ticked by the resident: goes with the form


# --- the visit -----------------------------------------------------------------


@dataclass
class Visit:
    """Everything personal about the resident at the kiosk now. Dropped whole by ``wipe``."""

    identity: Identity | None = field(default=None, repr=False)
    elderly_offered: bool = False
    bureau: str | None = None
    service: str | None = None
    search_text: str = ""
    page: int = 0
    form: dict[str, str] = field(default_factory=dict, repr=False)
    form_errors: dict[str, Text] = field(default_factory=dict)
    submit_form: bool = False
    bringing: set[str] = field(default_factory=set, repr=False)  # material keys ticked
    on_file: set[str] | None = field(default=None, repr=False)  # from the server; None: unknown
    lookup: LookUpOnFile | None = field(default=None, repr=False)  # the question in flight
    ticket: dict[str, Any] | None = field(default=None, repr=False)
    checked_in: bool = False
    pending: Effect | None = field(default=None, repr=False)
    notice_title: Text | None = None
    notice_body: Text | None = None
    notice_next: Screen | None = None  # where the notice's second button leads
    previous: Screen | None = None  # for back()


PHONE_RE = re.compile(r"^1\d{10}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def card_value(identity: Identity, key: str) -> str:
    """A form field's value from the card (``from_id_card`` keys)."""
    if key == "id_number":
        return identity.number
    if key == "sex":
        return {Sex.MALE: "male", Sex.FEMALE: "female"}.get(identity.sex, "")
    if key == "birth_date":
        return identity.birth_date.isoformat()
    value = getattr(identity, key, None)
    return "" if value is None else str(value)


class KioskFlow(TerminalFlow):
    """The state machine of one kiosk; every input method returns the effects to carry out."""

    def __init__(
        self,
        catalog: Catalog,
        config: HallConfig,
        settings: KioskSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], dt.date] = dt.date.today,
        on_file: Callable[[Identity, Iterable[str]], set[str]] | None = None,
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
        self.settings = settings or KioskSettings()
        self.clock = clock
        self.today = today
        # Which reusable documents the hall already holds for this resident (by material key):
        # the server's answer to LookUpOnFile, unless a hook is given (tests, other stores).
        self.on_file = on_file
        classes = {c.name: c for c in config.priority_classes}
        self.elderly_class = (
            "elderly" if "elderly" in classes and classes["elderly"].self_service else None
        )
        self.priority_labels = {c.name: Text(c.label_zh, c.label_en) for c in classes.values()}
        self.lang = self.settings.language
        self.elderly = False
        self.screen = Screen.WELCOME
        self.server_up = True
        self.printer_problem: str | None = "starting"  # None: ready
        self.visit = Visit()

    # --- what the screens read --------------------------------------------------------------

    def text(self, key: str, **values: object) -> Text:
        """A fixed text, with the hall's help desk named and ``values`` filled in."""
        text = T[key].with_desk(self.settings.help_desk_zh, self.settings.help_desk_en)
        return text.format(**values) if values else text

    def t(self, key: str, **values: object) -> str:
        return self.text(key, **values).get(self.lang)

    def priority_label(self, name: str | None) -> Text | None:
        """What the ticket says of a priority class other than normal (预约优先, 老年人优先)."""
        label = self.priority_labels.get(name or "")
        if label is None or name == "normal":
            return None
        zh = label.zh if label.zh.endswith("优先") else f"{label.zh}优先"
        return Text(zh, f"Priority: {label.en}")

    @property
    def page_size(self) -> int:
        return self.settings.page_size_elderly if self.elderly else self.settings.page_size

    def _choices(self) -> list:
        if self.screen == Screen.BUREAUS:
            return self.bureaus
        if self.screen == Screen.SERVICES:
            return self.offer.in_bureau(self.visit.bureau)
        if self.screen == Screen.SEARCH:
            return self.search_results()
        return []

    def needs_card(self, service: Service) -> bool:
        """Does a ticket for ``service`` need the ID card here? The catalog's
        ``id_card_required``, under the hall's ``[kiosk]`` id_required and its two lists."""
        s = self.settings
        if s.id_required != "per_service":
            return s.id_required == "always"
        if service.id in s.card_required:
            return True
        if service.id in s.card_optional:
            return False
        return service.id_card_required

    def card_hint(self) -> Text | None:
        """The guide's line on the card, for a resident who has not placed one."""
        service = self.service
        if service is None or self.visit.identity is not None:
            return None
        return T["card_needed_hint"] if self.needs_card(service) else T["card_optional_hint"]

    @property
    def elderly_age(self) -> int:
        """From this age a card turns large print on by itself."""
        return self.settings.elderly_age or self.config.rules.elderly_age

    def materials(self) -> list[MaterialLine]:
        """The guide's materials. Only a material whose electronic copy the window accepts is
        marked on file: an original the window must see is still to be brought."""
        service = self.service
        if service is None:
            return []
        held: set[str] = set()
        if self.visit.identity is not None:
            if self.on_file is not None:
                reusable = [m.key for m in service.materials if m.reusable_e_copy]
                held = set(self.on_file(self.visit.identity, reusable))
            else:
                held = self.visit.on_file or set()
        lines = []
        for m in service.materials:
            on_file = m.reusable_e_copy and m.key in held
            lines.append(
                MaterialLine(
                    m.describe(self.lang),
                    m.reusable_e_copy,
                    on_file,
                    m.key,
                    m.key in self.visit.bringing and not on_file,
                )
            )
        return lines

    def toggle_material(self, key: str) -> list[Effect]:
        """The guide's 我带了 tick: the window sees which materials the resident brings."""
        service = self.service
        if self.screen != Screen.GUIDE or service is None:
            return []
        self.touch()
        lines = {line.key: line for line in self.materials()}
        if key in lines and not lines[key].on_file:  # on file: nothing to bring
            self.visit.bringing ^= {key}
        return []

    def on_file_known(self, effect: LookUpOnFile, keys: Iterable[str]) -> list[Effect]:
        """The server's answer to LookUpOnFile, if it is still this resident's visit."""
        if self.visit.lookup is effect:
            self.visit.on_file = set(keys)
            self.visit.lookup = None
        return []

    def _look_up(self) -> list[Effect]:
        """Ask once per visit, once the card is read, which materials are on file."""
        rid = self.resident_id()
        if rid is None or self.on_file is not None or self.visit.on_file is not None:
            return []
        if self.visit.lookup is None:
            self.visit.lookup = LookUpOnFile(rid)
            return [self.visit.lookup]
        return []

    def submission(self) -> dict[str, Any] | None:
        """The protocol's Form for the ticket: the fields if the resident submitted the form,
        the materials they ticked; None when there is neither."""
        fields = dict(self.visit.form) if self.visit.submit_form else {}
        service = self.service
        keys = [m.key for m in service.materials] if service else []
        bringing = [k for k in keys if k in self.visit.bringing]
        if not fields and not bringing:
            return None
        return {"fields": fields, "materials": bringing}

    def form_fields(self) -> list:
        service = self.service
        return list(service.form) if service else []

    def priority(self) -> str:
        identity = self.visit.identity
        if (
            self.elderly_class
            and identity is not None
            and age_on(identity.birth_date, self.today()) >= self.config.rules.elderly_age
        ):
            return self.elderly_class
        return "normal"

    def timeout_s(self) -> float | None:
        if self.screen in RESTING or self.screen == Screen.WORKING:
            return None
        s = self.settings
        if self.screen == Screen.TICKET:
            return s.ticket_s_elderly if self.elderly else s.ticket_s
        if self.screen == Screen.NOTICE:
            return max(s.notice_s, s.idle_s_elderly if self.elderly else s.idle_s)
        return s.idle_s_elderly if self.elderly else s.idle_s

    def remaining(self) -> float | None:
        return self.idle.left(self.timeout_s(), since_entered=self.screen == Screen.TICKET)

    def countdown(self) -> int | None:
        """Whole seconds left, once the warning period has begun; None otherwise."""
        left = self.remaining()
        if left is None:
            return None
        warn = self.settings.warn_s_elderly if self.elderly else self.settings.warn_s
        if self.screen == Screen.TICKET or left <= warn:
            return math.ceil(left)
        return None

    # --- moving between screens ---------------------------------------------------------------

    def _go(self, screen: Screen) -> None:
        if screen != self.screen:
            if screen not in (Screen.NOTICE, Screen.WORKING, Screen.PAUSED):
                self.visit.previous = self.screen
            self.screen = screen
            self.visit.page = 0
        self.idle.restart()

    def wipe(self) -> None:
        """Forget the resident: identity, form, ticket, language, mode. Back to welcome."""
        self.visit = Visit()
        self.lang = self.settings.language
        self.elderly = False
        self.screen = Screen.PAUSED if not self.server_up else Screen.WELCOME
        self.idle.restart()

    def start(self) -> list[Effect]:
        if self.screen not in (Screen.WELCOME, Screen.TICKET, Screen.NOTICE):
            return []
        if self.screen != Screen.WELCOME:
            self.wipe()
        if not self.server_up:
            self._go(Screen.PAUSED)
            return []
        self._go(Screen.BUREAUS)
        return []

    def back(self) -> list[Effect]:
        self.touch()
        order = {
            Screen.BUREAUS: Screen.WELCOME,
            Screen.SERVICES: Screen.BUREAUS,
            Screen.SEARCH: Screen.BUREAUS,
            Screen.GUIDE: self.visit.previous or Screen.SERVICES,
            Screen.FORM: Screen.GUIDE,
            Screen.NEED_CARD: Screen.GUIDE,
        }
        target = order.get(self.screen)
        if target is None:
            return []
        if target == Screen.WELCOME:
            self.wipe()
        elif self.screen == Screen.GUIDE and target in (Screen.SERVICES, Screen.SEARCH):
            self.screen = target  # keep the page and the search text
            self.touch()
        else:
            self._go(target)
        return []

    def type_key(self, key: str) -> list[Effect]:
        """The search keyboard: a letter or digit, Chinese text chosen on the pinyin bar,
        ``space``, ``delete`` or ``clear``."""
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
        elif key and len(text) + len(key) <= 30:  # a letter, or characters chosen by pinyin
            text += key.lower()
        self.visit.search_text = text
        self.visit.page = 0
        return []

    def choose_service(self, service_id: str) -> list[Effect]:
        if self.screen not in (Screen.SERVICES, Screen.SEARCH):
            return []
        if service_id not in self.offer:
            return []
        self.visit.service = service_id
        self.visit.form = {}
        self.visit.form_errors = {}
        self.visit.bringing = set()
        self._go(Screen.GUIDE)
        return []

    # --- the form -------------------------------------------------------------------------------

    def open_form(self) -> list[Effect]:
        if self.screen != Screen.GUIDE or self.service is None:
            return []
        self._prefill()
        self._go(Screen.FORM)
        return []

    def _prefill(self) -> None:
        identity = self.visit.identity
        if identity is None:
            return
        for f in self.form_fields():
            if f.from_id_card and not self.visit.form.get(f.key):
                self.visit.form[f.key] = card_value(identity, f.from_id_card)

    def set_field(self, key: str, value: str) -> list[Effect]:
        if self.screen != Screen.FORM:
            return []
        self.touch()
        if key in {f.key for f in self.form_fields()}:
            self.visit.form[key] = value.strip()
            self.visit.form_errors.pop(key, None)
        return []

    def validate_form(self) -> dict[str, Text]:
        errors: dict[str, Text] = {}
        for f in self.form_fields():
            value = self.visit.form.get(f.key, "").strip()
            kind = f.type.value
            if not value:
                if f.required:
                    errors[f.key] = T["field_required"]
                continue
            if f.max_length and len(value) > f.max_length:
                errors[f.key] = T["field_too_long"].format(n=f.max_length)
            elif kind == "phone" and not PHONE_RE.match(value):
                errors[f.key] = T["field_phone"]
            elif kind == "date" and not _is_date(value):
                errors[f.key] = T["field_date"]
            elif kind == "number" and not value.isdigit():
                errors[f.key] = T["field_number"]
            elif kind == "id_number" and not is_valid_gb11643(value.upper()):
                errors[f.key] = T["field_id_number"]
            elif kind == "select" and value not in {o.value for o in f.options}:
                errors[f.key] = T["field_select"]
        return errors

    def submit_form(self) -> list[Effect]:
        """Validate; if good, take the ticket with the form attached."""
        if self.screen != Screen.FORM:
            return []
        self.touch()
        errors = self.validate_form()
        self.visit.form_errors = errors
        if errors:
            return []
        self.visit.submit_form = True
        return self._take()

    def skip_form(self) -> list[Effect]:
        if self.screen != Screen.FORM:
            return []
        self.visit.submit_form = False
        return self._take()

    # --- taking the ticket ----------------------------------------------------------------------

    def take_ticket(self) -> list[Effect]:
        """From the guide: a ticket without the form."""
        if self.screen != Screen.GUIDE:
            return []
        self.visit.submit_form = False
        return self._take()

    def _printer_refusal(self) -> list[Effect]:
        kind = self.printer_problem or "fault"
        problem = PRINTER_PROBLEMS.get(kind, PRINTER_PROBLEMS["fault"])
        self._notice(
            T["printer_down_title"],
            self.text("printer_down_body", problem=problem.zh, problem_en=problem.en),
        )
        return [ReportFault("printer", kind, "a resident was turned away: printer not ready")]

    def _take(self) -> list[Effect]:
        service = self.service
        assert service is not None
        # What no card can fix first: a resident is not asked for the card only to be told
        # that no ticket can be printed.
        if not self.server_up:
            self._go(Screen.PAUSED)
            return []
        if self.printer_problem is not None:
            return self._printer_refusal()
        if self.needs_card(service) and self.visit.identity is None:
            self._go(Screen.NEED_CARD)
            return []
        effect = Issue(service.id, self.priority(), self.resident_id(), self.submission())
        self.visit.pending = effect
        self._go(Screen.WORKING)
        return [effect]

    # --- devices --------------------------------------------------------------------------------

    def card_read(self, identity: Identity) -> list[Effect]:
        if self.screen in (Screen.WORKING, Screen.PAUSED):
            return []
        if self.screen in (Screen.TICKET, Screen.NOTICE):
            self.wipe()  # the next resident
        self.touch()
        self.visit.identity = identity
        age = age_on(identity.birth_date, self.today())
        if age >= self.elderly_age and not self.visit.elderly_offered:
            self.visit.elderly_offered = True
            self.elderly = True
        if self.screen == Screen.WELCOME:
            if not self.server_up:
                return []
            # An appointment today? The server says; none booked leads to the normal path.
            if self.printer_problem is not None:
                self._go(Screen.BUREAUS)
                return self._look_up()
            effect = CheckIn(resident_id=self.resident_id())
            self.visit.pending = effect
            self._go(Screen.WORKING)
            return [effect, *self._look_up()]
        if self.screen == Screen.NEED_CARD:
            if self.visit.submit_form:
                self._go(Screen.FORM)
                self._prefill()
                return self._look_up() if self.server_up else []
            return self._take()
        if self.screen == Screen.FORM:
            self._prefill()
        return self._look_up() if self.server_up else []

    def card_error(self, zh: str, en: str) -> list[Effect]:
        if self.screen in (Screen.WORKING, Screen.PAUSED):
            return []
        help_ = self.text("card_help")
        self._notice(T["card_error_title"], Text(f"{zh}\n{help_.zh}", f"{en}\n{help_.en}"))
        return []

    def code_scanned(self, code: str) -> list[Effect]:
        if self.screen in (Screen.WORKING, Screen.PAUSED):
            return []
        self.wipe()
        appointment = appointment_id(code)
        if appointment is None:
            self._notice(T["bad_code_title"], T["bad_code_body"])
            return []
        if self.printer_problem is not None:
            return self._printer_refusal()
        effect = CheckIn(appointment=appointment)
        self.visit.pending = effect
        self._go(Screen.WORKING)
        return [effect]

    def connection(self, up: bool) -> list[Effect]:
        was = self.server_up
        self.server_up = up
        if not up and self.screen == Screen.WELCOME:
            self.screen = Screen.PAUSED
        elif up and not was and self.screen == Screen.PAUSED:
            self.wipe()
        return []

    # --- the server's and printer's answers -----------------------------------------------------

    def issued(self, reply: CommandResult) -> list[Effect]:
        """The reply to Issue or CheckIn: a ticket. Print it."""
        pending = self.visit.pending
        if self.screen != Screen.WORKING or pending is None:
            return []
        ticket = reply.ticket
        if ticket is None:
            raise ValueError(f"the reply to {type(pending).__name__} carries no ticket")
        self.visit.ticket = {
            "id": ticket.id,
            "number": ticket.number,
            "service": ticket.service,
            "name_zh": ticket.service_name_zh or ticket.service,
            "name_en": ticket.service_name_en or ticket.service,
            "ahead": ticket.ahead or 0,
            "wait_s": ticket.estimated_wait_s,
            # The class the hall GRANTED (a late booking is normal; the server's rules decide).
            "priority": ticket.priority,
            "token": reply.resident_token or "",
            "url": reply.ticket_url or "",
        }
        if ticket.priority_label_zh and ticket.priority not in self.priority_labels:
            # A class the hall has and this kiosk's config does not: the server's own words.
            self.priority_labels[ticket.priority] = Text(
                ticket.priority_label_zh, ticket.priority_label_en or ticket.priority
            )
        self.visit.checked_in = isinstance(pending, CheckIn)
        if isinstance(pending, Issue) and pending.form is not None:
            log.info(
                "kiosk: form for %s submitted with %d fields and %d materials (stored: %s)",
                pending.service,
                len(pending.form["fields"]),
                len(pending.form["materials"]),
                bool(reply.form_stored),
            )
        self.visit.pending = None
        t = self.visit.ticket
        wait = t["wait_s"]
        service = self.catalog.service(t["service"]) if t["service"] in self.catalog else None
        settings = self.settings
        bring = [m.name_zh for m in service.materials if m.required] if service else []
        bring = bring[: settings.print_materials]
        label = self.priority_label(t["priority"]) if settings.print_priority else None
        note = (f"【{label.zh}】\n" if label else "") + (
            "请携带：" + "、".join(bring) + "\n" if bring else ""
        )
        note += settings.print_note_zh
        return [
            Print(
                hall_name=self.config.hall.name_zh,
                number=t["number"],
                service=t["name_zh"],
                people_ahead=t["ahead"],
                wait_minutes=None if wait is None else max(1, round(wait / 60)),
                qr_data=t["url"],
                note=note,
            )
        ]

    def printed(self) -> list[Effect]:
        if self.screen == Screen.WORKING and self.visit.ticket is not None:
            self._go(Screen.TICKET)
        return []

    def print_failed(self, kind: str) -> list[Effect]:
        """The ticket was issued but its paper did not come out: cancel it (its own token)."""
        ticket = self.visit.ticket
        if self.screen != Screen.WORKING or ticket is None:
            return []
        self.printer_problem = kind
        effects: list[Effect] = [
            ReportFault("printer", kind, f"ticket {ticket['number']} not printed")
        ]
        if ticket["token"]:
            effects.append(Cancel(ticket["id"], ticket["token"]))
        else:
            effects.extend(self.cancelled(False))
        return effects

    def cancelled(self, ok: bool) -> list[Effect]:
        ticket = self.visit.ticket
        if ticket is None:
            return []
        if ok:
            body = self.text("print_failed_cancelled")
        else:
            body = self.text("print_failed_kept", number=ticket["number"])
        self._notice(T["printer_down_title"], body)
        return []

    def refused(self, code: str, zh: str, en: str) -> list[Effect]:
        """The server said no; show its reason (meant for residents) as it is."""
        pending = self.visit.pending
        if self.screen != Screen.WORKING or pending is None:
            return []
        self.visit.pending = None
        if isinstance(pending, CheckIn) and pending.resident_id is not None:
            if code == "not_found":  # no booking today: the ordinary way
                self._go(Screen.BUREAUS)
                return []
            if code in ("check_in_too_early", "check_in_too_late"):
                self._notice(T["refused_title"], Text(zh, en), then=Screen.BUREAUS)
                return []
        self._notice(T["refused_title"], Text(zh, en))
        return []

    def unreachable(self) -> list[Effect]:
        """The server went away before answering: the outcome is unknown."""
        pending = self.visit.pending
        self.server_up = False
        if self.screen == Screen.WORKING and pending is not None:
            self.visit.pending = None
            if isinstance(pending, CheckIn) and pending.resident_id is not None:
                self.wipe()
                return []
            self._notice(T["paused_title"], self.text("unknown_outcome"))
            return []
        if self.screen == Screen.WELCOME:
            self.screen = Screen.PAUSED
        return []

    def notice_next(self) -> list[Effect]:
        """The notice's second button (e.g. "take an ordinary ticket")."""
        target = self.visit.notice_next
        if self.screen != Screen.NOTICE or target is None:
            return []
        self.visit.notice_title = self.visit.notice_body = self.visit.notice_next = None
        self._go(target)
        return []

    def _notice(self, title: Text, body: Text, *, then: Screen | None = None) -> None:
        self.visit.notice_title, self.visit.notice_body, self.visit.notice_next = title, body, then
        self._go(Screen.NOTICE)

    # --- for tests and audits ---------------------------------------------------------------


def _is_date(value: str) -> bool:
    if not DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True
