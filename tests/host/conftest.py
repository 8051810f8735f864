"""A small project for the host tests: a no-op tool, and a tool that waits for the test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

AGENTS = """\
version: 1
name: Desk
model: gpt-realtime
start: desk
limits:
  tool_timeout: 60
  filler_after: 60
agents:
  desk:
    description: Looks things up.
    instructions: You look things up.
    tools: [noop, slow_lookup]
tools:
  noop:
    description: Does nothing.
    parameters: {type: object, properties: {}, additionalProperties: false}
    python: desk_tools.lookups:noop
  slow_lookup:
    description: A lookup that waits until a file named release appears in state_dir.
    parameters: {type: object, properties: {}, additionalProperties: false}
    python: desk_tools.lookups:slow_lookup
"""

TOOLS = """\
import asyncio
from pathlib import Path


def noop() -> str:
    return "ok"


async def slow_lookup(context) -> dict:
    release = Path(context.state_dir) / "release"
    for _ in range(3000):  # 60 s: a test that never releases the call fails instead of hanging
        if release.exists():
            return {"found": "the answer"}
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no {release} within 60 s")
"""

RULES = """\
default: "Hello."
rules:
  - when: 'quick'
    call: {name: noop, args: {}}
  - after_tool: noop
    say: "Done."
  - when: 'slow'
    call: {name: slow_lookup, args: {}}
  - after_tool: slow_lookup
    say: "The lookup found the answer."
"""


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    """agents.yaml, rules.yaml (for `--rules`) and desk_tools/ in a fresh folder."""
    (tmp_path / "desk_tools").mkdir()
    (tmp_path / "agents.yaml").write_text(AGENTS, encoding="utf-8")
    (tmp_path / "desk_tools" / "lookups.py").write_text(TOOLS, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path


@pytest.fixture
def runner_env() -> dict[str, str]:
    """This process's environment without anything that would reach the real API."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "TECHCORP_", "RUNNER_"))}
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.fixture(scope="session")
def runner_command() -> str:
    """The installed `runner` console script of this virtual environment."""
    return str(Path(sys.executable).with_name("runner"))
