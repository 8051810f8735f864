"""How `runner run` ends when it cannot start, and when the user presses Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, TextIO

REPLY_TIMEOUT = 60.0


def test_missing_api_key_without_offline_is_one_line_and_exit_1(project: Path, e2e: Any) -> None:
    finished = e2e.run_runner(project, ["run", "agents.yaml", "--text"], "hello\n", OPENAI_API_KEY=None)
    assert finished.returncode == 1
    assert finished.stderr == (
        "runner: OPENAI_API_KEY is not set: export it to talk to the Realtime API, or use --offline for the built-in simulator.\n"
    )
    assert finished.stdout == ""
    assert finished.session is None


def test_invalid_config_exits_1_with_located_problems(project: Path, e2e: Any) -> None:
    config = project / "agents.yaml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    typo_at = lines.index("    handoffs: [router, billing, human]\n")  # the support agent's edges
    lines[typo_at] = "    handofs: [router, billing, human]\n"
    config.write_text("".join(lines), encoding="utf-8")
    finished = e2e.run_runner(project, ["run", "agents.yaml", "--offline", "--text"], "hello\n")
    assert finished.returncode == 1
    assert finished.stderr == (
        f"agents.yaml:{typo_at + 1}:5: agents.support.handofs: unknown key 'handofs' (did you mean 'handoffs'?)\n"
        "agents.yaml: 1 error\n"
    )
    assert finished.session is None


def _lines_into(stream: TextIO, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _wait_for(lines: queue.Queue[str | None], wanted: str, seen: list[str]) -> None:
    while True:
        line = lines.get(timeout=REPLY_TIMEOUT)
        assert line is not None, f"stdout ended before {wanted!r}; saw {seen}"
        seen.append(line)
        if line.startswith(wanted):
            return


def test_ctrl_c_mid_session_ends_cleanly_with_artifacts(project: Path, e2e: Any) -> None:
    """SIGINT while standard input is still open: the session closes and every file is there."""
    process = subprocess.Popen(
        [*e2e.RUNNER, "run", "agents.yaml", "--offline", "--text"],
        cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e2e.runner_env(),
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines_into, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        assert process.stdin is not None
        process.stdin.write(e2e.CONVERSATION[0] + "\n")
        process.stdin.flush()
        _wait_for(lines, "router: Thanks, Alex", seen)
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=REPLY_TIMEOUT)
        stderr = process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    folder = e2e.session_folder(project)
    assert stderr.splitlines()[-1] == f"runner: session ended (interrupted); artifacts in {folder}"
    assert sorted(path.name for path in folder.iterdir()) == ["events.jsonl", "report.json", "transcript.jsonl", "transcript.md"]
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert [call["name"] for call in report["tool_calls"]] == ["authenticate_user"]
    assert report["agents_visited"] == ["router"]
    assert report["end_reason"] == "interrupted" and report["ended"] is not None
    markdown = (folder / "transcript.md").read_text(encoding="utf-8")
    assert "**router:** Thanks, Alex, you're verified. How can I help you today?" in markdown
