"""The voice that calls: text from a template, offline speech (espeak-ng), one ordered queue.

    voice = Voice(EspeakSynth(cache_dir), make_player("auto"), VoiceSettings())
    voice.start()
    voice.announce(call)          # from any thread; returns at once
    ...
    voice.close()                 # speaks what is queued, then stops the worker

"请 A001 号到 3 号窗口办理" is spoken "请 A 零 零 一 号到 三 号窗口办理": letters as letters,
each digit of the ticket on its own, the window as a number. One worker thread speaks the
queued announcements one after another, so two windows calling at once never talk over each
other and no call is dropped. During quiet hours calls are shown but not spoken.

No Kivy here: the signage app, the tests and a headless hall all use this module as is.

Errors:
    VoiceError            synthesis failed (espeak-ng missing, or it failed on a text)
     └── PlaybackError    the player failed (missing, no sound card, exited with an error)

The voice's health (``Voice.on_health(ok, detail)``) changes with each announcement's outcome:
a failed synthesis or playback makes it not ok, the next good one ok again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from signage.core import Call

log = logging.getLogger(__name__)

DIGITS = "零一二三四五六七八九"
DEFAULT_TEMPLATE = "请 {number} 号到 {window} 号窗口办理"


class VoiceError(RuntimeError):
    pass


class PlaybackError(VoiceError):
    pass


# --- text --------------------------------------------------------------------------------------


def spoken_number(number: str) -> str:
    """A ticket number as it is read out: A001 → "A 零 零 一" (every character on its own)."""
    return " ".join(DIGITS[int(ch)] if ch.isdigit() else ch.upper() for ch in number if ch.strip())


def spoken_window(window: int) -> str:
    """A window number read as a number: 3 → 三, 10 → 十, 12 → 十二, 25 → 二十五.

    From 100 on, digit by digit (一 零 五), as halls do for long numbers."""
    if window < 0:
        raise ValueError(window)
    if window < 10:
        return DIGITS[window]
    if window < 100:
        tens, ones = divmod(window, 10)
        return ("" if tens == 1 else DIGITS[tens]) + "十" + ("" if ones == 0 else DIGITS[ones])
    return " ".join(DIGITS[int(ch)] for ch in str(window))


@dataclass(frozen=True)
class QuietHours:
    """A daily span without voice, e.g. 12:00-13:30 or 20:00-07:00 (past midnight)."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        try:
            start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as exc:
            raise ValueError(f"quiet hours must look like 22:00-07:00, not {text!r}") from exc
        return cls(start, end)

    def __contains__(self, moment: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class VoiceSettings:
    template: str = DEFAULT_TEMPLATE  # fields: {number} {window} {name}
    recall_template: str | None = None  # None: the same words as the call
    repeat: int = 2  # how many times each call is spoken
    volume: int = 100  # espeak-ng amplitude, 0..200
    voice: str = "cmn"  # espeak-ng voice: cmn reads Latin letters as English letter names
    rate: int = 150  # words per minute
    gap_s: float = 0.8  # silence between the repeats
    quiet: tuple[QuietHours, ...] = ()

    def text(self, call: Call, *, spoken: bool) -> str:
        """The announcement of ``call``: as shown (A001, 3) or as spoken (A 零 零 一, 三)."""
        template = (self.recall_template or self.template) if call.recall else self.template
        return template.format(
            number=spoken_number(call.number) if spoken else call.number,
            window=spoken_window(call.counter) if spoken else call.counter,
            name=call.name or "",
        )

    def is_quiet(self, moment: dt.time) -> bool:
        return any(moment in span for span in self.quiet)


# --- synthesis ---------------------------------------------------------------------------------


class Synth(Protocol):
    def render(self, text: str, repeat: int = 1) -> Path: ...


class EspeakSynth:
    """espeak-ng to WAV files, cached by text and settings (a hall says the same things daily)."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        voice: str = "cmn",
        rate: int = 150,
        volume: int = 100,
        gap_s: float = 0.8,
        executable: str = "espeak-ng",
        timeout: float = 30.0,
    ):
        self.cache_dir = Path(cache_dir)
        self.voice, self.rate, self.volume, self.gap_s = voice, rate, volume, gap_s
        self.executable = executable
        self.timeout = timeout
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, cache_dir: Path, settings: VoiceSettings) -> EspeakSynth:
        return cls(
            cache_dir,
            voice=settings.voice,
            rate=settings.rate,
            volume=settings.volume,
            gap_s=settings.gap_s,
        )

    def available(self) -> bool:
        return shutil.which(self.executable) is not None

    def _key(self, text: str) -> str:
        raw = f"{self.voice}|{self.rate}|{self.volume}|{text}".encode()
        return hashlib.sha256(raw).hexdigest()[:24]

    def render(self, text: str, repeat: int = 1) -> Path:
        """A WAV file speaking ``text`` ``repeat`` times with a pause between."""
        with self._lock:
            single = self._render_once(text)
            if repeat <= 1:
                return single
            target = self.cache_dir / f"{single.stem}-x{repeat}-{int(self.gap_s * 1000)}.wav"
            if not target.is_file():
                _repeat_wav(single, target, repeat, self.gap_s)
            return target

    def _render_once(self, text: str) -> Path:
        target = self.cache_dir / f"{self._key(text)}.wav"
        if target.is_file():
            return target
        exe = shutil.which(self.executable)
        if exe is None:
            raise VoiceError(
                f"{self.executable} is not installed: apt-get install espeak-ng "
                "(or run the signage with --no-voice)"
            )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.stem}.{os.getpid()}.part.wav")
        argv = [exe, "-v", self.voice, "-s", str(self.rate), "-a", str(self.volume)]
        argv += ["-w", str(partial), "--", text]
        try:
            # run() kills the child on timeout; no espeak outlives a failed render.
            result = subprocess.run(argv, capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            partial.unlink(missing_ok=True)
            raise VoiceError(f"espeak-ng took longer than {self.timeout}s on {text!r}") from exc
        if result.returncode != 0 or not partial.is_file():
            partial.unlink(missing_ok=True)
            raise VoiceError(
                f"espeak-ng failed ({result.returncode}) on {text!r}: "
                f"{result.stderr.decode(errors='replace').strip()}"
            )
        partial.replace(target)
        log.debug("rendered %r to %s", text, target)
        return target


def _repeat_wav(source: Path, target: Path, repeat: int, gap_s: float) -> None:
    with wave.open(str(source), "rb") as src:
        params = src.getparams()
        frames = src.readframes(src.getnframes())
    silence = b"\0" * (int(params.framerate * gap_s) * params.sampwidth * params.nchannels)
    partial = target.with_name(f"{target.stem}.{os.getpid()}.part.wav")
    with wave.open(str(partial), "wb") as out:
        out.setparams(params)
        for i in range(repeat):
            if i:
                out.writeframes(silence)
            out.writeframes(frames)
    partial.replace(target)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as f:
        return f.getnframes() / f.getframerate()


# --- playback ----------------------------------------------------------------------------------


class Player(Protocol):
    def play(self, path: Path) -> None:
        """Play the file and return when it has finished."""

    def stop(self) -> None:
        """Stop what is playing now (from another thread), if anything."""


class CommandPlayer:
    """Plays through a command such as ``aplay -q FILE`` or ``paplay FILE``."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def play(self, path: Path) -> None:
        with self._lock:
            try:
                self._proc = subprocess.Popen(
                    [*self.argv, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            except OSError as exc:  # not installed, not executable
                raise PlaybackError(f"{self.argv[0]} could not start: {exc}") from exc
        proc = self._proc
        _, err = proc.communicate()
        with self._lock:
            self._proc = None
        if proc.returncode not in (0, -15):  # -15: stopped by stop()
            raise PlaybackError(
                f"{self.argv[0]} failed ({proc.returncode}): {err.decode(errors='replace').strip()}"
            )

    def stop(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()  # by its own pid: only the player we started


class FileSink:
    """Plays nothing: records what would have been played, in order (tests, headless halls).

    With ``log_path``, also appends one line per file to it."""

    def __init__(self, log_path: Path | None = None):
        self.played: list[Path] = []
        self.log_path = log_path
        self._lock = threading.Lock()

    def play(self, path: Path) -> None:
        with self._lock:
            self.played.append(Path(path))
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(f"{path}\n")

    def stop(self) -> None:
        pass


def make_player(spec: str) -> Player:
    """``auto`` (paplay under PulseAudio/PipeWire, else aplay, else a silent sink), ``aplay``,
    ``aplay:DEVICE``, ``paplay``, ``file:PATH`` (record the order) or ``none``."""
    if spec == "none":
        return FileSink()
    if spec.startswith("file:"):
        return FileSink(Path(spec.removeprefix("file:")))
    if spec == "auto":
        if os.environ.get("PULSE_SERVER") or os.environ.get("XDG_RUNTIME_DIR"):
            if shutil.which("paplay"):
                return CommandPlayer(["paplay"])
        if shutil.which("aplay"):
            return CommandPlayer(["aplay", "-q"])
        log.warning("neither paplay nor aplay is installed: the calls are not heard")
        return FileSink()
    name, _, device = spec.partition(":")
    if name == "aplay":
        return CommandPlayer(["aplay", "-q", *(["-D", device] if device else [])])
    if name == "paplay":
        return CommandPlayer(["paplay", *([f"--device={device}"] if device else [])])
    raise ValueError(f"unknown player {spec!r} (auto, aplay[:DEVICE], paplay, file:PATH, none)")


# --- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spoken:
    """One announcement the voice handled (in the order it handled them)."""

    call: Call
    text: str
    path: Path | None  # None: not spoken (quiet hours, or synthesis failed)
    skipped: str = ""  # why it was not spoken
    started: float = 0.0  # time.monotonic() around the playback
    ended: float = 0.0


_STOP = object()


@dataclass
class Voice:
    """One ordered voice queue with one worker thread."""

    synth: Synth
    player: Player
    settings: VoiceSettings = field(default_factory=VoiceSettings)
    clock: Callable[[], dt.datetime] = dt.datetime.now
    history: list[Spoken] = field(default_factory=list)
    # Called (in the voice's thread) when the voice starts or stops working: (ok, detail).
    on_health: Callable[[bool, str], None] | None = None

    def __post_init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()  # unbounded: a call is never dropped
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self.healthy: bool | None = None  # None: nothing announced yet

    def start(self) -> Voice:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="signage-voice", daemon=True)
            self._thread.start()
        return self

    def announce(self, call: Call) -> None:
        """Queue a call to be spoken (any thread; never blocks)."""
        with self._idle:
            self._pending += 1
        self._queue.put(call)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far has been spoken; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Speak what is queued, then stop the worker (stops playback if it takes too long)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.player.stop()
            self._thread.join(5)
        self._thread = None

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                spoken = self._speak(item)
            except Exception:  # a failing voice must never take the screens down
                log.exception("announcing %s failed", item)
                spoken = Spoken(item, "", None, skipped="error")
            try:
                self.history.append(spoken)
                if spoken.skipped != "quiet hours":
                    self._set_health(not spoken.skipped)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _speak(self, call: Call) -> Spoken:
        text = self.settings.text(call, spoken=True)
        if self.settings.is_quiet(self.clock().time()):
            log.info("quiet hours: not speaking %s", call.number)
            return Spoken(call, text, None, skipped="quiet hours")
        try:
            path = self.synth.render(text, self.settings.repeat)
        except VoiceError as exc:
            log.error("%s", exc)
            return Spoken(call, text, None, skipped="synthesis failed")
        started = time.monotonic()
        try:
            self.player.play(path)
        except PlaybackError as exc:
            log.error("%s: %s not heard", exc, call.number)
            return Spoken(
                call, text, path, "playback failed", started=started, ended=time.monotonic()
            )
        return Spoken(call, text, path, started=started, ended=time.monotonic())

    def _set_health(self, ok: bool) -> None:
        if ok == self.healthy:
            return
        self.healthy = ok
        if self.on_health is not None:
            try:
                self.on_health(ok, "" if ok else "error")
            except Exception:
                log.exception("on_health failed")


@contextlib.contextmanager
def running_voice(voice: Voice):
    voice.start()
    try:
        yield voice
    finally:
        voice.close()
