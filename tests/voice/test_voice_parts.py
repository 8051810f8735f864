"""The voice loop's small parts: the space bar, the status line, refusals before connecting."""

from __future__ import annotations

import io
import os
import subprocess

from runner.core.actions import Record
from runner.run.console import Console
from runner.run.voice_keys import SpaceBar
from tests.voice.helpers import CONFIG, ROOT, RUNNER


class Presses:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.bar = SpaceBar(on_press=lambda: self.log.append("press"), on_release=lambda: self.log.append("release"))


def test_tapping_space_toggles_talking():
    keys = Presses()
    keys.bar.space(1.0)
    keys.bar.tick(1.5)
    assert (keys.log, keys.bar.talking) == (["press"], True)
    keys.bar.space(3.0)
    keys.bar.tick(4.0)
    assert (keys.log, keys.bar.talking) == (["press", "release"], False)


def test_holding_space_talks_until_the_auto_repeat_stops():
    keys = Presses()
    keys.bar.space(1.0)  # press, then the terminal's auto-repeat after its initial delay
    for repeat in range(30):
        keys.bar.space(1.5 + repeat * 0.033)
        keys.bar.tick(1.5 + repeat * 0.033 + 0.01)
    assert keys.log == ["press"]
    keys.bar.tick(1.5 + 29 * 0.033 + 0.25)  # let go: no more repeats
    assert (keys.log, keys.bar.talking) == (["press", "release"], False)
    keys.bar.space(4.0)
    assert keys.log == ["press", "release", "press"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_is_redrawn_in_place_and_cleared_before_conversation_lines():
    screen = Terminal()
    console = Console(["host"], stream=screen, colour=False)
    console.status("● live · host · listening")
    console.status("● live · host · agent speaking")
    console.record(Record("notice", {"message": "hello"}), 0.0)
    console.status(None)
    assert screen.getvalue() == "\r\x1b[K● live · host · listening\r\x1b[K● live · host · agent speaking\r\x1b[K  · hello\n"


def test_no_status_line_when_the_output_is_not_a_terminal():
    screen = io.StringIO()
    console = Console(["host"], stream=screen, colour=False)
    console.status("● live · host · listening")
    assert screen.getvalue() == ""


def run_runner(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(RUNNER + args, cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


def test_push_to_talk_needs_a_terminal(tmp_path):
    done = run_runner(["run", str(CONFIG), "--offline", "--session-dir", str(tmp_path / "s"), "--ptt"])
    assert (done.returncode, done.stderr) == (1, "runner: --ptt reads the space bar from a terminal, and standard input is not one\n")


def test_no_audio_device_is_one_clear_line_before_connecting(tmp_path):
    unreachable = {**os.environ, "PULSE_SERVER": f"unix:{tmp_path}/no-daemon"}  # this test machine has no sound card
    done = run_runner(["run", str(CONFIG), "--offline", "--session-dir", str(tmp_path / "s")], env=unreachable)
    assert (done.returncode, done.stderr) == (1, "runner: no input audio device found; connect one, or use --input-wav FILE or --text\n")
    assert not (tmp_path / "s").exists()
