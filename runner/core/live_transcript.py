"""GPT-Live's transcripts grouped into messages, and the audio of the replies we play.

Transcript deltas carry no turn ids and no done event (protocol notes §2): a message is
one speaker's deltas, closed when the other side speaks, after `SEGMENT_GAP` without a
delta (the session's `tick`), or at a gap that long on the session timeline however fast
the deltas came. A mixin of `GptLiveSession` (`live.py`), which also closes the open
message when the model delegates and at a handoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from runner.core.actions import Action, Play
from runner.core.live_guard import LiveGuard
from runner.core.live_playback import LivePlayback
from runner.core.live_tools import LiveAgentSpec
from runner.core.records import AssistantDelta, AssistantMessage, LatencyMeasured, UserMessage
from runner.core.transcript import Message, ToolCall, TranscriptEntry, TurnLatency

SEGMENT_GAP = 0.8  # seconds without a transcript delta that end a speaker's message


@dataclass(slots=True)
class Segment:
    """One speaker's message being transcribed; closes on a change of speaker or a gap."""

    message: Message
    last: float
    checked: int = 0  # characters already sent to streaming guardrail checks
    end_ms: int | None = None  # where its last transcript delta ends on the session timeline
    number: int = 0  # its place among the session's messages


class LiveTranscripts:
    """The transcript and output-audio events of `GptLiveSession`, over the state it declares here."""

    session_id: str
    transcript: list[TranscriptEntry]
    note: Callable[[TranscriptEntry], None]
    _agent: LiveAgentSpec
    _audio: bool
    _guard: LiveGuard
    _playback: LivePlayback
    _latencies: list[TurnLatency]
    _segment: Segment | None
    _segments: int
    _users: int
    _reply: bool

    def _on_session_output_transcript_delta(self, event: dict[str, Any], now: float) -> list[Action]:
        actions = self._speaker("assistant", now, event)
        segment = self._segment
        assert segment is not None
        delta = str(event.get("delta", ""))
        segment.message.text += delta
        segment.last = now
        actions.append(AssistantDelta(segment.message.agent, str(segment.message.item_id), delta))
        if self._latencies and self._latencies[-1].first_output is None:
            self._latencies[-1].first_output = now
            actions.append(LatencyMeasured(**self._latencies[-1].as_dict()))
        every = min((policy.check_every_chars for policy in self._guard.policies(self._agent.guardrails, "assistant")), default=0)
        if every and len(segment.message.text) - segment.checked >= every:
            segment.checked = len(segment.message.text)
            actions += self._guard.checks_for(self._agent.guardrails, "assistant", segment.message, final=False)
        return actions

    def _on_session_input_transcript_delta(self, event: dict[str, Any], now: float) -> list[Action]:
        actions = self._speaker("user", now, event)
        assert self._segment is not None
        self._segment.message.text += str(event.get("delta", ""))
        self._segment.last = now
        return actions

    def _on_session_output_audio_delta(self, event: dict[str, Any], now: float) -> list[Action]:
        if not self._audio:
            return []
        actions = self._speaker("assistant", now)
        assert self._segment is not None
        item_id = str(self._segment.message.item_id)
        self._playback.queued(item_id)
        return actions + [Play(item_id, str(event.get("delta", "")))]

    def _speaker(self, role: str, now: float, delta: Mapping[str, Any] | None = None) -> list[Action]:
        """The open segment of this speaker; a change of speaker, or a gap on the session timeline
        before this transcript `delta` (however fast the deltas came), closes the open one first."""
        actions: list[Action] = []
        segment = self._segment
        start_ms, end_ms = (delta.get("start_ms"), delta.get("end_ms")) if delta is not None else (None, None)
        if segment is not None and (segment.message.role != role or timeline_gap(segment.end_ms, start_ms)):
            actions += self._close_segment(now)
        if self._segment is None:
            self._segments += 1
            agent = self._agent.name
            message = Message(role, agent, "", "in_progress", now, item_id=f"live_{self.session_id}_{self._segments}")  # type: ignore[arg-type]
            self._segment = Segment(message, now, number=self._segments)
            self.note(message)
        if isinstance(end_ms, int):
            self._segment.end_ms = end_ms
        return actions

    def _close_segment(self, now: float) -> list[Action]:
        segment, self._segment = self._segment, None
        if segment is None:
            return []
        message = segment.message
        message.status, message.ended = "done", now
        if message.role == "user":
            self._users += 1
            self._latencies.append(TurnLatency(self._users, now))
            self._reply = True
            return [UserMessage(message.text, message.item_id), *self._guard.checks_for(self._agent.guardrails, "user", message, final=True)]
        heard = self._playback.complete(str(message.item_id))
        if not message.text:  # audio without words: played, but no message of the transcript
            self.transcript.remove(message)
            return heard
        self._reply = False
        return [*heard, AssistantMessage(message.agent, message.item_id, message.text),
                *self._guard.checks_for(self._agent.guardrails, "assistant", message, final=True)]


def timeline_gap(last_end_ms: int | None, start_ms: Any) -> bool:
    """A silence of SEGMENT_GAP or more on the session timeline, or the timeline starting over (a new session)."""
    if last_end_ms is None or not isinstance(start_ms, int):
        return False
    return start_ms - last_end_ms >= SEGMENT_GAP * 1000 or start_ms < last_end_ms - SEGMENT_GAP * 1000


def initial_item(entry: TranscriptEntry) -> dict[str, Any] | None:
    """A transcript entry as startup history: messages as they were, a tool's result as developer text."""
    if isinstance(entry, Message) and entry.text and entry.blocked_by is None:
        part_type = "input_text" if entry.role == "user" else "output_text"
        return {"type": "message", "role": entry.role, "content": [{"type": part_type, "text": entry.text}]}
    if isinstance(entry, ToolCall) and entry.status != "running":
        result = entry.output if entry.error is None else f"error: {entry.error}"
        text = f"The {entry.name} tool was called with {entry.arguments} and returned {result}"
        return {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]}
    return None

