"""The navigator's Kivy screens: they only render NavigatorFlow and pass touches to it.

Imported by ``navigator.app.run_navigator`` only, after the Kivy environment is set: importing
this module imports Kivy. Layout lives in ``navigator/kv/*.kv`` (one file per screen, loaded in
``build``); every handler there is one call into the app (``app.act("open", "map")``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import qrcode
from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.core.window import Window
from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager
from kivy.uix.widget import Widget

from navigator.flow import NavigatorFlow
from navigator.flow import Screen as S
from navigator.texts import T
from ui.app import TerminalAppMixin, load_kv, warm_search
from ui.theme import Touch as C

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
KV_FILES = (
    "common",
    "home",
    "choices",
    "search",
    "guide",
    "map",
    "queues",
    "ticket",
    "book",
    "need_card",
    "working",
    "booked",
    "appointment",
    "notice",
    "paused",
)


class ChoiceButton(Button):
    """A bureau, service or slot on the choice grids (kv: ``<ChoiceButton>``)."""

    ident = StringProperty("")
    subtitle = StringProperty("")
    action = StringProperty("choose_service")


class DayButton(Button):
    ident = StringProperty("")
    selected = BooleanProperty(False)


class QueueRow(Button):
    ident = StringProperty("")
    name = StringProperty("")
    waiting = StringProperty("")
    wait = StringProperty("")
    windows = StringProperty("")


class MaterialRow(BoxLayout):
    text = StringProperty("")
    badge = StringProperty("")


class QrCode(Widget):
    """A QR code drawn module by module (sharp at any size; no image file)."""

    data = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(data=self._draw, size=self._draw, pos=self._draw)

    def _draw(self, *_):
        self.canvas.clear()
        if not self.data:
            return
        code = qrcode.QRCode(border=3, error_correction=qrcode.constants.ERROR_CORRECT_M)
        code.add_data(self.data)
        code.make(fit=True)
        matrix = code.get_matrix()
        n = len(matrix)
        side = min(self.width, self.height)
        cell = side / n
        x0 = self.x + (self.width - side) / 2
        y0 = self.y + (self.height - side) / 2
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(pos=(x0, y0), size=(side, side))
            Color(0, 0, 0, 1)
            for r, row in enumerate(matrix):
                for c, dark in enumerate(row):
                    if dark:
                        Rectangle(pos=(x0 + c * cell, y0 + (n - 1 - r) * cell), size=(cell, cell))


class HallMap(Widget):
    """The floor plan with the windows, this terminal, the places and the way, drawn over it.

    Positions are fractions of the plan from its top-left corner (navigator.settings); the
    plan keeps its proportions inside the widget.
    """

    source = StringProperty("")
    view = ObjectProperty(None, allownone=True)
    places = ListProperty([])
    lang = StringProperty("zh")
    font_size = NumericProperty(24)

    def __init__(self, **kw):
        super().__init__(**kw)
        self._texture = None
        self.bind(
            source=self._load,
            size=self._draw,
            pos=self._draw,
            view=self._draw,
            lang=self._draw,
            font_size=self._draw,
            places=self._draw,
        )

    def _load(self, *_):
        from kivy.core.image import Image as CoreImage

        try:
            self._texture = CoreImage(self.source).texture if self.source else None
        except Exception as exc:  # a missing or broken plan: draw the windows on plain floor
            log.error("navigator: floor plan %s not loaded: %s", self.source, exc)
            self._texture = None
        self._draw()

    def plan_rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the plan on screen."""
        tw, th = self._texture.size if self._texture is not None else (1600, 1000)
        scale = min(self.width / tw, self.height / th) if tw and th else 1
        w, h = tw * scale, th * scale
        return self.x + (self.width - w) / 2, self.y + (self.height - h) / 2, w, h

    def to_screen(self, fx: float, fy: float) -> tuple[float, float]:
        x, y, w, h = self.plan_rect()
        return x + fx * w, y + (1 - fy) * h

    def _label(self, text, center, *, color=(1, 1, 1, 1), bold=True, size=None, bg=None):
        # A core label (not a widget): a widget made inside ``with self.canvas`` would put
        # its own drawing on this canvas too.
        label = CoreLabel(text=text, bold=bold, font_size=size or self.font_size, color=color)
        label.refresh()
        texture = label.texture
        tw, th = texture.size
        cx, cy = center
        if bg is not None:
            pad = self.font_size * 0.25
            Color(*bg)
            RoundedRectangle(
                pos=(cx - tw / 2 - pad, cy - th / 2 - pad / 2),
                size=(tw + 2 * pad, th + pad),
                radius=[pad],
            )
        Color(1, 1, 1, 1)
        Rectangle(texture=texture, pos=(cx - tw / 2, cy - th / 2), size=(tw, th))

    def _draw(self, *_):
        self.canvas.clear()
        view = self.view
        x, y, w, h = self.plan_rect()
        with self.canvas:
            if self._texture is not None:
                Color(1, 1, 1, 1)
                Rectangle(texture=self._texture, pos=(x, y), size=(w, h))
            else:
                Color(0.96, 0.96, 0.93, 1)
                Rectangle(pos=(x, y), size=(w, h))
            for place in self.places:
                name = place.name_zh if self.lang == "zh" else place.name_en
                self._label(
                    name, self.to_screen(*place.at), color=C.TEXT_DIM, size=self.font_size * 0.8
                )
            if view is None:
                return
            radius = max(self.font_size * 0.95, w * 0.028)
            if view.path:
                points = [c for p in view.path for c in self.to_screen(*p)]
                Color(*C.ROUTE)
                Line(points=points, width=max(4, radius * 0.22), joint="round", cap="round")
                # An arrow head pointing at the window.
                (ax, ay), (bx, by) = self.to_screen(*view.path[-2]), self.to_screen(*view.path[-1])
                length = max(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5, 1)
                ux, uy = (bx - ax) / length, (by - ay) / length
                tip = (bx - ux * radius, by - uy * radius)
                base = (tip[0] - ux * radius * 1.1, tip[1] - uy * radius * 1.1)
                px, py = -uy * radius * 0.7, ux * radius * 0.7
                Triangle(points=[*tip, base[0] + px, base[1] + py, base[0] - px, base[1] - py])
            for number, fx, fy, lit in view.windows:
                cx, cy = self.to_screen(fx, fy)
                if lit:
                    Color(*C.LIT[:3], 0.35)
                    Ellipse(pos=(cx - radius * 1.6, cy - radius * 1.6), size=(radius * 3.2,) * 2)
                Color(*(C.LIT if lit else C.DARK_WINDOW))
                Ellipse(pos=(cx - radius, cy - radius), size=(radius * 2, radius * 2))
                self._label(str(number), (cx, cy), size=self.font_size * 1.1)
            tx, ty = self.to_screen(*view.terminal)
            Color(*C.ROUTE)
            Ellipse(pos=(tx - radius * 0.7, ty - radius * 0.7), size=(radius * 1.4,) * 2)
            Color(1, 1, 1, 1)
            Ellipse(pos=(tx - radius * 0.3, ty - radius * 0.3), size=(radius * 0.6,) * 2)
            you = T["map_you"].get(self.lang)
            self._label(you, (tx, ty + radius * 1.7), bg=C.ROUTE, size=self.font_size)


