"""`runner analyze SESSION_DIR`: the analysis again on an old session, as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.analysis.calls import SECRET, Hook, call

RUNNER = Path(sys.executable).parent / "runner"


def _analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    env |= {"HOOK_URL": "http://127.0.0.1:9/hooks", "HOOK_SECRET": SECRET}  # set, as where the calls ran; --no-webhook posts nothing
    return subprocess.run([str(RUNNER), "analyze", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_an_old_session_is_analysed_again_offline(tmp_path: Path) -> None:
    conversation, _, _ = call(tmp_path, Hook([200]))
    folder = conversation.folder
    (folder / "analysis.json").unlink()
    done = _analyze(str(folder), "--offline", "--no-webhook", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f'{folder / "analysis.json"}: analysis completed (success: "resolved")\n'
    analysis = json.loads((folder / "analysis.json").read_text())
    assert analysis["session_id"] == conversation.id and analysis["webhook"] is None
    assert analysis["structured_data"] == {"caller_name": "Alex", "phone": "(555) 123-4567", "team": "support"}
    assert json.loads((folder / "report.json").read_text())["analysis"]["webhook"] is None


def test_a_session_with_nothing_to_analyse_fails_and_says_why(tmp_path: Path) -> None:
    conversation, _, _ = call(tmp_path, Hook([200]))
    folder = conversation.folder
    (folder / "transcript.jsonl").write_text('{"t": 0.1, "kind": "notice", "message": "hello"}\n')
    done = _analyze(str(folder), "--offline", "--no-webhook", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == f"{folder / 'analysis.json'}: analysis failed: nothing to analyse: {folder / 'transcript.jsonl'} has no caller turn\n"
    assert json.loads((folder / "analysis.json").read_text())["status"] == "failed"


def test_usage_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _analyze(str(tmp_path / "nowhere"), cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"runner: {tmp_path / 'nowhere'}: no such session folder\n")
    done = _analyze(str(tmp_path), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"runner: {tmp_path}: no transcript.jsonl here, so not a session folder\n")
    (tmp_path / "transcript.jsonl").write_text("")
    done = _analyze(str(tmp_path), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"runner: {tmp_path}: report.json does not say which agents file the session ran; pass --config FILE\n")
    (tmp_path / "agents.yaml").write_text("version: 1\nstart: a\nagents:\n  a: {description: A., instructions: Hi.}\n")
    done = _analyze(str(tmp_path), "--config", "agents.yaml", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, "runner: agents.yaml: no analysis section, so there is nothing to run (add one; see the README)\n")
