"""One kiosk scenario in a child process: a real queue server, the real Kivy app, simulated
devices behind their real drivers and worker threads, a resident touching the screen.

    DISPLAY=:5 python -m tests.kiosk.driver SCENARIO OUTDIR

Kivy allows one window per process, so each scenario runs in its own process (test_app.py
starts them under Xvfb). Touches are real: a UnitTestTouch at the centre of the widget, through
the window's input dispatch. Waiting is done on the Kivy clock with a timeout, never by
sleeping. The last line on stdout is ``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import faulthandler
import json
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from devices.sim import SAMPLE_CARDS
from harness import terminal_driver
from harness.clocked_server import ClockedHall, server_process
from harness.halls import ZONE
from harness.screens import CuttableProxy
from harness.terminal_driver import (
    demo_buttons_state,
    find,
    frames,
    on_screen,
    press,
    screen,
    start_app,
    type_keys,
    until,
)
from queue_server import protocol as P
from queue_server.client import HallClient
from queue_server.protocol import commands as C

START = dt.datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)  # a Thursday
SLOT = dt.datetime(2026, 11, 27, 9, 0, tzinfo=ZONE)  # Friday's first slot
YOUNG_NUMBER = SAMPLE_CARDS["resident_expiring"].number


class Shots(terminal_driver.Shots):
    prefix = "kiosk"
    settle = 2


def candidates(keyboard) -> list[str]:
    from ui.keyboard import CandidateButton

    bar = [w for w in keyboard.bar.children if isinstance(w, CandidateButton)]
    return [w.text for w in sorted(bar, key=lambda w: w.index)]


async def type_in_chinese(app, keyboard, pinyin: str, want: str) -> None:
    """Type ``pinyin`` and touch ``want`` on the candidate bar, turning its pages."""
    await type_keys(app, lambda: keyboard, pinyin)
    for _ in range(10):
        if want in candidates(keyboard):
            await press(app, find(keyboard.bar, text=want), f"candidate {want}")
            assert not keyboard.composing, keyboard.composing
            return
        await press(app, find(keyboard.bar, key="next_candidates"), "next candidates")
    raise AssertionError(f"{want} not offered for {pinyin}: {candidates(keyboard)}")


async def choose(app, name: str, ident: str) -> None:
    """Touch a bureau or service, turning pages (下一页) until it shows."""
    for _ in range(10):
        grid = screen(app, name).ids.grid
        if any(getattr(w, "ident", None) == ident for w in grid.children):
            await press(app, find(grid, ident=ident), ident)
            return
        page = app.flow.visit.page
        await press(app, find(screen(app, name), text=app.tr("next_page")), "next page")
        await until(app, lambda p=page: app.flow.visit.page == p + 1, "the next page")
        await frames()
    raise AssertionError(f"{ident} is on no page of {name}")


async def book(hall: ClockedHall, number: str) -> str:
    navigator = hall.device("navigator-1")
    async with navigator:
        reply = await navigator.command(
            C.BookAppointment(service="liuguan.residence_permit", slot_start=SLOT),
            resident_id={"number": number, "doc_type": "id"},
        )
    return reply.appointment.id


async def window_reads_and_files(hall: ClockedHall, ticket_url: str, materials: list) -> dict:
    """Window 5 calls the ticket (by the id in its URL's token), reads the form submitted with
    it and files the materials it checked."""
    ticket_id = ticket_url.rsplit("/", 1)[1].split(".", 1)[0]
    window = hall.staff("w5", 5)
    async with window:
        await window.command(C.CallTicket(counter=5, ticket=ticket_id))
        form = await window.query("ticket_form", ticket_id=ticket_id)
        await window.request(
            {"type": "file_materials", "ticket_id": ticket_id, "materials": materials}
        )
    return form.model_dump(mode="json")  # the driver's result goes out as JSON


async def ticket_state(hall: ClockedHall, number: str) -> str:
    manager = hall.staff("manager", None)
    async with manager:
        return (await manager.query("ticket", ticket=number)).ticket.state


async def card_gone(app) -> None:
    """The reader's worker has seen the last card lifted (else a new one is no new arrival)."""
    await until(app, lambda: not app.workers[0]._present, "the reader empty")


async def ready(app) -> None:
    await until(
        app,
        lambda: app.flow.printer_problem is None and app.runtime.client.connected.is_set(),
        "the printer and the server",
    )
    await on_screen(app, "welcome")


# --- scenarios --------------------------------------------------------------------------------


async def main_paths(hall: ClockedHall, app, outdir: Path, proxy, clock) -> dict:
    """Card → service → guide → form → ticket; no card + search; English; elderly; QR check-in;
    portrait."""
    shot = Shots(app, outdir)
    result: dict = {}
    appointment = await book(hall, YOUNG_NUMBER)
    await ready(app)
    await shot("welcome-zh")
    welcome = screen(app, "welcome")
    result["demo_buttons"] = demo_buttons_state(
        app, [welcome.ids.demo_card, welcome.ids.demo_elderly_card]
    )
    root = app.root

    # 1. Card, bureau, service, guide, form, ticket.
    await card_gone(app)
    await press(app, screen(app, "welcome").ids.demo_card, "simulated card")
    await on_screen(app, "bureaus")
    result["greeting"] = app.greeting
    await shot("bureaus-zh")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await shot("services-zh")
    await choose(app, "services", "liuguan.residence_registration")
    await on_screen(app, "guide")
    await until(app, lambda: app.flow.visit.on_file is not None, "the on-file answer")
    await press(app, find(screen(app, "guide").ids.materials, key="lease_contract").ids.tick)
    await until(app, lambda: "lease_contract" in app.flow.visit.bringing, "the tick")
    await frames()
    await shot("guide-zh")
    await press(app, screen(app, "guide").ids.form_button)
    await on_screen(app, "form")
    form = screen(app, "form")
    result["prefilled"] = {k: bool(v) for k, v in app.flow.visit.form.items()}
    result["id_shown"] = find(form.ids.fields, key="id_number").value
    await shot("form-zh")
    await press(app, screen(app, "form").ids.submit_button, "submit (incomplete)")
    await until(app, lambda: bool(app.flow.visit.form_errors), "the form's errors")
    result["form_errors"] = sorted(app.flow.visit.form_errors)
    await frames()
    await shot("form-errors-zh")
    await press(app, find(form.ids.fields, key="phone"), "phone field")
    await frames()
    await type_keys(app, lambda: form.ids.editor.children[0], "13800138000")
    await press(app, find(form.ids.fields, key="current_address"), "address field")
    await frames()
    # Chinese on the on-screen keyboard: pinyin, then the candidate on the bar.
    keyboard = form.ids.editor.children[0]
    result["ime_chinese_first"] = keyboard.chinese
    result["key_size"] = tuple(find(keyboard.keys, key="q").size)
    await type_in_chinese(app, keyboard, "chaoyangqu", "朝阳区")
    await type_in_chinese(app, keyboard, "jinzhan", "金盏")
    await type_keys(app, lambda: keyboard, "1")
    await type_keys(app, lambda: keyboard, "hao")
    await frames()
    result["composing_shown"] = screen(app, "form").ids.editing_value.text
    result["candidates_shown"] = candidates(keyboard)
    await shot("form-chinese-zh")
    await press(app, find(keyboard.bar, text="号"), "candidate 号")
    result["typed"] = {k: app.flow.visit.form.get(k) for k in ("phone", "current_address")}
    await press(app, form.ids.submit_button, "submit")
    await on_screen(app, "ticket")
    result["ticket1"] = screen(app, "ticket").ids.number.text
    result["ticket1_ahead"] = screen(app, "ticket").ids.ahead.text
    await shot("ticket-zh")
    await press(app, screen(app, "ticket").ids.finish, "finish")
    await on_screen(app, "welcome")
    result["wiped_after_finish"] = app.flow.visit.identity is None and not app.flow.visit.form
    # Window 5 calls the ticket, reads the form, files the documents it checked.
    result["window_form"] = await window_reads_and_files(
        hall, app.runtime.printed[-1].qr_data, ["lease_contract", "property_cert"]
    )
    # The same resident again: the guide marks what the hall holds.
    await card_gone(app)
    await press(app, screen(app, "welcome").ids.demo_card, "simulated card")
    await on_screen(app, "bureaus")
    await until(app, lambda: bool(app.flow.visit.on_file), "the on-file answer")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await choose(app, "services", "liuguan.residence_registration")
    await on_screen(app, "guide")
    rows = screen(app, "guide").ids.materials.children
    result["on_file_badges"] = sorted(r.key for r in rows if r.held)
    await shot("guide-on-file-zh")
    await press(app, root.ids.home_button, "home")
    await on_screen(app, "welcome")

    # 2. No card: search by pinyin initials; a real-name service asks for the card.
    await press(app, screen(app, "welcome").ids.start, "start")
    await on_screen(app, "bureaus")
    await press(app, screen(app, "bureaus").ids.search_button, "search")
    await on_screen(app, "search")
    await type_keys(app, lambda: screen(app, "search").ids.keyboard, "jzz")
    await until(app, lambda: len(screen(app, "search").ids.grid.children) > 0, "results")
    await frames()
    result["search"] = [b.ident for b in reversed(screen(app, "search").ids.grid.children)]
    await shot("search-zh")
    # The same search in characters: 中文, then pinyin and a candidate.
    keyboard = screen(app, "search").ids.keyboard
    await press(app, find(keyboard, key="clear"), "clear")
    await press(app, find(keyboard.bar, key="lang"), "中文")
    result["search_mode_key"] = find(keyboard.bar, key="lang").text
    await type_in_chinese(app, keyboard, "juzhuzheng", "居住证")
    await until(app, lambda: len(screen(app, "search").ids.grid.children) > 0, "results")
    await frames()
    result["search_chinese"] = {
        "text": app.flow.visit.search_text,
        "results": [b.ident for b in reversed(screen(app, "search").ids.grid.children)],
    }
    await shot("search-chinese-zh")
    await choose(app, "search", "liuguan.residence_permit")
    await on_screen(app, "guide")
    await press(app, screen(app, "guide").ids.take_button, "take a ticket")
    await on_screen(app, "need_card")
    await shot("need-card-zh")
    await card_gone(app)
    app.demo_card("resident_expiring")  # the card placed on the (simulated) reader
    await on_screen(app, "ticket")
    result["ticket2"] = screen(app, "ticket").ids.number.text
    await press(app, screen(app, "ticket").ids.finish)
    await on_screen(app, "welcome")

    # 3. English, one tap.
    await press(app, root.ids.lang_button, "English")
    await until(app, lambda: app.lang == "en", "English")
    await frames()
    result["welcome_en"] = screen(app, "welcome").ids.prompt.text
    await shot("welcome-en")
    await press(app, screen(app, "welcome").ids.start)
    await on_screen(app, "bureaus")
    await shot("bureaus-en")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await shot("services-en")
    await choose(app, "services", "liuguan.residence_registration")
    await on_screen(app, "guide")
    await shot("guide-en")
    await press(app, screen(app, "guide").ids.form_button)
    await on_screen(app, "form")
    await shot("form-en")
    await press(app, screen(app, "form").ids.skip_button, "skip the form")
    await on_screen(app, "need_card")  # residence registration is real-name
    await shot("need-card-en")
    await card_gone(app)
    app.demo_card("foreign2017")  # a foreign permanent resident's card
    await on_screen(app, "ticket")
    result["ticket3"] = screen(app, "ticket").ids.number.text
    result["ahead_en"] = screen(app, "ticket").ids.ahead.text
    await shot("ticket-en")
    await press(app, screen(app, "ticket").ids.finish)
    await on_screen(app, "welcome")
    result["lang_after"] = app.lang

    # 4. Elderly: a senior's card turns the mode on by itself.
    await card_gone(app)
    await press(app, screen(app, "welcome").ids.demo_elderly_card, "senior's card")
    await on_screen(app, "bureaus")
    result["elderly_auto"] = app.elderly
    result["elderly_choices"] = len(screen(app, "bureaus").ids.grid.children)
    await shot("bureaus-elderly")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await shot("services-elderly")
    await choose(app, "services", "liuguan.residence_registration")
    await on_screen(app, "guide")
    await shot("guide-elderly")
    await press(app, screen(app, "guide").ids.form_button)
    await on_screen(app, "form")
    await shot("form-elderly")
    form = screen(app, "form")
    # The list alone first (no keyboard to squeeze it); a touch opens the field full screen.
    result["elderly_list_first"] = form.list_mode and form.ids.editor_column.opacity == 0
    await press(app, find(form.ids.fields, key="current_address"), "address field")
    await frames()
    keyboard = form.ids.editor.children[0]
    result["elderly_key_size"] = tuple(find(keyboard.keys, key="q").size)
    result["elderly_list_hidden"] = form.ids.field_list.width == 0
    result["elderly_submit_hidden"] = form.ids.form_buttons.height == 0
    await type_keys(app, lambda: keyboard, "chaoyang")
    result["elderly_candidates"] = candidates(keyboard)
    await shot("form-chinese-elderly")
    await press(app, find(keyboard.bar, text="朝阳"), "candidate 朝阳")
    await type_in_chinese(app, keyboard, "qu", "区")
    await type_keys(app, lambda: keyboard, "8")
    await type_in_chinese(app, keyboard, "hao", "号")
    result["elderly_typed"] = app.flow.visit.form.get("current_address")
    await press(app, form.ids.next_field_button, "下一项")
    await frames()
    result["elderly_next_field"] = form.editing
    await type_keys(app, lambda: form.ids.editor.children[0], "13900139000")
    await frames()
    await shot("form-digits-elderly")
    await press(app, form.ids.done_button, "完成")
    await frames()
    result["elderly_done"] = form.list_mode and not form.keyboard_mode
    result["elderly_phone"] = app.flow.visit.form.get("phone")
    await shot("form-filled-elderly")
    # Portrait: the same two steps, the keyboard the full width under the field.
    from kivy.core.window import Window

    Window.size = (1080, 1920)
    await until(app, lambda: app.portrait and tuple(app.root.size) == (1080, 1920), "portrait")
    await frames()
    await press(app, find(form.ids.fields, key="current_address"), "address field (portrait)")
    await frames()
    keyboard = form.ids.editor.children[0]
    result["portrait_elderly_key_size"] = tuple(find(keyboard.keys, key="q").size)
    await type_keys(app, lambda: keyboard, "jinzhan")
    await frames()
    await shot("portrait-form-elderly")
    await press(app, form.ids.done_button, "完成 (portrait)")
    await frames()
    await shot("portrait-form-list-elderly")
    Window.size = (1920, 1080)
    await until(app, lambda: not app.portrait and tuple(app.root.size) == (1920, 1080), "landscape")
    await frames()
    await press(app, form.ids.skip_button)
    await on_screen(app, "ticket")
    result["ticket4"] = screen(app, "ticket").ids.number.text
    result["priority4"] = screen(app, "ticket").ids.priority.text
    await shot("ticket-elderly")
    await press(app, root.ids.lang_button)
    await until(app, lambda: app.lang == "en", "English")
    await frames()
    await shot("ticket-elderly-en")
    await press(app, screen(app, "ticket").ids.finish)
    await on_screen(app, "welcome")
    result["elderly_after"] = app.elderly

    # 5. The next morning: the appointment's QR code.
    hall.set_time(SLOT - dt.timedelta(minutes=5))
    clock["today"] = SLOT.date()
    app.demo_scan(f"https://hall.example.cn/a/{appointment}")
    await on_screen(app, "ticket")
    result["checkin"] = {
        "headline": screen(app, "ticket").ids.headline.text,
        "number": screen(app, "ticket").ids.number.text,
        "priority": screen(app, "ticket").ids.priority.text,
    }
    await shot("checkin-zh")
    await press(app, screen(app, "ticket").ids.finish)
    await on_screen(app, "welcome")

    # 6. Portrait.
    from kivy.core.window import Window

    Window.size = (1080, 1920)
    await until(app, lambda: app.portrait and tuple(app.root.size) == (1080, 1920), "portrait")
    await frames()
    await shot("portrait-welcome")
    await press(app, screen(app, "welcome").ids.start)
    await on_screen(app, "bureaus")
    await shot("portrait-bureaus")
    await press(app, screen(app, "bureaus").ids.search_button)
    await on_screen(app, "search")
    await type_keys(app, lambda: screen(app, "search").ids.keyboard, "sb")
    await until(app, lambda: len(screen(app, "search").ids.grid.children) > 0, "results")
    await shot("portrait-search")
    result["printed"] = [t.number for t in app.runtime.printed]
    result["shots"] = shot.taken
    return result


async def faults(hall: ClockedHall, app, outdir: Path, proxy, clock) -> dict:
    """Printer out of paper, paper out mid-ticket, a bad card read, a refusal, the server away,
    the idle countdown."""
    from devices.errors import CardReadFailed
    from devices.runner import DeviceEvent, EventKind

    shot = Shots(app, outdir)
    result: dict = {}
    await ready(app)
    model = app.printer.escpos.model

    async def to_guide() -> None:
        await press(app, screen(app, "welcome").ids.start)
        await on_screen(app, "bureaus")
        await choose(app, "bureaus", "liuguan")
        await on_screen(app, "services")
        await choose(app, "services", "liuguan.residence_registration")
        await on_screen(app, "guide")

    # Out of paper before anything is issued.
    model.state.paper = "out"
    await until(app, lambda: app.flow.printer_problem == "paper_out", "paper out seen")
    await to_guide()
    await press(app, screen(app, "guide").ids.take_button)
    await on_screen(app, "notice")
    result["paper_out"] = screen(app, "notice").ids.body.text
    await shot("printer-out-zh")
    await press(app, app.root.ids.lang_button)
    await until(app, lambda: app.lang == "en", "English")
    await frames()
    await shot("printer-out-en")
    await press(app, screen(app, "notice").ids.ok_button)
    await on_screen(app, "welcome")
    manager = hall.staff("manager", None)
    async with manager:
        services = (await manager.query("services")).services
    result["waiting_after_paper_out"] = sum(s.waiting for s in services)

    # The roll runs out on this ticket: it is cancelled with its own token.
    model.state.paper = "ok"
    model.state.paper_left = 1
    await until(app, lambda: app.flow.printer_problem is None, "paper refilled")
    await to_guide()
    await press(app, screen(app, "guide").ids.take_button)
    await on_screen(app, "need_card")
    await card_gone(app)
    app.demo_card("resident_expiring")
    await on_screen(app, "notice")
    result["print_failed"] = screen(app, "notice").ids.body.text
    await shot("print-failed-zh")
    result["cancelled_state"] = await ticket_state(hall, "E001")
    await press(app, screen(app, "notice").ids.ok_button)
    await on_screen(app, "welcome")
    model.state.paper = "ok"
    model.state.paper_left = None
    await until(app, lambda: app.flow.printer_problem is None, "paper refilled again")

    # A card that will not read (the reader's own error, as the worker reports it).
    app.device_event(DeviceEvent("id", EventKind.CARD_ERROR, CardReadFailed("test")))
    await on_screen(app, "notice")
    result["card_error"] = screen(app, "notice").ids.body.text
    await shot("card-error-zh")
    await press(app, screen(app, "notice").ids.ok_button)
    await on_screen(app, "welcome")

    # The same card twice for one service: the server's refusal in its own words.
    for attempt in (1, 2):
        await card_gone(app)
        app.demo_card("resident_expiring")
        await on_screen(app, "bureaus")
        await choose(app, "bureaus", "liuguan")
        await on_screen(app, "services")
        await choose(app, "services", "liuguan.residence_registration")
        await on_screen(app, "guide")
        await press(app, screen(app, "guide").ids.take_button)
        await on_screen(app, "ticket" if attempt == 1 else "notice")
        if attempt == 1:
            await press(app, screen(app, "ticket").ids.finish)
            await on_screen(app, "welcome")
    result["refused"] = screen(app, "notice").ids.body.text
    await shot("refused-zh")
    await press(app, screen(app, "notice").ids.ok_button)
    await on_screen(app, "welcome")

    # The server away: 暂停取号, then back by itself.
    await proxy.cut()
    await on_screen(app, "paused")
    result["paused"] = screen(app, "paused").ids.title.text
    await shot("paused-zh")
    await proxy.start()
    await on_screen(app, "welcome")
    result["reconnects"] = app.runtime.client.reconnects

    # Idle: the countdown shows, then everything personal is wiped.
    app.flow.settings = app.flow.settings.model_copy(update={"idle_s": 6, "warn_s": 4})
    await card_gone(app)
    app.demo_card("resident_expiring")
    await on_screen(app, "bureaus")
    await press(app, app.root.ids.lang_button)
    await until(app, lambda: app.countdown_text != "", "the countdown")
    await frames()
    result["countdown"] = app.countdown_text
    await shot("countdown-en")
    await until(app, lambda: app.flow.screen.value == "welcome", "the idle wipe")
    await on_screen(app, "welcome")
    state = repr(app.flow.personal_state()) + repr(vars(app.flow))
    result["wiped"] = YOUNG_NUMBER not in state and "李四" not in state
    result["lang_after_idle"] = app.lang
    result["faults"] = [f.kind for f in app.runtime.faults]
    result["shots"] = shot.taken
    return result


async def production(hall: ClockedHall, app, outdir: Path, proxy, clock, rig: dict) -> dict:
    """A hall's kiosk: its devices named in its [[devices]] entry (the real drivers, on ptys and
    a TCP port) and started without --demo. No 演示 badge, no demo button; the reader, scanner
    and printer the configuration names are the ones at work."""
    shot = Shots(app, outdir)
    result: dict = {"options": rig["options"], "app": [app.demo, app.demo_buttons]}
    await ready(app)  # the configured TCP printer answered its status
    welcome = screen(app, "welcome")
    result["demo_buttons"] = demo_buttons_state(
        app, [welcome.ids.demo_card, welcome.ids.demo_elderly_card]
    )
    await shot("production-welcome-zh")
    app.demo_card("resident_expiring")  # what a demo button would do: nothing here
    await frames(5)
    result["after_demo_card"] = app.flow.screen.value
    # The resident's card on the configured SAM_V reader.
    rig["reader"].place(SAMPLE_CARDS["resident_expiring"])
    await on_screen(app, "bureaus")
    result["greeting"] = app.greeting
    await shot("production-bureaus-zh")
    rig["reader"].remove()
    await card_gone(app)
    await press(app, app.root.ids.lang_button, "English")
    await until(app, lambda: app.lang == "en", "English")
    await shot("production-bureaus-en")
    # A code on the configured serial scanner.
    rig["scanner"].scan("not a booking")
    await on_screen(app, "notice")
    result["scanned"] = app.flow.visit.notice_title.zh
    result["shots"] = shot.taken
    return result


SCENARIOS = {"main": main_paths, "faults": faults, "production": production}


@contextlib.contextmanager
def hall_devices(outdir: Path) -> Iterator[dict]:
    """A SAM_V reader and a serial scanner on ptys, a network printer on 127.0.0.1: the
    devices of a real kiosk, behind the real drivers the kiosk opens by URL."""
    from devices.sim import PtyPair, SamvSimulator, ScannerSimulator
    from harness.fake_printer import FakeTcpPrinter

    reader_pty, scanner_pty = PtyPair(), PtyPair()
    reader = SamvSimulator(reader_pty.master).start()
    scanner = ScannerSimulator(scanner_pty.master)
    printer = FakeTcpPrinter()
    try:
        yield {
            "reader": reader,
            "scanner": scanner,
            "urls": {
                "reader": f"samv://{reader_pty.path}",
                "printer": f"{printer.url}?profile=gb18030-80",
                "scanner": f"serial://{scanner_pty.path}",
            },
        }
    finally:
        reader.stop()
        scanner.stop()
        printer.close()
        reader_pty.close()
        scanner_pty.close()


def production_options(outdir: Path, urls: dict[str, str]):
    """The kiosk's options as ``main.py kiosk --config hall.toml`` makes them, from a hall
    configuration whose kiosk-1 entry names ``urls``."""
    import main
    from harness.servers import write_hall_config
    from kiosk.app import options_from_args
    from queue_server.config import load_config
    from tests.support.terminal_app import set_devices

    path = write_hall_config(outdir / "kiosk.toml", f"sqlite:///{outdir / 'unused.db'}")
    set_devices(path, "kiosk-1", **urls)
    args = main.build_parser().parse_args(["kiosk", "--config", str(path)])
    options = options_from_args(args, load_config(path))
    options.maxfps = 10
    return options


async def run(scenario: str, outdir: Path) -> dict:
    from kiosk.app import Options, run_kiosk

    body = SCENARIOS[scenario]
    with contextlib.ExitStack() as stack:
        hall = stack.enter_context(server_process(outdir / "hall", START))
        port = int(hall.url.rsplit(":", 1)[1].split("/")[0])
        proxy = CuttableProxy("127.0.0.1", port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        auth = P.DeviceAuth(device_id="kiosk-1", token=hall.credentials["kiosk-1"])
        client = HallClient(url, auth, backoff_min=0.05, backoff_max=0.5, request_timeout=5)
        extra: dict = {}
        if scenario == "production":
            rig = stack.enter_context(hall_devices(outdir))
            options = production_options(outdir, rig["urls"])
            rig["options"] = {
                k: getattr(options, k) for k in ("reader", "printer", "scanner", "demo")
            }
            extra["rig"] = rig
        else:
            # --demo: every device simulated, the sample-card buttons, 演示 on every screen.
            options = Options(config=hall.config, demo=True, size=(1920, 1080), maxfps=10)
        clock = {"today": START.date()}
        built = asyncio.get_running_loop().create_future()
        app_task = await start_app(
            run_kiosk(options, client, on_built=built.set_result, today=lambda: clock["today"]),
            built,
        )
        app = built.result()
        try:
            return await body(hall, app, outdir, proxy, clock, **extra)
        finally:
            app.stop()
            await asyncio.wait_for(app_task, 30)
            await proxy.close()


def main(argv: list[str]) -> int:
    scenario, outdir = argv[0], Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    faulthandler.dump_traceback_later(
        float(os.environ.get("KIOSK_DRIVER_DUMP_S", "200")), exit=True
    )
    try:
        result = asyncio.run(run(scenario, outdir))
    except BaseException:
        traceback.print_exc(file=sys.__stderr__)
        error = traceback.format_exc().strip().splitlines()[-1]
        print("RESULT " + json.dumps({"error": error}, ensure_ascii=False), flush=True)
        return 1
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