class NavScreen(Screen):
    """Base of the screens: ``render`` fills in what kv cannot bind to."""

    def render(self, app: NavigatorApp, flow: NavigatorFlow) -> None:
        pass


class HomeScreen(NavScreen):
    pass


class _Choices(NavScreen):
    """A grid of bureaus or services (its kv rule is the subclass's)."""

    title = StringProperty("")

    def render(self, app, flow):
        self.title = flow.t(
            {"bureaus": "choose_bureau", "services": "choose_service"}.get(self.name, "choose_book")
        )
        grid = self.ids.grid
        grid.clear_widgets()
        for item in flow.visible():
            if hasattr(item, "short_zh"):  # a bureau
                title = item.short_zh if app.lang == "zh" else item.name_en
                subtitle = item.description.get(app.lang) if item.description else ""
                grid.add_widget(
                    ChoiceButton(
                        text=title, subtitle=subtitle, ident=item.code, action="choose_bureau"
                    )
                )
            else:
                subtitle = ""
                info = flow.queue_info(item.id)
                if info is not None:
                    subtitle = flow.t("live_waiting", n=info.waiting)
                grid.add_widget(
                    ChoiceButton(text=item.name(app.lang), subtitle=subtitle, ident=item.id)
                )
        app.page_text = flow.t("page", page=flow.visit.page + 1, pages=flow.pages())
        app.has_pages = flow.pages() > 1


