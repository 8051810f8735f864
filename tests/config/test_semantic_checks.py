"""Checks across the config: names, the handoff graph, voices, templates, tool schemas, guardrails."""

from __future__ import annotations


def test_references_to_things_that_do_not_exist(fixture_lines):
    assert fixture_lines("references.yaml", import_code=False) == [
        "2:8: start: unknown agent 'routr' (did you mean 'router'?)",
        "7:13: agents.router.tools[0]: unknown tool 'lookup_ordr' (did you mean 'lookup_order'?)",
        "8:16: agents.router.handoffs[0]: unknown agent 'suport' (did you mean 'support'?)",
        "8:24: agents.router.handoffs[1]: an agent cannot hand off to itself",
        "9:18: agents.router.guardrails[0]: unknown guardrail 'brand' (did you mean 'brand_voice'?)",
        "13:24: agents.support.handoffs[1]: the handoff to 'router' is listed twice",
        "15:3: tools.lookup_order: warning: tool 'lookup_order' is not used by any agent (list it in an agent's tools)",
    ]


def test_handoff_object_to_unknown_agent_is_located_at_its_name(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    handoffs:\n      - agent: billing\n        description: Money questions.\n")
    assert text_lines(text) == ["8:16: agents.greeter.handoffs[0]: unknown agent 'billing'"]


def test_tool_names_clash_with_generated_transfers_and_must_fit_the_api(fixture_lines):
    assert fixture_lines("tool_names.yaml", import_code=False) == [
        "13:3: tools.transfer_to_support: tool name 'transfer_to_support' clashes with the handoff tool generated for agent 'support' (rename the tool)",
        "16:3: tools.look up: 'look up' is not a valid name: a tool name must be 1-64 letters, digits, '_' or '-' (the API's rule for function names)",
    ]


def test_tool_name_longer_than_the_api_allows(text_lines, minimal):
    name = "t" * 65
    text = minimal.replace("Say hello.\n", f"Say hello.\n    tools: [{name}]\n") + f"tools:\n  {name}: {{description: x, python: m:f}}\n"
    assert text_lines(text, import_code=False) == [
        f"9:3: tools.{name}: '{name}' is not a valid name: a tool name must be 1-64 letters, digits, '_' or '-' (the API's rule for function names)",
    ]


def test_graph_warnings_unreachable_voice_unused(fixture_lines):
    assert fixture_lines("graph_warnings.yaml", import_code=False) == [
        "12:12: agents.support.voice: warning: voice 'cedar' will not be used: the session keeps the start agent's voice 'marin' "
        "(the Realtime API cannot change the voice after the first audio)",
        "13:3: agents.archive: warning: agent 'archive' cannot be reached from the start agent 'router' (add a handoff to it)",
        "17:3: tools.spare: warning: tool 'spare' is not used by any agent (list it in an agent's tools)",
        "21:11: guardrails[0].name: warning: guardrail 'calm' applies to no agent (list it in an agent's guardrails or set global: true)",
    ]


def test_voice_inherited_from_the_top_differs_from_the_start_agents_own(text_lines):
    text = (
        "version: 1\nstart: a\nvoice: marin\nagents:\n"
        "  a: {description: x, instructions: y, voice: cedar, handoffs: [b]}\n"
        "  b: {description: x, instructions: y}\n"
    )
    assert text_lines(text) == [
        "6:3: agents.b: warning: voice 'marin' will not be used: the session keeps the start agent's voice 'cedar' "
        "(the Realtime API cannot change the voice after the first audio)",
    ]


def test_warnings_fail_only_in_strict_mode(write):
    from runner.config import load

    result = load(str(write("version: 1\nstart: a\nagents:\n  a: {description: x, instructions: y}\n  b: {description: x, instructions: y}\n")))
    assert [p.severity for p in result.problems] == ["warning"]
    assert result.ok() and not result.ok(strict=True)
    assert result.config is not None and result.errors == [] and len(result.warnings) == 1


def test_invalid_tool_parameter_schemas(fixture_lines):
    assert fixture_lines("parameters.yaml", import_code=False) == [
        "15:17: tools.find.parameters.properties.query.type: 'strin' is not a JSON Schema type (did you mean 'string'?)",
        "21:13: tools.count.parameters.type: parameters must have type: object (the model passes arguments as one object)",
        "29:22: tools.pick.parameters.properties.choice.minLength: not a valid JSON Schema: must be at least 0, got -1",
    ]


def test_required_parameter_missing_from_properties(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [find]\n") + (
        "tools:\n  find:\n    description: Find.\n    parameters:\n      type: object\n"
        "      properties:\n        query: {type: string}\n      required: [querry]\n    python: m:f\n"
    )
    assert text_lines(text, import_code=False) == ["15:18: tools.find.parameters.required[0]: required 'querry' is not in properties (did you mean 'query'?)"]


def test_parameters_without_type(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [find]\n") + (
        "tools:\n  find:\n    description: Find.\n    parameters:\n      properties: {}\n    python: m:f\n"
    )
    assert text_lines(text, import_code=False) == ["11:5: tools.find.parameters: parameters must have type: object (the model passes arguments as one object)"]


def test_template_errors_at_the_line_of_the_file(fixture_lines):
    assert fixture_lines("templates.yaml") == [
        "11:7: agents.router.instructions: undefined variable 'opening_hours' (declare it under variables)",
        "12:7: agents.router.instructions: unknown filter 'shout' (did you mean 'sort'?)",
        "18:7: agents.support.instructions: template syntax error: Unexpected end of template. Jinja was looking for the following "
        "tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
    ]


def test_misspelt_variable_in_a_template_gets_a_suggestion(text_lines):
    text = (
        "version: 1\nstart: a\nvariables:\n  company_name: {default: ACME}\nagents:\n  a:\n    description: x\n"
        "    instructions: |\n      Hello.\n      {% for i in range(2) %}{{ compny_name }}{% endfor %}\n"
    )
    assert text_lines(text) == ["10:7: agents.a.instructions: undefined variable 'compny_name' (did you mean 'company_name'?)"]


def test_template_on_one_line_points_at_the_value(text_lines):
    text = "version: 1\nstart: a\nagents:\n  a:\n    description: x\n    instructions: 'Hi {{ who }}'\n"
    assert text_lines(text) == ["6:19: agents.a.instructions: undefined variable 'who' (declare it under variables)"]


def test_guardrail_settings(fixture_lines):
    assert fixture_lines("regex_guardrails.yaml") == [
        "12:30: guardrails[0].patterns[0].pattern: pattern does not compile: missing ), unterminated subpattern",
        "18:5: guardrails[1].patterns: 'patterns' does not apply to a moderation guardrail (it is for regex)",
        "22:7: guardrails[1].thresholds.violance: unknown moderation category 'violance' (did you mean 'violence'?)",
        "25:17: guardrails[2].categories: warning: categories do not include NONE, so every check trips",
        "28:11: guardrails[3].kind: a regex guardrail needs patterns or words",
    ]


def test_guardrail_defined_twice_and_classifier_without_instructions(text_lines, minimal):
    text = minimal + (
        "guardrails:\n  - {name: tone, kind: classifier, global: true}\n"
        "  - {name: tone, kind: regex, words: {rude: [idiot]}, global: true}\n"
    )
    assert text_lines(text) == [
        "8:24: guardrails[0].kind: a classifier guardrail needs instructions saying what is off limits",
        "9:12: guardrails[1].name: guardrail 'tone' is defined twice (the first is at line 8)",
    ]


def test_regex_pattern_in_double_quotes_points_at_the_value(text_lines, minimal):
    text = minimal + 'guardrails:\n  - name: p\n    kind: regex\n    global: true\n    patterns:\n      - {pattern: "a[b", category: c}\n'
    assert text_lines(text) == ["12:21: guardrails[0].patterns[0].pattern: pattern does not compile: unterminated character set"]


def test_turn_detection_settings_must_fit_the_type(text_lines, minimal):
    text = minimal + "session:\n  turn_detection:\n    type: server_vad\n    eagerness: low\n    threshold: 0.6\n    treshold: 0.5\n"
    assert text_lines(text) == [
        "10:5: session.turn_detection.eagerness: 'eagerness' applies to semantic_vad only, but type is server_vad",
        "12:5: session.turn_detection.treshold: unknown key 'treshold' (did you mean 'threshold'?)",
    ]


def test_agent_turn_detection_inherits_the_top_level_type(text_lines):
    text = (
        "version: 1\nstart: a\nsession:\n  turn_detection: {type: server_vad}\nagents:\n"
        "  a: {description: x, instructions: y, session: {turn_detection: {eagerness: high}}}\n"
    )
    assert text_lines(text) == ["6:67: agents.a.session.turn_detection.eagerness: 'eagerness' applies to semantic_vad only, but type is server_vad"]


FORMATS_SWITCH = """\
version: 1
name: Phone line
model: gpt-realtime
start: front
session:
  input_format: audio/pcmu
  output_format: audio/pcmu
agents:
  front:
    description: Takes the call.
    instructions: Greet.
    handoffs: [desk]
  desk:
    description: Helps.
    instructions: Help.
    session:
      output_format: audio/pcm
"""


def test_a_handoff_that_would_switch_the_audio_format_mid_call_is_a_warning_at_the_format(text_lines):
    assert text_lines(FORMATS_SWITCH, import_code=False) == [
        "17:22: agents.desk.session.output_format: warning: output_format 'audio/pcm' differs from the start agent's 'audio/pcmu': "
        "a handoff to 'desk' would switch formats mid-call, while the audio path stays in 'audio/pcmu' "
        "(give every agent the same input_format and output_format)",
    ]
    same = FORMATS_SWITCH.replace("    session:\n      output_format: audio/pcm\n", "")
    assert text_lines(same, import_code=False) == []
