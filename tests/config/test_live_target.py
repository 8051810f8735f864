"""The GPT-Live target: how it is chosen, its own settings, and located reports of what cannot carry over."""

from __future__ import annotations

from pathlib import Path

from runner.config import load
from runner.config.model import LiveSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"

TWO_AGENTS = """\
version: 1
start: front
agents:
  front:
    description: Greets callers.
    instructions: Say hello.
    handoffs: [orders]
  orders:
    description: Answers questions about orders.
    instructions: Help with orders.
"""


def test_target_defaults_to_realtime_and_follows_a_live_model(write):
    assert load(write(TWO_AGENTS)).config.target == "realtime"
    config = load(write("model: gpt-live-1\n" + TWO_AGENTS)).config
    assert (config.target, config.live_model) == ("live", "gpt-live-1")


def test_live_settings_are_read_and_the_live_model_is_used_beside_a_realtime_one(write):
    text = (
        "model: gpt-realtime-2.1\ntarget: live\n"
        "live:\n  model: gpt-live-1.1\n  backend_model: gpt-5.4\n  reasoning_effort: low\n  verbosity: high\n  instructions: Speak warmly.\n"
        + TWO_AGENTS
    )
    result = load(write(text))
    assert result.problems == []
    config = result.config
    assert config.target == "live"
    assert config.live == LiveSettings(model="gpt-live-1.1", backend_model="gpt-5.4", reasoning_effort="low", verbosity="high", instructions="Speak warmly.")
    assert config.live_model == "gpt-live-1.1"


def test_the_command_line_target_overrides_the_file(write):
    path = write("target: live\n" + TWO_AGENTS)
    assert load(path, target="realtime").config.target == "realtime"
    assert load(write(TWO_AGENTS), target="live").config.target == "live"


def test_live_settings_are_checked_by_the_schema(text_lines):
    lines = text_lines("target: alive\nlive:\n  model: gpt-realtime-2\n  verbosity: loud\n  effort: low\n" + TWO_AGENTS)
    assert lines == [
        "1:9: target: 'alive' is not one of: realtime, live (did you mean 'live'?)",
        "3:10: live.model: 'gpt-realtime-2' is not valid: a GPT-Live model name starts with gpt-live-, such as gpt-live-1",
        "4:14: live.verbosity: 'loud' is not one of: low, medium, high",
        "5:3: live.effort: unknown key 'effort'",
    ]


def test_a_live_model_with_target_realtime_is_an_error(text_lines):
    assert text_lines("model: gpt-live-1\ntarget: realtime\n" + TWO_AGENTS) == [
        "1:8: model: 'gpt-live-1' is a GPT-Live model, but the target is realtime (set target: live, or use a Realtime model such as gpt-realtime-2.1)"
    ]


def test_a_second_live_model_is_not_used(text_lines):
    assert text_lines("model: gpt-live-1.1\nlive:\n  model: gpt-live-1\n" + TWO_AGENTS) == [
        "3:10: live.model: warning: 'gpt-live-1' is not used: the top-level model 'gpt-live-1.1' is a GPT-Live model (keep one of them)"
    ]


def test_realtime_session_settings_that_gpt_live_ignores_are_located(text_lines):
    text = (
        "target: live\n"
        "session:\n"
        "  turn_detection:\n    type: server_vad\n"
        "  transcription:\n    language: en\n"
        "  noise_reduction: near_field\n"
        "  speed: 1.1\n"
        "  output_modality: text\n"
        "limits:\n  filler_after: 3\n"
        + TWO_AGENTS
        + "    session:\n      turn_detection:\n        threshold: 0.6\n"
    )
    assert text_lines(text) == [
        "3:3: session.turn_detection: warning: does not apply on GPT-Live: GPT-Live decides itself when a turn ends and when to stop for a barge-in (keep it for the realtime target, or remove it)",
        "5:3: session.transcription: warning: does not apply on GPT-Live: GPT-Live transcribes both sides itself (keep it for the realtime target, or remove it)",
        "7:3: session.noise_reduction: warning: does not apply on GPT-Live: GPT-Live has no noise-reduction setting (keep it for the realtime target, or remove it)",
        "8:3: session.speed: warning: does not apply on GPT-Live: GPT-Live has no speech-speed setting (keep it for the realtime target, or remove it)",
        "9:20: session.output_modality: warning: GPT-Live always speaks: text output does not apply (runner run --text shows its transcript instead)",
        "11:3: limits.filler_after: warning: does not apply on GPT-Live: it acknowledges delegated work aloud by itself",
        "23:7: agents.orders.session.turn_detection: warning: does not apply on GPT-Live: GPT-Live decides itself when a turn ends and when to stop for a barge-in (keep it for the realtime target, or remove it)",
    ]


