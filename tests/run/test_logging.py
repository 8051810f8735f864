"""`-v`, `--log-level` and where a tool's traceback goes: stderr through `logging`, and events.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RUN = ["run", "agents.yaml", "--offline", "--text", "--rules", "rules.yaml"]


def test_a_tool_traceback_is_logged_to_stderr_and_to_the_event_log_at_its_session_time(slow_project: Path, e2e: Any) -> None:
    finished = e2e.run_runner(slow_project, RUN, "the broken one please\n")
    assert finished.returncode == 0, finished.stderr
    assert "desk: That lookup failed." in finished.stdout
    logged = finished.stderr.split("runner: ERROR runner.host.conversation: tool broken_lookup (call ", 1)
    assert len(logged) == 2, finished.stderr
    assert "Traceback (most recent call last):" in logged[1] and "ZeroDivisionError: division by zero" in logged[1]
    entries = [entry for entry in e2e.read_jsonl(finished.session / "events.jsonl") if entry["dir"] == "log"]
    assert [entry["event"]["type"] for entry in entries] == ["tool.traceback"]
    calls = [entry["t"] for entry in e2e.read_jsonl(finished.session / "events.jsonl") if entry["event"].get("type") == "response.function_call_arguments.done"]
    assert entries[0]["t"] >= calls[0] > 0.0  # the real session time, after the call arrived


def test_info_lines_only_with_verbose(slow_project: Path, e2e: Any) -> None:
    quiet = e2e.run_runner(slow_project, RUN, "hello\n")
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr, quiet.stderr
    for index, flags in enumerate((["-v"], ["--log-level", "INFO"], ["--log-level", "debug"])):
        parent = slow_project / f"loud-{index}"
        loud = e2e.run_runner(slow_project, [*flags, *RUN, "--session-dir", str(parent)], "hello\n")
        (folder,) = parent.iterdir()
        assert loud.returncode == 0, loud.stderr
        assert "runner: INFO runner.host.conversation: session " in loud.stderr and f": artifacts in {folder}\n" in loud.stderr


def test_an_unknown_log_level_is_a_usage_error(slow_project: Path, e2e: Any) -> None:
    finished = e2e.run_runner(slow_project, ["--log-level", "loud", *RUN])
    assert finished.returncode == 2
    assert "Invalid value for '--log-level': 'loud' is not one of 'debug', 'info', 'warning', 'error', 'critical'." in finished.stderr
