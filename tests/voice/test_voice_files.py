"""`--input-wav/--output-wav`: the voice loop scripted with files, and `--record`."""

from __future__ import annotations

import json
import os
import subprocess
import wave
from pathlib import Path

import numpy as np

from runner.core import heard_text
from runner.sim.speech import speech_ms, synthesize

from tests.voice.helpers import (
    CONFIG,
    FIXTURES,
    ROOT,
    RULES,
    RUNNER,
    audio_bytes_sent,
    events,
    read_mono,
    running,
    session_folder,
    spoken,
    wait_for_event,
)
from tests.waits import wait_until

REPLY = "Thanks for calling, how can I help?"
LONG_RULES = FIXTURES / "rules_long.yaml"
LONG_REPLY = (  # about 12 s of simulated speech
    "Thanks for calling. I can help you with your internet connection, your bill or a new plan. "
    "Which one would it be today, and could you tell me a little more?"
)
SUMMARY_ONE_OF_TWO_INTERRUPTED = "runner: turns: 1 answered, 1 interrupted (interrupted turns are not averaged)"


def run_runner(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(RUNNER + args, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def barge_in_wav(speech_dir: Path) -> Path:
    """A question, 3 s of silence (the reply starts), then the user talks over the reply."""
    question = spoken(speech_dir, "help", "Hello, I need some help with my internet, please.")
    again = spoken(speech_dir, "wait", "Wait, wait, one moment please.")
    both = speech_dir / "barge-in.wav"
    if not both.exists():
        paused = speech_dir / "help-then-pause.wav"
        subprocess.run(["sox", str(question), str(paused), "pad", "0", "2.7"], check=True)
        subprocess.run(["sox", str(paused), str(again), str(both)], check=True)
    return both


def transcript(folder: Path) -> tuple[list[dict], list[str]]:
    """transcript.jsonl without the times, and transcript.md's entries after its header."""
    entries = [{key: value for key, value in json.loads(line).items() if key != "t"} for line in (folder / "transcript.jsonl").read_text().splitlines()]
    return entries, (folder / "transcript.md").read_text().split("\n\n")[2:-1]


def truncate_ms(folder: Path) -> tuple[str, int]:
    truncates = [e["event"] for e in events(folder) if e["dir"] == "out" and e["event"]["type"] == "conversation.item.truncate"]
    assert len(truncates) == 1, f"one truncate expected (a barge-in that got through), got {truncates}"
    return truncates[0]["item_id"], truncates[0]["audio_end_ms"]


def replies(folder: Path) -> list[str]:
    return list(dict.fromkeys(e["event"]["item_id"] for e in events(folder) if e["event"]["type"] == "response.output_audio.delta"))


def test_talking_over_the_reply_from_a_file_counts_it_interrupted_and_records_it_once_as_heard(tmp_path, speech_dir):
    args = ["run", str(CONFIG), "--offline", "--rules", str(LONG_RULES), "--session-dir", str(tmp_path / "s"),
            "--input-wav", str(barge_in_wav(speech_dir)), "--output-wav", str(tmp_path / "heard.wav"), "--no-echo-gate"]
    done = run_runner(args)
    assert done.returncode == 0, done.stderr
    folder = session_folder(tmp_path / "s")
    cut_item, heard_ms = truncate_ms(folder)
    first, second = replies(folder)
    assert cut_item == first and 1000 < heard_ms < speech_ms(LONG_REPLY) - 1000
    heard = heard_text(LONG_REPLY, heard_ms, speech_ms(LONG_REPLY))
    assert heard and LONG_REPLY.startswith(heard + " ")
    assert done.stdout.splitlines() == ["you: Hello there.", f"host: {LONG_REPLY}", f"  ⏹ host interrupted after {heard_ms} ms", "you: Hello there.", f"host: {LONG_REPLY}"]
    assert SUMMARY_ONE_OF_TWO_INTERRUPTED in done.stderr.splitlines()
    report = json.loads((folder / "report.json").read_text())
    assert (report["latency"]["interrupted_turns"], report["voice"]["interrupted_turns"]) == (1, 1)
    assert [turn["interrupted"] for turn in report["latency"]["turns"]] == [True, False]
    entries, lines = transcript(folder)
    assert entries == [
        {"kind": "user", "text": "Hello there.", "item_id": entries[0]["item_id"]},
        {"kind": "interrupted", "agent": "host", "item_id": first, "text": heard, "heard_ms": heard_ms},
        {"kind": "user", "text": "Hello there.", "item_id": entries[2]["item_id"]},
        {"kind": "assistant", "agent": "host", "item_id": second, "text": LONG_REPLY, "heard_ms": speech_ms(LONG_REPLY)},
    ]
    assert lines == ["**user:** Hello there.", f"**host:** {heard} _(interrupted after {heard_ms} ms heard)_", "**user:** Hello there.", f"**host:** {LONG_REPLY}"]


def test_an_input_file_gets_no_echo_gate_by_default_so_its_barge_in_gets_through(tmp_path, speech_dir):
    args = ["run", str(CONFIG), "--offline", "--rules", str(LONG_RULES), "--session-dir", str(tmp_path / "s"),
            "--input-wav", str(barge_in_wav(speech_dir)), "--output-wav", str(tmp_path / "heard.wav")]
    done = run_runner(args)
    assert done.returncode == 0, done.stderr
    folder = session_folder(tmp_path / "s")
    cut_item, heard_ms = truncate_ms(folder)
    assert cut_item == replies(folder)[0]
    assert f"  ⏹ host interrupted after {heard_ms} ms" in done.stdout.splitlines()
    assert SUMMARY_ONE_OF_TWO_INTERRUPTED in done.stderr.splitlines()
    assert done.stderr.splitlines()[1] == "runner: the input file is sent as it is, also while the agent speaks; Ctrl-C ends"
    assert "headphones" not in done.stderr


def test_ctrl_c_during_a_spoken_reply_counts_it_interrupted_with_what_was_heard(tmp_path, speech_dir):
    question = spoken(speech_dir, "help", "Hello, I need some help with my internet, please.")
    waiting = speech_dir / "help-then-silence.wav"
    if not waiting.exists():
        subprocess.run(["sox", str(question), str(waiting), "pad", "0", "30"], check=True)
    sessions, out = tmp_path / "s", tmp_path / "heard.wav"
    args = ["run", str(CONFIG), "--offline", "--rules", str(LONG_RULES), "--session-dir", str(sessions),
            "--input-wav", str(waiting), "--output-wav", str(out)]
    with running(args, dict(os.environ)) as runner:
        wait_for_event(sessions, "response.done")  # the reply is streamed; it plays for 12 s
        wait_until(lambda: out.stat().st_size > 44 and np.count_nonzero(read_mono(out)) > 24000 // 2, 30, "half a second of the reply in heard.wav")
        assert runner.interrupt_and_wait() == 130, "\n".join(runner.stderr)
    folder = session_folder(sessions)
    cut_item, heard_ms = truncate_ms(folder)
    assert cut_item == replies(folder)[0] and 0 < heard_ms < speech_ms(LONG_REPLY) - 5000
    heard = heard_text(LONG_REPLY, heard_ms, speech_ms(LONG_REPLY))
    assert "runner: turns: 0 answered, 1 interrupted (interrupted turns are not averaged)" in runner.stderr
    report = json.loads((folder / "report.json").read_text())
    assert (report["latency"]["interrupted_turns"], report["voice"]["interrupted_turns"]) == (1, 1)
    entries, lines = transcript(folder)
    assert entries[1:] == [{"kind": "interrupted", "agent": "host", "item_id": cut_item, "text": heard, "heard_ms": heard_ms}]
    assert heard and lines[1:] == [f"**host:** {heard} _(interrupted after {heard_ms} ms heard)_"]


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
