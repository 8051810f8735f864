"""`runner validate` and `runner compile` for the GPT-Live target, as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from runner.compile_live import live_client_event_problems


def test_compile_target_live_prints_each_agents_events(runner):
    done = runner("compile", "shop/agents.yaml", "--target", "live")
    assert (done.returncode, done.stderr) == (0, "")
    events = json.loads(done.stdout)
    assert list(events) == ["desk", "orders", "returns"]
    assert [event["type"] for event in events["desk"]] == ["session.start"]
    assert [event["type"] for event in events["orders"]] == ["session.update", "session.instructions.append"]
    assert events["desk"][0]["session"]["delegation"]["responses"]["instructions"] == "You are the front desk of Acme."
    assert events["orders"][1]["content"] == "You are now orders: Answers questions about orders.\nSay you are the orders desk."
    for agent_events in events.values():
        for event in agent_events:
            assert live_client_event_problems(event) == []


def test_compile_target_live_jsonl_for_one_agent(runner):
    done = runner("compile", "shop/agents.yaml", "--target", "live", "--agent", "returns", "--jsonl", "--var", "company=Zeta")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["session.update", "session.instructions.append"]
    assert lines[0]["session"]["delegation"]["responses"]["instructions"] == "You handle returns for Zeta."


def test_compile_text_is_a_usage_error_on_live(runner):
    done = runner("compile", "shop/agents.yaml", "--target", "live", "--text")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "runner: --text does not apply to GPT-Live: it always speaks (runner run --text shows its transcript)\n"


def test_the_files_own_target_is_used_and_explained_by_validate(runner, tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\ntarget: live\nstart: a\nsession:\n  speed: 1.2\nagents:\n"
        "  a:\n    description: First.\n    instructions: Hi.\n    handoffs: [b]\n"
        "  b:\n    description: Second.\n    instructions: Bye.\n    voice: cedar\n",
        encoding="utf-8",
    )
    done = runner("validate", "agents.yaml", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "agents.yaml:5:3: session.speed: warning: does not apply on GPT-Live: GPT-Live has no speech-speed setting (keep it for the realtime target, or remove it)",
        "agents.yaml:14:12: agents.b.voice: warning: voice 'cedar' cannot be used on GPT-Live: the voice is fixed for the whole session, at the start agent's 'marin' (give every agent the same voice)",
        "agents.yaml: valid (2 agents, 0 tools, 0 guardrails), 2 warnings",
    ]
    compiled = runner("compile", "agents.yaml", "--jsonl", cwd=tmp_path)
    assert compiled.returncode == 0
    assert json.loads(compiled.stdout.splitlines()[0])["type"] == "session.start"
    realtime = runner("validate", "agents.yaml", "--target", "realtime", cwd=tmp_path)
    assert "the Realtime API cannot change the voice after the first audio" in realtime.stdout


def test_runner_test_target_live_runs_the_example_scenarios_on_gpt_live(runner):
    repo = Path(__file__).resolve().parents[2]
    done = runner("test", "scenarios/router.yaml", "scenarios/guardrails.yaml", "--target", "live", "-k", "blocked", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "2 passed, 0 failed"
    done = runner("test", "scenarios/router.yaml", "--target", "live", "-k", "verifies a caller", cwd=repo)
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "1 passed, 0 failed")