class ChoiceScreen(_Choices):
    """The bureaus, a bureau's services, or the services one may book."""


class SearchScreen(_Choices):
    pass


def live_lines(flow: NavigatorFlow, service_id: str) -> dict[str, str]:
    """The live panel's lines for one service."""
    info = flow.queue_info(service_id)
    if info is None:
        return {"waiting": flow.t("live_unknown"), "wait": "", "serving": "", "windows": ""}
    windows = (
        "、".join(str(w) for w in info.windows)
        if flow.lang == "zh"
        else ", ".join(str(w) for w in info.windows)
    )
    if info.serving:
        calls = "，".join(flow.t("live_call", number=n, window=w) for n, w in info.serving[:3])
        serving = flow.t("live_serving", calls=calls)
    else:
        serving = flow.t("live_none_serving")
    if info.wait_minutes is None or not info.windows:
        wait = flow.t("live_closed") if not info.windows else ""
    elif info.wait_minutes <= 1 and info.waiting == 0:
        wait = flow.t("live_no_wait")
    else:
        wait = flow.t("live_wait", m=info.wait_minutes)
    return {
        "waiting": flow.t("live_waiting", n=info.waiting),
        "wait": wait,
        "serving": serving,
        "windows": flow.t("live_windows", windows=windows) if info.windows else "",
    }


class GuideScreen(NavScreen):
    def render(self, app, flow):
        service = flow.service
        if service is None:
            return
        lang = app.lang
        self.ids.name.text = service.name(lang)
        limit = (
            flow.t("instant")
            if service.instant
            else flow.t("not_instant", days=service.time_limit_days)
        )
        self.ids.limit.text = f"{limit}    {flow.t('fees', fees=service.fees.get(lang))}"
        self.ids.description.text = service.description.get(lang)
        box = self.ids.materials
        box.clear_widgets()
        for text, reusable in flow.materials():
            box.add_widget(MaterialRow(text=text, badge=flow.t("e_copy_ok") if reusable else ""))
        self.render_live(app, flow)
        app.can_book = service.id in flow.bookable and flow.server_up

    def render_live(self, app, flow):
        service = flow.service
        if service is None:
            return
        for key, value in live_lines(flow, service.id).items():
            self.ids[f"live_{key}"].text = value


