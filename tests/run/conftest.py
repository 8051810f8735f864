"""Shared helpers for the end-to-end tests: a private copy of the example project and a
`runner run` subprocess with scripted standard input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNER = [str(Path(sys.executable).with_name("runner"))]  # the installed console script
FAKE_API_KEY = "sk-e2e-FAKE-KEY-4f1d9c2a7be3"
SUBPROCESS_TIMEOUT = 120

# A whole conversation of the example project, one typed line per turn.
CONVERSATION = [
    "Hi, I'm Alex, my phone is (555) 123-4567",  # router: authenticate_user
    "my wifi keeps disconnecting",  # transfer to support, then search_knowledge_base
    "it still doesn't work",  # support: create_support_ticket
    "I want a refund for INV-2001",  # transfer to billing, lookup_invoice, request_refund
    "thanks",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """agents.yaml and tools/ copied to a fresh folder, so state_dir (and the database) is new."""
    return copy_example(tmp_path)


def runner_env(**overrides: str | None) -> dict[str, str]:
    """The test process's environment without anything that would reach the real API."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "TECHCORP_", "RUNNER_"))}
    env["PYTHONPATH"] = str(REPO)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    session: Path | None  # the one session folder, when one was made


def session_folder(project: Path) -> Path | None:
    folders = sorted((project / ".runner" / "sessions").glob("*")) if (project / ".runner" / "sessions").exists() else []
    assert len(folders) <= 1, f"expected at most one session folder, found {folders}"
    return folders[0] if folders else None


def run_runner(project: Path, args: list[str], stdin: str = "", **env: str | None) -> Finished:
    done = subprocess.run(
        [*RUNNER, *args], cwd=project, input=stdin, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, env=runner_env(**env)
    )
    return Finished(done.returncode, done.stdout, done.stderr, session_folder(project))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sent_events(folder: Path) -> list[dict[str, Any]]:
    """Every client event the runner sent, in order, from events.jsonl."""
    return [entry["event"] for entry in read_jsonl(folder / "events.jsonl") if entry["dir"] == "out"]


def copy_example(folder: Path) -> Path:
    shutil.copy(REPO / "agents.yaml", folder / "agents.yaml")
    shutil.copytree(REPO / "tools", folder / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


class E2E:
    """The helpers above, as a fixture (test modules cannot import conftest under importlib mode)."""

    REPO = REPO
    RUNNER = RUNNER
    CONVERSATION = CONVERSATION
    FAKE_API_KEY = FAKE_API_KEY
    run_runner = staticmethod(run_runner)
    read_jsonl = staticmethod(read_jsonl)
    sent_events = staticmethod(sent_events)
    copy_example = staticmethod(copy_example)
    runner_env = staticmethod(runner_env)
    session_folder = staticmethod(session_folder)


@pytest.fixture(scope="session")
def e2e() -> type[E2E]:
    return E2E


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One whole conversation of the example project, run once per test module."""
    project = copy_example(tmp_path_factory.mktemp("techcorp"))
    finished = run_runner(project, ["run", "agents.yaml", "--offline", "--text"], "\n".join(CONVERSATION) + "\n", OPENAI_API_KEY=FAKE_API_KEY)
    assert finished.returncode == 0, finished.stderr
    assert finished.session is not None
    return finished


# A project for signals and terminals: its tool waits until the test lets it finish.
AGENTS = """\
version: 1
name: Slow desk
model: gpt-realtime
start: desk
limits:
  tool_timeout: 60
  filler_after: 60
agents:
  desk:
    description: Looks things up slowly.
    instructions: You look things up.
    tools: [slow_lookup, broken_lookup]
tools:
  broken_lookup:
    description: A lookup that always raises.
    parameters: {type: object, properties: {}, additionalProperties: false}
    python: desk_tools.slow:broken_lookup
  slow_lookup:
    description: A lookup that waits until a file named release appears in state_dir.
    parameters: {type: object, properties: {}, additionalProperties: false}
    python: desk_tools.slow:slow_lookup
"""

TOOL = """\
import asyncio


async def slow_lookup(context) -> dict:
    release = context.state_dir / "release"
    for _ in range(3000):  # 60 s: a test that never releases the call fails instead of hanging
        if release.exists():
            return {"found": "the answer"}
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no {release} within 60 s")


def broken_lookup() -> dict:
    return {"ratio": 1 / 0}
"""

RULES = """\
default: "Hello."
rules:
  - when: 'refund'
    say: "Refunds are handled by billing."
  - when: 'hello'
    say: "Hi there, how can I help?"
  - when: 'broken'
    call: {name: broken_lookup, args: {}}
  - after_tool: broken_lookup
    say: "That lookup failed."
  - when: 'slow'
    call: {name: slow_lookup, args: {}}
  - after_tool: slow_lookup
    say: "The lookup found the answer."
"""



@pytest.fixture
def slow_project(tmp_path: Path) -> Path:
    """A one-agent project whose only tool waits for `<state_dir>/release`; run it with `--rules rules.yaml`."""
    (tmp_path / "desk_tools").mkdir()
    (tmp_path / "agents.yaml").write_text(AGENTS, encoding="utf-8")
    (tmp_path / "desk_tools" / "slow.py").write_text(TOOL, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path
