"""YAML values become the frozen model: defaults, per-agent session overrides, paths, variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import TemplateError

from runner.config import load, render_instructions, resolve_variables
from runner.config.model import Handoff, McpBinding, PythonBinding, Span, TurnDetection, Variable

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"


def test_the_example_project_is_valid_with_no_problems_at_all():
    result = load(str(EXAMPLE))
    assert [p.format() for p in result.problems] == []
    assert result.ok(strict=True)


def test_the_example_project_maps_onto_the_model():
    config = load(str(EXAMPLE)).config
    assert (config.version, config.name, config.model, config.start, config.voice) == (1, "TechCorp customer service", "gpt-realtime-2.1", "router", "marin")
    assert config.state_dir == EXAMPLE.parent / ".runner"
    assert config.setup == PythonBinding("tools.db", "initialise", Span(str(EXAMPLE), 12, 8))
    assert list(config.agents) == ["router", "support", "sales", "billing", "human"]
    router = config.agents["router"]
    assert router.tools == ("authenticate_user", "lookup_user_profile")
    assert router.handoffs[:1] == (Handoff("support", None, Span(str(EXAMPLE), 63, 9)),)
    assert router.handoffs[3].target == "human"
    assert router.handoffs[3].description == "Escalate to a human colleague who will call the customer back."
    assert router.instructions.startswith("You are the front desk of {{ company_name }}'s")
    assert router.instructions_span == Span(str(EXAMPLE), 51, 7)  # the template's first line
    assert router.span == Span(str(EXAMPLE), 48, 3)
    assert config.agents["support"].on_enter == "Introduce yourself as technical support and ask what is going wrong."
    assert config.variables["refund_window_days"] == Variable("refund_window_days", "integer", 30, "Days after an invoice during which a refund may be approved.", False)
    assert config.session.turn_detection == TurnDetection("semantic_vad", eagerness="auto")
    assert config.session.transcription.language == "en"
    assert config.session.noise_reduction == "near_field"
    assert config.limits.tool_timeout == 10.0 and config.limits.filler_after == 2.0
    assert config.tools["authenticate_user"].timeout == 5.0
    assert config.tools["authenticate_user"].binding.module == "tools.auth"
    assert config.tools["search_knowledge_base"].parameters["properties"]["limit"]["maximum"] == 10
    policies = config.guardrails
    assert list(policies) == ["competitor_mentions", "unauthorised_promises", "brand_voice"]
    assert policies["competitor_mentions"].words == {"competitor": ("Globex", "Initech", "Umbrella Corp", "Hooli")}
    assert policies["unauthorised_promises"].patterns[0].pattern == r"\bguarantee(d|s)?\b"
    assert policies["brand_voice"].classifier_model == "gpt-4.1-mini" and policies["brand_voice"].action == "log"
    assert [g.name for g in config.guardrails_for(router)] == ["competitor_mentions", "unauthorised_promises", "brand_voice"]


def test_defaults_fill_what_the_file_leaves_out(write, minimal):
    path = write(minimal)
    config = load(str(path)).config
    assert (config.model, config.voice, config.name) == ("gpt-realtime-2.1", "marin", "agents")
    assert config.state_dir == path.parent / ".runner"
    assert config.session.turn_detection.type == "semantic_vad"
    assert config.session.transcription.model == "gpt-4o-mini-transcribe"
    assert config.limits.max_session_minutes == 30.0
    assert config.tools == {} and config.guardrails == {} and config.variables == {}
    assert config.agents["greeter"].session is None


def test_agent_session_overrides_merge_over_the_top_level(write):
    config = load(str(write(
        "version: 1\nstart: a\n"
        "session:\n  turn_detection: {type: server_vad, silence_duration_ms: 700, threshold: 0.4}\n"
        "  transcription: {model: whisper-1, language: fr}\n  speed: 1.2\n"
        "agents:\n"
        "  a: {description: x, instructions: y, handoffs: [b, c, d]}\n"
        "  b: {description: x, instructions: y, session: {turn_detection: {silence_duration_ms: 300}, transcription: {language: de}}}\n"
        "  c: {description: x, instructions: y, session: {turn_detection: {type: semantic_vad, eagerness: low}, transcription: off}}\n"
        "  d: {description: x, instructions: y, session: {turn_detection: {type: none}, noise_reduction: far_field}}\n"
    ))).config
    b, c, d = (config.agents[name].session for name in "bcd")
    assert b.turn_detection == TurnDetection("server_vad", threshold=0.4, silence_duration_ms=300)
    assert b.transcription.model == "whisper-1" and b.transcription.language == "de" and b.speed == 1.2
    assert c.turn_detection == TurnDetection("semantic_vad", eagerness="low")
    assert c.transcription is None
    assert d.turn_detection == TurnDetection("none") and d.noise_reduction == "far_field"
    assert config.session_for(config.agents["a"]) is config.session


def test_state_dir_is_resolved_against_the_config_folder(write, minimal):
    assert load(str(write(minimal + "state_dir: ../shared/state\n"))).config.state_dir == write(minimal).parent.parent / "shared" / "state"
    assert load(str(write(minimal + "state_dir: /var/lib/runner\n"))).config.state_dir == Path("/var/lib/runner")


def test_mcp_tool_maps_its_settings(write, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [docs]\n") + (
        "tools:\n  docs:\n    description: Product documentation.\n"
        "    mcp: {server_url: 'https://mcp.example.com/sse', allowed_tools: [search], require_approval: always, headers: {X-Key: '${KEY}'}}\n"
    )
    result = load(str(write(text)), environ={"KEY": "k"})
    tool = result.config.tools["docs"]
    assert isinstance(tool.binding, McpBinding)
    assert (tool.binding.server_url, tool.binding.allowed_tools, tool.binding.require_approval) == ("https://mcp.example.com/sse", ("search",), "always")
    assert tool.binding.headers == {"X-Key": "${KEY}"}


def test_config_is_none_when_there_is_an_error():
    result = load(str(Path(__file__).parent / "fixtures" / "references.yaml"), import_code=False)
    assert result.config is None and not result.ok()


def test_render_instructions_with_defaults_and_overrides():
    config = load(str(EXAMPLE), import_code=False).config
    values, errors = resolve_variables(config, {"company_name": "Initrode", "refund_window_days": "14"})
    assert errors == []
    assert values == {"company_name": "Initrode", "support_hours": "8am to 8pm Eastern, Monday to Saturday", "refund_window_days": 14}
    text = render_instructions(config, "billing", values)
    assert text.startswith("You are Initrode's billing specialist.")
    assert "within 14 days of the invoice date" in text
    assert render_instructions(config, config.agents["human"], values).endswith("tell the caller when to expect it.\n")


def test_resolve_variables_reports_every_mistake(write):
    config = load(str(write(
        "version: 1\nstart: a\nagents:\n  a: {description: x, instructions: '{{ n }} {{ flag }} {{ ratio }} {{ who }}'}\n"
        "variables:\n  n: {type: integer, default: 1}\n  flag: {type: boolean, default: false}\n  ratio: {type: number, default: 0.5}\n  who: {}\n"
    ))).config
    assert resolve_variables(config, {"n": "two", "flag": "perhaps", "ratio": "x", "wh": "me"}) == (
        {},
        [
            "'wh' is not a declared variable (did you mean 'who'?)",
            "variable 'n' must be an integer, got 'two'",
            "variable 'flag' must be true or false, got 'perhaps'",
            "variable 'ratio' must be a number, got 'x'",
            "missing required variable 'who' (give it with --var who=...)",
        ],
    )
    assert resolve_variables(config, {"n": "2", "flag": "yes", "ratio": "1.5", "who": "Ann"}) == ({"n": 2, "flag": True, "ratio": 1.5, "who": "Ann"}, [])
    assert resolve_variables(config, {"who": "Ann", "n": 3, "flag": True}) == ({"n": 3, "flag": True, "ratio": 0.5, "who": "Ann"}, [])


def test_rendering_is_strict_and_sandboxed(write):
    text = (
        "version: 1\nstart: a\nagents:\n  a: {description: x, instructions: '{{ who.__class__ }}', handoffs: [b]}\n"
        "  b: {description: x, instructions: 'Hi {{ who }}'}\nvariables:\n  who: {}\n"
    )
    unsafe = load(str(write(text))).problems
    assert [problem.message for problem in unsafe] == ["cannot render: access to attribute '__class__' of 'str' object is unsafe."]
    config = load(str(write(text.replace("{{ who.__class__ }}", "Hello")))).config
    with pytest.raises(TemplateError, match="^'who' is undefined$"):
        render_instructions(config, "b", {})
    assert render_instructions(config, "b", {"who": "Ann"}) == "Hi Ann"


def test_speaks_first_is_off_unless_the_agent_asks_for_it(write, minimal):
    greeter = load(str(write(minimal))).config.agents["greeter"]
    assert (greeter.speaks_first, greeter.greeting) == (False, None)


def test_speaks_first_true_opens_with_the_agents_own_instructions(write, minimal):
    greeter = load(str(write(minimal + "    speaks_first: true\n"))).config.agents["greeter"]
    assert (greeter.speaks_first, greeter.greeting) == (True, None)


def test_speaks_first_text_is_the_greetings_instructions(write, minimal):
    text = minimal + "    speaks_first: Greet the caller and ask for their phone number.\n"
    greeter = load(str(write(text))).config.agents["greeter"]
    assert (greeter.speaks_first, greeter.greeting) == (True, "Greet the caller and ask for their phone number.")


def test_the_example_router_speaks_first():
    agents = load(str(EXAMPLE)).config.agents
    assert [name for name, agent in agents.items() if agent.speaks_first] == ["router"]
