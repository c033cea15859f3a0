"""The kiosk's Kivy screens: they only render KioskFlow and pass touches to it.

Imported by ``kiosk.app.run_kiosk`` only, after the Kivy environment is set: importing this
module imports Kivy. Layout lives in ``kiosk/kv/*.kv`` (one file per screen, loaded in
``build``); every handler there is one call into the app (``app.act("start")``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

from devices.identity import mask_number
from kiosk.flow import KioskFlow
from kiosk.flow import Screen as S
from ui.app import TerminalAppMixin, load_kv, warm_search
from ui.fonts import register_fonts
from ui.ime import warm as warm_pinyin
from ui.keyboard import ImeKeyboard, OnScreenKeyboard
from ui.theme import Touch as C

HERE = Path(__file__).resolve().parent
KV_FILES = (
    "common",
    "welcome",
    "bureaus",
    "services",
    "search",
    "guide",
    "form",
    "need_card",
    "working",
    "ticket",
    "notice",
    "paused",
)


class ChoiceButton(Button):
    """A bureau or service on the choice grids (kv: ``<ChoiceButton>``)."""

    ident = StringProperty("")
    subtitle = StringProperty("")


class FieldRow(Button):
    """One form field: label, value, where it came from, its error."""

    key = StringProperty("")
    label = StringProperty("")
    value = StringProperty("")
    note = StringProperty("")
    error = StringProperty("")
    selected = BooleanProperty(False)


class MaterialRow(BoxLayout):
    key = StringProperty("")
    text = StringProperty("")
    badge = StringProperty("")
    held = BooleanProperty(False)  # on file: nothing to bring, nothing to tick
    bringing = BooleanProperty(False)
    tick_text = StringProperty("")


class OptionButton(Button):
    value = StringProperty("")


class KioskScreen(Screen):
    """Base of the screens: ``render`` fills in what kv cannot bind to."""

    def render(self, app: KioskApp, flow: KioskFlow) -> None:
        pass


class WelcomeScreen(KioskScreen):
    pass


class ChoiceScreen(KioskScreen):
    def render(self, app, flow):
        grid = self.ids.grid
        grid.clear_widgets()
        for item in flow.visible():
            if hasattr(item, "short_zh"):  # a bureau
                title = item.short_zh if app.lang == "zh" else item.name_en
                subtitle = item.description.get(app.lang)
                ident = item.code
            else:
                title = item.name(app.lang)
                subtitle = ("即办 · " if item.instant else "") if app.lang == "zh" else ""
                ident = item.id
            grid.add_widget(ChoiceButton(text=title, subtitle=subtitle, ident=ident))
        app.page_text = flow.t("page", page=flow.visit.page + 1, pages=flow.pages())
        app.has_pages = flow.pages() > 1


class BureausScreen(ChoiceScreen):
    pass


class ServicesScreen(ChoiceScreen):
    pass


class SearchScreen(ChoiceScreen):
    def on_pre_enter(self, *_):
        # Each search starts in letters (pinyin initials), nothing half-typed from the last.
        self.ids.keyboard.reset(chinese=False)


class GuideScreen(KioskScreen):
    def render(self, app, flow):
        service = flow.service
        if service is None:
            return
        lang = app.lang
        self.ids.name.text = service.name(lang)
        self.ids.description.text = service.description.get(lang)
        hint = flow.card_hint()
        self.ids.card_hint.text = hint.get(lang) if hint else ""
        if service.instant:
            self.ids.limit.text = flow.t("instant")
        else:
            self.ids.limit.text = flow.t("not_instant", days=service.time_limit_days)
        box = self.ids.materials
        box.clear_widgets()
        for line in flow.materials():
            if line.on_file:
                badge = flow.t("on_file")
            else:
                badge = flow.t("e_copy_ok") if line.reusable else ""
            box.add_widget(
                MaterialRow(
                    key=line.key,
                    text=line.text,
                    badge=badge,
                    held=line.on_file,
                    bringing=line.bringing,
                    tick_text=flow.t("bringing" if line.bringing else "bring"),
                )
            )


class FormScreen(KioskScreen):
    editing = StringProperty("")
    # Elderly mode edits one field at a time: ``typing`` while a field is open (touched in the
    # list, closed with 完成). The two modes below are what the kv lays out by.
    typing = BooleanProperty(False)
    keyboard_mode = BooleanProperty(False)  # elderly, typing: the keyboard across the screen
    list_mode = BooleanProperty(False)  # elderly, not typing: the field list alone
    has_prev = BooleanProperty(False)
    has_next = BooleanProperty(False)
    _editor_key: tuple | None = None

    def on_pre_enter(self, *_):
        # Each visit to the form starts at its list (render ran just before, maybe still typing).
        self.typing = self.keyboard_mode = False
        self.list_mode = App.get_running_app().elderly

    def render(self, app, flow):
        fields = flow.form_fields()
        keys = [f.key for f in fields]
        self.keyboard_mode = app.elderly and self.typing
        self.list_mode = app.elderly and not self.typing
        if self.editing not in keys:
            # Start at the first field the card did not fill.
            self.editing = next(
                (k for k in keys if not flow.visit.form.get(k)), keys[0] if keys else ""
            )
        box = self.ids.fields
        box.clear_widgets()
        lang = app.lang
        for f in fields:
            value = flow.visit.form.get(f.key, "")
            shown = value
            if f.type.value == "id_number" and value:
                shown = mask_number(value)
            elif f.type.value == "select" and value:
                shown = next(
                    (o.zh if lang == "zh" else o.en for o in f.options if o.value == value), value
                )
            note = ""
            if f.from_id_card and flow.visit.identity is not None and value:
                note = flow.t("form_from_card")
            elif f.required:
                note = flow.t("form_required")
            error = flow.visit.form_errors.get(f.key)
            box.add_widget(
                FieldRow(
                    key=f.key,
                    label=f.label_zh if lang == "zh" else (f.label_en or f.label_zh),
                    value=shown,
                    note=note,
                    error=error.get(lang) if error else "",
                    selected=f.key == self.editing,
                )
            )
        at = keys.index(self.editing) if self.editing in keys else -1
        self.has_prev = at > 0
        self.has_next = 0 <= at < len(keys) - 1
        self._render_editor(app, flow)

    def _render_editor(self, app, flow):
        field = next((f for f in flow.form_fields() if f.key == self.editing), None)
        editor = self.ids.editor
        if field is None:
            editor.clear_widgets()
            return
        lang = app.lang
        self.ids.editing_label.text = (
            field.label_zh if lang == "zh" else (field.label_en or field.label_zh)
        )
        value = flow.visit.form.get(field.key, "")
        kind = field.type.value
        self.ids.editing_value.text = mask_number(value) if kind == "id_number" and value else value
        # Typing changes the value only: keep the keyboard under the resident's finger.
        editor_key = (field.key, lang, app.elderly, app.unit, flow.visit.service, self.typing)
        if editor.children and editor_key == self._editor_key:
            return
        self._editor_key = editor_key
        editor.clear_widgets()
        if kind in ("select", "bool"):
            options = field.options or ()
            pairs = [(o.value, o.zh if lang == "zh" else o.en) for o in options]
            if kind == "bool":
                pairs = [
                    ("yes", "是" if lang == "zh" else "Yes"),
                    ("no", "否" if lang == "zh" else "No"),
                ]
            for value_, label in pairs:
                editor.add_widget(OptionButton(text=label, value=value_))
            return
        layout = "digits" if kind in ("phone", "number", "id_number", "date") else "letters"
        if layout == "letters":
            # Chinese by pinyin (names, addresses); 英 for letters as typed.
            kb = ImeKeyboard(
                layout=layout,
                key_font_size=app.fs_button,
                chinese=lang == "zh",
                candidates_per_page=4 if app.elderly else 6,
                candidate_color=C.PRIMARY,
                bar_share=0.24 if app.elderly else 0.2,
            )
            kb.bind(composing=lambda _kb, text: self._show_composing(flow, text))
            kb.bind(chinese=lambda _kb, on: self._ime_hint(flow, on))
            self._ime_hint(flow, kb.chinese)
        else:
            kb = OnScreenKeyboard(layout=layout, key_font_size=app.fs_button)
            self.ids.editing_hint.text = flow.t("field_date") if kind == "date" else ""
        kb.labels = {k: flow.t(k) for k in ("delete", "clear", "space")}
        kb.key_background = C.SECONDARY
        kb.key_background_down = C.SECONDARY_DOWN
        kb.key_color = C.TEXT
        kb.spacing = app.unit * 0.008
        kb.bind(on_key=lambda _kb, key: app.edit_key(key))
        editor.add_widget(kb)

    def _ime_hint(self, flow, chinese: bool) -> None:
        self.ids.editing_hint.text = flow.t("ime_hint" if chinese else "letters_hint")

    def _show_composing(self, flow, pinyin: str) -> None:
        """The pinyin being typed, after the field's text, until a character is chosen."""
        value = flow.visit.form.get(self.editing, "")
        self.ids.editing_value.text = f"{value} {pinyin}" if pinyin else value


