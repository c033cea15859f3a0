"""One signage scenario in a child process: a real queue server, the real Kivy app, staff calling.

    DISPLAY=:5 python -m tests.signage.driver SCENARIO OUTDIR

Kivy allows one window per process, so each scenario runs in its own process (test_app.py
starts them under Xvfb). Everything runs in one asyncio loop: the server, the staff clients and
the app (``App.async_run``). Waiting is done on drawn frames (``Window.on_flip``) with a
timeout, never by sleeping. The last line on stdout is ``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from harness.screens import CuttableProxy
from harness.server_proc import RemoteHall, server_process
from queue_server import protocol as P
from queue_server.client import HallClient
from queue_server.protocol import commands as C
from signage.app import Options, run_signage
from signage.settings import SignageSettings

QUEUE_SERVICE = {
    "A": "jisheng.birth_registration",
    "B": "renshe.employment_registration",
    "C": "minzheng.subsistence_allowance",
    "D": "fangguan.public_rental_housing",
    "E": "liuguan.residence_registration",
}
SIZES = {"main": (1920, 1080), "window": (1024, 600)}
# Software OpenGL (Mesa llvmpipe) under Xvfb is slow: fewer frames leave CPU to the server.
MAXFPS = 3
T0 = time.monotonic()
NOTICE = "今天下午15:00至15:30系统维护，社保卡业务暂停办理，请谅解。"


async def until(app, predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until ``predicate`` holds on a drawn frame."""
    future = asyncio.get_running_loop().create_future()

    def check() -> None:
        if not future.done():
            try:
                if predicate():
                    future.set_result(None)
            except Exception as exc:  # a broken predicate fails the wait, not the frame
                future.set_exception(exc)

    app.frame_listeners.append(check)
    app.root.canvas.ask_update()
    started = time.monotonic()
    try:
        await asyncio.wait_for(future, timeout)
        print(f"{time.monotonic() - T0:7.2f}s waited {time.monotonic() - started:.2f}s for {what}",
              file=sys.__stderr__, flush=True)  # fmt: skip
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
    finally:
        app.frame_listeners.remove(check)


def snapshot(app):
    """The screen as drawn, as a Kivy Image. The main screen has no background of its own (the
    window's clear colour paints it), so it is put under the widgets for the export."""
    from kivy.core.window import Window
    from kivy.graphics import Color, InstructionGroup, Rectangle

    root = app.root
    background = InstructionGroup()
    background.add(Color(*Window.clearcolor))
    background.add(Rectangle(pos=root.pos, size=root.size))
    root.canvas.before.insert(0, background)
    try:
        return root.export_as_image()
    finally:
        root.canvas.before.remove(background)


def image_stats(image) -> dict:
    """Spread of the drawn pixels (a blank screen has none) and the image size."""
    pixels = image.texture.pixels
    sample = [pixels[i] + pixels[i + 1] + pixels[i + 2] for i in range(0, len(pixels) - 4, 4 * 211)]
    return {
        "size": list(image.texture.size),
        "variance": statistics.pvariance(sample),
        "levels": len(set(sample)),
    }


def screenshot(app, outdir: Path, name: str) -> dict:
    path = outdir / f"signage-{name}.png"
    image = snapshot(app)
    image.save(str(path), flipped=False)
    return {"path": str(path), **image_stats(image)}


def flash_done(root) -> bool:
    anim = root._flash_anim
    return root.flash == 0 and (anim is None or not anim.have_properties_to_animate(root))


async def issue(hall: RemoteHall, letters: str) -> None:
    kiosk = hall.device("kiosk-1")
    await kiosk.connect()
    await asyncio.gather(
        *(kiosk.command(C.IssueTicket(service=QUEUE_SERVICE[letter])) for letter in letters)
    )
    await kiosk.close()


async def staff(hall: RemoteHall, *windows: int) -> dict[int, HallClient]:
    clients = {window: hall.staff(f"w{window}", window) for window in windows}
    await asyncio.gather(*(client.connect() for client in clients.values()))
    return clients


