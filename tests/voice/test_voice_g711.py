"""A μ-law session through WAV in and out against the simulator: the service's bytes, exact played ms."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np

from runner.audio.formats import PCMU
from runner.sim.speech import speech_ms, synthesize

from tests.voice.helpers import CONFIG, FIXTURES, ROOT, RULES, RUNNER, audio_bytes_sent, events, session_folder, spoken
from tests.voice.test_voice_files import LONG_REPLY, LONG_RULES, REPLY, barge_in_wav, replies, truncate_ms

FRAME_MS = 20


def ulaw_config(tmp_path: Path) -> Path:
    text = CONFIG.read_text().replace("session:\n", "session:\n  input_format: audio/pcmu\n  output_format: audio/pcmu\n", 1)
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return path


def as_ulaw(source: Path) -> Path:
    target = source.with_name(source.stem + "-ulaw.wav")
    if not target.exists():
        subprocess.run(["sox", str(source), "-r", "8000", "-e", "u-law", str(target)], check=True)
    return target


def ulaw_body(path: Path) -> bytes:
    """The data chunk of a μ-law WAV, after checking its format tag and rate."""
    data = path.read_bytes()
    tag, channels, rate = struct.unpack_from("<HHI", data, 20)
    assert (tag, channels, rate) == (7, 1, 8000)
    at = data.index(b"data")
    return data[at + 8 : at + 8 + struct.unpack_from("<I", data, at + 4)[0]]


def run_runner(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(RUNNER + args, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_ulaw_reply_lands_in_the_output_wav_bit_exact(tmp_path, speech_dir):
    said = as_ulaw(spoken(speech_dir, "hello", "Hello, I need some help with my internet, please.", rate=16000))
    out = tmp_path / "heard.wav"
    done = run_runner(["run", str(ulaw_config(tmp_path)), "--offline", "--rules", str(RULES), "--session-dir", str(tmp_path / "s"),
                       "--input-wav", str(said), "--output-wav", str(out), "--fast"])
    assert done.returncode == 0, done.stderr
    expected = PCMU.encode(synthesize(REPLY, 8000))
    assert ulaw_body(out) == expected
    folder = session_folder(tmp_path / "s")
    assert audio_bytes_sent(folder) == len(expected)
    update = next(e["event"] for e in events(folder) if e["dir"] == "out" and e["event"]["type"] == "session.update")
    assert update["session"]["audio"]["input"]["format"] == update["session"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert done.stdout.splitlines() == ["you: Hello there.", f"host: {REPLY}"]
    assert "(audio/pcmu 8 kHz in, audio/pcmu 8 kHz out)" in done.stderr


def test_a_ulaw_barge_in_truncates_within_one_frame_of_what_the_output_wav_holds(tmp_path, speech_dir):
    out = tmp_path / "heard.wav"
    done = run_runner(["run", str(ulaw_config(tmp_path)), "--offline", "--rules", str(LONG_RULES), "--session-dir", str(tmp_path / "s"),
                       "--input-wav", str(as_ulaw(barge_in_wav(speech_dir))), "--output-wav", str(out), "--no-echo-gate"])
    assert done.returncode == 0, done.stderr
    folder = session_folder(tmp_path / "s")
    cut_item, heard_ms = truncate_ms(folder)
    assert cut_item == replies(folder)[0] and 1000 < heard_ms < speech_ms(LONG_REPLY) - 1000
    heard, reply = np.frombuffer(ulaw_body(out), "u1"), np.frombuffer(PCMU.encode(synthesize(LONG_REPLY, 8000)), "u1")
    start = int(np.argmax(heard != 0xFF)) - int(np.argmax(reply != 0xFF))  # the first sound in the file is the reply's
    matching = int(np.argmax(heard[start : start + reply.size] != reply[: heard.size - start]))
    assert matching > 8000  # over a second of the reply, byte for byte
    assert abs(heard_ms - matching / 8) <= FRAME_MS
    report = json.loads((folder / "report.json").read_text())
    assert report["voice"]["interrupted_turns"] == 1
