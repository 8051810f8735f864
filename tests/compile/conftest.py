"""Configs built straight from the model dataclasses, so each test states exactly what it compiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from runner.config.model import (
    Agent,
    Config,
    Guardrail,
    Handoff,
    Limits,
    PythonBinding,
    SessionSettings,
    Tool,
    Variable,
)

LOOKUP_PARAMETERS = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "description": "Order number."}},
    "required": ["order_id"],
    "additionalProperties": False,
}


def lookup_tool(name: str = "lookup_order") -> Tool:
    return Tool(
        name=name,
        description="Look an order up.",
        parameters=LOOKUP_PARAMETERS,
        binding=PythonBinding(module="tools.orders", function=name),
    )


def two_agent_config(
    *,
    session: SessionSettings | None = None,
    front_session: SessionSettings | None = None,
    tools: dict[str, Tool] | None = None,
    front_tools: tuple[str, ...] = ("lookup_order",),
    guardrails: dict[str, Guardrail] | None = None,
    front_guardrails: tuple[str, ...] = (),
    edge_description: str | None = None,
) -> Config:
    """`front` (start) hands off to `orders` and back; `front` uses `front_tools`."""
    agents = {
        "front": Agent(
            name="front",
            description="Greets the caller.",
            instructions="You work for {{ company }}.",
            tools=front_tools,
            handoffs=(Handoff(target="orders", description=edge_description),),
            guardrails=front_guardrails,
            session=front_session,
        ),
        "orders": Agent(
            name="orders",
            description="Answers questions about orders.",
            instructions="Help with orders at {{ company }}.",
            voice="cedar",
            tools=("lookup_order",),
            handoffs=(Handoff(target="front"),),
            on_enter="Say you are the orders desk.",
        ),
    }
    return Config(
        path=Path("/project/agents.yaml"),
        version=1,
        name="Shop",
        model="gpt-realtime-2.1",
        start="front",
        voice="marin",
        variables={"company": Variable(name="company", default="Acme")},
        session=session or SessionSettings(),
        limits=Limits(),
        agents=agents,
        tools=tools if tools is not None else {"lookup_order": lookup_tool()},
        guardrails=guardrails or {},
        state_dir=Path("/project/.runner"),
    )


@pytest.fixture
def make_config() -> Callable[..., Config]:
    return two_agent_config


@pytest.fixture
def lookup() -> Callable[..., Tool]:
    return lookup_tool


@pytest.fixture
def lookup_parameters() -> dict[str, Any]:
    return LOOKUP_PARAMETERS
