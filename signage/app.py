"""``python main.py signage``: the call-number screens (综合屏, 窗口屏) and the voice that calls.

    python main.py signage --config hall.toml --mode main
    python main.py signage --config hall.toml --mode window --window 3 --device-id signage-main

The screen connects to the queue server with a device token (by default the ``--device-id``'s
entry of ``<config>.credentials``, written by ``python main.py init``), subscribes to the public
stream and renders it. The client runs in a thread of its own (the client's ``LoopThread``): a
frame that takes long to draw (software OpenGL) never delays reading a call. The screen and the
speaker report their health to the server. Kivy is imported only when the screen starts
(``run``), never when ``main.py`` builds its parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from content.signage import Screen, Signage, load_signage
from queue_server.client import AuthFailed, HallClient, LoopThread
from queue_server.config import HallConfig
from signage.core import SignageState
from signage.feed import SignageFeed
from signage.settings import SignageSettings
from signage.voice import CommandPlayer, EspeakSynth, FileSink, Voice, make_player
from terminal.app import hall_now, run_main
from ui.bridge import Inbox, run_app_with
from ui.window import setup_window

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the hall configuration")
    parser.add_argument(
        "--mode",
        choices=["main", "window"],
        default="main",
        help="main: the hall's call screen (综合屏); window: one window's screen (窗口屏)",
    )
    parser.add_argument("--window", type=int, help="the window number (--mode window)")
    parser.add_argument("--server", help="queue server URL (default: from the configuration)")
    parser.add_argument("--device-id", default="signage-main", help="this screen's device id")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="the device token: a file holding it, or a credentials file "
        "(default: <config>.credentials)",
    )
    parser.add_argument("--size", default="1920x1080", help="window size WxH (not fullscreen)")
    parser.add_argument("--fullscreen", action="store_true", help="fill the screen (on the TV)")
    voice = parser.add_argument_group("voice (the [signage] section sets the defaults)")
    voice.add_argument(
        "--voice",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="speak the calls (default: on for --mode main, off for --mode window)",
    )
    voice.add_argument("--player", help="auto, aplay[:DEVICE], paplay, file:PATH or none")
    voice.add_argument(
        "--template", help='announcement, e.g. "请 {number} 号到 {window} 号窗口办理"'
    )
    voice.add_argument("--repeat", type=int, help="times each call is spoken (default 2)")
    voice.add_argument("--volume", type=int, help="0..200 (default 100)")
    voice.add_argument(
        "--quiet-hours", action="append", help="no voice in this span, e.g. 12:00-13:30"
    )
    voice.add_argument("--voice-cache", type=Path, help="where rendered speech is kept")
    parser.add_argument("--content", help="signage content file (default: the catalog's)")


@dataclasses.dataclass
class Options:
    """Everything a signage screen needs, resolved from config and command line."""

    config: HallConfig
    settings: SignageSettings
    mode: str = "main"
    window: int = 1
    size: tuple[int, int] = (1920, 1080)
    fullscreen: bool = False
    voice: bool = True
    voice_cache: Path | None = None
    maxfps: int = 60
    # The client in a thread of its own (the default), or in the loop that runs Kivy (the
    # old way, kept for the benchmark's comparison).
    client_thread: bool = True


def make_state(config: HallConfig, settings: SignageSettings) -> SignageState:
    return SignageState(
        queue_names={q.prefix: q.name_zh for q in config.queues},
        service_names={s.id: s.name_zh for s in config.services if s.name_zh},
        recent_limit=settings.recent,
    )


def notice_source(
    state: SignageState, signage: Signage | None, screen: Screen, hall_id: str
) -> Callable[[dt.datetime], list[str]]:
    """The notices to scroll at a moment: the catalog's signage notices, then the hall's."""

    def notices(now: dt.datetime) -> list[str]:
        out = []
        if signage is not None:
            for item in signage.active_items(now, screen=screen, hall=hall_id):
                if item.text is not None:
                    out.append(f"{item.title.zh}：{item.text.zh}")
        out.extend(n.text for n in state.notices.values() if n.text)
        return out

    return notices


def make_voice(options: Options) -> tuple[Voice | None, tuple[bool, str] | None]:
    """The voice (None: off or impossible) and the speaker's health to report at start (None:
    no speaker to report: the voice is off, or silent by choice with player none or file:)."""
    if not options.voice:
        return None, None
    settings = options.settings.voice_settings()
    cache = options.voice_cache or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yikou" / "voice"
    )
    synth = EspeakSynth.from_settings(cache, settings)
    if not synth.available():
        log.error("espeak-ng is not installed (apt-get install espeak-ng): the calls are silent")
        return None, (False, "error")
    spec = options.settings.player
    player = make_player(spec)
    health: tuple[bool, str] | None = (True, "")
    if isinstance(player, FileSink):
        # "auto" found no player: nobody hears the calls. "none"/"file:" are silent by choice.
        health = (False, "error") if spec == "auto" else None
    elif isinstance(player, CommandPlayer) and shutil.which(player.argv[0]) is None:
        log.error("%s is not installed: the calls are not heard", player.argv[0])
        health = (False, "error")
    return Voice(synth, player, settings), health


def setup_kivy(options: Options) -> None:
    """Set Kivy's environment and window before Kivy is imported anywhere."""
    setup_window(options.size, options.fullscreen, options.maxfps, exit_on_escape=True)


