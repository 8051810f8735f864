"""`runner run --target live` with voice: a spoken WAV in, the agent's audio out, on the Live simulator.

The simulator hears the caller (its VAD and pocketsphinx, as on Realtime) and decides the
turns itself, as GPT-Live does; the terminal only streams the file in and writes what it
plays. The example project goes through authentication (a tool), a handoff and a second tool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from runner.sim.speech import synthesize

REPO = Path(__file__).resolve().parents[2]
SAID = ["My number is five five five, one two three, four five six seven.", "My wifi keeps disconnecting."]
REALTIME_EVENTS = ("input_audio_buffer.", "conversation.item.", "response.cancel", "output_audio_buffer.")


def spoken_wav(folder: Path, silence_s: float) -> Path:
    """The caller's side: each sentence after `silence_s` of silence (the agent's turn), then that silence again."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.fail("espeak-ng and sox are required")
    silence = folder / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(silence), "trim", "0", str(silence_s)], check=True)
    pieces = []
    for index, text in enumerate(SAID):
        wav = folder / f"said{index}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "140", "-w", str(wav), text], check=True)
        pieces += [silence, wav]
    whole = folder / "caller.wav"
    subprocess.run(["sox", *map(str, pieces), str(silence), str(whole)], check=True)
    return whole


def run_live(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    sessions = tmp_path / "sessions"
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run", "agents.yaml", "--offline", "--target", "live", "--output-wav", str(tmp_path / "heard.wav"),
         "--session-dir", str(sessions), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    [folder] = sessions.iterdir()
    return done, folder


@pytest.mark.parametrize("pace", ["--fast", "real time"])
def test_a_spoken_wav_moves_the_example_through_a_tool_and_a_handoff_on_live_and_its_replies_are_written(tmp_path: Path, pace: str) -> None:
    fast = pace == "--fast"
    caller = spoken_wav(tmp_path, 8 if fast else 3)
    done, folder = run_live(tmp_path, "--input-wav", str(caller), *(["--fast"] if fast else []))
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert [record["text"] for record in records if record["kind"] == "user"] == ["My number is 5551234567.", "My wifi keeps disconnecting."]
    replies = [(record["agent"], record["text"]) for record in records if record["kind"] == "assistant"]
    assert [agent for agent, _ in replies] == ["router", "router", "support"]
    assert replies[1][1] == "Thanks, Alex, you're verified. How can I help you today?"
    assert replies[2][1].startswith('Our guide "Wi-Fi keeps disconnecting" says:')
    report = json.loads((folder / "report.json").read_text())
    calls = [(call["name"], call["status"]) for call in report["tool_calls"]]
    assert calls == [("authenticate_user", "done"), ("search_knowledge_base", "done")]
    assert json.loads(report["tool_calls"][0]["arguments"]) == {"phone": "(555) 123-4567"}
    assert [(handoff["source"], handoff["target"], handoff["success"]) for handoff in report["handoffs"]] == [("router", "support", True)]
    assert (report["final_agent"], report["end_reason"]) == ("support", "session closed")
    with wave.open(str(tmp_path / "heard.wav")) as heard:
        assert (heard.getframerate(), heard.getnchannels()) == (24000, 1)
        played = heard.readframes(heard.getnframes())
    for _, text in replies:
        assert synthesize(text) in played  # every reply's audio, as the simulator said it
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    sent = [line["event"] for line in events if line.get("dir") == "out"]
    assert not [event["type"] for event in sent if event["type"].startswith(REALTIME_EVENTS)]
    appends = [event for event in sent if event["type"] == "session.input_audio.append"]
    assert appends and all(event["audio"].startswith("<") for event in appends)  # logged by length, not as audio
    assert "runner: session ended (session closed)" in done.stderr.splitlines()[-1]
    assert "user: My wifi keeps disconnecting." not in done.stdout and "you: My wifi keeps disconnecting." in done.stdout.splitlines()


def test_ptt_is_refused_on_live_because_the_model_ends_the_turns(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "runner", "run", "agents.yaml", "--offline", "--target", "live", "--ptt"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stderr.splitlines()[-1]) == (2, "runner: --ptt cannot be used with GPT-Live: the model decides when the caller's turn ends")
