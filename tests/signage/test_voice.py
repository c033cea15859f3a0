"""The voice: text, one ordered queue, quiet hours, and real espeak-ng audio checked with sox."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from signage.core import Call, SignageState
from signage.settings import SignageSettings
from signage.voice import (
    CommandPlayer,
    EspeakSynth,
    FileSink,
    PlaybackError,
    QuietHours,
    Voice,
    VoiceSettings,
    make_player,
    running_voice,
    spoken_number,
    spoken_window,
    wav_seconds,
)


def test_numbers_are_read_character_by_character_and_windows_as_numbers():
    assert spoken_number("A001") == "A 零 零 一"
    assert spoken_number("b120") == "B 一 二 零"
    assert [spoken_window(n) for n in (3, 10, 12, 20, 25, 99)] == [
        "三", "十", "十二", "二十", "二十五", "九十九"]  # fmt: skip
    assert spoken_window(105) == "一 零 五"


def test_the_template_gives_the_shown_and_the_spoken_text():
    settings = VoiceSettings()
    call = Call("A001", 3)
    assert settings.text(call, spoken=False) == "请 A001 号到 3 号窗口办理"
    assert settings.text(call, spoken=True) == "请 A 零 零 一 号到 三 号窗口办理"
    custom = VoiceSettings(template="{number}号请到{window}号窗口", recall_template="{number}号再次请到{window}号窗口")  # fmt: skip
    assert custom.text(Call("C012", 12, recall=True), spoken=False) == "C012号再次请到12号窗口"
    with pytest.raises(ValueError):
        SignageSettings(template="请 {ticket} 号")
    with pytest.raises(ValueError):
        SignageSettings(quiet_hours=["noon"])


def test_quiet_hours_within_a_day_and_past_midnight():
    noon = QuietHours.parse("12:00-13:30")
    night = QuietHours.parse("20:00-07:00")
    assert dt.time(12, 0) in noon and dt.time(13, 29) in noon and dt.time(13, 30) not in noon
    assert dt.time(23, 0) in night and dt.time(6, 59) in night and dt.time(9, 0) not in night


class FakeSynth:
    """Renders nothing: returns a distinct path per (text, repeat), counting the renders."""

    def __init__(self):
        self.renders: list[tuple[str, int]] = []

    def render(self, text: str, repeat: int = 1) -> Path:
        self.renders.append((text, repeat))
        return Path(f"/voice/{text}|x{repeat}.wav")


class OverlapCheckingPlayer:
    """Counts how many plays run at once; the first play waits until the test lets it go, so
    every other call is queued while it is speaking."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.played: list[Path] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def play(self, path: Path) -> None:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.first_started.set()
        assert self.release.wait(30)
        with self.lock:
            self.played.append(path)
            self.active -= 1

    def stop(self) -> None:
        self.release.set()


