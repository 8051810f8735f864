"""Keypad presses (DTMF): SIP's `input_audio_buffer.dtmf_event_received`, or a Twilio stream's.

A key the agent's `dtmf` maps to another agent hands off at once; any other key reaches
the model as a typed line. Every press is a `KeyPressed` record (a transcript entry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection, Protocol

from runner.core.actions import Action
from runner.core.records import KeyPressed
from runner.core.tooling import ToolBatches
from runner.core.turns import UserTurns
from runner.core.wiring import Handler

if TYPE_CHECKING:
    from runner.compile import CompiledAgent


class KeypadOwner(Protocol):
    """What the keypad needs of the session."""

    @property
    def agent(self) -> CompiledAgent: ...
    @property
    def ending(self) -> bool: ...


class Keypad:
    """Where a key press leads: a handoff, or a line for the model."""

    def __init__(self, owner: KeypadOwner, *, agents: Collection[str], tools: ToolBatches, turns: UserTurns) -> None:
        self._owner = owner
        self._agents = agents
        self._tools = tools
        self._turns = turns

    def handlers(self) -> dict[str, Handler]:
        return {"input_audio_buffer.dtmf_event_received": self.on_key_event}

    def on_key_event(self, event: dict[str, Any], now: float) -> list[Action]:
        """A keypad press the service detected (SIP)."""
        return self.key_pressed(event["event"], now)

    def key_pressed(self, key: str, now: float) -> list[Action]:
        agent = self._owner.agent
        target = agent.dtmf.get(key)
        pressed = KeyPressed(agent.name, key)
        if target is not None and target in self._agents and target != agent.name and not self._owner.ending:
            return [pressed, *self._tools.hand_off(target, f"the caller pressed {key}", now)]
        return [pressed, *self._turns.user_text(f"(The caller pressed {key} on the keypad.)", now)]
