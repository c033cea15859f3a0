"""One navigator scenario in a child process: a real queue server (its own process, its clock
set by the test), the real Kivy app, the scanner simulator on a pty behind the real serial
driver and worker thread, the simulated ID reader and printer, a resident touching the screen.

    DISPLAY=:5 python -m tests.navigator.driver SCENARIO OUTDIR

Kivy allows one window per process, so each scenario runs in its own process (test_app.py
starts them under Xvfb). Touches are real: a UnitTestTouch at the centre of the widget, through
the window's input dispatch. Waiting is done on the Kivy clock with a timeout, never by
sleeping. The last line on stdout is ``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import faulthandler
import json
import os
import sys
import traceback
from pathlib import Path

from devices.sim import SAMPLE_CARDS, PtyPair, ScannerSimulator
from harness import terminal_driver
from harness.clocked_server import ClockedHall, server_process
from harness.halls import ZONE
from harness.screens import CuttableProxy
from harness.terminal_driver import (
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
from queue_server.protocol.payloads import CommandResult, Slot, StaffTicketView

START = dt.datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)  # a Thursday
SERVICE = "liuguan.residence_permit"
YOUNG = SAMPLE_CARDS["resident_expiring"]
ELDER = SAMPLE_CARDS["resident"]


class Shots(terminal_driver.Shots):
    prefix = "navigator"
    settle = 3


async def choose(app, name: str, ident: str) -> None:
    """Touch a bureau, service or slot, turning pages until it shows."""
    for _ in range(12):
        grid = screen(app, name).ids.grid
        if any(getattr(w, "ident", None) == ident for w in grid.children):
            await press(app, find(grid, ident=ident), ident)
            return
        page = app.flow.visit.page
        await press(app, find(screen(app, name), text=app.tr("next_page")), "next page")
        await until(app, lambda p=page: app.flow.visit.page == p + 1, "the next page")
        await frames()
    raise AssertionError(f"{ident} is on no page of {name}")


async def home(app) -> None:
    if app.flow.screen.value != "home":
        await press(app, app.root.ids.home_button, "home")
    await on_screen(app, "home")


async def set_mode(app, mode: str) -> None:
    """zh, en or elderly (Chinese, large print), from the header's buttons."""
    want_lang = "en" if mode == "en" else "zh"
    if app.lang != want_lang:
        await press(app, app.root.ids.lang_button, "language")
        await until(app, lambda: app.lang == want_lang, want_lang)
    if app.elderly != (mode == "elderly"):
        await press(app, app.root.ids.elderly_button, "large print")
        await until(app, lambda: app.elderly == (mode == "elderly"), "large print")
    await frames()


async def ready(app) -> None:
    await until(
        app,
        lambda: (
            app.runtime.client.connected.is_set()
            and app.flow.live.known
            and app.flow.printer_problem is None
        ),
        "the server, the live figures and the printer",
    )
    await on_screen(app, "home")


async def issue(hall: ClockedHall, count: int, service: str = SERVICE) -> list[CommandResult]:
    """Tickets from the hall's kiosk (device kiosk-1), as the kiosk issues them."""
    kiosk = hall.device("kiosk-1")
    out = []
    async with kiosk:
        for _ in range(count):
            out.append(await kiosk.command(C.IssueTicket(service=service)))
    return out


async def manager_ticket(hall: ClockedHall, ref: str) -> StaffTicketView:
    manager = hall.staff("manager", None)
    async with manager:
        return (await manager.query("ticket", ticket=ref)).ticket


async def map_pixels(app, outdir: Path, name: str) -> dict:
    """Where each window is drawn on the last screenshot (PNG pixel, top-left origin)."""
    hall_map = screen(app, "map").ids.hall_map
    height = app.root.height
    out = {}
    for number, fx, fy, _lit in hall_map.view.windows:
        x, y = hall_map.to_window(*hall_map.to_screen(fx, fy))
        out[str(number)] = [round(x), round(height - y)]
    tx, ty = hall_map.to_window(*hall_map.to_screen(*hall_map.view.terminal))
    out["terminal"] = [round(tx), round(height - ty)]
    return out


# --- scenarios --------------------------------------------------------------------------------


