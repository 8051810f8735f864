"""A small project on disk and a fake model for MemoryTransport, shared by the host API tests.

The project's one python tool, `whoami`, answers with its ToolContext (variables, state
folder, session id), so a test can see which conversation a tool call ran for.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any, AsyncIterator

import yaml

TOOLS = '''
import asyncio

running = 0
most_running = 0


def whoami(context) -> dict:
    return {"customer": context.variables["customer"], "state_dir": str(context.state_dir), "session_id": context.session_id}


async def slow(context) -> dict:
    global running, most_running
    running += 1
    most_running = max(most_running, running)
    await asyncio.sleep(0.3)
    running -= 1
    return {"done": True}
'''

RULES = """
default: "I can only say who you are."
rules:
  - when: 'who am i'
    call: {name: whoami, args: {}}
  - after_tool: whoami
    say: "You are {{ output.customer }}; your files are in {{ output.state_dir }}."
"""


def write_project(folder: Path) -> Path:
    """agents.yaml (one agent, a `customer` variable, two tools), its tools package and simulator rules."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "desk").mkdir(exist_ok=True)
    (folder / "desk" / "__init__.py").write_text("")
    (folder / "desk" / "tools.py").write_text(textwrap.dedent(TOOLS))
    (folder / "rules.yaml").write_text(RULES)
    no_parameters = {"type": "object", "properties": {}, "additionalProperties": False}
    project = {
        "version": 1,
        "name": "Embedding desk",
        "start": "desk",
        "state_dir": str(folder / "state"),
        "variables": {"customer": {"type": "string", "description": "Who is calling."}},
        "agents": {
            "desk": {
                "description": "Says who the caller is.",
                "instructions": "You serve {{ customer }}.",
                "tools": ["whoami", "slow"],
            }
        },
        "tools": {
            "whoami": {"description": "Who the caller is.", "parameters": no_parameters, "python": "desk.tools:whoami"},
            "slow": {"description": "Takes a while.", "parameters": no_parameters, "python": "desk.tools:slow"},
        },
    }
    path = folder / "agents.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


class FakeModel:
    """Answers like the Realtime service, just enough for the core: `reply` per user text.

    A user text listed in `gates` streams its first delta, then waits for that gate.
    `calls` maps a user text to the tools its response calls (all in one response).
    """

    def __init__(self, reply: str = "Hello there.") -> None:
        self.reply = reply
        self.gates: dict[str, asyncio.Event] = {}
        self.calls: dict[str, list[str]] = {}
        self.streaming = asyncio.Event()  # set once a gated reply has started

    def __call__(self, event: dict[str, Any], connection: Any) -> Any:
        kind = event["type"]
        if kind == "session.update":
            return [{"type": "session.updated", "session": event["session"]}]
        if kind == "conversation.item.create" and event["item"]["type"] == "message":
            return [{"type": "conversation.item.added", "item": {**event["item"], "id": f"user_{len(connection.sent)}"}}]
        if kind == "response.create":
            return self._respond(connection)
        return []

    async def _respond(self, connection: Any) -> AsyncIterator[dict[str, Any]]:
        number = len(connection.sent)
        response_id, item_id = f"resp_{number}", f"item_{number}"
        said = _last_user_text(connection.sent)
        yield {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
        calls = self.calls.pop(said, None) if _answered_last(connection.sent) is False else None
        if calls:
            for index, name in enumerate(calls):
                yield {"type": "response.function_call_arguments.done", "response_id": response_id, "item_id": f"fc_{number}_{index}",
                       "call_id": f"call_{number}_{index}", "name": name, "arguments": "{}"}
            yield {"type": "response.done", "response": {"id": response_id, "status": "completed", "output": []}}
            return
        yield {"type": "response.output_item.added", "response_id": response_id, "item": {"id": item_id, "type": "message", "role": "assistant"}}
        words = self.reply.split(" ")
        yield {"type": "response.output_text.delta", "response_id": response_id, "item_id": item_id, "delta": words[0]}
        gate = self.gates.get(said)
        if gate is not None:
            self.streaming.set()
            await gate.wait()
        for word in words[1:]:
            yield {"type": "response.output_text.delta", "response_id": response_id, "item_id": item_id, "delta": " " + word}
        yield {"type": "response.output_text.done", "response_id": response_id, "item_id": item_id, "text": self.reply}
        yield {"type": "response.output_item.done", "response_id": response_id, "item": {"id": item_id, "type": "message", "status": "completed"}}
        yield {"type": "response.done", "response": {"id": response_id, "status": "completed", "output": []}}


def _last_user_text(sent: list[dict[str, Any]]) -> str:
    for event in reversed(sent):
        item = event.get("item") or {}
        if event["type"] == "conversation.item.create" and item.get("type") == "message":
            return "".join(part.get("text", "") for part in item.get("content", []))
    return ""


def _answered_last(sent: list[dict[str, Any]]) -> bool:
    """Whether a function call output came after the last user message (the reply after tools)."""
    for event in reversed(sent):
        item = event.get("item") or {}
        if event["type"] == "conversation.item.create":
            return item.get("type") == "function_call_output"
    return False


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