class MapScreen(NavScreen):
    def render(self, app, flow):
        view = flow.map_view()
        hall_map = self.ids.hall_map
        hall_map.view = view
        v = flow.visit
        if v.map_window is not None:
            self.ids.heading.text = flow.t("map_to_window", window=v.map_window)
            self.ids.detail.text = ""
        elif v.map_service is not None:
            name = flow.service_name(v.map_service)
            lit = [n for n, _x, _y, on in view.windows if on]
            sep = "、" if app.lang == "zh" else ", "
            self.ids.heading.text = name
            self.ids.detail.text = flow.t("live_windows", windows=sep.join(str(n) for n in lit)) + (
                "\n" + flow.t("map_to_window", window=view.target) if view.target else ""
            )
        else:
            self.ids.heading.text = flow.t("map_title")
            self.ids.detail.text = flow.t("map_all")
        self.ids.legend.text = flow.t("map_legend") if view.path else ""

        service = v.map_service
        lines = live_lines(flow, service) if service else {}
        # The windows are on the map already; the queue's figures, briefly.
        self.ids.live.text = "\n".join(
            lines.get(k, "") for k in ("waiting", "wait") if lines.get(k)
        )

    def render_live(self, app, flow):
        self.render(app, flow)  # an open window may change which one the way leads to


class QueuesScreen(NavScreen):
    def render(self, app, flow):
        grid = self.ids.grid
        grid.clear_widgets()
        sep = "、" if app.lang == "zh" else ", "
        for service in flow.visible():
            info = flow.queue_info(service.id)
            if info is None:
                waiting = wait = windows = "—"
            else:
                waiting = str(info.waiting)
                wait = "—" if info.wait_minutes is None else flow.t("minutes", m=info.wait_minutes)
                windows = sep.join(str(w) for w in info.windows) or "—"
            grid.add_widget(
                QueueRow(
                    ident=service.id,
                    name=service.name(app.lang),
                    waiting=waiting,
                    wait=wait,
                    windows=windows,
                )
            )
        app.page_text = flow.t("page", page=flow.visit.page + 1, pages=flow.pages())
        app.has_pages = flow.pages() > 1
        self.ids.unknown.text = "" if flow.live.known and flow.server_up else flow.t("live_unknown")

    def render_live(self, app, flow):
        self.render(app, flow)


class TicketScreen(NavScreen):
    def render(self, app, flow):
        ticket = flow.visit.ticket
        self.ids.number.text = ticket.number if ticket else ""
        self.ids.service.text = flow.service_name(ticket.service) if ticket else ""
        headline, second = flow.ticket_status()
        self.ids.headline.text = headline.get(app.lang) if headline else ""
        self.ids.second.text = second.get(app.lang) if second else ""
        state = ticket.state if ticket else None
        self.ids.headline.color = C.NUMBER if state in ("called", "serving") else C.TEXT
        app.ticket_has_way = state in ("waiting", "called", "serving")

    def render_live(self, app, flow):
        self.render(app, flow)


class BookScreen(NavScreen):
    def render(self, app, flow):
        v = flow.visit
        self.ids.title.text = flow.t("book_title", service=flow.service_name(v.service or ""))
        days = self.ids.days
        days.clear_widgets()
        for day in (v.days or [])[:5]:
            days.add_widget(DayButton(text=flow.day_label(day), ident=day, selected=day == v.day))
        grid = self.ids.grid
        grid.clear_widgets()
        for slot in flow.visible():
            _day, start, end = flow.slot_time(slot)
            grid.add_widget(
                ChoiceButton(
                    text=f"{start}–{end}",
                    subtitle=flow.t("slot_free", n=slot.free),
                    ident=slot.start.isoformat(),
                    action="choose_slot",
                )
            )
        if v.days is None or (v.day and v.slots is None):
            status = flow.t("book_loading")
        elif not v.days:
            status = flow.t("book_no_days")
        elif not flow.free_slots():
            status = flow.t("book_none")
        else:
            status = ""
        self.ids.status.text = status
        app.page_text = flow.t("page", page=v.page + 1, pages=flow.pages())
        app.has_pages = flow.pages() > 1


class NeedCardScreen(NavScreen):
    def render(self, app, flow):
        v = flow.visit
        if v.card_for == "cancel":
            self.ids.what.text = flow.t("need_card_cancel", appointment=v.appointment or "")
        else:
            day, start, end = flow.slot_time(v.slot)
            self.ids.what.text = flow.t(
                "need_card_book",
                service=flow.service_name(v.service or ""),
                when=f"{day} {start}–{end}",
            )