async def tour(app, shot: Shots, mode: str, scanner: ScannerSimulator, url: str) -> dict:
    """Every screen a resident reaches without booking, in one mode."""
    seen: dict = {}
    await home(app)
    await set_mode(app, mode)
    await shot(f"home-{mode}")
    await press(app, screen(app, "home").ids.find, "find a service")
    await on_screen(app, "bureaus")
    await shot(f"bureaus-{mode}")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await shot(f"services-{mode}")
    await choose(app, "services", SERVICE)
    await on_screen(app, "guide")
    seen["guide_live"] = screen(app, "guide").ids.live_waiting.text
    await shot(f"guide-{mode}")
    await press(app, screen(app, "guide").ids.map_button, "show the way")
    await on_screen(app, "map")
    seen["map_heading"] = screen(app, "map").ids.heading.text
    await shot(f"map-{mode}")
    await press(app, app.root.ids.back_button, "back")
    await on_screen(app, "guide")
    await press(app, app.root.ids.back_button, "back")
    await on_screen(app, "services")
    await press(app, app.root.ids.back_button, "back")
    await on_screen(app, "bureaus")
    await press(app, screen(app, "bureaus").ids.search_button, "search")
    await on_screen(app, "search")
    await type_keys(app, lambda: screen(app, "search").ids.keyboard, "jzz")
    await until(app, lambda: len(screen(app, "search").ids.grid.children) > 0, "results")
    await frames()
    seen["search"] = [b.ident for b in reversed(screen(app, "search").ids.grid.children)]
    await shot(f"search-{mode}")
    await home(app)
    await set_mode(app, mode)
    await press(app, screen(app, "home").ids.queues, "queues")
    await on_screen(app, "queues")
    await shot(f"queues-{mode}")
    await home(app)
    await set_mode(app, mode)
    await press(app, screen(app, "home").ids.map, "hall map")
    await on_screen(app, "map")
    await shot(f"hallmap-{mode}")
    await home(app)
    scanner.scan(url)
    await on_screen(app, "ticket")
    await until(app, lambda: app.flow.visit.ticket is not None, "the ticket's state")
    await set_mode(app, mode)
    seen["ticket"] = [
        screen(app, "ticket").ids.number.text,
        screen(app, "ticket").ids.headline.text,
    ]
    await shot(f"ticket-{mode}")
    await home(app)
    scanner.scan("not a code of ours")
    await on_screen(app, "notice")
    await set_mode(app, mode)
    seen["bad_code"] = screen(app, "notice").ids.title.text
    await shot(f"notice-{mode}")
    await press(app, screen(app, "notice").ids.ok_button, "OK")
    await on_screen(app, "home")
    return seen


