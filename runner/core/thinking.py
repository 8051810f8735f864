"""When the thinking sound plays: decided by the core, played by the sinks we own.

The sound fills the wait while a tool runs or a handoff is under way, on the paths where
we play the audio ourselves (devices, WAV, Twilio). It is a cue, not audio: the core only
says `ThinkingStarted(agent)` and `ThinkingStopped()` (records, never a transcript entry),
and a sink mixes its clip between them, never counting it as heard assistant audio.

The rules, applied to the actions of every input:
- off just before the first `Play` (the agent's audio arrived), and once nothing is owed
  or the session ended;
- on with a `RunTool` or a successful `Handoff`, and again when a response (the filler)
  finished while a tool still runs.
"""

from __future__ import annotations

from typing import Protocol

from runner.core.actions import Action, EndSession, Play, RunTool
from runner.core.records import Handoff
from runner.core.sequencer import ResponseSequencer
from runner.core.states import ResponsePhase, StateMachine
from runner.core.tooling import ToolBatches


class CueOwner(Protocol):
    """What the cue needs of the session."""

    @property
    def agent_name(self) -> str: ...
    @property
    def busy(self) -> bool: ...
    @property
    def ended(self) -> bool: ...


class ThinkingCue:
    """Puts the cue's records among the actions of every input (local audio only)."""

    def __init__(self, owner: CueOwner, *, states: StateMachine, tools: ToolBatches, sequencer: ResponseSequencer) -> None:
        self._owner = owner
        self._states = states
        self._tools = tools
        self._seq = sequencer

    def apply(self, actions: list[Action]) -> list[Action]:
        if not self._states.thinking and not self._tools.running and not any(type(action) is Handoff for action in actions):
            return actions  # the common case (every audio delta): nothing starts or stops
        owner = self._owner
        return thinking_cue(actions, self._states, agent=owner.agent_name, tools_running=self._tools.running,
                            responding=self._seq.phase is not ResponsePhase.IDLE, owed=owner.busy and not owner.ended)


def thinking_cue(actions: list[Action], states: StateMachine, *, agent: str, tools_running: bool, responding: bool, owed: bool) -> list[Action]:
    """`actions` with the cue's records put in: the stop before the first Play, a start after what began the wait."""
    cued: list[Action] = []
    ended = False
    for action in actions:
        kind = type(action)
        if kind is Play:
            cued += states.stop_thinking()
        elif kind is EndSession:
            ended = True
            cued += states.stop_thinking()
        cued.append(action)
        if kind is RunTool or (kind is Handoff and action.success):  # type: ignore[union-attr]
            cued += states.think(agent)
    if ended:
        return cued
    if not owed:
        cued += states.stop_thinking()
    elif tools_running and not responding and not any(type(action) is Play for action in actions):
        cued += states.think(agent)
    return cued