class WorkingScreen(NavScreen):
    def render(self, app, flow):
        purpose = flow.visit.card_for
        self.ids.label.text = flow.t("working_cancel" if purpose == "cancel" else "working_book")


class BookedScreen(NavScreen):
    def render(self, app, flow):
        booking = flow.visit.booking
        self.ids.qr.data = booking.id if booking else ""
        self.ids.appointment.text = booking.id if booking else ""
        self.ids.service.text = flow.service_name(booking.service) if booking else ""
        day, start, end = flow.slot_time(booking)
        self.ids.when.text = flow.t("booked_when", day=day, start=start, end=end)
        rules = flow.config.appointments
        self.ids.how.text = flow.t(
            "booked_how", early=f"{rules.early_minutes:g}", late=f"{rules.late_minutes:g}"
        )
        state = flow.visit.print_state
        key = {
            "printing": "booked_printing",
            "printed": "booked_printed",
            "failed": "booked_not_printed",
        }.get(state or "", "booked_no_printer")
        self.ids.print_state.text = flow.t(key)
        self.ids.print_state.color = C.ERROR if state == "failed" else C.GOOD


class AppointmentScreen(NavScreen):
    def render(self, app, flow):
        appointment = flow.visit.appointment or ""
        self.ids.qr.data = appointment
        self.ids.title.text = flow.t("appointment_title", appointment=appointment)


class NoticeScreen(NavScreen):
    def render(self, app, flow):
        v = flow.visit
        self.ids.title.text = v.notice_title.get(app.lang) if v.notice_title else ""
        self.ids.body.text = v.notice_body.get(app.lang) if v.notice_body else ""


class PausedScreen(NavScreen):
    pass


SCREENS: dict[S, type[NavScreen]] = {
    S.HOME: HomeScreen,
    S.BUREAUS: ChoiceScreen,
    S.SERVICES: ChoiceScreen,
    S.SEARCH: SearchScreen,
    S.GUIDE: GuideScreen,
    S.MAP: MapScreen,
    S.QUEUES: QueuesScreen,
    S.TICKET: TicketScreen,
    S.BOOK_SERVICES: ChoiceScreen,
    S.BOOK: BookScreen,
    S.NEED_CARD: NeedCardScreen,
    S.WORKING: WorkingScreen,
    S.BOOKED: BookedScreen,
    S.APPOINTMENT: AppointmentScreen,
    S.NOTICE: NoticeScreen,
    S.PAUSED: PausedScreen,
}


class NavigatorRoot(BoxLayout):
    pass


