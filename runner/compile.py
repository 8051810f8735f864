"""Compile the config model into GA `session.update` payloads (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


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
