"""The thinking sound in `runner run --output-wav`: heard while a slow tool runs, gone once the reply starts.

The sound is found in the recorded PCM by its spectrum (a pure tone at one of the built-in
clip's two pitches), never by looking at the runner's internals.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from runner.audio.thinking import TONES_HZ
from runner.sim.speech import speech_ms

from tests.voice.helpers import ROOT, RUNNER, read_mono, session_folder, spoken

RATE = 24000
WINDOW = RATE // 20  # 50 ms
REPLY = "Here is what I found for you."
PROJECT = """\
version: 1
name: Thinking sound test
start: desk
state_dir: .runner
thinking_sound: {sound}
limits:
  filler_after: 30
session:
  turn_detection:
    type: server_vad
    silence_duration_ms: 400
agents:
  desk:
    description: Looks things up.
    instructions: Look things up with the lookup tool.
    tools: [lookup]
tools:
  lookup:
    description: Looks it up, slowly.
    python: tools.slow:lookup
"""
RULES = f"""\
user_transcript: "Please look it up."
default: "Sorry?"
rules:
  - when: look
    call: {{name: lookup, args: {{}}}}
  - after_tool: lookup
    say: "{REPLY}"
"""
SLOW_TOOL = """\
import time


def lookup():
    time.sleep(1.5)
    return {"found": True}
"""


def project(folder: Path, sound: str) -> tuple[Path, Path]:
    (folder / "tools").mkdir(parents=True)
    (folder / "tools" / "__init__.py").write_text("")
    (folder / "tools" / "slow.py").write_text(SLOW_TOOL)
    (folder / "agents.yaml").write_text(PROJECT.format(sound=sound))
    (folder / "rules.yaml").write_text(RULES)
    return folder / "agents.yaml", folder / "rules.yaml"


def talk(tmp_path: Path, speech_dir: Path, sound: str) -> tuple[np.ndarray, Path]:
    config, rules = project(tmp_path / "project", sound)
    question = spoken(speech_dir, "look-it-up", "Please look it up.")
    heard = tmp_path / "heard.wav"
    args = ["run", str(config), "--offline", "--rules", str(rules), "--session-dir", str(tmp_path / "s"),
            "--input-wav", str(question), "--output-wav", str(heard)]
    done = subprocess.run(RUNNER + args, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return read_mono(heard), session_folder(tmp_path / "s")


def tonal_windows(pcm: np.ndarray) -> list[int]:
    """Indexes of 50 ms windows that are one of the clip's pure tones: quiet, and almost all energy at that pitch."""
    found = []
    frequencies = np.fft.rfftfreq(WINDOW, 1 / RATE)
    for index in range(len(pcm) // WINDOW):
        x = pcm[index * WINDOW : (index + 1) * WINDOW].astype(float)
        power = np.abs(np.fft.rfft(x * np.hanning(WINDOW))) ** 2
        if power.sum() == 0 or not 100 < np.sqrt(np.mean(x * x)) < 2500:
            continue
        near = sum(power[np.abs(frequencies - tone) < 60].sum() for tone in TONES_HZ)
        if near / power.sum() > 0.95:
            found.append(index)
    return found


def reply_start(pcm: np.ndarray) -> int:
    """The first 50 ms window as loud as speech (the clip peaks at about -26 dBFS)."""
    levels = [np.abs(pcm[i * WINDOW : (i + 1) * WINDOW]).max() for i in range(len(pcm) // WINDOW)]
    return next(index for index, level in enumerate(levels) if level > 4000)


def check_transcript(folder: Path) -> None:
    entries = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert [entry["kind"] for entry in entries] == ["user", "tool_result", "assistant"]
    assert entries[2]["text"] == REPLY and entries[2]["heard_ms"] == speech_ms(REPLY)


def test_the_thinking_sound_plays_while_the_slow_tool_runs_and_stops_when_the_reply_starts(tmp_path, speech_dir):
    pcm, folder = talk(tmp_path, speech_dir, "builtin")
    tones, start = tonal_windows(pcm), reply_start(pcm)
    assert len(tones) >= 6, tones  # two bursts at least: the tool sleeps 1.5 s
    assert all(index < start for index in tones), (tones, start)
    assert start - tones[-1] < 1.4 * 20, "the clip played up to the reply"
    check_transcript(folder)


def test_thinking_sound_off_leaves_the_wait_silent(tmp_path, speech_dir):
    pcm, folder = talk(tmp_path, speech_dir, "off")
    assert tonal_windows(pcm) == []
    onset = np.flatnonzero(pcm)[0] // WINDOW
    assert reply_start(pcm) - onset < 10, "nothing but silence until the reply's first half second"
    check_transcript(folder)