class NeedCardScreen(KioskScreen):
    pass


class WorkingScreen(KioskScreen):
    pass


class TicketScreen(KioskScreen):
    def render(self, app, flow):
        ticket = flow.visit.ticket or {}
        lang = app.lang
        self.ids.number.text = ticket.get("number", "")
        self.ids.service.text = ticket.get("name_zh" if lang == "zh" else "name_en", "")
        self.ids.ahead.text = flow.t("ahead", n=ticket.get("ahead", 0))
        wait = ticket.get("wait_s")
        self.ids.wait.text = flow.t("wait", m=max(1, round(wait / 60))) if wait else ""
        label = flow.priority_label(ticket.get("priority"))
        self.ids.headline.text = (
            flow.t("checked_in") if flow.visit.checked_in else flow.t("your_number")
        )
        self.ids.priority.text = label.get(lang) if label else ""


class NoticeScreen(KioskScreen):
    def render(self, app, flow):
        v = flow.visit
        self.ids.title.text = v.notice_title.get(app.lang) if v.notice_title else ""
        self.ids.body.text = v.notice_body.get(app.lang) if v.notice_body else ""
        app.notice_has_next = v.notice_next is not None


class PausedScreen(KioskScreen):
    pass


SCREENS: dict[S, type[KioskScreen]] = {
    S.WELCOME: WelcomeScreen,
    S.BUREAUS: BureausScreen,
    S.SERVICES: ServicesScreen,
    S.SEARCH: SearchScreen,
    S.GUIDE: GuideScreen,
    S.FORM: FormScreen,
    S.NEED_CARD: NeedCardScreen,
    S.WORKING: WorkingScreen,
    S.TICKET: TicketScreen,
    S.NOTICE: NoticeScreen,
    S.PAUSED: PausedScreen,
}