async def call(client: HallClient, window: int) -> str:
    reply = await client.command(C.CallNext(counter=window))
    return reply.events[-1]["number"]


def recent_numbers(root) -> list[str]:
    return [row.number for row in reversed(root.ids.recent_box.children)]


async def resize(app, size: tuple[int, int], portrait: bool) -> None:
    from kivy.core.window import Window

    Window.size = size
    await until(
        app,
        lambda: app.root.portrait == portrait and tuple(app.root.size) == size,
        f"the window at {size[0]}x{size[1]}",
    )


class NextFrame:
    """Checks that what the feed hands to the screen is drawn in the very next frame: at each
    frame swapped after the feed applied a call, the big number is the newest call."""

    def __init__(self, app):
        self.app = app
        self.pending: str | None = None
        self.checked: list[str] = []
        self.late: list[tuple[str, str]] = []
        self.changed = app.feed.on_change
        app.feed.on_change = self.received  # called (Kivy thread) after the feed applied items
        app.frame_listeners.append(self.frame)

    def received(self) -> None:
        newest = self.app.state.newest
        if newest is not None and (not self.checked or newest.number != self.checked[-1]):
            self.pending = newest.number
        self.changed()

    def frame(self) -> None:
        if self.pending is None:
            return
        shown = self.app.root.ids.call_number.text
        if shown != self.pending:
            self.late.append((self.pending, shown))
        self.checked.append(self.pending)
        self.pending = None


async def main_screen(hall: RemoteHall, app, outdir: Path, proxy: CuttableProxy) -> dict:
    """Landscape, then portrait, then the line cut and restored."""
    root = app.root
    next_frame = NextFrame(app)
    await issue(hall, "AAABBBCCCDDDEEEEE")
    windows = await staff(hall, 1, 2, 3, 4, 5)
    manager = hall.staff("manager", None)
    await manager.connect()
    await manager.command(C.PostNotice(text_zh=NOTICE))
    order = [await call(windows[w], w) for w in (1, 2, 3, 4, 5)]
    await windows[3].command(C.Recall(counter=3))
    order.append(order[2])
    await windows[1].command(C.StartService(counter=1))
    await windows[1].command(C.FinishService(counter=1))
    order.append(await call(windows[1], 1))
    peak = {"flash": 0.0}

    def shown() -> bool:
        peak["flash"] = max(peak["flash"], root.flash)
        return root.ids.call_number.text == order[-1] and peak["flash"] >= 0.99

    await until(app, shown, f"{order[-1]} on screen, flashing")
    await until(app, lambda: flash_done(root), "the flash to end")
    await until(app, lambda: NOTICE in root.notices, "the posted notice")
    await until(app, lambda: root.ids.ticker.label.text != "", "the ticker")
    await asyncio.to_thread(app.voice.wait_idle, 60)
    result = {
        "order": order,
        "number": root.ids.call_number.text,
        "window": root.ids.call_window.text,
        "recent": recent_numbers(root),
        "queues": [(r.letter, r.waiting) for r in reversed(root.ids.queue_box.children)],
        "notices": list(root.notices),
        "spoken": [s.call.number for s in app.voice.history],
        "spoken_text": [s.text for s in app.voice.history],
        "peak_flash": peak["flash"],
        "landscape": screenshot(app, outdir, "main-landscape"),
    }

    await resize(app, (1080, 1920), portrait=True)
    result["portrait"] = {
        "number": root.ids.call_number.text,
        "recent": recent_numbers(root),
        **screenshot(app, outdir, "main-portrait"),
    }
    await resize(app, (1920, 1080), portrait=False)

    await proxy.cut()
    await until(app, lambda: "连接中断" in root.connection_text, "连接中断")
    result["while_down"] = {
        "number": root.ids.call_number.text,
        "badge": root.connection_text,
        "recent": recent_numbers(root),
        **screenshot(app, outdir, "disconnected"),
    }
    during = []
    for w in (2, 4):  # calls while the screen is cut off
        await windows[w].command(C.MarkNoShow(counter=w))
        during.append(await call(windows[w], w))
    await proxy.start()
    await until(
        app,
        lambda: root.ids.call_number.text == during[-1] and not root.connection_text,
        "the calls made during the cut",
    )
    await asyncio.to_thread(app.voice.wait_idle, 60)
    result.update(
        during=during,
        after={"number": root.ids.call_number.text, "recent": recent_numbers(root)},
        spoken_after=[s.call.number for s in app.voice.history],
        calls_seen=app.feed.calls_seen,
        reconnects=app.feed.client.reconnects,
        next_frame={"checked": next_frame.checked, "late": next_frame.late},
    )
    for client in (*windows.values(), manager):
        await client.close()
    return result


