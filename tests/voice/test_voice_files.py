"""`--input-wav/--output-wav`: the voice loop scripted with files, and `--record`."""

from __future__ import annotations

import json
import subprocess
import wave

import numpy as np

from runner.sim.speech import synthesize

from tests.voice.helpers import CONFIG, ROOT, RULES, RUNNER, audio_bytes_sent, events, read_mono, session_folder, spoken

REPLY = "Thanks for calling, how can I help?"


def run_runner(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(RUNNER + args, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_fast_files_hear_the_whole_reply_bit_exact_and_end_by_themselves(tmp_path, speech_dir):
    said = spoken(speech_dir, "hello", "Hello, I need some help with my internet, please.", rate=16000)
    out = tmp_path / "heard.wav"
    done = run_runner(["run", str(CONFIG), "--offline", "--rules", str(RULES), "--session-dir", str(tmp_path / "s"), "--input-wav", str(said), "--output-wav", str(out), "--fast"])
    assert done.returncode == 0, done.stderr
    folder = session_folder(tmp_path / "s")
    heard = read_mono(out)
    assert np.array_equal(heard, np.frombuffer(synthesize(REPLY), "<i2"))
    assert audio_bytes_sent(folder) == len(synthesize(REPLY))
    sent = [entry["event"]["type"] for entry in events(folder) if entry["dir"] == "out" and entry["event"]["type"] != "input_audio_buffer.append"]
    assert sent == ["session.update"]  # server VAD made the turn and the reply
    assert done.stdout.splitlines() == ["you: Hello there.", f"host: {REPLY}"]
    report = json.loads((folder / "report.json").read_text())
    (turn,) = report["voice"]["turns"]
    assert turn["interrupted"] is False and turn["voice_to_voice"] is not None
    assert "voice to voice (end of speech → first audio heard)" in done.stderr


def test_realtime_files_with_record_give_a_stereo_recording_user_left_agent_right(tmp_path, speech_dir):
    said = spoken(speech_dir, "hello", "Hello, I need some help with my internet, please.", rate=16000)
    out = tmp_path / "heard.wav"
    done = run_runner(["run", str(CONFIG), "--offline", "--rules", str(RULES), "--session-dir", str(tmp_path / "s"), "--input-wav", str(said), "--output-wav", str(out), "--record"])
    assert done.returncode == 0, done.stderr
    folder = session_folder(tmp_path / "s")
    with wave.open(str(folder / "recording.wav")) as recording:
        assert (recording.getnchannels(), recording.getframerate(), recording.getsampwidth()) == (2, 24000, 2)
        stereo = np.frombuffer(recording.readframes(recording.getnframes()), "<i2").reshape(-1, 2)
    user, agent = stereo[:, 0], stereo[:, 1]
    reply = np.frombuffer(synthesize(REPLY), "<i2")
    user_voiced = np.flatnonzero(np.abs(user) > 500)
    agent_voiced = np.flatnonzero(agent)
    assert user_voiced.size and agent_voiced.size
    assert agent_voiced[0] > user_voiced[-1]  # the agent answered after the user stopped
    assert abs((agent_voiced[-1] - agent_voiced[0]) - (np.flatnonzero(reply)[-1] - np.flatnonzero(reply)[0])) <= 24 * 40
    assert np.abs(user[agent_voiced[0] : agent_voiced[-1]]).max() < 500  # the user was quiet meanwhile


def test_an_unreadable_input_wav_is_one_clear_line_before_connecting(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    done = run_runner(["run", str(CONFIG), "--offline", "--session-dir", str(tmp_path / "s"), "--input-wav", str(bad), "--output-wav", str(tmp_path / "o.wav")])
    assert (done.returncode, done.stderr) == (1, f"runner: {bad}: not a WAV file (no RIFF/WAVE header)\n")
    assert not (tmp_path / "s").exists()


def test_audio_options_are_refused_with_text(tmp_path):
    done = run_runner(["run", str(CONFIG), "--offline", "--text", "--ptt"])
    assert (done.returncode, done.stderr) == (2, "runner: audio options cannot be combined with --text\n")