async def run_signage(
    options: Options,
    client: HallClient,
    *,
    on_built: Callable | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> SignageFeed:
    """Run one screen until its window closes (or the app is stopped); return its feed.

    Tests and benchmarks call this with their own client and ``on_built(app)`` hook."""
    setup_kivy(options)
    from signage.gui import SignageApp

    config, settings = options.config, options.settings
    state = make_state(config, settings)
    signage = None
    try:
        signage = load_signage(settings.content)
    except Exception as exc:  # a bad content file must not keep the calls off the screen
        log.error("signage content not loaded: %s", exc)
    screen = Screen.HALL if options.mode == "main" else Screen.COUNTER
    counter_names = {c.id: c.name_zh for c in config.counters if c.name_zh}
    now = clock or (lambda: hall_now(config))
    app = SignageApp(
        state=state,
        mode=options.mode,
        window=options.window,
        window_name=counter_names.get(options.window, ""),
        hall_name=config.hall.name_zh,
        notices=notice_source(state, signage, screen, config.hall.id),
        clock=now,
        on_built=on_built,
    )
    voice, speaker = make_voice(options)
    feed = SignageFeed(
        client,
        state,
        on_change=app.state_changed,
        on_calls=app.calls_arrived,
        voice=voice,
        last_frame=lambda: app.last_frame,
    )
    app.feed = feed
    app.voice = voice
    if speaker is not None:
        feed.set_health("speaker", *speaker)
    if voice is not None:
        if speaker is not None:
            voice.on_health = lambda ok, detail: feed.set_health("speaker", ok, detail)
        voice.start()

    try:
        if options.client_thread:
            # Messages wait in the inbox for the next frame; the state lives on the Kivy thread.
            with LoopThread("signage-client") as network:
                feed.deliver = Inbox(feed.receive).put
                await run_app_with(app, feed.run(), thread=network)
        else:
            await run_app_with(app, feed.run())
    except AuthFailed:
        pass  # feed.failure says so; run() reports it
    finally:
        if voice is not None:
            voice.close(timeout=5)
    return feed


def options_from_args(args: argparse.Namespace, config: HallConfig) -> Options:
    settings = SignageSettings.model_validate(config.signage).with_overrides(
        player=args.player,
        template=args.template,
        repeat=args.repeat,
        volume=args.volume,
        quiet_hours=args.quiet_hours,
        content=args.content,
    )
    width, _, height = args.size.lower().partition("x")
    return Options(
        config=config,
        settings=settings,
        mode=args.mode,
        window=args.window or 1,
        size=(int(width), int(height)),
        fullscreen=args.fullscreen,
        voice=args.voice if args.voice is not None else args.mode == "main",
        voice_cache=args.voice_cache,
    )


def run(args: argparse.Namespace) -> int:
    if args.mode == "window" and args.window is None:
        print("--mode window needs --window N", file=sys.stderr)
        return 2

    async def start(options: Options, client: HallClient) -> None:
        feed = await run_signage(options, client)
        if isinstance(feed.failure, AuthFailed):
            raise feed.failure

    # A screen reconnects with the client's own backoff (a kiosk's is shorter: a resident waits).
    return run_main(
        args, "signage", lambda config: options_from_args(args, config), start,
        backoff_max=10.0,
    )  # fmt: skip