def test_simultaneous_calls_from_many_windows_are_all_spoken_in_order_never_overlapping():
    synth, player = FakeSynth(), OverlapCheckingPlayer()
    windows, per_window = 6, 10
    with running_voice(Voice(synth, player)) as voice:
        voice.announce(Call("Z001", 9))
        assert player.first_started.wait(10)  # the voice is busy speaking Z001
        start = threading.Barrier(windows)

        def window(n: int) -> None:
            start.wait()
            for i in range(per_window):
                voice.announce(Call(f"{'ABCDEF'[n]}{i + 1:03d}", n + 1))

        threads = [threading.Thread(target=window, args=(n,)) for n in range(windows)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        player.release.set()
        assert voice.wait_idle(30)
    spoken = [s.call for s in voice.history]
    assert len(spoken) == 1 + windows * per_window  # none dropped
    assert len({(c.number, c.counter) for c in spoken}) == len(spoken)  # none twice
    for n in range(windows):  # each window's calls in the order it made them
        mine = [c.number for c in spoken if c.counter == n + 1]
        assert mine == [f"{'ABCDEF'[n]}{i + 1:03d}" for i in range(per_window)]
    assert player.max_active == 1
    assert all(a.ended <= b.started for a, b in itertools.pairwise(voice.history))
    # Each call is one file speaking it twice (the default repeat count).
    assert {repeat for _, repeat in synth.renders} == {2}
    assert player.played[0] == Path("/voice/请 Z 零 零 一 号到 九 号窗口办理|x2.wav")


def test_a_recall_is_announced_again():
    state = SignageState()
    sink = FileSink()
    with running_voice(Voice(FakeSynth(), sink)) as voice:
        for seq, kind in ((1, "ticket_called"), (2, "ticket_recalled")):
            event = {"type": kind, "seq": seq, "ticket_id": "t", "number": "A001", "counter": 3,
                     "service": "s", "recalls": 1, "at": "2026-11-26T09:00:00+08:00"}  # fmt: skip
            for call in state.apply({"type": "event", "stream": "public", "seq": seq,
                                     "event": event}):  # fmt: skip
                voice.announce(call)
        assert voice.wait_idle(10)
    assert [(s.call.number, s.call.recall) for s in voice.history] == [
        ("A001", False), ("A001", True)]  # fmt: skip
    assert len(sink.played) == 2


def test_quiet_hours_show_but_do_not_speak():
    sink = FileSink()
    settings = VoiceSettings(quiet=(QuietHours.parse("12:00-13:30"),))
    now = {"t": dt.datetime(2026, 11, 26, 12, 15)}
    with running_voice(Voice(FakeSynth(), sink, settings, clock=lambda: now["t"])) as voice:
        voice.announce(Call("A001", 1))
        assert voice.wait_idle(10)
        now["t"] = dt.datetime(2026, 11, 26, 13, 31)
        voice.announce(Call("A002", 1))
        assert voice.wait_idle(10)
    assert [(s.call.number, s.skipped) for s in voice.history] == [
        ("A001", "quiet hours"), ("A002", "")]  # fmt: skip
    assert len(sink.played) == 1


def test_a_failing_player_is_reported_and_the_next_good_call_heals_it(tmp_path):
    health: list[tuple[bool, str]] = []
    broken = CommandPlayer(["false"])  # exits 1, as aplay does without a sound card
    voice = Voice(FakeSynth(), broken, on_health=lambda ok, detail: health.append((ok, detail)))
    with running_voice(voice):
        voice.announce(Call("A001", 1))
        voice.announce(Call("A002", 1))
        assert voice.wait_idle(10)
        voice.player = FileSink()
        voice.announce(Call("A003", 1))
        assert voice.wait_idle(10)
    assert [s.skipped for s in voice.history] == ["playback failed", "playback failed", ""]
    assert health == [(False, "error"), (True, "")]  # changes only
    with pytest.raises(PlaybackError, match="could not start"):
        CommandPlayer([str(tmp_path / "no-such-player")]).play(Path("a.wav"))


def test_players_by_name(tmp_path):
    assert isinstance(make_player("none"), FileSink)
    log = tmp_path / "played.log"
    sink = make_player(f"file:{log}")
    sink.play(Path("a.wav"))
    sink.play(Path("b.wav"))
    assert log.read_text().split() == ["a.wav", "b.wav"]
    assert make_player("aplay:null").argv == ["aplay", "-q", "-D", "null"]
    with pytest.raises(ValueError):
        make_player("speakers")


def sox_stat(path: Path) -> dict[str, float]:
    out = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True,
                         check=True, timeout=30).stderr  # fmt: skip
    stats = {}
    for line in out.splitlines():
        match = re.match(r"^([A-Za-z ()]+):\s+(-?[\d.]+)", line)
        if match:
            stats[match.group(1).strip()] = float(match.group(2))
    return stats


@pytest.fixture(scope="module")
def espeak_cache(tmp_path_factory) -> Path:
    for tool in ("espeak-ng", "sox"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/setup.sh"
    return tmp_path_factory.mktemp("voice")


def test_espeak_renders_audible_speech_of_the_expected_length(espeak_cache):
    settings = VoiceSettings()
    synth = EspeakSynth.from_settings(espeak_cache, settings)
    text = settings.text(Call("A001", 3), spoken=True)
    once = synth.render(text, repeat=1)
    twice = synth.render(text, repeat=2)
    single, double = sox_stat(once), sox_stat(twice)
    assert single["RMS     amplitude"] > 0.01 and single["Maximum amplitude"] > 0.1
    # Eleven syllables at 150 words a minute: a few seconds, not a click and not a minute.
    assert 2.0 < single["Length (seconds)"] < 8.0
    assert double["Length (seconds)"] == pytest.approx(
        2 * single["Length (seconds)"] + settings.gap_s, abs=0.01)  # fmt: skip
    assert wav_seconds(twice) == pytest.approx(double["Length (seconds)"], abs=0.01)
    # A second render is the cached file: espeak-ng does not run again.
    stamp = once.stat().st_mtime_ns
    assert synth.render(text, repeat=1) == once and once.stat().st_mtime_ns == stamp
    # Louder settings render louder audio.
    loud = EspeakSynth(espeak_cache, volume=200).render(text)
    assert sox_stat(loud)["RMS     amplitude"] > single["RMS     amplitude"] * 1.3


def test_a_real_voice_plays_each_call_through_aplay_in_order(espeak_cache, tmp_path):
    played = tmp_path / "played.log"

    class LoggingAplay(CommandPlayer):
        def play(self, path: Path) -> None:
            super().play(path)
            with played.open("a") as f:
                f.write(f"{path.name}\n")

    settings = VoiceSettings(repeat=1)
    synth = EspeakSynth.from_settings(espeak_cache, settings)
    with running_voice(Voice(synth, LoggingAplay(["aplay", "-q", "-D", "null"]), settings)) as v:
        for number, window in (("B002", 2), ("A010", 1)):
            v.announce(Call(number, window))
        assert v.wait_idle(60)
    assert [s.skipped for s in v.history] == ["", ""]
    assert played.read_text().split() == [s.path.name for s in v.history]
    assert [s.text for s in v.history] == ["请 B 零 零 二 号到 二 号窗口办理",
                                           "请 A 零 一 零 号到 一 号窗口办理"]  # fmt: skip
