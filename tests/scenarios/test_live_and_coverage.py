"""--live against a stand-in server, and the example suite's coverage of the example project."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runner.config import load
from runner.scenarios import Player, load_scenarios
from runner.sim import Simulator
from tests.scenarios.helpers import REPO

SCRIPTED_THEN_TYPED = f"""\
config: {REPO / 'agents.yaml'}
scenarios:
  - name: scripted reply
    steps:
      - model: {{say: "A scripted reply."}}
      - user: hmm
      - expect: {{reply: "didn't catch that", no_tool_call: true}}
"""


def test_live_skips_model_steps_and_checks_what_the_server_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator stands in for the Realtime API here: --live must not script it."""
    (tmp_path / "s.yaml").write_text(SCRIPTED_THEN_TYPED, encoding="utf-8")
    loaded = load_scenarios([str(tmp_path / "s.yaml")])
    configs = {path: result.config for path, result in loaded.configs.items() if result.config is not None}

    async def both() -> tuple[bool, list[str]]:
        async with Simulator("techcorp") as server:
            monkeypatch.setenv("OPENAI_BASE_URL", server.ws_base_url.replace("ws://", "http://"))
            live = await Player(configs, tmp_path / "live", live=True, api_key="sk-test").play(loaded.scenarios[0])
        offline = await Player(configs, tmp_path / "offline").play(loaded.scenarios[0])
        return live.passed, [problem for failure in offline.failures for problem in failure.problems]

    live_passed, offline_problems = asyncio.run(both())
    assert live_passed
    assert offline_problems == [
        "expected the reply to contain \"didn't catch that\"; it was: A scripted reply.",
    ]


def test_the_example_suite_covers_every_agent_tool_and_handoff_edge() -> None:
    config = load(REPO / "agents.yaml").config
    assert config is not None
    loaded = load_scenarios([str(REPO / "scenarios")])
    assert loaded.problems == []
    agents, tools, edges, refused = set(), set(), set(), set()
    for scenario in loaded.scenarios:
        for step in scenario.steps:
            if step.tool is not None:
                tools.add(step.tool["name"])
            expect = step.expect
            if expect is None:
                continue
            tools |= {check.name for check in expect.tool_calls} | {check.name for check in expect.tool_outputs if check.name}
            if expect.agent:
                agents.add(expect.agent)
            if expect.handoff is not None:
                (refused if expect.handoff.refused else edges).add((expect.handoff.source, expect.handoff.to))
    assert agents == set(config.agents)
    assert tools == set(config.tools)
    assert edges == {(name, handoff.target) for name, agent in config.agents.items() for handoff in agent.handoffs}
    assert refused
