"""The GPT-Live compiler: exact session.start and handoff events, each accepted by the strict Live check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runner.compile import CompileError
from runner.compile_live import (
    compile_live,
    delegation_update_event,
    greeting_event,
    handoff_events,
    live_client_event_problems,
    persona_append_event,
    session_start_event,
)
from runner.config import load
from runner.config.model import LiveSettings, SessionSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"
TRANSFER_PARAMETERS = {
    "type": "object",
    "properties": {"reason": {"type": "string", "description": "Why the caller is being transferred, in a few words."}},
    "additionalProperties": False,
}


def _live(config, **live):
    return replace(config, target="live", live=LiveSettings(**live))


def test_example_project_compiles_to_live_events_the_service_accepts():
    config = load(EXAMPLE, import_code=False, target="live").config
    program = compile_live(config)
    events = [session_start_event(program), greeting_event(program.agents["router"])]
    for name in ["support", "sales", "billing", "human"]:
        events += handoff_events(program, name)
    for event in events:
        assert live_client_event_problems(event) == [], event["type"]
    assert [event["type"] for event in events[:4]] == ["session.start", "session.commentary.append", "session.update", "session.instructions.append"]


def test_full_session_start_of_a_two_agent_project(make_config, lookup_parameters):
    event = session_start_event(compile_live(_live(make_config())))
    assert event == {
        "type": "session.start",
        "session": {
            "model": "gpt-live-1",
            "instructions": (
                "You are the voice of a customer-service line. Speak naturally, warmly and briefly. "
                "Delegate every request that needs facts, account details, an action or another team; "
                "never make those up, and say what the delegated work returns in your own words.\n\n"
                "You speak for Shop, as one of these agents:\n"
                "- front: Greets the caller.\n"
                "- orders: Answers questions about orders.\n"
                'You start as front. When an instruction says "You are now <agent>", speak as that agent from then on.'
            ),
            "audio": {"format": {"type": "audio/pcm", "rate": 24000}, "output": {"voice": "marin"}},
            "delegation": {
                "type": "responses",
                "responses": {
                    "model": "gpt-5.4-mini",
                    "instructions": "You work for Acme.",
                    "tools": [
                        {"type": "function", "name": "lookup_order", "description": "Look an order up.", "parameters": lookup_parameters},
                        {"type": "function", "name": "transfer_to_orders", "description": "Answers questions about orders.", "parameters": TRANSFER_PARAMETERS},
                    ],
                    "tool_choice": "auto",
                },
            },
        },
    }
    assert live_client_event_problems(event) == []


def test_a_handoff_updates_the_delegation_then_appends_the_persona(make_config, lookup_parameters):
    program = compile_live(_live(make_config()))
    update, append = handoff_events(program, "orders")
    assert update == {
        "type": "session.update",
        "session": {
            "delegation": {
                "type": "responses",
                "responses": {
                    "instructions": "Help with orders at Acme.",
                    "tools": [
                        {"type": "function", "name": "lookup_order", "description": "Look an order up.", "parameters": lookup_parameters},
                        {"type": "function", "name": "transfer_to_front", "description": "Greets the caller.", "parameters": TRANSFER_PARAMETERS},
                    ],
                    "tool_choice": "auto",
                }
            }
        },
    }
    assert append == {
        "type": "session.instructions.append",
        "content": "You are now orders: Answers questions about orders.\nSay you are the orders desk.",
        "delegation_id": None,
    }
    assert (update, append) == (delegation_update_event(program.agents["orders"]), persona_append_event(program.agents["orders"]))
    assert live_client_event_problems(update) == live_client_event_problems(append) == []
    assert program.agents["orders"].transfers == {"transfer_to_front": "front"}
    assert program.agents["orders"].tool_names == frozenset({"lookup_order"})


def test_live_only_settings_reach_the_backend_and_the_frontend(make_config):
    config = _live(make_config(), model="gpt-live-1.1", backend_model="gpt-5.4", reasoning_effort="low", verbosity="high", instructions="Be terse.")
    session = compile_live(config).session
    assert session["model"] == "gpt-live-1.1"
    assert session["instructions"].startswith("Be terse.\n\nYou speak for Shop")
    responses = session["delegation"]["responses"]
    assert (responses["model"], responses["reasoning"], responses["text"]) == ("gpt-5.4", {"effort": "low"}, {"verbosity": "high"})
    assert live_client_event_problems(session_start_event(compile_live(config))) == []


def test_webrtc_and_sip_negotiate_their_own_format(make_config):
    for transport in ("webrtc", "sip"):
        assert compile_live(_live(make_config()), transport=transport).session["audio"] == {"output": {"voice": "marin"}}


def test_g711_formats_carry_their_rate_and_a_token_cap_goes_to_the_backend(make_config):
    settings = SessionSettings(input_format="audio/pcmu", output_format="audio/pcmu", max_output_tokens=300)
    program = compile_live(_live(make_config(session=settings)))
    assert program.session["audio"]["format"] == {"type": "audio/pcmu", "rate": 8000}
    assert program.session["delegation"]["responses"]["max_output_tokens"] == 300
    assert live_client_event_problems(session_start_event(program)) == []


def test_speaks_first_opens_with_a_commentary_append(make_config):
    config = _live(make_config())
    front = config.agents["front"]
    waits = compile_live(config).agents["front"]
    assert greeting_event(waits) is None
    asked = compile_live(replace(config, agents={**config.agents, "front": replace(front, speaks_first=True)})).agents["front"]
    assert greeting_event(asked) == {"type": "session.commentary.append", "content": "Greet the caller now.", "delegation_id": None}
    told = compile_live(replace(config, agents={**config.agents, "front": replace(front, speaks_first=True, greeting="Say good morning.")})).agents["front"]
    assert greeting_event(told)["content"] == "Say good morning."


def test_render_errors_are_the_realtime_compilers(make_config):
    config = _live(make_config())
    with pytest.raises(CompileError) as caught:
        compile_live(config, values={})
    assert caught.value.messages == ["agents.front.instructions: cannot render: 'company' is undefined"]


@pytest.mark.parametrize(
    ("event", "problems"),
    [
        ({"type": "session.instructions.append", "content": "Hi."}, ["Missing required parameter: 'delegation_id' (null for the whole session)"]),
        ({"type": "session.start", "session": {"model": "gpt-live-1", "voice": "marin"}}, ["Unknown parameter: 'session.voice'"]),
        (
            {"type": "response.item.create", "item": {"type": "function_call_output", "call_id": "c1", "output": "{}", "agent": "x"}},
            ["Unknown parameter: 'item.agent'"],
        ),
        ({"type": "response.cancel"}, ["Invalid value at 'type': Input tag 'response.cancel' found using 'type' does not match any of the expected tags: 'session.start', 'session.update', 'session.input_audio.append', 'session.input_audio.mute', 'session.input_audio.unmute', 'session.output_audio.fixture.play', 'session.instructions.append', 'session.thinking.append', 'session.commentary.append', 'decision.create', 'decision.item.create', 'decision.item.delete', 'response.item.create', 'response.create', 'session.close'"]),
    ],
)
def test_the_live_check_refuses_what_the_service_would(event, problems):
    assert live_client_event_problems(event) == problems


def test_an_mcp_tool_carries_over_as_a_hosted_backend_tool(make_config, lookup):
    from runner.config.model import McpBinding, Tool

    docs = Tool(name="docs", description="Documentation search.", parameters={}, binding=McpBinding(server_url="https://example.com/mcp", allowed_tools=("search",)))
    config = _live(make_config(tools={"lookup_order": lookup(), "docs": docs}, front_tools=("docs",)))
    program = compile_live(config)
    assert program.session["delegation"]["responses"]["tools"][0] == {
        "type": "mcp", "server_label": "docs", "server_url": "https://example.com/mcp", "server_description": "Documentation search.",
        "allowed_tools": ["search"], "require_approval": "never",
    }
    assert program.agents["front"].tool_names == frozenset()
    assert live_client_event_problems(session_start_event(program)) == []
