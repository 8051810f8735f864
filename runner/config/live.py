"""What an agents file means on GPT-Live, and what of it cannot carry over there.

GPT-Live (`/v1/live/sessions`) fixes the voice, the audio format and the voice model's
prompt for the whole session, decides turns itself and takes instruction appends of at
most 500 tokens: settings written for the Realtime API that it cannot honour are
reported here, located, as warnings (ignored there) or errors (would be refused).
"""

from __future__ import annotations

import math
from typing import Any

from .checks import reachable_agents
from .model import LIVE_MODEL_PREFIX, Agent, Config
from .report import Reporter
from .source import PathKey

APPEND_MAX_TOKENS = 500  # session.instructions.append
INSTRUCTIONS_MAX_TOKENS = 16_384  # session.start's frontend instructions
CHARS_PER_TOKEN = 4  # the usual estimate for English text

# Realtime session settings GPT-Live has no counterpart for, and why.
_NOT_ON_LIVE = {
    "turn_detection": "GPT-Live decides itself when a turn ends and when to stop for a barge-in",
    "transcription": "GPT-Live transcribes both sides itself",
    "noise_reduction": "GPT-Live has no noise-reduction setting",
    "speed": "GPT-Live has no speech-speed setting",
}


def estimated_tokens(text: str) -> int:
    """A token count good enough to warn before the service refuses: UTF-8 bytes over 4."""
    return math.ceil(len(text.encode("utf-8")) / CHARS_PER_TOKEN)


def persona_note(agent: Agent) -> str:
    """The `session.instructions.append` that tells the voice model it now speaks as `agent`."""
    note = f"You are now {agent.name}: {agent.description}"
    return f"{note}\n{agent.on_enter}" if agent.on_enter else note


def check_target(config: Config, data: dict[str, Any], reporter: Reporter) -> None:
    """The model and the target must agree; on GPT-Live, everything that cannot carry over."""
    if config.target == "realtime" and config.model.startswith(LIVE_MODEL_PREFIX):
        reporter.error(("model",), f"'{config.model}' is a GPT-Live model, but the target is realtime", "set target: live, or use a Realtime model such as gpt-realtime-2.1")
    if config.target != "live":
        return
    live = data.get("live") if isinstance(data.get("live"), dict) else {}
    if "model" in live and config.model.startswith(LIVE_MODEL_PREFIX) and live["model"] != config.model:
        reporter.warning(("live", "model"), f"'{live['model']}' is not used: the top-level model '{config.model}' is a GPT-Live model", "keep one of them")
    start = config.agents.get(config.start)
    if start is None:
        return
    reached = reachable_agents(config, start)
    _check_session_keys(config, data, reporter)
    _check_voices(config, start, reached, reporter)
    _check_formats(config, data, start, reached, reporter)
    _check_appends(config, start, reached, reporter)
    _check_guardrails(config, data, reporter)
    limits = data.get("limits")
    if isinstance(limits, dict) and "filler_after" in limits:
        reporter.warning(("limits", "filler_after"), "does not apply on GPT-Live: it acknowledges delegated work aloud by itself", key=True)


def _check_session_keys(config: Config, data: dict[str, Any], reporter: Reporter) -> None:
    blocks: list[tuple[PathKey, Any]] = [(("session",), data.get("session"))]
    agents = data.get("agents") if isinstance(data.get("agents"), dict) else {}
    blocks += [(("agents", name, "session"), raw.get("session")) for name, raw in agents.items() if isinstance(raw, dict)]
    for path, block in blocks:
        if not isinstance(block, dict):
            continue
        for key, why in _NOT_ON_LIVE.items():
            if key in block:
                reporter.warning(path + (key,), f"does not apply on GPT-Live: {why}", "keep it for the realtime target, or remove it", key=True)
        if block.get("output_modality") == "text":
            reporter.warning(path + ("output_modality",), "GPT-Live always speaks: text output does not apply (runner run --text shows its transcript instead)")