class KioskRoot(BoxLayout):
    pass


class KioskApp(TerminalAppMixin, App):
    screen_name = StringProperty("welcome")
    notice_has_next = BooleanProperty(False)
    cols = NumericProperty(2)
    keyboard = ObjectProperty(None, allownone=True)
    colors = ObjectProperty(None)
    texts_version = NumericProperty(0)
    flow_screens = ListProperty([s.value for s in S])

    def __init__(self, *, flow: KioskFlow, hall_name: tuple[str, str] = ("", ""), **kw):
        super().__init__(**kw)
        self.flow = flow
        self.hall_name = hall_name
        self.runtime = None
        self.reader = self.scanner = self.printer = None
        self.simulated: dict[str, bool] = {}
        self.workers: list = []
        self.notifier = None
        self.on_built: Callable | None = None
        self.frame_listeners: list[Callable[[], None]] = []
        self.title = "一口受理 自助填表机"
        self.colors = {
            name: value
            for name, value in globals().items()
            if name.isupper() and isinstance(value, tuple) and len(value) == 4
        }
        self._shown: tuple | None = None
        self.renders = 0
        self._stopped = False
        self._ticker = None
        self._warmed = False

    # --- text for kv ----------------------------------------------------------------------------

    def tr(self, key: str, *_deps) -> str:
        """A fixed text in the current language (kv passes ``app.lang`` so it re-binds)."""
        return self.flow.text(key).get(self.lang)

    # --- building -------------------------------------------------------------------------------

    def build(self):
        register_fonts()
        Window.clearcolor = C.BACKGROUND
        load_kv(HERE / "kv", KV_FILES)
        root = KioskRoot()
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
        if self.runtime is not None:
            self.runtime.set_part("screen", True)  # the window is up and drawing
        if self.notifier is not None:
            self.notifier.ready("welcome screen up")
        if self.on_built is not None:
            self.on_built(self)

    def _restyle(self):
        self.scale = 1.3 if self.elderly else 1.0
        u, k = self.unit, self.scale
        self.fs_small = u * 0.026 * k
        self.fs_body = u * 0.032 * k
        self.fs_button = u * 0.040 * k
        self.fs_title = u * 0.052 * k
        self.fs_huge = u * 0.2
        if self.elderly:
            self.cols = 1 if self.portrait else 2
        else:
            self.cols = 2 if self.portrait else 4 if self.unit < 700 else 2

    # --- the flow -------------------------------------------------------------------------------

    def demo_scan(self, code: str) -> None:
        if self.demo_buttons and self.simulated.get("scanner"):
            self.scanner.scan(code)

    def edit_field(self, key: str) -> None:
        screen = self.root.ids.manager.get_screen("form")
        screen.editing = key
        screen.typing = True
        self.flow.touch()
        self._shown = None
        self.refresh()

    def step_field(self, delta: int) -> None:
        """上一项/下一项 in elderly mode's keyboard: the next field without going back to the list."""
        screen = self.root.ids.manager.get_screen("form")
        keys = [f.key for f in self.flow.form_fields()]
        if screen.editing in keys:
            at = keys.index(screen.editing) + delta
            if 0 <= at < len(keys):
                self.edit_field(keys[at])

    def done_field(self) -> None:
        """完成: back to elderly mode's field list (and its 提交 button)."""
        screen = self.root.ids.manager.get_screen("form")
        screen.typing = False
        self.flow.touch()
        self._shown = None
        self.refresh()

    def edit_key(self, key: str) -> None:
        screen = self.root.ids.manager.get_screen("form")
        field = screen.editing
        value = self.flow.visit.form.get(field, "")
        if key == "delete":
            value = value[:-1]
        elif key == "clear":
            value = ""
        elif key == "space":
            value += " "
        else:
            value += key
        self.act("set_field", field, value)

    def choose_option(self, value: str) -> None:
        screen = self.root.ids.manager.get_screen("form")
        self.act("set_field", screen.editing, value)

    def _signature(self) -> tuple:
        f, v = self.flow, self.flow.visit
        return (
            f.screen, f.lang, f.elderly, v.page, v.search_text, v.bureau, v.service,
            tuple(sorted(v.form.items())), tuple(sorted(v.form_errors)),
            v.notice_title, v.notice_body, (v.ticket or {}).get("id"), self.portrait,
            v.identity is not None, v.checked_in, tuple(sorted(v.bringing)),
            None if v.on_file is None else tuple(sorted(v.on_file)),
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
        signature = self._signature()
        if signature != self._shown:
            self._shown = signature
            manager = root.ids.manager
            screen = manager.get_screen(flow.screen.value)
            screen.render(self, flow)
            manager.current = flow.screen.value
            self.screen_name = flow.screen.value
            self.renders += 1
        left = flow.countdown()
        self.countdown_text = "" if left is None else flow.t("idle_countdown", s=left)

    def _on_flip(self, *_) -> None:
        if not self._warmed and self.screen_name == "welcome":
            # The pinyin tables (about a second of CPU) and the catalog's search index are built
            # in threads once the welcome screen is drawn, not before (nor while "paused" waits
            # for the server): the first frame is not kept waiting for them.
            self._warmed = True
            warm_pinyin()
            warm_search(self.flow.catalog)
        for listener in list(self.frame_listeners):
            listener()


__all__ = ["ImeKeyboard", "KioskApp", "Label", "OnScreenKeyboard"]