class NavigatorApp(TerminalAppMixin, App):
    screen_name = StringProperty("home")
    demo_code = StringProperty("")
    can_book = BooleanProperty(False)
    ticket_has_way = BooleanProperty(False)
    map_source = StringProperty("")
    places = ListProperty([])
    cols = NumericProperty(2)
    colors = ObjectProperty(None)
    flow_screens = ListProperty([s.value for s in S])

    def __init__(
        self,
        *,
        flow: NavigatorFlow,
        hall_name: tuple[str, str] = ("", ""),
        map_source: str = "",
        **kw,
    ):
        super().__init__(**kw)
        self.flow = flow
        self.hall_name = hall_name
        self.map_source = map_source
        self.places = flow.settings.place_list()
        self.runtime = None
        self.reader = self.scanner = self.printer = None
        self.simulated: dict[str, bool] = {}
        self.workers: list = []
        self.notifier = None
        self.on_built: Callable | None = None
        self.title = "一口受理 导航信息机"
        self.colors = {
            name: value
            for name, value in globals().items()
            if name.isupper() and isinstance(value, tuple) and len(value) == 4
        }
        self._shown: tuple | None = None
        self._search_warmed = False
        self._live_shown = -1
        self.renders = 0
        self._stopped = False
        self._ticker = None

    def tr(self, key: str, *_deps) -> str:
        """A fixed text in the current language (kv passes ``app.lang`` so it re-binds)."""
        return T[key].get(self.lang)

    def build(self):
        from ui.fonts import register_fonts

        register_fonts()
        Window.clearcolor = C.BACKGROUND
        load_kv(HERE / "kv", KV_FILES)
        root = NavigatorRoot()
        manager: ScreenManager = root.ids.manager
        manager.transition = NoTransition()
        for screen, cls in SCREENS.items():
            manager.add_widget(cls(name=screen.value))
        Window.bind(size=self._measure, on_flip=self._on_flip)
        Window.bind(on_touch_down=self._touched)
        self._measure()
        self._trigger = Clock.create_trigger(self.refresh)
        self._ticker = Clock.schedule_interval(self._tick, 0.5)
        return root

    def on_start(self):
        self.refresh()
        if self.notifier is not None:
            self.notifier.ready("home screen up")
        if self.on_built is not None:
            self.on_built(self)

    def _restyle(self):
        self.scale = 1.3 if self.elderly else 1.0
        u, k = self.unit, self.scale
        self.fs_small = u * 0.026 * k
        self.fs_body = u * 0.032 * k
        self.fs_button = u * 0.040 * k
        self.fs_title = u * 0.052 * k
        self.fs_huge = u * 0.16
        self.cols = 1 if self.elderly and self.portrait else 2

    # --- the flow -------------------------------------------------------------------------------

    def demo_scan(self, code: str = "") -> None:
        if self.demo_buttons and self.simulated.get("scanner") and (code or self.demo_code):
            self.scanner.scan(code or self.demo_code)

    def _signature(self) -> tuple:
        f, v = self.flow, self.flow.visit
        return (
            f.screen, f.lang, f.elderly, v.page, v.search_text, v.bureau, v.service,
            v.map_service, v.map_window, repr(v.ticket), v.ticket_problem, tuple(v.days or ()),
            v.day, v.slots is None, len(v.slots or ()), v.booking.id if v.booking else None,
            v.print_state, v.card_for, v.appointment, v.notice_title, v.notice_body,
            self.portrait, f.server_up,
        )  # fmt: skip

    def refresh(self, *_) -> None:
        root = self.root
        if root is None or self._stopped:
            return
        flow = self.flow
        if self.lang != flow.lang:
            self.lang = flow.lang
        if self.elderly != flow.elderly:
            self.elderly = flow.elderly
            self._restyle()
        self.greeting = flow.greeting()
        self.hall_title = self.hall_name[0] if self.lang == "zh" else self.hall_name[1]
        self.search_text = flow.visit.search_text
        manager = root.ids.manager
        screen = manager.get_screen(flow.screen.value)
        signature = self._signature()
        if signature != self._shown:
            self._shown = signature
            self._live_shown = flow.live.version
            screen.render(self, flow)
            manager.current = flow.screen.value
            self.screen_name = flow.screen.value
            self.renders += 1
        elif flow.live.version != self._live_shown:
            # Only the hall's figures changed: update them in place, nothing else moves.
            self._live_shown = flow.live.version
            render_live = getattr(screen, "render_live", None)
            if render_live is not None:
                render_live(self, flow)
            elif flow.screen in (S.SERVICES, S.SEARCH):
                screen.render(self, flow)
        left = flow.countdown()
        self.countdown_text = "" if left is None else flow.t("idle_countdown", s=left)

    def _on_flip(self, *_) -> None:
        if not self._search_warmed:
            # The catalog's search index (and pypinyin) after the first frame, not before it
            # and not on the first keystroke.
            self._search_warmed = True
            warm_search(self.flow.catalog)
        for listener in list(getattr(self, "frame_listeners", [])):
            listener()


__all__ = ["NavigatorApp", "HallMap", "QrCode"]
