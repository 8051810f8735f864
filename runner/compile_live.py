"""Compile the config model into GPT-Live client events (pure functions).

GPT-Live fixes the voice, the audio format and the voice model's prompt at
`session.start`; it delegates reasoning and tools to a backend Responses model whose
instructions and tools `session.update` may change. So each YAML agent becomes a
*delegation* (its rendered instructions and tools, for the backend), one frontend prompt
carries every agent's persona, and a handoff is a `session.update` of the delegation
followed by a `session.instructions.append` naming the new agent (protocol reference
§3, option A). `live_client_event_problems` is the strict check of these payloads.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Mapping

from runner.compile import compile_config
from runner.config.live import persona_note
from runner.config.model import Config

Transport = Literal["websocket", "webrtc", "sip"]
DEFAULT_FRONTEND = (
    "You are the voice of a customer-service line. Speak naturally, warmly and briefly. "
    "Delegate every request that needs facts, account details, an action or another team; "
    "never make those up, and say what the delegated work returns in your own words."
)
GREETING_REQUEST = "Greet the caller now."
_NULLABLE_REQUIRED = {"session.instructions.append", "session.thinking.append", "session.commentary.append"}


@dataclass(frozen=True, slots=True)
class LiveAgent:
    """One YAML agent on GPT-Live: the backend delegation it stands for, and its persona."""

    name: str
    delegation: dict[str, Any]  # `delegation.responses` while it is the active agent
    persona: str  # appended to the voice model's instructions on a handoff to it
    transfers: Mapping[str, str]  # generated transfer tool name -> target agent
    tool_names: frozenset[str]  # local function tools the backend may call for it
    guardrails: tuple[str, ...]  # policy names that apply to it (global first)
    greeting: str | None  # what the opening commentary append asks for; None: it waits for the caller
    # `session` of a session.start with this agent in force: the first socket's for the start
    # agent, a reconnect's (a new GPT-Live session) for whoever is active then.
    start_session: dict[str, Any]
    handoff: tuple[dict[str, Any], ...]  # the session.update and instructions append of a handoff to it
    transfer_to: str | None = None  # a person's tel:/sip: URI this agent stands for on a phone call
    dtmf: Mapping[str, str] = field(default_factory=dict)  # keypad key -> handoff target


@dataclass(frozen=True, slots=True)
class LiveProgram:
    """A whole project on GPT-Live: the one `session.start` and every agent's delegation."""

    start: str
    session: dict[str, Any]  # `session` of session.start (the start agent's delegation in it)
    agents: Mapping[str, LiveAgent]


def compile_live(
    config: Config,
    *,
    values: Mapping[str, Any] | None = None,
    guardrails_enabled: bool = True,
    environ: Mapping[str, str] | None = None,
    transport: Transport = "websocket",
) -> LiveProgram:
    """Compile every agent for GPT-Live, in file order.

    Instructions and tools are rendered exactly as for the Realtime target (the same
    `CompileError`s); `transport` other than websocket leaves `audio.format` out, since
    WebRTC and SIP negotiate their media format.
    """
    realtime = compile_config(config, values=values, guardrails_enabled=guardrails_enabled, environ=environ)
    agents = {}
    for name, compiled in realtime.items():
        agent = config.agents[name]
        delegation = _delegation(config, compiled.session)
        persona = persona_note(agent)
        agents[name] = LiveAgent(
            name=name,
            delegation=delegation,
            persona=persona,
            transfers=compiled.transfers,
            tool_names=compiled.tool_names,
            guardrails=compiled.guardrails,
            greeting=(agent.greeting or GREETING_REQUEST) if agent.speaks_first else None,
            start_session=_start_session(config, delegation, transport),
            handoff=(
                {"type": "session.update", "session": {"delegation": {"type": "responses", "responses": delegation}}},
                {"type": "session.instructions.append", "content": persona, "delegation_id": None},
            ),
            transfer_to=agent.transfer_to,
            dtmf=dict(agent.dtmf),
        )
    return LiveProgram(start=config.start, session=agents[config.start].start_session, agents=agents)


