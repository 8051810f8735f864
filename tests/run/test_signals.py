"""Ctrl-C (SIGINT) and SIGTERM during `runner run --text`: real signals on a real process.

The `slow_project` (conftest) has one tool that waits until the test creates a `release`
file, so a signal can be sent while the tool is running and the reply is still owed.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, TextIO

import pytest

WAIT = 60.0

REPLY = "The lookup found the answer."


class Running:
    """A `runner run --text` process whose output lines are read as they come."""

    def __init__(self, project: Path, e2e: Any) -> None:
        self.project = project
        self.process = subprocess.Popen(
            [*e2e.RUNNER, "run", "agents.yaml", "--offline", "--text", "--rules", "rules.yaml"],
            cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e2e.runner_env(),
        )
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: queue.Queue[str | None] = queue.Queue()
        self.stderr_seen: list[str] = []
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_stdout(self, wanted: str) -> None:
        _wait_for(self.stdout, wanted, [])

    def wait_stderr(self, wanted: str) -> None:
        _wait_for(self.stderr, wanted, self.stderr_seen)

    def finish(self) -> tuple[int, list[str]]:
        """The exit code and every stderr line, once the process has exited."""
        returncode = self.process.wait(timeout=WAIT)
        while (line := self.stderr.get(timeout=WAIT)) is not None:
            self.stderr_seen.append(line)
        return returncode, self.stderr_seen

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def release_tool(self) -> None:
        (self.project / ".runner" / "release").touch()


def _pump(stream: TextIO, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _wait_for(lines: queue.Queue[str | None], wanted: str, seen: list[str]) -> None:
    while True:
        line = lines.get(timeout=WAIT)
        assert line is not None, f"the stream ended before {wanted!r}; saw {seen}"
        seen.append(line)
        if line.startswith(wanted):
            return


@pytest.fixture
def running(slow_project: Path, e2e: Any):
    process = Running(slow_project, e2e)
    try:
        yield process
    finally:
        process.kill()


def _artifacts(project: Path, e2e: Any) -> tuple[Path, dict[str, Any], str]:
    folder = e2e.session_folder(project)
    assert folder is not None
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return folder, report, (folder / "transcript.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("signum", "code", "reason", "again"),
    [(signal.SIGINT, 130, "interrupted", "Ctrl-C again"), (signal.SIGTERM, 143, "terminated", "send SIGTERM again")],
)
def test_a_signal_during_a_slow_tool_finishes_the_reply_then_exits(running: Running, e2e: Any, signum: int, code: int, reason: str, again: str) -> None:
    running.wait_stderr("runner: talking to Slow desk")
    running.say("do the slow thing")
    running.wait_stdout("  ↳ slow_lookup(")
    running.process.send_signal(signum)
    running.wait_stderr(f"runner: finishing the reply; {again} to stop")
    running.release_tool()
    returncode, stderr = running.finish()
    assert returncode == code, stderr
    assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in stderr)
    folder, report, markdown = _artifacts(running.project, e2e)
    assert stderr[-1] == f"runner: session ended ({reason}); artifacts in {folder}"
    assert report["end_reason"] == reason and report["ended"] is not None
    assert [(call["name"], call["status"]) for call in report["tool_calls"]] == [("slow_lookup", "done")]
    assert report["usage"]["responses"] == 2  # the tool call, then the reply
    assert f"**desk:** {REPLY}" in markdown
    assert not (folder / "report.json.tmp").exists()


@pytest.mark.parametrize(("signum", "code", "reason"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_second_signal_stops_at_once_and_still_writes_the_report(running: Running, e2e: Any, signum: int, code: int, reason: str) -> None:
    running.wait_stderr("runner: talking to Slow desk")
    running.say("do the slow thing")
    running.wait_stdout("  ↳ slow_lookup(")
    running.process.send_signal(signum)
    running.wait_stderr("runner: finishing the reply;")
    running.process.send_signal(signum)
    returncode, stderr = running.finish()  # the tool is never released
    assert returncode == code, stderr
    assert not any("Traceback" in line for line in stderr)
    folder, report, markdown = _artifacts(running.project, e2e)
    assert stderr[-1] == f"runner: session ended ({reason}); artifacts in {folder}"
    assert report["end_reason"] == reason and report["ended"] is not None
    assert [call["name"] for call in report["tool_calls"]] == ["slow_lookup"]
    assert "**user:** do the slow thing" in markdown
    assert REPLY not in markdown


@pytest.mark.parametrize(("signum", "code", "reason"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_while_idle_ends_at_once_without_the_waiting_message(running: Running, e2e: Any, signum: int, code: int, reason: str) -> None:
    running.wait_stderr("runner: talking to Slow desk")
    running.say("hello")
    running.wait_stdout("desk: Hi there, how can I help?")
    running.process.send_signal(signum)
    returncode, stderr = running.finish()
    assert returncode == code, stderr
    assert not any(line.startswith("runner: finishing the reply") for line in stderr)
    _, report, markdown = _artifacts(running.project, e2e)
    assert report["end_reason"] == reason
    assert "**desk:** Hi there, how can I help?" in markdown
