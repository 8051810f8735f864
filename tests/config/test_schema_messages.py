"""The JSON Schema stage: every key known, every value checked, messages short and located."""

from __future__ import annotations

import json

from jsonschema import Draft7Validator

from runner.config import SCHEMA_PATH, agents_schema
from runner.config.source import parse


def test_unknown_key_is_located_at_the_key_with_a_suggestion(fixture_lines):
    assert fixture_lines("unknown_key.yaml") == [
        "7:5: agents.router.handofs: unknown key 'handofs' (did you mean 'handoffs'?)",
        # the misspelt handoffs are really gone, so the graph check says so too
        "8:3: agents.support: warning: agent 'support' cannot be reached from the start agent 'router' (add a handoff to it)",
    ]


def test_unknown_top_level_key_without_a_close_match(text_lines, minimal):
    assert text_lines(minimal + "colour: blue\n") == ["7:1: colour: unknown key 'colour'"]


def test_values_that_break_the_schema(fixture_lines):
    assert fixture_lines("schema_values.yaml") == [
        "1:10: version: must be 1, got 2",
        "3:8: voice: 'marine' is not valid: a voice is one of alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar, "
        "or a custom voice id starting with 'voice_' (did you mean 'marin'?)",
        "4:8: model: must not be empty",
        "8:5: session.turn_detection.silence_duration_ms: 'silence_duration_ms' applies to server_vad only, but type is semantic_vad",
        "9:10: session.speed: must be at most 1.5, got 3",
        "10:22: session.max_output_tokens: 5000 is not valid: max_output_tokens is a whole number from 1 to 4096, or inf",
        "11:18: session.transcription: expected a mapping, null or false, got 'whisper'",
        "16:12: agents.router.tools: expected a list, got 'lookup'",
        "19:9: agents.router.handoffs[0].descripton: unknown key 'descripton' (did you mean 'description'?)",
        "20:3: agents.support: missing required key 'description'",
        "25:9: agents.support.session.turn_detection.eagerness: 'eagerness' has no effect when type is none (turns are ended by the runner)",
    ]


def test_missing_top_level_keys(text_lines):
    assert text_lines("name: nothing else\n") == [
        "1:1: missing required key 'version'",
        "1:1: missing required key 'start'",
        "1:1: missing required key 'agents'",
    ]


def test_enum_value_with_suggestion(text_lines, minimal):
    text = minimal + "session:\n  output_modality: audi\n"
    assert text_lines(text) == ["8:20: session.output_modality: 'audi' is not one of: audio, text (did you mean 'audio'?)"]


def test_handoff_of_the_wrong_shape(text_lines, minimal):
    text = minimal.replace("    instructions: Say hello.\n", "    instructions: Say hello.\n    handoffs: [3]\n")
    assert text_lines(text) == ["7:16: agents.greeter.handoffs[0]: 3 is not valid: a handoff is an agent name or {agent: name, description: text}"]


