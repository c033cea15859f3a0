"""What the kiosk's and the navigator's flows share (Kivy-free).

Both are touch terminals a resident walks up to: the hall's catalog browsed by department or
by pinyin search, page by page; Chinese or English; elderly (large-print) mode; an idle timeout
that wipes the visit; the printer's and the server's state.

Two collaborators each flow is given (or makes) in its constructor: ``HallOffer``, what the
hall offers of the catalog (browsed by department, searched by pinyin), and ``IdleTimer``,
when the resident last touched the screen. ``TerminalFlow`` holds the screen inputs both flows
answer alike on top of them; kiosk.flow.KioskFlow and navigator.flow.NavigatorFlow extend it
with their own screens. What the two do differently on purpose stays in each flow: which
screens time out and for how long, where "back" goes, what a lost connection does to the
screen, what the search keyboard accepts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from content import Catalog, Service
from devices.identity import DocumentType, Identity, mask_name
from queue_server.config import HallConfig

# The protocol's resident doc_type for each card the reader knows.
DOC_TYPES = {
    DocumentType.RESIDENT_ID: "id",
    DocumentType.SOCIAL_SECURITY: "id",
    DocumentType.HMT_PERMIT: "hk_macau_taiwan",
    DocumentType.FOREIGN_PR_2017: "foreign_permanent",
    DocumentType.FOREIGN_PR_2023: "foreign_permanent",
}
APPOINTMENT_RE = re.compile(r"(?:^|[/=:#?&])(AP\d{1,12})$")


def age_on(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def appointment_id(code: str) -> str | None:
    """The appointment id a scanned code carries (``AP26``, or a URL ending in it)."""
    match = APPOINTMENT_RE.search(code.strip())
    return match.group(1) if match else None


class HallOffer:
    """What the hall offers of the catalog: the services its queues take (in the order the
    queues list them), the departments that have one, and the pinyin search over them."""

    def __init__(self, catalog: Catalog, config: HallConfig) -> None:
        self.catalog = catalog
        queued = [s for q in config.queues for s in q.services]
        self.services: list[Service] = [
            catalog.service(sid) for sid in dict.fromkeys(queued) if sid in catalog
        ]
        self.service_ids = {s.id for s in self.services}
        self.bureaus = [
            b for b in catalog.bureaus if any(s.bureau == b.code for s in self.services)
        ]

    def __contains__(self, service_id: object) -> bool:
        return service_id in self.service_ids

    def in_bureau(self, code: str | None) -> list[Service]:
        return [s for s in self.services if s.bureau == code]

    def search(self, text: str) -> list[Service]:
        text = text.strip()
        if not text:
            return []
        return [s for s in self.catalog.search(text, limit=40) if s.id in self.service_ids]


class IdleTimer:
    """When the resident last touched the screen, and when the screen was entered (an injected
    clock, never slept on). The flows decide the limits; this only measures."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.entered = self.touched = clock()

    def touch(self) -> None:
        self.touched = self.clock()

    def restart(self) -> None:
        """A new screen (or a wiped visit): both marks start again."""
        self.entered = self.touched = self.clock()

    def left(self, limit: float | None, *, since_entered: bool = False) -> float | None:
        """Seconds left of ``limit`` (None: no timeout) since the last touch, or since the
        screen was entered (a screen that times out however the resident touches it)."""
        if limit is None:
            return None
        start = self.entered if since_entered else self.touched
        return max(0.0, limit - (self.clock() - start))


