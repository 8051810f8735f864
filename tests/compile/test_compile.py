"""The compiler: exact GA session shapes, and every payload accepted by the strict protocol check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runner.compile import CompileError, compile_config, session_update_event, transfer_tool_name
from runner.config import load
from runner.config.model import Guardrail, McpBinding, SessionSettings, Tool, Transcription, TurnDetection
from runner.protocol import client_event_problems

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"
PCM = {"type": "audio/pcm", "rate": 24000}


def _all_events(compiled):
    for agent in compiled.values():
        yield session_update_event(agent)
        yield session_update_event(agent, handoff=True)


def test_example_project_compiles_to_events_the_service_accepts():
    result = load(EXAMPLE, import_code=False)
    assert result.config is not None, [p.format() for p in result.problems]
    compiled = compile_config(result.config)
    assert list(compiled) == ["router", "support", "sales", "billing", "human"]
    for event in _all_events(compiled):
        assert client_event_problems(event) == []
    for event in _all_events(compile_config(result.config, modality="text", guardrails_enabled=False)):
        assert client_event_problems(event) == []


def test_full_session_of_the_start_agent(make_config, lookup_parameters):
    session = compile_config(make_config())["front"].session
    assert session == {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "instructions": "You work for Acme.",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": PCM,
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "noise_reduction": None,
                "turn_detection": {"type": "semantic_vad", "create_response": True, "interrupt_response": True},
            },
            "output": {"format": PCM, "voice": "marin", "speed": 1.0},
        },
        "tools": [
            {
                "type": "function",
                "name": "lookup_order",
                "description": "Look an order up.",
                "parameters": lookup_parameters,
            },
            {
                "type": "function",
                "name": "transfer_to_orders",
                "description": "Answers questions about orders.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "reason": {"type": "string", "description": "Why the caller is being transferred, in a few words."}
                    },
                    "additionalProperties": False,
                },
            },
        ],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    }


def test_compiled_agent_bookkeeping(make_config):
    compiled = compile_config(make_config())
    orders = compiled["orders"]
    assert orders.transfers == {"transfer_to_front": "front"}
    assert orders.tool_names == frozenset({"lookup_order"})
    assert orders.on_enter == "Say you are the orders desk."
    assert orders.voice == "cedar"
    assert compiled["front"].on_enter is None
    assert compiled["front"].voice == "marin"


def test_handoff_session_is_the_session_without_the_voice(make_config):
    orders = compile_config(make_config())["orders"]
    assert orders.session["audio"]["output"]["voice"] == "cedar"
    assert orders.handoff_session["audio"]["output"] == {"format": PCM, "speed": 1.0}
    without_voice = {**orders.session, "audio": {**orders.session["audio"], "output": {"format": PCM, "speed": 1.0}}}
    assert orders.handoff_session == without_voice
    assert session_update_event(orders, handoff=True) == {"type": "session.update", "session": orders.handoff_session}
    assert client_event_problems(session_update_event(orders, handoff=True)) == []


def test_session_update_event_is_a_copy(make_config):
    front = compile_config(make_config())["front"]
    event = session_update_event(front)
    event["session"]["audio"]["output"]["voice"] = "ash"
    assert front.session["audio"]["output"]["voice"] == "marin"


def test_transfer_tool_uses_the_edge_description_when_given(make_config):
    front = compile_config(make_config(edge_description="Questions about an existing order."))["front"]
    transfer = front.session["tools"][-1]
    assert transfer["name"] == transfer_tool_name("orders") == "transfer_to_orders"
    assert transfer["description"] == "Questions about an existing order."


def test_server_vad_sends_only_its_fields(make_config):
    turn = TurnDetection(
        type="server_vad", threshold=0.6, prefix_padding_ms=200, silence_duration_ms=700, idle_timeout_ms=9000,
        interrupt_response=False,
    )
    compiled = compile_config(make_config(session=SessionSettings(turn_detection=turn)))
    assert compiled["front"].session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 200,
        "silence_duration_ms": 700,
        "idle_timeout_ms": 9000,
        "create_response": True,
        "interrupt_response": False,
    }


def test_server_vad_leaves_unset_fields_to_the_service(make_config):
    compiled = compile_config(make_config(session=SessionSettings(turn_detection=TurnDetection(type="server_vad"))))
    assert compiled["front"].session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "create_response": True, "interrupt_response": True,
    }


def test_semantic_vad_never_carries_server_vad_fields(make_config):
    turn = TurnDetection(type="semantic_vad", eagerness="high", threshold=0.5, silence_duration_ms=300, idle_timeout_ms=1)
    compiled = compile_config(make_config(session=SessionSettings(turn_detection=turn)))
    assert compiled["front"].session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad", "eagerness": "high", "create_response": True, "interrupt_response": True,
    }


def test_turn_detection_none_compiles_to_null(make_config):
    compiled = compile_config(make_config(session=SessionSettings(turn_detection=TurnDetection(type="none"))))
    assert compiled["front"].session["audio"]["input"]["turn_detection"] is None


@pytest.mark.parametrize(
    ("format_type", "expected"),
    [("audio/pcm", PCM), ("audio/pcmu", {"type": "audio/pcmu"}), ("audio/pcma", {"type": "audio/pcma"})],
)
def test_audio_formats(make_config, format_type, expected):
    settings = SessionSettings(input_format=format_type, output_format=format_type)
    audio = compile_config(make_config(session=settings))["front"].session["audio"]
    assert audio["input"]["format"] == expected
    assert audio["output"]["format"] == expected


def test_transcription_noise_reduction_and_response_settings(make_config):
    settings = SessionSettings(
        transcription=Transcription(model="gpt-4o-transcribe", language="de", prompt="Product names: Zeta."),
        noise_reduction="far_field",
        max_output_tokens=512,
        speed=1.25,
        tool_choice="required",
    )
    session = compile_config(make_config(session=settings))["front"].session
    assert session["audio"]["input"]["transcription"] == {
        "model": "gpt-4o-transcribe", "language": "de", "prompt": "Product names: Zeta.",
    }
    assert session["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
    assert session["audio"]["output"]["speed"] == 1.25
    assert session["max_output_tokens"] == 512
    assert session["tool_choice"] == "required"


def test_transcription_off_compiles_to_null(make_config):
    session = compile_config(make_config(session=SessionSettings(transcription=None)))["front"].session
    assert session["audio"]["input"]["transcription"] is None


def test_text_modality_overrides_the_configured_one(make_config):
    compiled = compile_config(make_config(), modality="text")
    for agent in compiled.values():
        assert agent.session["output_modalities"] == ["text"]
        assert agent.handoff_session["output_modalities"] == ["text"]


def test_configured_text_modality(make_config):
    compiled = compile_config(make_config(session=SessionSettings(output_modality="text")))
    assert compiled["front"].session["output_modalities"] == ["text"]


def test_per_agent_session_override(make_config):
    override = SessionSettings(turn_detection=TurnDetection(type="none"), speed=0.8)
    compiled = compile_config(make_config(front_session=override))
    assert compiled["front"].session["audio"]["input"]["turn_detection"] is None
    assert compiled["front"].session["audio"]["output"]["speed"] == 0.8
    assert compiled["orders"].session["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"


def _guardrails() -> dict[str, Guardrail]:
    return {
        "no_pii": Guardrail(name="no_pii", kind="regex", checks=("user",), words={"pii": ("password",)}),
        "tone": Guardrail(name="tone", kind="classifier", checks=("assistant",)),
        "brand": Guardrail(name="brand", kind="regex", checks=("assistant",), applies_to_all=True),
    }


def test_input_guardrail_holds_back_automatic_responses(make_config):
    compiled = compile_config(make_config(guardrails=_guardrails(), front_guardrails=("no_pii", "tone")))
    assert compiled["front"].session["audio"]["input"]["turn_detection"]["create_response"] is False
    assert compiled["front"].handoff_session["audio"]["input"]["turn_detection"]["create_response"] is False
    assert compiled["orders"].session["audio"]["input"]["turn_detection"]["create_response"] is True
    assert compiled["front"].guardrails == ("brand", "no_pii", "tone")
    assert compiled["orders"].guardrails == ("brand",)


def test_disabled_guardrails_leave_responses_to_the_service(make_config):
    compiled = compile_config(
        make_config(guardrails=_guardrails(), front_guardrails=("no_pii",)), guardrails_enabled=False
    )
    assert compiled["front"].session["audio"]["input"]["turn_detection"]["create_response"] is True
    assert compiled["front"].guardrails == ()


def test_configured_create_response_false_stays_false(make_config):
    turn = TurnDetection(type="server_vad", create_response=False)
    compiled = compile_config(make_config(session=SessionSettings(turn_detection=turn)))
    assert compiled["front"].session["audio"]["input"]["turn_detection"]["create_response"] is False


def test_instructions_use_given_values_or_the_defaults(make_config):
    config = make_config()
    assert compile_config(config)["orders"].session["instructions"] == "Help with orders at Acme."
    assert compile_config(config, values={"company": "Zeta"})["orders"].session["instructions"] == "Help with orders at Zeta."


def test_template_that_fails_to_render_names_the_agent(make_config):
    config = make_config()
    broken = replace(config.agents["orders"], instructions="Share {{ 100 / company|length }} percent.")
    config = replace(config, agents={**config.agents, "orders": broken})
    with pytest.raises(CompileError) as caught:
        compile_config(config, values={"company": ""})
    assert caught.value.messages == ["agents.orders.instructions: cannot render: division by zero"]


def test_missing_required_variable_without_values(make_config):
    config = make_config()
    config = replace(config, variables={"company": replace(config.variables["company"], default=None, required=True)})
    with pytest.raises(CompileError) as caught:
        compile_config(config)
    assert caught.value.messages == ["missing required variable 'company' (give it with --var company=...)"]


def _mcp_config(make_config, lookup):
    docs = Tool(
        name="docs",
        description="Company documentation search.",
        parameters={"type": "object", "properties": {}},
        binding=McpBinding(
            server_url="https://mcp.example.com/${MCP_PATH}",
            allowed_tools=("search", "fetch"),
            headers={"Authorization": "Bearer ${MCP_TOKEN}"},
        ),
    )
    return make_config(tools={"lookup_order": lookup(), "docs": docs}, front_tools=("lookup_order", "docs"))


def test_mcp_tool_shows_environment_references_unexpanded(make_config, lookup):
    front = compile_config(_mcp_config(make_config, lookup))["front"]
    assert front.session["tools"][1] == {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://mcp.example.com/${MCP_PATH}",
        "server_description": "Company documentation search.",
        "allowed_tools": ["search", "fetch"],
        "require_approval": "never",
        "headers": {"Authorization": "Bearer ${MCP_TOKEN}"},
    }
    assert front.tool_names == frozenset({"lookup_order"})
    assert client_event_problems(session_update_event(front)) == []


def test_mcp_tool_expands_the_given_environment(make_config, lookup):
    environ = {"MCP_PATH": "v1", "MCP_TOKEN": "s3cret"}
    tool = compile_config(_mcp_config(make_config, lookup), environ=environ)["front"].session["tools"][1]
    assert tool["server_url"] == "https://mcp.example.com/v1"
    assert tool["headers"] == {"Authorization": "Bearer s3cret"}


def test_missing_environment_variables_are_named(make_config, lookup):
    with pytest.raises(CompileError) as caught:
        compile_config(_mcp_config(make_config, lookup), environ={"MCP_PATH": "v1"})
    assert caught.value.messages == ["environment variable MCP_TOKEN is not set"]


def test_session_never_carries_tracing_or_beta_keys(make_config):
    for agent in compile_config(make_config()).values():
        for session in (agent.session, agent.handoff_session):
            assert not {"tracing", "voice", "modalities", "input_audio_format", "turn_detection"} & set(session)


VARIED_SETTINGS = [
    SessionSettings(),
    SessionSettings(turn_detection=TurnDetection(type="server_vad", threshold=0.9, idle_timeout_ms=5000)),
    SessionSettings(turn_detection=TurnDetection(type="none"), transcription=None, output_modality="text"),
    SessionSettings(turn_detection=TurnDetection(eagerness="low"), noise_reduction="near_field", max_output_tokens=4096),
    SessionSettings(input_format="audio/pcmu", output_format="audio/pcma", tool_choice="none", speed=0.25),
    SessionSettings(transcription=Transcription(model="whisper-1", language="fr", prompt="Bonjour")),
]


@pytest.mark.parametrize("settings", VARIED_SETTINGS)
def test_varied_configs_compile_to_events_the_service_accepts(make_config, lookup, settings):
    config = _mcp_config(make_config, lookup)
    config = replace(config, session=settings, guardrails=_guardrails())
    config = replace(config, agents={**config.agents, "front": replace(config.agents["front"], guardrails=("no_pii",))})
    for modality in (None, "text"):
        for event in _all_events(compile_config(config, modality=modality)):
            assert client_event_problems(event) == []


def _speaking_first(config, name, greeting):
    agents = dict(config.agents)
    agents[name] = replace(agents[name], speaks_first=True, greeting=greeting)
    return replace(config, agents=agents)


def test_an_agent_that_does_not_speak_first_has_no_greeting(make_config):
    assert compile_config(make_config())["front"].greeting is None


def test_speaks_first_true_opens_with_a_plain_response(make_config):
    compiled = compile_config(_speaking_first(make_config(), "front", None))
    assert compiled["front"].greeting == {}
    assert compiled["orders"].greeting is None


def test_speaks_first_text_is_added_to_the_instructions_of_the_opening_response(make_config):
    front = compile_config(_speaking_first(make_config(), "front", "Greet the caller by the company's name."))["front"]
    assert front.greeting == {"instructions": "You work for Acme.\n\nGreet the caller by the company's name."}
    assert client_event_problems({"type": "response.create", "response": front.greeting}) == []


def test_an_audio_format_override_sets_both_formats_of_every_agent_and_of_its_handoff_session(make_config):
    """A phone bridge (Twilio: μ-law both ways) asks for its format whatever the config says; handoffs keep it."""
    compiled = compile_config(make_config(session=SessionSettings(input_format="audio/pcm", output_format="audio/pcma")), audio_format="audio/pcmu")
    for agent in compiled.values():
        for session in (agent.session, agent.handoff_session):
            assert session["audio"]["input"]["format"] == session["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert session_update_event(compiled["front"], handoff=True)["session"]["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "speed": 1.0}
