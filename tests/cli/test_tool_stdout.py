"""What tool code prints never reaches the JSON of `--json`: it goes to stderr instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

AGENTS = """\
version: 1
name: chatty
model: gpt-realtime-2.1
start: solo
agents:
  solo:
    description: The only agent.
    instructions: Answer briefly.
    tools: [chatty]
tools:
  chatty:
    description: Talks on stdout.
    parameters: {type: object, properties: {}}
    python: tools.noisy:chatty
"""

TOOLS = """\
import threading

print("printed while importing")


def chatty():
    print(f"printed by the call on {threading.current_thread().name}")
    return "done"
"""

SCENARIO = """\
config: agents.yaml
scenarios:
  - name: chatty
    steps:
      - model: {call: {name: chatty, args: {}}}
      - user: go
      - expect: {tool_output: {name: chatty, output: done}}
"""


@pytest.fixture
def chatty_project(tmp_path: Path) -> Path:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "tools" / "noisy.py").write_text(TOOLS, encoding="utf-8")
    (tmp_path / "agents.yaml").write_text(AGENTS, encoding="utf-8")
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    return tmp_path


def test_validate_json_keeps_import_time_prints_out_of_stdout(runner: Callable[..., object], chatty_project: Path) -> None:
    done = runner("validate", "agents.yaml", "--json", cwd=chatty_project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["valid"] is True
    assert done.stderr == "printed while importing\n"


def test_test_json_keeps_import_and_call_time_prints_out_of_stdout(runner: Callable[..., object], chatty_project: Path) -> None:
    done = runner("test", "s.yaml", "--json", cwd=chatty_project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["passed"] == 1
    assert "printed while importing\n" in done.stderr
    assert "printed by the call on runner-tool" in done.stderr


def test_without_json_tool_prints_stay_on_stdout(runner: Callable[..., object], chatty_project: Path) -> None:
    done = runner("validate", "agents.yaml", cwd=chatty_project)
    assert done.stdout == "printed while importing\nagents.yaml: valid (1 agent, 1 tool, 0 guardrails)\n"