def _start_session(config: Config, delegation: Mapping[str, Any], transport: Transport) -> dict[str, Any]:
    """Everything fixed at startup (model, frontend prompt, voice, format) and this delegation."""
    start = config.agents[config.start]
    audio: dict[str, Any] = {}
    if transport == "websocket":
        audio["format"] = _audio_format(config.session_for(start).output_format)
    audio["output"] = {"voice": config.voice_for(start)}
    responses = {"model": config.live.backend_model, **copy.deepcopy(dict(delegation))}
    if config.live.reasoning_effort is not None:
        responses["reasoning"] = {"effort": config.live.reasoning_effort}
    if config.live.verbosity is not None:
        responses["text"] = {"verbosity": config.live.verbosity}
    return {
        "model": config.live_model,
        "instructions": _frontend(config),
        "audio": audio,
        "delegation": {"type": "responses", "responses": responses},
    }


def session_start_event(program: LiveProgram) -> dict[str, Any]:
    """The first client event of a primary WebSocket: the whole session, the start agent in force."""
    return {"type": "session.start", "session": copy.deepcopy(program.session)}


def delegation_update_event(agent: LiveAgent) -> dict[str, Any]:
    """The `session.update` that makes `agent`'s instructions and tools the backend's."""
    return copy.deepcopy(agent.handoff[0])


def persona_append_event(agent: LiveAgent) -> dict[str, Any]:
    """The append that tells the voice model it now speaks as `agent` (session-wide: delegation_id null)."""
    return copy.deepcopy(agent.handoff[1])


def greeting_event(agent: LiveAgent) -> dict[str, Any] | None:
    """The commentary append that makes a speaks-first agent open the call; None when it waits."""
    if agent.greeting is None:
        return None
    return {"type": "session.commentary.append", "content": agent.greeting, "delegation_id": None}


def handoff_events(program: LiveProgram, name: str) -> list[dict[str, Any]]:
    """What a handoff to `name` sends besides the transfer's result: the update, then the append."""
    agent = program.agents[name]
    return [delegation_update_event(agent), persona_append_event(agent)]


def _delegation(config: Config, session: Mapping[str, Any]) -> dict[str, Any]:
    """The Realtime session's instructions and tools, as the backend's (they carry over unchanged)."""
    delegation: dict[str, Any] = {
        "instructions": session["instructions"],
        "tools": copy.deepcopy(session["tools"]),
        "tool_choice": session["tool_choice"],
    }
    if isinstance(session["max_output_tokens"], int):
        delegation["max_output_tokens"] = session["max_output_tokens"]
    return delegation


def _frontend(config: Config) -> str:
    """One prompt for the whole session: it cannot change, so it names every persona up front."""
    personas = "\n".join(f"- {agent.name}: {agent.description}" for agent in config.agents.values())
    return (
        f"{config.live.instructions or DEFAULT_FRONTEND}\n\n"
        f"You speak for {config.name}, as one of these agents:\n{personas}\n"
        f"You start as {config.start}. When an instruction says \"You are now <agent>\", speak as that agent from then on."
    )


def _audio_format(format_type: str) -> dict[str, Any]:
    """One format for both directions: PCM at 24 kHz (the runner's audio path), G.711 at 8 kHz."""
    return {"type": format_type, "rate": 24000 if format_type == "audio/pcm" else 8000}


@lru_cache(maxsize=1)
def _client_event_adapter() -> Any:
    """The SDK's Live client-event union, discriminated on `type` (imported late: it is slow)."""
    from typing import Annotated, Union, get_args

    import pydantic
    from openai.types.live import ClientEvent

    members = get_args(get_args(ClientEvent)[0])
    return pydantic.TypeAdapter(Annotated[Union[members], pydantic.Field(discriminator="type")])


def live_client_event_problems(event: dict[str, Any]) -> list[str]:
    """Every reason GPT-Live would refuse this client event; empty when valid.

    The SDK's Live types, plus what they cannot say: unknown keys (the service's
    objects are strict) and `delegation_id`, which the appends require even when null.
    """
    import pydantic

    from runner.protocol import _extra_keys, _is_union_member

    try:
        model = _client_event_adapter().validate_python(event)
    except pydantic.ValidationError as error:
        problems = []
        for detail in error.errors():
            location = ".".join(str(part) for part in detail["loc"][1:] if not _is_union_member(part))
            problems.append(f"Invalid value at '{location or 'type'}': {detail['msg']}")
        return problems
    problems = [f"Unknown parameter: '{key}'" for key in _extra_keys(model, "")]
    if event.get("type") in _NULLABLE_REQUIRED and "delegation_id" not in event:
        problems.append("Missing required parameter: 'delegation_id' (null for the whole session)")
    return problems
