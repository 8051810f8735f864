"""Projects the simulator was not written for, walked offline with no rule file.

Each project in tests/sim/projects/ is an ordinary agents.yaml with Python tools and
handoffs. A scripted caller talks to it in natural phrasings through the embedding API
on `SimulatorTransport(None)`; the test asserts what the runner really did: the tools
it executed (with their arguments) and the agents the conversation was handed to.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import runner
from runner.core.records import AssistantMessage, Handoff, Record, ToolStarted

PROJECTS = Path(__file__).parent / "projects"


@dataclass
class Walk:
    records: list[Record] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        return [(record.name, json.loads(record.arguments)) for record in self.records if isinstance(record, ToolStarted)]

    @property
    def tools(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, args) for name, args in self.calls if not name.startswith("transfer_to_")]

    @property
    def handoffs(self) -> list[tuple[str, str]]:
        return [(record.source, record.target) for record in self.records if isinstance(record, Handoff) and record.success]

    @property
    def replies(self) -> list[str]:
        return [record.text for record in self.records if isinstance(record, AssistantMessage)]

    @property
    def explanations(self) -> list[str]:
        return [event["response"]["metadata"]["simulator_decision"] for event in self.events
                if event.get("type") == "response.done" and (event["response"].get("metadata") or {}).get("simulator_decision")]


def walk(project: str | Path, turns: list[str], tmp_path: Path, *, rules: str | None = None) -> Walk:
    """Open the project offline (with no rule file by default), let the agent speak first, then say each turn."""
    result = Walk()

    async def conversation() -> None:
        loaded = runner.load_project(project if isinstance(project, Path) else PROJECTS / project / "agents.yaml")
        async with runner.Host(loaded, transport=runner.SimulatorTransport(rules), max_conversations=1) as host:
            async with host.open(text=True, state_dir=tmp_path / "state", session_dir=tmp_path / "sessions",
                                 on_record=lambda record, t: result.records.append(record),
                                 on_event=lambda direction, event, t: result.events.append(event) if direction == "in" else None) as conv:
                assert await conv.wait_idle(10)
                for text in turns:
                    await conv.send_text(text)
                    assert await conv.wait_idle(10), f"no answer to {text!r}"

    asyncio.run(asyncio.wait_for(conversation(), 60))
    return result


def test_pizza_order_is_routed_filled_asked_for_and_tracked(tmp_path: Path) -> None:
    done = walk("pizza", [
        "Hi there, I'm starving and would love a couple of large pepperoni pizzas delivered",
        "Sure, it's 12 Baker Street",
        "Great, any idea when it will arrive?",
    ], tmp_path)
    assert done.replies[0] == "Hello, this is Tony's Pizza on the phone. How can I help?"
    assert done.handoffs == [("front", "orders"), ("orders", "tracking")]
    assert done.tools == [
        ("place_order", {"pizza": "pepperoni", "size": "large", "quantity": 2, "address": "12 Baker Street"}),
        ("order_status", {"order_id": "PZ-1043"}),
    ]
    assert "Could you tell me the delivery address, street and number?" in done.replies
    assert "order id PZ-1043" in done.replies[-1] and "minutes to arrival 25" in done.replies[-1]


def test_cinema_showings_booking_and_refund(tmp_path: Path) -> None:
    done = walk("cinema", [
        "Hello! What time is Dune showing on December 12th 2026?",
        "Two seats for the 8:30 pm one please, and send the tickets to sam@example.com",
        "Oh no, something came up and we can't make it after all. Can I get my money back?",
    ], tmp_path)
    assert done.handoffs == [("front", "tickets"), ("tickets", "refunds")]
    assert done.tools == [
        ("find_showings", {"film": "Dune", "date": "2026-12-12"}),
        ("book_seats", {"showing_id": "SH-302", "seats": 2, "email": "sam@example.com"}),
        ("cancel_booking", {"booking_ref": "BK-5521", "reason": "Oh no, something came up and we can't make it after all. Can I get my money back?"}),
    ]
    assert "SH-302, Dune, 2026-12-12, 20:30, Screen 2" in done.replies[1]


def test_bank_card_is_blocked_after_verification_and_replaced(tmp_path: Path) -> None:
    done = walk("bank", [
        "Hi, my account number is 12345678 and I was born on 3 March 1985",
        "I think my card was stolen on the train this morning, please stop it before anyone uses it. It ends in 4821.",
        "Could you send me a replacement? Express delivery if you can",
    ], tmp_path)
    assert done.handoffs == [("reception", "card_security")]
    assert done.tools == [
        ("verify_customer", {"account_number": "12345678", "date_of_birth": "1985-03-03"}),
        ("block_card", {"card_last_four": "4821", "reason": "stolen"}),
        ("order_replacement", {"card_last_four": "4821", "delivery": "express"}),
    ]
    assert done.replies[1] == "Here is what I found: verified yes, customer id C-0077, name Sam Lee."


def test_each_decision_is_explained_in_the_event_log(tmp_path: Path) -> None:
    done = walk("bank", ["I think my card was stolen, please block it"], tmp_path)
    assert done.explanations[0] == "greeted with the instructions' first sentence"
    assert done.explanations[1].startswith("handed off to card_security: 'card', 'stolen', 'block' matched its description")
    assert done.explanations[2] == "chose block_card ('card', 'block' matched its description) but card_last_four is missing: asked for it"
    assert done.replies[-1] == "Could you tell me the last four digits of the card?"
    events = [json.loads(line) for folder in (tmp_path / "sessions").iterdir() for line in (folder / "events.jsonl").read_text().splitlines()]
    logged = [event for event in events if "handed off to card_security" in json.dumps(event)]
    assert logged, "the explanation is in events.jsonl"


def test_the_example_routes_what_a_new_user_says_to_the_right_team(tmp_path: Path) -> None:
    """The phrasings that went to sales, or re-ran lookup_products, before the config brain (issue 17)."""
    example = Path(__file__).resolve().parents[2] / "agents.yaml"
    done = walk(example, ["my phone is (555) 123-4567", "my laptop won't turn on, I need technical support"], tmp_path / "a", rules="techcorp")
    assert done.handoffs == [("router", "support")]
    assert done.tools[0] == ("authenticate_user", {"phone": "(555) 123-4567"})
    done = walk(example, ["I'd like to buy a laptop", "please transfer me to technical support"], tmp_path / "b", rules="techcorp")
    assert done.handoffs == [("router", "sales"), ("sales", "support")]
    assert [name for name, _ in done.tools] == ["lookup_products", "search_knowledge_base"]