async def main_paths(hall: ClockedHall, app, outdir: Path, scanner, proxy, clock) -> dict:
    """Guides, live queues updating in place, the map lit for a service, a real ticket scanned
    and called, a booking made here and checked in at the kiosk; every screen in zh, en and
    large print."""
    shot = Shots(app, outdir)
    result: dict = {}
    tickets = await issue(hall, 3)
    first = tickets[0]
    await ready(app)
    await until(app, lambda: getattr(app.flow.queue_info(SERVICE), "waiting", 0) == 3, "3 waiting")

    # 1. Find the service by bureau: its guide with the live queue.
    await press(app, screen(app, "home").ids.find, "find a service")
    await on_screen(app, "bureaus")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await choose(app, "services", SERVICE)
    await on_screen(app, "guide")
    guide = screen(app, "guide")
    result["live_before"] = guide.ids.live_waiting.text
    result["live_wait"] = guide.ids.live_wait.text
    # A resident takes a ticket at the kiosk: the figure changes in place.
    renders = app.renders
    await issue(hall, 1)
    await until(app, lambda: guide.ids.live_waiting.text != result["live_before"], "live update")
    result["live_after"] = guide.ids.live_waiting.text
    result["rerendered"] = app.renders != renders

    # 2. The map: the service's windows lit, the way from this terminal.
    await press(app, guide.ids.map_button, "show the way")
    await on_screen(app, "map")
    view = screen(app, "map").ids.hall_map.view
    result["lit"] = [n for n, _x, _y, on in view.windows if on]
    result["target"] = view.target
    result["path"] = view.path
    result["map_detail"] = screen(app, "map").ids.detail.text
    await shot("map-service-zh")
    result["map_pixels"] = await map_pixels(app, outdir, "map-service-zh")

    # 3. A real ticket's QR code, scanned: its position; then a window calls it.
    await home(app)
    scanner.scan(first.ticket_url)
    await on_screen(app, "ticket")
    await until(app, lambda: app.flow.visit.ticket is not None, "the ticket's state")
    await frames()
    ticket = screen(app, "ticket")
    result["scanned"] = [ticket.ids.number.text, ticket.ids.headline.text, ticket.ids.second.text]
    await shot("ticket-waiting-zh")
    staff = hall.staff("w5", 5)
    async with staff:
        called = await staff.command(C.CallNext(counter=5))
    result["called_event"] = [e.get("type") for e in called.events]
    await until(app, lambda: "5 号窗口" in ticket.ids.headline.text, "the call on screen")
    result["called"] = [ticket.ids.headline.text, ticket.ids.second.text]
    await shot("ticket-called-zh")
    await press(app, ticket.ids.way_button, "the way")
    await on_screen(app, "map")
    view = screen(app, "map").ids.hall_map.view
    result["ticket_map"] = {"target": view.target, "heading": screen(app, "map").ids.heading.text}
    await shot("map-ticket-zh")

    # 4. Every other screen in Chinese, English and large print.
    tours = {}
    for mode in ("zh", "en", "elderly"):
        tours[mode] = await tour(app, shot, mode, scanner, tickets[1].ticket_url)
    result["tours"] = tours

    # 5. Book: service, day, slot, ID card; the QR code shown and printed.
    await home(app)
    await press(app, screen(app, "home").ids.book, "book")
    await on_screen(app, "book_services")
    await shot("book_services-zh")
    await choose(app, "book_services", SERVICE)
    await on_screen(app, "book")
    await until(app, lambda: bool(app.flow.free_slots()), "free slots")
    await frames()
    book = screen(app, "book")
    result["days"] = list(app.flow.visit.days or [])
    await shot("book-zh")
    await press(app, book.ids.days.children[-2], "the second day")  # children: right to left
    await until(app, lambda: app.flow.visit.day == result["days"][1], "the second day")
    await until(app, lambda: bool(app.flow.free_slots()), "its slots")
    await press(app, book.ids.days.children[-1], "back to the first day")
    await until(app, lambda: app.flow.visit.day == result["days"][0], "the first day")
    await until(app, lambda: bool(app.flow.free_slots()), "its slots")
    await frames()
    slot = app.flow.free_slots()[0]
    await choose(app, "book", slot.start.isoformat())
    await on_screen(app, "need_card")
    await shot("need_card-zh")
    await press(app, screen(app, "need_card").ids.demo_card, "simulated card")
    await on_screen(app, "booked")
    await until(app, lambda: app.flow.visit.print_state == "printed", "the slip printed")
    await frames()
    booked = screen(app, "booked")
    appointment = app.flow.visit.booking.id
    result["booking"] = {
        "id": booked.ids.appointment.text,
        "qr": booked.ids.qr.data,
        "when": booked.ids.when.text,
        "print": booked.ids.print_state.text,
        "slot": slot.start.isoformat(),
    }
    await shot("booked-zh")
    await press(app, app.root.ids.lang_button, "English")
    await until(app, lambda: app.lang == "en", "English")
    await shot("booked-en")
    slip = app.runtime.printed[-1]
    result["slip"] = {"number": slip.number, "qr": slip.qr_data, "note": slip.note}
    model = app.printer.escpos.model
    result["slip_qr_printed"] = any(appointment.encode() in q for q in model.qr_codes) or bool(
        model.images
    )
    await press(app, booked.ids.finish, "finish")
    await on_screen(app, "home")
    result["wiped_after_booking"] = app.flow.visit.identity is None and app.lang == "zh"

    # 6. The booking's slip scanned here: how to check in (and cancel).
    scanner.scan(appointment)
    await on_screen(app, "appointment")
    await shot("appointment-zh")
    for mode in ("en", "elderly"):
        await set_mode(app, mode)
        await shot(f"appointment-{mode}")
    await home(app)

    # 8. A senior books (large print comes on by itself) and cancels on the spot.
    await home(app)
    await press(app, screen(app, "home").ids.book, "book")
    await on_screen(app, "book_services")
    await choose(app, "book_services", SERVICE)
    await on_screen(app, "book")
    await until(app, lambda: bool(app.flow.free_slots()), "free slots")
    await press(app, app.root.ids.elderly_button, "large print")
    await until(app, lambda: app.elderly, "large print")
    await shot("book-elderly")
    await press(app, app.root.ids.lang_button, "English")
    await until(app, lambda: app.lang == "en", "English")
    await shot("book-en")
    await choose(app, "book", app.flow.free_slots()[-1].start.isoformat())
    await on_screen(app, "need_card")
    await shot("need_card-en")
    app.reader.place(ELDER)
    await on_screen(app, "booked")
    result["senior_elderly"] = app.elderly
    await shot("booked-elderly")
    await press(app, screen(app, "booked").ids.cancel_button, "cancel")
    await on_screen(app, "notice")
    result["cancelled"] = screen(app, "notice").ids.title.text
    await shot("cancelled-en")
    await press(app, screen(app, "notice").ids.ok_button, "OK")
    await on_screen(app, "home")
    # 7. At the kiosk on the day: the same QR code checks the booking in, with its priority.
    result["checkin"] = await kiosk_check_in(hall, clock, slot, appointment)

    # 9. Portrait (a navigator often stands upright): home, a guide, its map.
    from kivy.core.window import Window

    Window.size = (1080, 1920)
    await until(app, lambda: app.portrait and tuple(app.root.size) == (1080, 1920), "portrait")
    await home(app)
    await shot("portrait-home")
    await press(app, screen(app, "home").ids.find, "find a service")
    await on_screen(app, "bureaus")
    await choose(app, "bureaus", "liuguan")
    await on_screen(app, "services")
    await choose(app, "services", SERVICE)
    await on_screen(app, "guide")
    await shot("portrait-guide")
    await press(app, screen(app, "guide").ids.map_button, "show the way")
    await on_screen(app, "map")
    await shot("portrait-map")
    result["printed"] = [t.number for t in app.runtime.printed]
    result["shots"] = shot.taken
    return result


