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
from typing import Any, Literal

from runner.core.ending import LAST_LINE_SECONDS
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


def phone_transfer_update(handoff_update: dict[str, Any]) -> dict[str, Any]:
    """A handoff's session.update for an agent that stands for a person: its backend only says the one line."""
    responses = dict(handoff_update["session"]["delegation"]["responses"])
    responses["instructions"] = f"{responses.get('instructions', '')}\n\n{PHONE_TRANSFER_INSTRUCTIONS}".strip()
    responses["tool_choice"] = "none"
    return {"type": "session.update", "session": {"delegation": {"type": "responses", "responses": responses}}}
