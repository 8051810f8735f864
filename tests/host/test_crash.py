"""What a killed `runner run --text` leaves behind: real signals on a real process.

The desk project's `slow_lookup` waits until the test creates `.runner/release`, so a
signal arrives while the reply is still owed.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import pytest

from runner.host.writer import FLUSH_EVERY

WAIT = 60.0
KILL_AFTER = 3 * FLUSH_EVERY  # the writer's interval, with room for a loaded machine
REPLY = "The lookup found the answer."


class Running:
    """A `runner run --offline --text` process whose output lines are read as they come."""

    def __init__(self, project: Path, runner: str, env: dict[str, str]) -> None:
        self.project = project
        self.process = subprocess.Popen(
            [runner, "run", "agents.yaml", "--offline", "--text", "--rules", "rules.yaml"],
            cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: dict[str, queue.Queue[str | None]] = {"stdout": queue.Queue(), "stderr": queue.Queue()}
        for stream, lines in ((self.process.stdout, self.lines["stdout"]), (self.process.stderr, self.lines["stderr"])):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, stream: str, wanted: str) -> None:
        seen = []
        while (line := self.lines[stream].get(timeout=WAIT)) is not None:
            seen.append(line)
            if line.startswith(wanted):
                return
        raise AssertionError(f"{stream} ended before {wanted!r}; saw {seen}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _pump(stream: TextIO, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@pytest.fixture
def running(desk: Path, runner_command: str, runner_env: dict[str, str]):
    process = Running(desk, runner_command, runner_env)
    try:
        yield process
    finally:
        process.kill()


def _session(project: Path) -> Path:
    folders = list((project / ".runner" / "sessions").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line, each of which must be whole JSON (a torn last line fails here)."""
    text = path.read_text(encoding="utf-8")
    assert not text or text.endswith("\n"), f"{path.name} ends in a partial line: {text[-200:]!r}"
    return [json.loads(line) for line in text.splitlines()]


def _received(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [entry["event"] for entry in events if entry["dir"] == "in" and entry["event"]["type"] == kind]


def test_sigkill_mid_reply_loses_nothing_older_than_the_writer_interval(running: Running) -> None:
    running.wait_for("stderr", "runner: talking to Desk")
    running.say("slow")
    running.wait_for("stdout", "  ↳ slow_lookup(")  # printed once the call's arguments arrived
    time.sleep(KILL_AFTER)  # the elapsed time is what is under test
    running.process.send_signal(signal.SIGKILL)
    assert running.process.wait(timeout=WAIT) == -signal.SIGKILL
    folder = _session(running.project)
    events = _jsonl(folder / "events.jsonl")
    times = [entry["t"] for entry in events if entry["dir"] != "log"]
    assert times == sorted(times)
    [call] = _received(events, "response.function_call_arguments.done")
    assert call["name"] == "slow_lookup"
    [done] = _received(events, "response.done")  # the call's response, finished within ms of the call
    assert done["response"]["output"][0]["call_id"] == call["call_id"]
    assert [(entry["kind"], entry["text"]) for entry in _jsonl(folder / "transcript.jsonl") if entry["kind"] == "user"] == [("user", "slow")]
    assert "**user:** slow" in (folder / "transcript.md").read_text(encoding="utf-8")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))  # the first response's, whole
    assert report["end_reason"] == "in progress" and report["usage"]["responses"] == 1
    assert [(tool["name"], tool["status"]) for tool in report["tool_calls"]] == [("slow_lookup", "running")]


def test_sigterm_during_a_reply_writes_every_frame_before_exiting(running: Running) -> None:
    running.wait_for("stderr", "runner: talking to Desk")
    running.say("slow")
    running.wait_for("stdout", "  ↳ slow_lookup(")
    running.process.send_signal(signal.SIGTERM)
    running.wait_for("stderr", "runner: finishing the reply;")
    (running.project / ".runner" / "release").touch()
    assert running.process.wait(timeout=WAIT) == 143
    folder = _session(running.project)
    events = _jsonl(folder / "events.jsonl")
    # The reply's last frames arrive just before the session closes, inside one writer interval.
    assert [event["type"] for event in _received(events, "response.done")] == ["response.done"] * 2
    assert events[-1]["dir"] == "in" and events[-1]["event"]["type"] == "response.done"
    assert any(entry["dir"] == "out" and entry["event"].get("item", {}).get("type") == "function_call_output" for entry in events)
    assistant = [entry["text"] for entry in _jsonl(folder / "transcript.jsonl") if entry["kind"] == "assistant"]
    assert assistant == [REPLY]
    assert f"**desk:** {REPLY}" in (folder / "transcript.md").read_text(encoding="utf-8")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["end_reason"] == "terminated" and report["usage"]["responses"] == 2
    assert [(tool["name"], tool["status"]) for tool in report["tool_calls"]] == [("slow_lookup", "done")]
    assert not (folder / "report.json.tmp").exists()
