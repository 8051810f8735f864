"""`thinking_sound`: builtin, off or a WAV, at the project and per agent; a bad file is one located error."""

from __future__ import annotations

import wave

from runner.config import load

PROJECT = """\
version: 1
start: greeter
thinking_sound: {top}
agents:
  greeter:
    description: Greets callers.
    instructions: Say hello.
    thinking_sound: {agent}
    handoffs: [other]
  other:
    description: Another.
    instructions: Say bye.
"""


def write_wav(path):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x01" * 1600)
    return path


def test_the_default_is_builtin_and_an_agent_may_choose_its_own_wav(tmp_path, minimal):
    (tmp_path / "agents.yaml").write_text(minimal)
    assert load(tmp_path / "agents.yaml").config.thinking_sound == "builtin"
    (tmp_path / "sounds").mkdir()
    write_wav(tmp_path / "sounds" / "keys.wav")
    (tmp_path / "agents.yaml").write_text(PROJECT.format(top="off", agent="sounds/keys.wav"))
    result = load(tmp_path / "agents.yaml")
    assert result.problems == []
    config = result.config
    assert config.thinking_sound_for(config.agents["greeter"]) == str(tmp_path / "sounds" / "keys.wav")
    assert config.thinking_sound_for(config.agents["other"]) == "off"


def test_a_missing_or_unreadable_wav_is_a_located_error(text_lines, tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    assert text_lines(PROJECT.format(top="missing.wav", agent="notes.txt")) == [
        "3:17: thinking_sound: cannot read the thinking sound 'missing.wav': No such file or directory",
        "8:21: agents.greeter.thinking_sound: the thinking sound 'notes.txt' is not a WAV file (no RIFF/WAVE header) (use builtin, off, or a .wav file)",
    ]


def test_an_empty_value_is_refused_by_the_schema(text_lines):
    lines = text_lines(PROJECT.format(top="''", agent="builtin"))
    assert lines == ["3:17: thinking_sound: '' is not valid: a thinking sound is builtin, off (or false), or the path of a WAV file"]