async def kiosk_check_in(hall: ClockedHall, clock: dict, slot: Slot, appointment: str) -> dict:
    """The kiosk's flow and runtime (no window) on the same server, the slot's morning."""
    from content import default_catalog
    from devices.open import open_device
    from devices.runner import DeviceEvent, EventKind, PrinterWorker
    from kiosk.flow import KioskFlow
    from kiosk.flow import Screen as KioskScreen
    from kiosk.runtime import KioskRuntime

    start = slot.start
    now = start - dt.timedelta(minutes=5)
    hall.set_time(now)
    clock["now"] = now
    changed = asyncio.Event()
    loop = asyncio.get_running_loop()
    client = hall.device("kiosk-1")
    flow = KioskFlow(default_catalog(), hall.config, today=lambda: now.date())
    runtime = KioskRuntime(flow, client, None, on_change=changed.set)
    printer = open_device("printer", "sim://", profile="gb18030-80")
    worker = PrinterWorker(
        "printer",
        printer,
        lambda ev: loop.call_soon_threadsafe(runtime.device_event, ev),
        idle=0.05,
    )
    runtime.printer = worker
    await client.connect()
    worker.start()
    try:

        async def wait_for(predicate, what):
            async def loop_until():
                while not predicate():
                    changed.clear()
                    await changed.wait()

            try:
                await asyncio.wait_for(loop_until(), 20)
            except TimeoutError:
                raise AssertionError(f"kiosk: timed out waiting for {what}") from None

        await wait_for(lambda: flow.printer_problem is None, "the kiosk's printer")
        runtime.device_event(DeviceEvent("qr", EventKind.CODE_SCANNED, appointment))
        await wait_for(lambda: flow.screen == KioskScreen.TICKET, "the check-in")
        number = flow.visit.ticket["number"]
        full = await manager_ticket(hall, number)
        return {
            "checked_in": flow.visit.checked_in,
            "number": number,
            "priority": full.priority,
            "appointment": full.appointment_id,
            "printed": len(runtime.printed),
        }
    finally:
        await runtime.close()
        worker.stop()
        await client.close()


