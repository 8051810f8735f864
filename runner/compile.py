"""Compile the config model into GA `session.update` payloads (pure functions).

The session core never builds protocol payloads itself: everything it sends about an
agent is precomputed here, so `runner compile` shows exactly what a session will send.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from jinja2 import TemplateError

from runner.config import interpolate_env, render_instructions, resolve_variables
from runner.config.model import (
    Agent,
    Config,
    LocalMcpBinding,
    McpBinding,
    SessionSettings,
    Tool,
    TurnDetection,
)

AudioFormatType = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
TRANSFER_PREFIX = "transfer_to_"
TRANSFER_REASON_DESCRIPTION = "Why the caller is being transferred, in a few words."
# Refused by the service on a SIP call (the carrier's line has its own levels and timing).
SIP_REFUSED_VAD_KEYS = ("threshold", "prefix_padding_ms", "silence_duration_ms")
Channel = Literal["sip"]


@dataclass(frozen=True, slots=True)
class CompiledAgent:
    """Everything the session core needs to know about one agent, precomputed."""

    name: str
    session: dict[str, Any]  # `session` of the first session.update (includes the voice)
    handoff_session: dict[str, Any]  # the same without audio.output.voice: sent on handoff
    transfers: Mapping[str, str]  # generated transfer tool name -> target agent
    tool_names: frozenset[str]  # local function tools this agent may call
    on_enter: str | None  # instructions for the first response after a handoff to it
    guardrails: tuple[str, ...]  # policy names that apply to it (global first)
    voice: str
    # `response` of the opening response.create when it starts the session and speaks first:
    # {} follows the session's instructions; None: it waits for the caller.
    greeting: dict[str, Any] | None = None
    transfer_to: str | None = None  # a person's tel:/sip: URI this agent stands for on a phone call
    dtmf: Mapping[str, str] = dataclasses.field(default_factory=dict)  # keypad key -> handoff target
    transfers_calls: bool = False  # compiled for a channel that can transfer the call (SIP): a handoff to transfer_to does
    # transfer tool name -> what the target sees of the conversation (keep, reset, summary); absent: keep
    handoff_context: Mapping[str, str] = field(default_factory=dict)
    # hosted MCP server label -> how approval requests are answered: "always", "never" or the tools approved
    mcp_approvals: Mapping[str, Any] = field(default_factory=dict)


class CompileError(ValueError):
    """The config is valid but cannot be compiled with these inputs (variables, environment).

    `messages` holds one line per problem, ready to print.
    """

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def transfer_tool_name(agent_name: str) -> str:
    """Name of the generated tool that hands the conversation to `agent_name`."""
    return f"{TRANSFER_PREFIX}{agent_name}"


def session_update_event(agent: CompiledAgent, *, handoff: bool = False) -> dict[str, Any]:
    """The `session.update` client event for this agent; `handoff` keeps the session's voice."""
    session = agent.handoff_session if handoff else agent.session
    return {"type": "session.update", "session": copy.deepcopy(session)}


def compile_config(
    config: Config,
    *,
    values: Mapping[str, Any] | None = None,
    modality: Literal["audio", "text"] | None = None,
    guardrails_enabled: bool = True,
    environ: Mapping[str, str] | None = None,
    channel: Channel | None = None,
    audio_format: AudioFormatType | None = None,
) -> dict[str, CompiledAgent]:
    """Compile every agent, in file order.

    `values` are the template variables (defaults are used when None); `modality`
    overrides the configured output modality; `audio_format` overrides every agent's
    input and output format (a phone bridge carries one format, so handoffs keep it);
    `environ`, when given, expands `${NAME}`
    in MCP server URLs and headers (otherwise they are shown unexpanded, as in
    `runner compile`).  `channel="sip"` compiles for a phone call through the Realtime
    SIP endpoint (`sip_profile`).  Raises `CompileError` when variables or environment
    are missing or a template fails to render with these values.
    """
    if values is None:
        values, variable_errors = resolve_variables(config, {})
        if variable_errors:
            raise CompileError(variable_errors)
    env_missing: set[str] = set()
    compiled = {
        name: _compile_agent(config, agent, values, modality, guardrails_enabled, environ, env_missing, audio_format)
        for name, agent in config.agents.items()
    }
    if env_missing:
        raise CompileError([f"environment variable {name} is not set" for name in sorted(env_missing)])
    if channel == "sip":
        return {name: sip_profile(agent) for name, agent in compiled.items()}
    return compiled