async def window_screen(hall: RemoteHall, app, outdir: Path, proxy) -> dict:
    root = app.root
    await issue(hall, "EEA")
    windows = await staff(hall, 5)
    w5 = windows[5]
    await until(app, lambda: root.ids.number.text == "等候叫号", "the idle window screen")
    number = await call(w5, 5)
    await until(app, lambda: root.ids.number.text == number and root.service, "the call")
    await until(app, lambda: flash_done(root), "the flash to end")
    result = {
        "number": root.ids.number.text,
        "service": root.service,
        "called": number,
        "screenshot": screenshot(app, outdir, "window"),
    }
    await w5.command(C.StartService(counter=5))
    await w5.command(C.FinishService(counter=5))
    await w5.command(C.PauseCounter(counter=5, reason="午休"))
    await until(app, lambda: root.ids.number.text == "暂停服务", "暂停服务")
    result["paused_text"] = root.ids.number.text
    result["paused_screenshot"] = screenshot(app, outdir, "window-paused")
    await w5.command(C.ResumeCounter(counter=5))
    await until(app, lambda: root.ids.number.text == "等候叫号", "the window resumed")
    result["resumed_text"] = root.ids.number.text
    await w5.close()
    return result


SCENARIOS = {"main": ("main", main_screen), "window": ("window", window_screen)}


async def run(scenario: str, outdir: Path) -> dict:
    mode, body = SCENARIOS[scenario]
    with server_process(outdir / "hall") as hall:
        proxy = None
        url = hall.url
        if scenario == "main":
            proxy = CuttableProxy("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0]))
            url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        auth = P.DeviceAuth(device_id="signage-main", token=hall.credentials["signage-main"])
        client = HallClient(url, auth, backoff_min=0.05, backoff_max=0.5)
        options = Options(
            config=hall.config,
            settings=SignageSettings(player="none"),
            mode=mode,
            window=5,
            size=SIZES[scenario],
            voice=mode == "main",
            voice_cache=outdir / "voice",
            maxfps=MAXFPS,
        )
        built = asyncio.get_running_loop().create_future()
        app_task = asyncio.create_task(run_signage(options, client, on_built=built.set_result))
        done, _ = await asyncio.wait({built, app_task}, return_when=asyncio.FIRST_COMPLETED)
        if built not in done:
            app_task.result()  # raises what stopped the app
            raise AssertionError("the app ended before it was built")
        app = built.result()
        try:
            await until(app, lambda: app.state.seq >= 0, "the first snapshot")
            return await body(hall, app, outdir, proxy)
        finally:
            app.stop()
            await asyncio.wait_for(app_task, 30)
            if proxy is not None:
                await proxy.close()


def main(argv: list[str]) -> int:
    scenario, outdir = argv[0], Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        result = asyncio.run(run(scenario, outdir))
    except BaseException:
        traceback.print_exc()
        error = traceback.format_exc().strip().splitlines()[-1]
        print("RESULT " + json.dumps({"error": error}, ensure_ascii=False), flush=True)
        return 1
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
