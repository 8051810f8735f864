"""The last line of a GPT-Live call whose service plays the audio (a SIP or WebRTC sideband).

As on Realtime (`ending.py`), ending or transferring while the service still plays the
agent's last line would cut it off. GPT-Live has no playback events, but a sideband gets
the audio the service played reflected back with its place on the session timeline
(`session.output_audio.delta` with `start_ms`/`end_ms`), and the transcript deltas of the
line carry the same timeline. So the line (a goodbye asked for with a commentary append,
or a transfer's short line) is over once a message the model began after it was asked
has closed and the reflected audio has reached that message's end, at most
`LAST_LINE_SECONDS` after the ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

from runner.core.actions import Action, EndSession, Send
from runner.core.ending import GOODBYE_INSTRUCTIONS, LAST_LINE_SECONDS
from runner.core.live_tools import Delegations, LiveAgentSpec
from runner.core.live_transcript import LiveTranscripts
from runner.core.records import CallTransferRequested, KeyPressed, Notice
from runner.core.tooling import PHONE_TRANSFER_INSTRUCTIONS


@dataclass(slots=True)
class LastLine:
    """A line the session ends after: asked for, then said, then played."""

    purpose: Literal["goodbye", "transfer"]
    reason: str  # the end reason once it has played
    deadline: float
    first_segment: int  # the first message number that can be this line (what was being said when it was asked is not)
    transfer_to: str | None = None
    said_ms: int | None = None  # where the line ends on the session timeline, once it has been said


class LastLineWatch:
    """The pending last line and how far the service has played the agent's audio."""

    __slots__ = ("line", "_played_ms")

    def __init__(self) -> None:
        self.line: LastLine | None = None
        self._played_ms = -1

    def ask(self, purpose: Literal["goodbye", "transfer"], reason: str, now: float, *, first_segment: int, transfer_to: str | None = None) -> None:
        self.line = LastLine(purpose, reason, now + LAST_LINE_SECONDS, first_segment, transfer_to)

    def played(self, end_ms: Any) -> None:
        """Reflected output audio: the service has played the agent's audio up to `end_ms`."""
        if isinstance(end_ms, int):
            self._played_ms = max(self._played_ms, end_ms)

    def said(self, segment_number: int, end_ms: int | None) -> None:
        """An assistant message closed: the line, when it began after the ask."""
        line = self.line
        if line is not None and line.said_ms is None and segment_number >= line.first_segment:
            line.said_ms = end_ms or 0

    def due(self, now: float) -> LastLine | None:
        """The line once it was said and played in full, or once the bound is reached; then it is forgotten."""
        line = self.line
        if line is None:
            return None
        if now >= line.deadline or (line.said_ms is not None and self._played_ms >= line.said_ms):
            self.line = None
            return line
        return None


class LivePhone(LiveTranscripts):
    """The call side of `GptLiveSession` (`live.py`): the last line, a person's transfer, keypad presses."""

    _agents: Mapping[str, LiveAgentSpec]
    _attached: bool
    _phone: bool
    _configured: bool
    _ended: bool
    _ending: tuple[str, float] | None
    _last_line: LastLineWatch
    _delegations: Delegations
    send: Callable[[dict[str, Any]], Send]
    user_text: Callable[[str, float], list[Action]]
    _close: Callable[[str, float], list[Action]]

    def handoff_update(self, target: LiveAgentSpec) -> dict[str, Any]:
        """The session.update of a handoff; on a phone call, to an agent standing for a person, one that only says the line."""
        if self._phone and target.transfer_to is not None:
            return phone_transfer_update(target.handoff[0])
        return dict(target.handoff[0])

    def key_pressed(self, key: str, now: float) -> list[Action]:
        """A keypad press (SIP's `transport.dtmf.received`): a key the agent maps hands off, any other is a line for the model."""
        agent = self._agent
        target = agent.dtmf.get(key)
        pressed = KeyPressed(agent.name, key)
        if target is not None and target in self._agents and target != agent.name and not (self._ending or self._last_line.line):
            return [pressed, *self._delegations.hand_off(target, f"the caller pressed {key}")]
        return [pressed, *self.user_text(f"(The caller pressed {key} on the keypad.)", now)]

    def end(self, reason: str, now: float) -> list[Action]:
        """On a call the service plays: a goodbye first, and the end once it was played. Else close the session."""
        return self._say_goodbye(reason, GOODBYE_INSTRUCTIONS, now)

    def _say_goodbye(self, reason: str, instructions: str, now: float) -> list[Action]:
        if self._ended or self._ending:
            return []
        if self._last_line.line is not None:  # asked again while the last line is on its way: end at once
            return self._line_over(self._last_line.line, now)
        if not (self._attached and self._configured):
            return self._close(reason, now)
        actions = self._close_segment(now)  # what is said from here on is the goodbye
        self._last_line.ask("goodbye", reason, now, first_segment=self._segments + 1)
        return actions + [self.send({"type": "session.commentary.append", "content": instructions, "delegation_id": None})]

    def _line_over(self, line: LastLine, now: float) -> list[Action]:
        """The last line was played (or its bound passed): the transfer, or the end."""
        self._last_line.line = None
        if line.purpose == "transfer" and line.transfer_to is not None:
            self._ended = True
            target = line.transfer_to
            return [Notice(f"transferring the call to {target}"), CallTransferRequested(self._agent.name, target), EndSession(line.reason)]
        if self._phone:  # the edge hangs the call up through the sessions API, which ends the session
            self._ended = True
            return [*self._close_segment(now), EndSession(line.reason)]
        return self._close(line.reason, now)

    def _close_segment(self, now: float) -> list[Action]:
        segment = self._segment
        actions = super()._close_segment(now)
        if segment is not None and segment.message.role == "assistant" and segment.message.text:
            self._last_line.said(segment.number, segment.end_ms)
        return actions

    def _on_session_output_audio_delta(self, event: dict[str, Any], now: float) -> list[Action]:
        if self._attached:  # the audio the service played, reflected to the sideband with its place on the timeline
            self._last_line.played(event.get("end_ms"))
            return []
        return super()._on_session_output_audio_delta(event, now)

    def _on_transport_dtmf_received(self, event: dict[str, Any], now: float) -> list[Action]:
        return self.key_pressed(str(event.get("event", "")), now)


def phone_transfer_update(handoff_update: dict[str, Any]) -> dict[str, Any]:
    """A handoff's session.update for an agent that stands for a person: its backend only says the one line."""
    responses = dict(handoff_update["session"]["delegation"]["responses"])
    responses["instructions"] = f"{responses.get('instructions', '')}\n\n{PHONE_TRANSFER_INSTRUCTIONS}".strip()
    responses["tool_choice"] = "none"
    return {"type": "session.update", "session": {"delegation": {"type": "responses", "responses": responses}}}