class TerminalFlow:
    """The screen inputs the kiosk's and the navigator's state machines answer alike.

    The flow's own part, given to ``__init__``: its Screen enum (``screens``: BUREAUS, SERVICES,
    SEARCH, WORKING, NOTICE) and ReportFault effect (``fault_effect``), the ``offer`` and the
    ``idle`` timer. Its own methods: ``t``, ``_go``, ``wipe``, ``remaining``, ``_choices`` and
    ``page_size``; its state: ``lang``, ``elderly``, ``screen``, ``visit``, ``printer_problem``.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        screens: Any,
        fault_effect: Callable[..., Any],
        offer: HallOffer,
        idle: IdleTimer,
    ) -> None:
        self.catalog = catalog
        self.screens = screens
        self.fault_effect = fault_effect
        self.offer = offer
        self.idle = idle

    @property
    def services(self) -> list[Service]:
        return self.offer.services

    @property
    def bureaus(self) -> list:
        return self.offer.bureaus

    # --- what the screens read --------------------------------------------------------------

    @property
    def service(self) -> Service | None:
        sid = self.visit.service
        return self.catalog.service(sid) if sid else None

    def pages(self) -> int:
        return max(1, math.ceil(len(self._choices()) / self.page_size))

    def visible(self) -> list:
        """The bureaus or services (or rows) shown on this page."""
        start = self.visit.page * self.page_size
        return self._choices()[start : start + self.page_size]

    def search_results(self) -> list[Service]:
        return self.offer.search(self.visit.search_text)

    def greeting(self) -> str:
        identity = self.visit.identity
        if identity is None:
            return ""
        name = identity.name if self.lang == "zh" else (identity.name_en or identity.name)
        return self.t("greeting", name=mask_name(name))

    def resident_id(self) -> dict[str, str] | None:
        identity: Identity | None = self.visit.identity
        if identity is None:
            return None
        return {
            "doc_type": DOC_TYPES.get(identity.document_type, "other"),
            "number": identity.number,
        }

    # --- the resident's touches ---------------------------------------------------------------

    def touch(self) -> None:
        """Any touch anywhere: the resident is still there."""
        self.idle.touch()

    def tick(self) -> list:
        """Called about once a second: the idle timeout."""
        left = self.remaining()
        if left is not None and left <= 0:
            # Logged under the app's own flow module, as before the two shared this code.
            logging.getLogger(type(self).__module__).info(
                "%s: visit ended by the timeout on the %s screen",
                type(self).__module__.split(".")[0],
                self.screen.value,
            )
            self.wipe()
        return []

    def toggle_lang(self) -> list:
        self.touch()
        self.lang = "en" if self.lang == "zh" else "zh"
        return []

    def set_elderly(self, on: bool) -> list:
        self.touch()
        self.elderly = on
        self.visit.page = 0
        return []

    def home(self) -> list:
        if self.screen == self.screens.WORKING:
            return []
        self.wipe()
        return []

    def next_page(self) -> list:
        self.touch()
        if self.visit.page + 1 < self.pages():
            self.visit.page += 1
        return []

    def prev_page(self) -> list:
        self.touch()
        if self.visit.page > 0:
            self.visit.page -= 1
        return []

    def choose_bureau(self, code: str) -> list:
        if self.screen != self.screens.BUREAUS or code not in {b.code for b in self.bureaus}:
            return []
        self.visit.bureau = code
        self._go(self.screens.SERVICES)
        return []

    def open_search(self) -> list:
        if self.screen not in (self.screens.BUREAUS, self.screens.SERVICES):
            return []
        self.visit.search_text = ""
        self._go(self.screens.SEARCH)
        return []

    def notice_ok(self) -> list:
        if self.screen != self.screens.NOTICE:
            return []
        self.wipe()
        return []

    # --- the devices --------------------------------------------------------------------------

    def printer_status(self, problem: str | None) -> list:
        """None: ready; else a PRINTER_PROBLEMS key. Reported to the manager on change."""
        effects: list = []
        if problem != self.printer_problem and problem not in (None, "starting"):
            effects.append(self.fault_effect("printer", problem, "printer status changed"))
        self.printer_problem = problem
        return effects

    # --- for tests and audits ---------------------------------------------------------------

    def personal_state(self) -> dict[str, Any]:
        """Everything that would be personal, to check that a wipe left nothing."""
        return dataclasses.asdict(self.visit) | {"lang": self.lang, "elderly": self.elderly}