def test_repeated_tool_in_an_agent(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [a, a]\n") + "tools:\n  a: {description: x, python: m:f}\n"
    assert text_lines(text, import_code=False) == ["7:16: agents.greeter.tools[1]: 'a' is listed twice"]


def test_bad_names_for_agents_and_variables(text_lines):
    text = "version: 1\nstart: a b\nagents:\n  a b: {description: x, instructions: y}\nvariables:\n  2fast: {default: x}\n"
    assert text_lines(text) == [
        "4:3: agents.a b: 'a b' is not a valid name: an agent name must be 1-52 letters, digits, '_' or '-' (it becomes the tool name transfer_to_<name>)",
        "6:3: variables.2fast: '2fast' is not a valid name: a variable name must be a letter or '_' followed by letters, digits or '_'",
    ]


def test_variable_default_must_fit_its_type(text_lines, minimal):
    text = minimal + "variables:\n  days:\n    type: integer\n    default: thirty\n  tags:\n    default: [a, b]\n"
    assert text_lines(text) == [
        "10:14: variables.days.default: default 'thirty' is not an integer",
        "12:14: variables.tags.default: expected a string, a number or true/false, got a list",
    ]


def test_limits_and_tool_timeouts_must_be_positive(text_lines, minimal):
    text = minimal + "limits:\n  tool_timeout: 0\n  max_session_minutes: 90\n"
    assert text_lines(text) == [
        "8:17: limits.tool_timeout: must be greater than 0, got 0",
        "9:24: limits.max_session_minutes: must be at most 60, got 90",
    ]


def test_the_published_schema_is_valid_draft_07():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert agents_schema() == schema


def test_every_key_in_the_schema_has_a_description():
    schema = agents_schema()
    undocumented = []

    def walk(node, where):
        if not isinstance(node, dict):
            return
        for name, child in node.get("properties", {}).items():
            if "description" not in child and "$ref" not in child:
                undocumented.append(f"{where}.{name}")
            walk(child, f"{where}.{name}")
        for key in ("additionalProperties", "items"):
            walk(node.get(key), f"{where}.{key}")
        for key in ("anyOf", "oneOf"):
            for index, branch in enumerate(node.get(key, ())):
                walk(branch, f"{where}.{key}[{index}]")

    walk(schema, "")
    for name, definition in schema["definitions"].items():
        walk(definition, f"definitions.{name}")
    assert undocumented == []


def test_every_referenced_definition_describes_itself():
    schema = agents_schema()
    for name, definition in schema["definitions"].items():
        assert "description" in definition or "errorMessage" in definition, name


def test_the_example_file_passes_the_raw_schema_too():
    """Editors see the same verdict as runner validate on the example project."""
    data = parse(open("agents.yaml", encoding="utf-8").read()).data
    assert list(Draft7Validator(agents_schema()).iter_errors(data)) == []


def test_schema_defaults_are_the_defaults_the_loader_applies(write, minimal):
    """Editors show the schema's defaults; they must be what a file without the key gets."""
    from runner.config import load
    from runner.config.model import Guardrail, Limits

    schema = agents_schema()
    definitions = schema["definitions"]
    config = load(str(write(minimal))).config
    assert schema["properties"]["model"]["default"] == config.model
    assert schema["properties"]["voice"]["default"] == config.voice
    assert config.state_dir.name == schema["properties"]["state_dir"]["default"]
    session = definitions["session"]["properties"]
    for key in ("noise_reduction", "output_modality", "max_output_tokens", "speed", "input_format", "output_format", "tool_choice"):
        assert session[key]["default"] == getattr(config.session, key), key
    assert session["transcription"]["default"] == {"model": config.session.transcription.model}
    turn = definitions["turn_detection"]["properties"]
    for key in ("type", "create_response", "interrupt_response"):
        assert turn[key]["default"] == getattr(config.session.turn_detection, key), key
    for key, spec in definitions["limits"]["properties"].items():
        assert spec["default"] == getattr(Limits(), key), key
    policy = definitions["guardrail"]["properties"]
    assert policy["global"]["default"] is Guardrail.__dataclass_fields__["applies_to_all"].default
    for key in ("action", "on_error", "timeout", "check_every_chars"):
        assert policy[key]["default"] == Guardrail.__dataclass_fields__[key].default, key
    assert tuple(policy["checks"]["default"]) == Guardrail.__dataclass_fields__["checks"].default
    assert tuple(policy["categories"]["default"]) == Guardrail.__dataclass_fields__["categories"].default


def test_binding_defaults_match_the_schema(write, minimal):
    from runner.config import load

    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [h, m]\n") + (
        "tools:\n  h: {description: x, http: {url: 'https://example.com'}}\n  m: {mcp: {server_url: 'https://example.com/mcp'}}\n"
    )
    config = load(str(write(text))).config
    definitions = agents_schema()["definitions"]
    assert config.tools["h"].binding.method == definitions["http"]["properties"]["method"]["default"]
    assert config.tools["h"].binding.allow_private is definitions["http"]["properties"]["allow_private"]["default"]
    assert config.tools["m"].binding.require_approval == definitions["mcp"]["properties"]["require_approval"]["default"]
    assert dict(config.tools["h"].parameters) == definitions["tool"]["properties"]["parameters"]["default"]


def test_speaks_first_is_a_boolean_or_some_text(text_lines, minimal):
    assert text_lines(minimal + "    speaks_first: 3\n") == ["7:19: agents.greeter.speaks_first: expected true/false or a string, got 3"]
    assert text_lines(minimal + "    speaks_first: ''\n") == ["7:19: agents.greeter.speaks_first: must not be empty"]
