"""How a session is put together: the policies per agent, audio rates, and the checks that the
driver wired it correctly (programming errors, raised loudly)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from runner.config.model import Guardrail
from runner.core.actions import Action

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

# Server events the core has no use for; anything not listed here or handled is "unknown".
IGNORED_EVENTS = frozenset({
    "session.created", "conversation.created", "conversation.item.retrieved",
    "conversation.item.deleted", "input_audio_buffer.cleared",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.segment", "rate_limits.updated",
    "response.content_part.added", "response.content_part.done",
    "response.function_call_arguments.delta", "mcp_list_tools.in_progress", "mcp_list_tools.completed",
    "mcp_list_tools.failed", "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress", "response.mcp_call.completed", "response.mcp_call.failed",
})
Handler = Callable[[dict[str, Any], float], list[Action]]  # one server event type's handler


class Timer(Protocol):
    """A component that needs waking at a time of its own (the session asks each, in order)."""

    def next_deadline(self) -> float | None:
        """When `tick` is next due; None: no timer now. Any input may move it."""
        ...

    def tick(self, now: float) -> list[Action]:
        """The deadline has passed: what it causes."""
        ...


BYTES_PER_SECOND = {"audio/pcm": 48_000, "audio/pcmu": 8_000, "audio/pcma": 8_000}


def handler_table(*tables: Mapping[str, Handler]) -> dict[str, Handler]:
    """The components' handlers as one table: an event two components handle reaches both, in the order given;
    an ignored event no component handles is dropped without a notice."""
    table: dict[str, Handler] = {}
    for handlers in tables:
        for kind, handler in handlers.items():
            table[kind] = _both(table[kind], handler) if kind in table else handler
    for kind in IGNORED_EVENTS:
        table.setdefault(kind, ignore)
    return table


def _both(first: Handler, second: Handler) -> Handler:
    return lambda event, now: first(event, now) + second(event, now)


def ignore(event: dict[str, Any], now: float) -> list[Action]:
    return []


def policies(agent: CompiledAgent, guardrails: Mapping[str, Guardrail], role: str) -> tuple[Guardrail, ...]:
    return tuple(guardrails[name] for name in agent.guardrails if role in guardrails[name].checks)


def bytes_per_second(agent: CompiledAgent) -> int:
    output = (agent.session.get("audio") or {}).get("output") or {}
    return BYTES_PER_SECOND.get((output.get("format") or {}).get("type", "audio/pcm"), 48_000)


def input_bytes_per_second(agent: CompiledAgent) -> int:
    given = (agent.session.get("audio") or {}).get("input") or {}
    return BYTES_PER_SECOND.get((given.get("format") or {}).get("type", "audio/pcm"), 48_000)


def check_wiring(agents: Mapping[str, CompiledAgent], start: str, guardrails: Mapping[str, Guardrail]) -> None:
    """Programming errors in how the driver built the session: fail loudly, naming the culprit."""
    if start not in agents:
        raise ValueError(f"start agent {start!r} is not among the agents: {', '.join(agents) or 'none'}")
    for name, agent in agents.items():
        for tool, target in agent.transfers.items():
            if target not in agents:
                raise ValueError(f"agent {name!r}: transfer tool {tool!r} targets unknown agent {target!r}")
        for policy in agent.guardrails:
            if policy not in guardrails:
                raise ValueError(f"agent {name!r}: guardrail policy {policy!r} is not among the guardrails given")