def test_another_agents_voice_is_reported_once_in_the_live_wording(text_lines):
    realtime = text_lines(TWO_AGENTS + "    voice: cedar\n")
    assert realtime == [
        "11:12: agents.orders.voice: warning: voice 'cedar' will not be used: the session keeps the start agent's voice 'marin' "
        "(the Realtime API cannot change the voice after the first audio)"
    ]
    assert text_lines("target: live\n" + TWO_AGENTS + "    voice: cedar\n") == [
        "12:12: agents.orders.voice: warning: voice 'cedar' cannot be used on GPT-Live: the voice is fixed for the whole session, "
        "at the start agent's 'marin' (give every agent the same voice)"
    ]


def test_audio_formats_one_for_both_directions_and_none_per_agent(text_lines):
    text = "target: live\nsession:\n  input_format: audio/pcmu\n" + TWO_AGENTS + "    session:\n      output_format: audio/pcma\n"
    assert text_lines(text) == [
        "3:17: session.input_format: GPT-Live uses one audio format for both directions, but input_format is 'audio/pcmu' and output_format 'audio/pcm' (give both the same format)",
        "15:22: agents.orders.session.output_format: warning: does not apply on GPT-Live: the audio format is fixed for the session, at the start agent's 'audio/pcm' (give every agent the same format)",
    ]


def test_a_persona_too_long_for_one_append_is_an_error(text_lines):
    long_intro = "Introduce yourself. " * 120  # 2,400 characters: about 600 tokens
    text = "target: live\n" + TWO_AGENTS + f"    on_enter: {long_intro.strip()}\n"
    assert text_lines(text) == [
        "12:15: agents.orders.on_enter: a handoff to 'orders' appends its description and on_enter to the voice model's instructions, "
        "about 613 tokens, but GPT-Live takes at most 500 per append "
        "(shorten them; the agent's instructions go to the backend model, which has no such limit)"
    ]


def test_guardrails_input_checks_and_long_hints_on_live(text_lines):
    hint = "Say sorry. " * 200
    text = (
        "target: live\n"
        + TWO_AGENTS
        + "guardrails:\n"
        "  - name: no_swearing\n    kind: regex\n    global: true\n    checks: [assistant, user]\n    words:\n      profanity: [darn]\n"
        f"    hint: {hint.strip()}\n"
    )
    assert text_lines(text) == [
        "16:13: guardrails[0].checks: warning: on GPT-Live the model answers the caller by itself: a reply cannot be held back until this check passes, "
        "so a trip cuts the reply off with a short sound and a correction instead",
        "19:11: guardrails[0].hint: on GPT-Live the correction after a trip is an instruction append of at most 500 tokens, but this hint is about 550 (shorten it)",
    ]


def test_the_example_project_on_live_reports_only_what_does_not_carry_over():
    result = load(EXAMPLE, import_code=False, target="live")
    assert result.errors == []
    assert [(problem.path, problem.severity) for problem in result.problems] == [
        ("session.turn_detection", "warning"),
        ("session.transcription", "warning"),
        ("session.noise_reduction", "warning"),
        ("session.speed", "warning"),
        ("limits.filler_after", "warning"),
    ]
