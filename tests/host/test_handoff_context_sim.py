"""Handoff context policies against the simulator: what the next agent's first reply can see."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import runner
from runner.core.records import Record

AGENTS = """\
version: 1
name: Desk
model: gpt-realtime
start: router
agents:
  router:
    description: Sends callers on.
    instructions: You route callers.
    tools: [greet]
    handoffs: [{agent: orders, context: %s}]
  orders:
    description: Answers questions about orders.
    instructions: You look up orders.
tools:
  greet:
    description: Says hello.
    python: desk_tools:greet
"""

RULES = """\
default: "What can I do for you?"
after_transfer: "Orders here, I can see why you called."
agents:
  router: {tool: greet}
  orders: {instructions: 'look up orders'}
rules:
  - when: 'order'
    agent: router
    transfer: orders
  - when: 'hello'
    say: "Hello, this is the router."
"""


def _run(tmp_path: Path, policy: str) -> tuple[list[dict[str, Any]], list[Record], list[list[dict[str, Any]]]]:
    """The simulator's conversation items at the end, the records, and the client events, per connection."""
    (tmp_path / "desk_tools.py").write_text("def greet() -> str:\n    return 'hello'\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "agents.yaml").write_text(AGENTS % policy, encoding="utf-8")
    records: list[Record] = []

    async def main() -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        project = runner.load_project(tmp_path / "agents.yaml", environ={})
        async with runner.Host(project, transport=runner.SimulatorTransport(tmp_path / "rules.yaml")) as host:
            simulator = host.transport.simulator
            async with host.open(text=True, on_record=lambda record, t: records.append(record)) as conversation:
                for line in ("hello", "a question about my order"):
                    await conversation.send_text(line)
                    assert await conversation.wait_idle(30)
            return [dict(item) for item in simulator.connections[0].items], simulator.received

    items, received = asyncio.run(main())
    return items, records, received


def _text(item: dict[str, Any]) -> str:
    return " ".join(part.get("text") or part.get("transcript") or "" for part in item.get("content") or ())


def test_keep_leaves_the_whole_history_for_the_target(tmp_path: Path) -> None:
    items, _, _ = _run(tmp_path, "keep")
    assert [(item["type"], item.get("role")) for item in items][:2] == [("message", "user"), ("message", "assistant")]
    assert _text(items[0]) == "hello"


def test_reset_leaves_the_target_only_a_note_of_why_it_was_called(tmp_path: Path) -> None:
    items, records, received = _run(tmp_path, "reset")
    assert [(item["type"], item.get("role")) for item in items] == [("message", "system"), ("message", "assistant")]
    assert _text(items[0]) == (
        "The caller was transferred to you (orders) by router (a question about my order). Earlier turns are not shown; ask for what you need."
    )
    kinds = [event["type"] for event in received[0]]
    handoff = kinds.index("session.update", 1)
    assert kinds[handoff:] == ["session.update"] + ["conversation.item.delete"] * 4 + ["conversation.item.create", "response.create"], kinds
    assert [record.data["text"] for record in records if record.kind == "assistant"][0] == "Hello, this is the router."


def test_summary_leaves_the_target_the_summary_and_no_response_runs_twice(tmp_path: Path) -> None:
    items, records, received = _run(tmp_path, "summary")
    assert [(item["type"], item.get("role")) for item in items] == [("message", "system"), ("message", "assistant")]
    assert _text(items[0]).startswith("The caller was transferred to you (orders) by router (a question about my order). Summary of the conversation so far: ")
    summary_text = _text(items[0]).split("Summary of the conversation so far: ", 1)[1]
    assert summary_text and summary_text not in [record.data.get("text") for record in records if record.kind == "assistant"]
    creates = [event for event in received[0] if event["type"] == "response.create"]
    assert [create.get("response", {}).get("conversation") for create in creates] == [None, None, "none", None]


def test_an_edges_policy_wins_over_the_targets_and_a_bad_one_is_located(tmp_path: Path) -> None:
    from runner.compile import compile_config
    from runner.config import load

    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\nstart: a\nagents:\n"
        "  a: {description: A., instructions: Hi., handoffs: [b, c, {agent: d, context: keep}]}\n"
        "  b: {description: B., instructions: Hi., context: reset}\n"
        "  c: {description: C., instructions: Hi., handoffs: [{agent: a, context: summary}]}\n"
        "  d: {description: D., instructions: Hi., context: reset}\n",
        encoding="utf-8",
    )
    compiled = compile_config(load(str(path)).config)
    assert compiled["a"].handoff_context == {"transfer_to_b": "reset"}
    assert compiled["c"].handoff_context == {"transfer_to_a": "summary"}
    path.write_text("version: 1\nstart: a\nagents:\n  a: {description: A., instructions: Hi., context: forget}\n", encoding="utf-8")
    assert [problem.format() for problem in load(str(path)).problems] == [
        f"{path}:4:52: agents.a.context: 'forget' is not one of: keep, reset, summary"
    ]