def _check_voices(config: Config, start: Agent, reached: set[str], reporter: Reporter) -> None:
    kept = config.voice_for(start)
    for agent in config.agents.values():
        voice = config.voice_for(agent)
        if agent.name not in reached or voice == kept:
            continue
        where: PathKey = ("agents", agent.name, "voice") if agent.voice else ("agents", agent.name)
        reporter.warning(
            where,
            f"voice '{voice}' cannot be used on GPT-Live: the voice is fixed for the whole session, at the start agent's '{kept}'",
            "give every agent the same voice",
            key=not agent.voice,
        )


def _check_formats(config: Config, data: dict[str, Any], start: Agent, reached: set[str], reporter: Reporter) -> None:
    """One format for both directions, set once: a second one, or another agent's, cannot be honoured."""
    kept = config.session_for(start)
    if kept.input_format != kept.output_format:
        candidates: list[PathKey] = [("agents", start.name, "session", key) for key in ("output_format", "input_format")]
        candidates += [("session", key) for key in ("output_format", "input_format")]
        where = next((path for path in candidates if _written(data, path)), ("session",))
        reporter.error(
            where,
            f"GPT-Live uses one audio format for both directions, but input_format is '{kept.input_format}' and output_format '{kept.output_format}'",
            "give both the same format",
        )
    for agent in config.agents.values():
        if agent is start or agent.name not in reached:
            continue
        for key in ("input_format", "output_format"):
            path: PathKey = ("agents", agent.name, "session", key)
            if getattr(config.session_for(agent), key) != getattr(kept, key) and _written(data, path):
                reporter.warning(path, f"does not apply on GPT-Live: the audio format is fixed for the session, at the start agent's '{getattr(kept, key)}'", "give every agent the same format")


def _written(data: Any, path: PathKey) -> bool:
    """Whether the file itself sets the key at `path`."""
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _check_appends(config: Config, start: Agent, reached: set[str], reporter: Reporter) -> None:
    """A handoff appends the target's persona note, and the frontend prompt holds every persona."""
    for agent in config.agents.values():
        if agent is start or agent.name not in reached:
            continue
        tokens = estimated_tokens(persona_note(agent))
        if tokens > APPEND_MAX_TOKENS:
            where: PathKey = ("agents", agent.name, "on_enter") if agent.on_enter else ("agents", agent.name, "description")
            reporter.error(
                where,
                f"a handoff to '{agent.name}' appends its description and on_enter to the voice model's instructions, about {tokens} tokens, "
                f"but GPT-Live takes at most {APPEND_MAX_TOKENS} per append",
                "shorten them; the agent's instructions go to the backend model, which has no such limit",
            )
    frontend = (config.live.instructions or "") + "".join(persona_note(agent) for agent in config.agents.values())
    tokens = estimated_tokens(frontend)
    if tokens > INSTRUCTIONS_MAX_TOKENS:
        reporter.error(("live", "instructions") if config.live.instructions else ("agents",), f"the voice model's instructions (with every persona) are about {tokens} tokens, but GPT-Live takes at most {INSTRUCTIONS_MAX_TOKENS}", key=True)


def _check_guardrails(config: Config, data: dict[str, Any], reporter: Reporter) -> None:
    raw = data.get("guardrails") if isinstance(data.get("guardrails"), list) else []
    indexes = {item.get("name"): index for index, item in reversed(list(enumerate(raw))) if isinstance(item, dict)}
    for policy in config.guardrails.values():
        index = indexes.get(policy.name)
        if index is None:
            continue
        if "user" in policy.checks and policy.action == "block":
            reporter.warning(
                ("guardrails", index, "checks"),
                "on GPT-Live the model answers the caller by itself: a reply cannot be held back until this check passes, "
                "so a trip cuts the reply off with a short sound and a correction instead",
            )
        tokens = estimated_tokens(policy.hint)
        if tokens > APPEND_MAX_TOKENS:
            reporter.error(("guardrails", index, "hint"), f"on GPT-Live the correction after a trip is an instruction append of at most {APPEND_MAX_TOKENS} tokens, but this hint is about {tokens}", "shorten it")