def sip_profile(agent: CompiledAgent) -> CompiledAgent:
    """The agent for a SIP call: no `audio.*.format` (the carrier negotiates G.711, and a
    forced format gives silence or static), none of the VAD knobs the service refuses on
    SIP, and the start agent answers the call (a caller hears silence otherwise)."""
    return dataclasses.replace(
        agent,
        session=_without_sip_refusals(agent.session),
        handoff_session=_without_sip_refusals(agent.handoff_session),
        greeting=agent.greeting if agent.greeting is not None else {},
        transfers_calls=True,
    )


def _without_sip_refusals(session: dict[str, Any]) -> dict[str, Any]:
    session = copy.deepcopy(session)
    audio = session.get("audio") or {}
    for direction in ("input", "output"):
        (audio.get(direction) or {}).pop("format", None)
    detection = (audio.get("input") or {}).get("turn_detection")
    if isinstance(detection, dict):
        for key in SIP_REFUSED_VAD_KEYS:
            detection.pop(key, None)
    return session


def _compile_agent(
    config: Config,
    agent: Agent,
    values: Mapping[str, Any],
    modality: Literal["audio", "text"] | None,
    guardrails_enabled: bool,
    environ: Mapping[str, str] | None,
    env_missing: set[str],
    audio_format: AudioFormatType | None = None,
) -> CompiledAgent:
    settings = config.session_for(agent)
    if audio_format is not None:
        settings = dataclasses.replace(settings, input_format=audio_format, output_format=audio_format)
    policies = config.guardrails_for(agent) if guardrails_enabled else ()
    checks_user_input = any("user" in policy.checks for policy in policies)
    voice = config.voice_for(agent)
    # a local MCP server's tools are listed when the host starts, and added then (runner/bindings/mcp.py)
    tools = [_tool_payload(config.tools[name], environ, env_missing) for name in agent.tools if not isinstance(config.tools[name].binding, LocalMcpBinding)]
    tools += [_transfer_tool(config, edge.target, edge.description) for edge in agent.handoffs]
    session = {
        "type": "realtime",
        "model": config.model,
        "instructions": _instructions(config, agent, values),
        "output_modalities": [modality or settings.output_modality],
        "audio": {
            "input": _audio_input(settings, create_response=not checks_user_input),
            "output": {"format": _audio_format(settings.output_format), "voice": voice, "speed": settings.speed},
        },
        "tools": tools,
        "tool_choice": settings.tool_choice,
        "max_output_tokens": settings.max_output_tokens,
    }
    handoff_session = copy.deepcopy(session)
    del handoff_session["audio"]["output"]["voice"]
    return CompiledAgent(
        name=agent.name,
        session=session,
        handoff_session=handoff_session,
        transfers={transfer_tool_name(edge.target): edge.target for edge in agent.handoffs},
        tool_names=frozenset(name for name in agent.tools if not isinstance(config.tools[name].binding, (McpBinding, LocalMcpBinding))),
        on_enter=agent.on_enter,
        guardrails=tuple(policy.name for policy in policies),
        voice=voice,
        greeting=_greeting(agent, session["instructions"]),
        transfer_to=agent.transfer_to,
        dtmf=dict(agent.dtmf),
        mcp_approvals={
            name: config.tools[name].binding.approve  # type: ignore[union-attr]
            for name in agent.tools
            if isinstance(config.tools[name].binding, McpBinding)
        },
        handoff_context={
            transfer_tool_name(edge.target): policy
            for edge in agent.handoffs
            if (policy := edge.context or config.agents[edge.target].context) != "keep"
        },
    )