async def faults(hall: ClockedHall, app, outdir: Path, scanner, proxy, clock) -> dict:
    """The server away (暂停服务, back by itself), the printer out of paper during a booking
    (reported to the managers), a ticket from another day, the idle wipe."""
    shot = Shots(app, outdir)
    result: dict = {}
    await ready(app)
    manager = hall.staff("manager", None)
    await manager.connect()
    await manager.subscribe("manager")
    try:
        # The server away: paused, in each mode, then back by itself.
        await proxy.cut()
        await on_screen(app, "paused")
        result["paused"] = screen(app, "paused").ids.title.text
        await shot("paused-zh")
        app.flow.lang = "en"
        app.changed()
        await until(app, lambda: app.lang == "en", "English")
        await shot("paused-en")
        app.flow.lang, app.flow.elderly = "zh", True
        app.changed()
        await until(app, lambda: app.elderly, "large print")
        await shot("paused-elderly")
        await proxy.start()
        await on_screen(app, "home")
        result["recovered_elderly"] = app.elderly  # the pause wiped nothing but came home
        result["reconnects"] = app.runtime.client.reconnects

        # Paper out: the booking is still made; the slip's failure shows and is reported.
        model = app.printer.escpos.model
        model.state.paper = "out"
        await until(app, lambda: app.flow.printer_problem == "paper_out", "paper out seen")
        app.flow.visit.identity = YOUNG
        await press(app, screen(app, "home").ids.book, "book")
        await on_screen(app, "book_services")
        await choose(app, "book_services", SERVICE)
        await on_screen(app, "book")
        await until(app, lambda: bool(app.flow.free_slots()), "free slots")
        await choose(app, "book", app.flow.free_slots()[0].start.isoformat())
        await on_screen(app, "booked")
        result["not_printed"] = screen(app, "booked").ids.print_state.text
        await shot("booked-not-printed-zh")

        async def devices_message():
            while True:
                message = await manager.next_message(20)
                if message["type"] != "devices":
                    continue
                entry = next(
                    (d for d in message["devices"] if d.get("terminal") == "navigator-1"), None
                )
                part = (entry or {}).get("parts", {}).get("printer")
                if part and not part["ok"]:
                    return part

        result["printer_reported"] = await asyncio.wait_for(devices_message(), 20)
        await press(app, screen(app, "booked").ids.finish, "finish")
        await on_screen(app, "home")
        model.state.paper = "ok"
        await until(app, lambda: app.flow.printer_problem is None, "paper refilled")

        # A ticket from an earlier day.
        scanner.scan("http://127.0.0.1:8765/t/20261120-E001.1795190400.AAAAAAAAAAAAAAAAAAAAAA")
        await on_screen(app, "ticket")
        result["old_ticket"] = screen(app, "ticket").ids.headline.text
        await shot("ticket-expired-zh")
        await home(app)

        # Idle: the countdown shows, then everything personal is wiped.
        app.flow.settings = app.flow.settings.model_copy(update={"idle_s": 10, "warn_s": 5})
        app.reader.place(YOUNG)
        await until(app, lambda: app.flow.visit.identity is not None, "the card read")
        await press(app, screen(app, "home").ids.find, "find a service")
        await on_screen(app, "bureaus")
        await press(app, app.root.ids.lang_button, "English")
        await until(app, lambda: app.countdown_text != "", "the countdown", timeout=30)
        result["countdown"] = app.countdown_text
        await shot("countdown-en")
        await until(app, lambda: app.flow.screen.value == "home", "the idle wipe", timeout=30)
        await on_screen(app, "home")
        state = repr(app.flow.personal_state()) + repr(vars(app.flow))
        result["wiped"] = YOUNG.number not in state and "李四" not in state
        result["lang_after_idle"] = app.lang
        result["faults"] = [f.kind for f in app.runtime.faults]
        result["health"] = {k: list(v) for k, v in app.runtime.health.parts().items()}
    finally:
        await manager.close()
    result["shots"] = shot.taken
    return result


SCENARIOS = {"main": main_paths, "faults": faults}


async def run(scenario: str, outdir: Path) -> dict:
    from navigator.app import Options, run_navigator

    body = SCENARIOS[scenario]
    pair = PtyPair()
    scanner = ScannerSimulator(pair.master)
    try:
        with server_process(outdir / "hall", START) as hall:
            port = int(hall.url.rsplit(":", 1)[1].split("/")[0])
            proxy = CuttableProxy("127.0.0.1", port)
            url = f"ws://127.0.0.1:{await proxy.start()}/ws"
            auth = P.DeviceAuth(device_id="navigator-1", token=hall.credentials["navigator-1"])
            client = HallClient(url, auth, backoff_min=0.05, backoff_max=0.5, request_timeout=5)
            options = Options(
                config=hall.config,
                scanner=f"serial://{pair.path}",
                demo=True,  # the reader and printer simulated, the demo buttons shown
                size=(1920, 1080),
                maxfps=10,
            )
            clock = {"now": START}
            built = asyncio.get_running_loop().create_future()
            app_task = await start_app(
                run_navigator(
                    options,
                    client,
                    on_built=built.set_result,
                    today=lambda: clock["now"].date(),
                    wall=lambda: clock["now"].timestamp(),
                ),
                built,
            )
            app = built.result()
            try:
                return await body(hall, app, outdir, scanner, proxy, clock)
            finally:
                app.stop()
                await asyncio.wait_for(app_task, 30)
                await proxy.close()
    finally:
        scanner.stop()
        pair.close()


def main(argv: list[str]) -> int:
    scenario, outdir = argv[0], Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    faulthandler.dump_traceback_later(
        float(os.environ.get("NAVIGATOR_DRIVER_DUMP_S", "280")), exit=True
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
