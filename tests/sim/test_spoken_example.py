"""The example project spoken to offline: an espeak-ng WAV through `runner run --offline --input-wav`
is heard as the words said and moves the conversation through authentication, a handoff and a tool."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAID = ["My number is five five five, one two three, four five six seven.", "My wifi keeps disconnecting."]


def spoken_wav(folder: Path) -> Path:
    """The caller's side: each sentence after 8 s of silence (the agent's turn), then 8 s more."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.fail("espeak-ng and sox are required")
    parts = [folder / "silence.wav"]
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(parts[0]), "trim", "0", "8"], check=True)
    pieces = []
    for index, text in enumerate(SAID):
        wav = folder / f"said{index}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "140", "-w", str(wav), text], check=True)
        pieces += [parts[0], wav]
    whole = folder / "caller.wav"
    subprocess.run(["sox", *map(str, pieces), str(parts[0]), str(whole)], check=True)
    return whole


def test_a_spoken_wav_is_heard_and_moves_the_example_through_auth_a_handoff_and_a_tool(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    done = subprocess.run([sys.executable, "-m", "runner", "run", "agents.yaml", "--offline", "--input-wav", str(spoken_wav(tmp_path)),
                           "--output-wav", str(tmp_path / "heard.wav"), "--fast", "--session-dir", str(sessions)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    [folder] = sessions.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert [record["text"] for record in records if record["kind"] == "user"] == ["My number is 5551234567.", "My wifi keeps disconnecting."]
    report = json.loads((folder / "report.json").read_text())
    calls = [(call["name"], json.loads(call["arguments"]), call["status"]) for call in report["tool_calls"]]
    assert calls[0] == ("authenticate_user", {"phone": "(555) 123-4567"}, "done")
    assert calls[1][0] == "search_knowledge_base" and calls[1][1]["category"] == "connectivity"
    assert [(handoff["source"], handoff["target"], handoff["success"]) for handoff in report["handoffs"]] == [("router", "support", True)]
    assert report["final_agent"] == "support"