def _greeting(agent: Agent, instructions: str) -> dict[str, Any] | None:
    """Response-level instructions replace the session's, so the greeting text is added to them (as on_enter is)."""
    if not agent.speaks_first:
        return None
    if agent.greeting is None:
        return {}
    return {"instructions": f"{instructions}\n\n{agent.greeting}".strip()}


def _instructions(config: Config, agent: Agent, values: Mapping[str, Any]) -> str:
    """The rendered template; a template is user code, so what it raises is an input problem."""
    try:
        return render_instructions(config, agent, values)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        raise CompileError([f"agents.{agent.name}.instructions: cannot render: {error}"]) from None


def _audio_format(format_type: str) -> dict[str, Any]:
    """GA format object: PCM carries its (only) rate, G.711 formats carry none."""
    if format_type == "audio/pcm":
        return {"type": "audio/pcm", "rate": 24000}
    return {"type": format_type}


def _audio_input(settings: SessionSettings, *, create_response: bool) -> dict[str, Any]:
    transcription = settings.transcription
    transcription_payload = None
    if transcription is not None:
        transcription_payload = {"model": transcription.model}
        if transcription.language is not None:
            transcription_payload["language"] = transcription.language
        if transcription.prompt is not None:
            transcription_payload["prompt"] = transcription.prompt
    noise = settings.noise_reduction
    return {
        "format": _audio_format(settings.input_format),
        "transcription": transcription_payload,
        "noise_reduction": {"type": noise} if noise is not None else None,
        "turn_detection": _turn_detection(settings.turn_detection, create_response=create_response),
    }


def _turn_detection(turn: TurnDetection, *, create_response: bool) -> dict[str, Any] | None:
    """Only the fields the service accepts for this VAD type; an input guardrail holds responses back."""
    if turn.type == "none":
        return None
    payload: dict[str, Any] = {"type": turn.type}
    if turn.type == "server_vad":
        fields = {
            "threshold": turn.threshold,
            "prefix_padding_ms": turn.prefix_padding_ms,
            "silence_duration_ms": turn.silence_duration_ms,
            "idle_timeout_ms": turn.idle_timeout_ms,
        }
    else:
        fields = {"eagerness": turn.eagerness}
    payload.update({key: value for key, value in fields.items() if value is not None})
    payload["create_response"] = turn.create_response and create_response
    payload["interrupt_response"] = turn.interrupt_response
    return payload


def _tool_payload(tool: Tool, environ: Mapping[str, str] | None, env_missing: set[str]) -> dict[str, Any]:
    binding = tool.binding
    if not isinstance(binding, McpBinding):
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": _plain(tool.parameters),
        }
    payload: dict[str, Any] = {
        "type": "mcp",
        "server_label": tool.name,
        "server_url": _expand(binding.server_url, environ, env_missing),
    }
    if binding.description or tool.description:
        payload["server_description"] = binding.description or tool.description
    if binding.allowed_tools:
        payload["allowed_tools"] = list(binding.allowed_tools)
    payload["require_approval"] = binding.require_approval
    if binding.headers:
        payload["headers"] = {key: _expand(value, environ, env_missing) for key, value in binding.headers.items()}
    return payload


def _expand(text: str, environ: Mapping[str, str] | None, env_missing: set[str]) -> str:
    """`${NAME}` stays visible at compile time; a run passes its environment."""
    if environ is None:
        return text
    expanded, missing = interpolate_env(text, environ)
    env_missing.update(missing)
    return expanded


def _transfer_tool(config: Config, target: str, edge_description: str | None) -> dict[str, Any]:
    return {
        "type": "function",
        "name": transfer_tool_name(target),
        "description": edge_description or config.agents[target].description,
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": TRANSFER_REASON_DESCRIPTION}},
            "additionalProperties": False,
        },
    }


def _plain(value: Any) -> Any:
    """Deep-copy a JSON-like value into plain dicts and lists (the model may hold mappings and tuples)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
