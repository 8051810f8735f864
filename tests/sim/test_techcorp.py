"""A whole text conversation of the example project through the simulator's techcorp rules,
with the example's real tools answering the calls and its agents' real tool lists."""

from __future__ import annotations

import importlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.sim import Simulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def techcorp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Agents' text-mode sessions built from agents.yaml, and the tools on a fresh database."""
    monkeypatch.setenv("RUNNER_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("TECHCORP_DB", raising=False)
    monkeypatch.syspath_prepend(str(REPO))
    config = yaml.safe_load((REPO / "agents.yaml").read_text())
    sessions = {}
    for name, agent in config["agents"].items():
        tools = [{"type": "function", "name": tool, "description": config["tools"][tool]["description"], "parameters": config["tools"][tool]["parameters"]} for tool in agent["tools"]]
        for edge in agent["handoffs"]:
            target = edge if isinstance(edge, str) else edge["agent"]
            description = (edge.get("description") if isinstance(edge, dict) else None) or config["agents"][target]["description"]  # as runner/compile.py does
            tools.append({"type": "function", "name": f"transfer_to_{target}", "description": description, "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}}})
        sessions[name] = {"type": "realtime", "instructions": agent["instructions"], "tools": tools, "output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
    functions = {}
    for name, tool in config["tools"].items():
        module, function = tool["python"].split(":")
        functions[name] = getattr(importlib.import_module(module), function)
    importlib.import_module("tools.db").initialise()
    return {"sessions": sessions, "functions": functions, "db": tmp_path / "techcorp.db"}


class Caller:
    """Plays the runner's part: runs tools, applies transfers, asks for the next response."""

    def __init__(self, client: Any, techcorp: dict[str, Any]) -> None:
        self.client = client
        self.techcorp = techcorp
        self.agent = "router"
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def start(self) -> str:
        await self.client.configure(**self.techcorp["sessions"]["router"])
        return await self.respond()

    async def user(self, text: str) -> str:
        await self.client.say(text)
        return await self.respond()

    async def respond(self) -> str:
        while True:
            await self.client.send({"type": "response.create"})
            output = (await self.client.until("response.done"))[-1]["response"]["output"]
            calls = [item for item in output if item["type"] == "function_call"]
            if not calls:
                return "".join(part["text"] for item in output for part in item["content"])
            for call in calls:
                arguments = json.loads(call["arguments"])
                self.calls.append((call["name"], arguments))
                if call["name"].startswith("transfer_to_"):
                    self.agent = call["name"].removeprefix("transfer_to_")
                    await self.client.configure(**self.techcorp["sessions"][self.agent])
                    result: Any = {"agent": self.agent}
                else:
                    result = self.techcorp["functions"][call["name"]](**arguments)
                await self.client.send({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call["call_id"], "output": json.dumps(result)}})
                await self.client.until("conversation.item.done")


def test_authenticate_support_ticket_then_billing_refund(kit, techcorp: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with Simulator("techcorp") as sim:
            caller = Caller(await kit.connect(sim.ws_base_url), techcorp)
            assert await caller.start() == "Thanks for calling TechCorp. Who am I speaking with, and what's the phone number on your account?"
            assert await caller.user("Hi, this is Alex, my number is (555) 123-4567") == "Thanks, Alex, you're verified. How can I help you today?"
            reply = await caller.user("My wifi keeps disconnecting")
            assert caller.agent == "support"
            assert reply.startswith('Our guide "Wi-Fi keeps disconnecting" says:')
            reply = await caller.user("I tried that and it is still disconnecting")
            assert reply.startswith("I've opened ticket ") and "high priority" in reply
            reply = await caller.user("Also, I want a refund for invoice INV-2001")
            assert caller.agent == "billing"
            assert reply.startswith("Your refund request for INV-2001 was approved.")
            assert [name for name, _ in caller.calls] == [
                "authenticate_user", "transfer_to_support", "search_knowledge_base", "create_support_ticket",
                "transfer_to_billing", "lookup_invoice", "request_refund",
            ]
            assert caller.calls[3][1]["customer_id"] == "CUST-1001"
            assert caller.calls[5][1] == {"customer_id": "CUST-1001", "invoice_id": "INV-2001"}
            kit.assert_valid(sim.sent[0])
        with sqlite3.connect(techcorp["db"]) as db:
            assert db.execute("SELECT customer_id, priority FROM tickets WHERE subject = 'Wifi keeps disconnecting'").fetchall() == [("CUST-1001", "high")]

    kit.run(scenario)


def test_sales_and_human_callback_walks(kit, techcorp: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with Simulator("techcorp") as sim:
            caller = Caller(await kit.connect(sim.ws_base_url), techcorp)
            await caller.start()
            await caller.user("I'm Alex, (555) 123-4567")
            reply = await caller.user("What laptops do you have?")
            assert caller.agent == "sales"
            assert reply.startswith("We have the TechCorp UltraBook 14 at ")
            reply = await caller.user("Is the UltraBook in stock?")
            assert reply.startswith("The TechCorp UltraBook 14 is in stock, ") and reply.endswith(" units available.")
            reply = await caller.user("Is the Phone X available?")
            assert reply.startswith("The TechCorp Phone X is out of stock; we expect more on ")
            caller.agent = "router"
            await caller.client.configure(**techcorp["sessions"]["router"])
            reply = await caller.user("Let me talk to a person please")
            assert caller.agent == "human"
            assert reply.startswith("Done. A colleague will call you at (555) 123-4567 ")
            assert caller.calls[-1] == ("request_callback", {"phone": "(555) 123-4567", "reason": "Let me talk to a person please", "customer_id": "CUST-1001"})

    kit.run(scenario)
