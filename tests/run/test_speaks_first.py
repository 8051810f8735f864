"""`runner run agents.yaml --offline --text`: the router greets before the caller types anything."""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

GREETING = "router: Thanks for calling TechCorp. Who am I speaking with, and what's the phone number on your account?"
WAIT_SECONDS = 30


def _lines_of(stream: Any) -> queue.Queue[str | None]:
    """The stream's lines as they come, on a thread, so the test can wait on them with a timeout."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_the_greeting_comes_before_any_input(project: Path, e2e: Any) -> None:
    process = subprocess.Popen(
        [*e2e.RUNNER, "run", "agents.yaml", "--offline", "--text"], cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=e2e.runner_env(OPENAI_API_KEY=e2e.FAKE_API_KEY),
    )
    try:
        stdout = _lines_of(process.stdout)
        first = stdout.get(timeout=WAIT_SECONDS)  # standard input is still open and empty
        assert first == GREETING
        process.stdin.write("my phone is (555) 123-4567\n")
        process.stdin.close()
        rest = []
        while (line := stdout.get(timeout=WAIT_SECONDS)) is not None:
            rest.append(line)
        assert process.wait(WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert rest[0] == "you: my phone is (555) 123-4567"
    assert rest[-1] == "router: Thanks, Alex, you're verified. How can I help you today?"
    entries = e2e.read_jsonl(e2e.session_folder(project) / "events.jsonl")
    kinds = [(entry["dir"], entry["event"]["type"]) for entry in entries if entry["dir"] in ("in", "out")]
    configured = kinds.index(("in", "session.updated"))
    assert kinds[configured + 1] == ("out", "response.create")  # the greeting, asked for at once
    assert kinds.index(("in", "response.done")) < kinds.index(("out", "conversation.item.create"))  # the typed turn waits for it
