"""User turns for the session core: typed text, push-to-talk, server VAD, transcripts.

A user turn ends (typed line, push-to-talk release, VAD speech stop) and starts the
latency record; its reply is created by us (typed, push-to-talk, input policies) or by the
server (VAD with `create_response`).  A new turn makes older input checks stale.
`UserTurns` owns the turn count, the latency records and the user's audio items; what it
needs of the session it asks through `TurnsOwner`.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Protocol

from runner.core.actions import Action, Send
from runner.core.guarding import GuardrailGate
from runner.core.records import LatencyMeasured, Notice, UserMessage
from runner.core.states import StateMachine
from runner.core.transcript import Message, TranscriptEntry, TurnLatency
from runner.core.wiring import Handler, input_bytes_per_second

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

MIN_COMMIT_MS = 100


class TurnsOwner(Protocol):
    """What the user turns need of the session."""

    @property
    def agent(self) -> CompiledAgent: ...
    @property
    def ended(self) -> bool: ...
    @property
    def ending(self) -> bool: ...
    def send(self, event: dict[str, Any]) -> Send: ...
    def note(self, entry: TranscriptEntry) -> None: ...
    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]: ...
    def barge_in(self, now: float, *, server_cancels: bool) -> list[Action]: ...
    def error(self, now: float, *, code: str, message: str) -> list[Action]: ...


class UserTurns:
    """Inputs that start or end a user turn, and the latency of each."""

    def __init__(self, owner: TurnsOwner, gate: GuardrailGate, states: StateMachine) -> None:
        self._owner = owner
        self._gate = gate
        self._states = states
        self.number = 0  # turns the user began; a new one makes older checks stale
        self.current: TurnLatency | None = None  # the latency record of the turn being answered
        self.latencies: list[TurnLatency] = []
        self._user_items: dict[str, Message] = {}
        self._held_bytes: int | None = None  # audio appended since push-to-talk was pressed

    def handlers(self) -> dict[str, Handler]:
        """The server events of the user's side: speech, commits, their items and transcripts."""
        return {
            "input_audio_buffer.speech_started": self.on_speech_started,
            "input_audio_buffer.speech_stopped": self.on_user_turn_end,
            "input_audio_buffer.timeout_triggered": self.on_user_turn_end,
            "input_audio_buffer.committed": self.on_committed,
            "conversation.item.added": self.on_item_added,
            "conversation.item.created": self.on_item_added,
            "conversation.item.done": self.on_item_done,
            "conversation.item.input_audio_transcription.completed": self.on_transcription_completed,
            "conversation.item.input_audio_transcription.failed": self.on_transcription_failed,
        }

    def user_text(self, text: str, now: float) -> list[Action]:
        """A typed user turn: the item now, the response once input policies pass."""
        if self._owner.ended:
            return []
        text = text.strip()
        if self._owner.ending or not text:
            why = "the session is ending" if text else "the message is empty"
            return [Notice(f"typed input ignored: {why}")]
        self.new_turn()
        self._owner.note(Message("user", self._owner.agent.name, text, "done", now, now))
        self.ended_at(now)
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        actions: list[Action] = [*self._states.user_ended(), self._owner.send({"type": "conversation.item.create", "item": item}), UserMessage(text, None)]
        if self._gate.guards_input(self._owner.agent.name):
            return actions + self._gate.gate_user_turn(text)
        return actions + self._owner.request_response("reply")

    def user_audio(self, audio: bytes, now: float) -> list[Action]:
        """Mic, phone or browser audio, already in the session's input format: appended to the input buffer."""
        if self._owner.ended:
            return []
        if self._held_bytes is not None:
            self._held_bytes += len(audio)
        return [self._owner.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode("ascii")})]

    def begin_user_turn(self, now: float) -> list[Action]:
        """Push-to-talk pressed: cut the agent off and start from an empty input buffer."""
        if self._owner.ended:
            return []
        self.new_turn()
        self._held_bytes = 0
        cut = self._owner.barge_in(now, server_cancels=False)
        return [*cut, self._owner.send({"type": "input_audio_buffer.clear"}), *self._states.user_started()]

    def commit_user_turn(self, now: float) -> list[Action]:
        """Push-to-talk released: commit the audio held since the press and ask for a reply (or wait for the input check)."""
        if self._owner.ended:
            return []
        held, self._held_bytes = self._held_bytes or 0, None
        audio_ms = held * 1000 / input_bytes_per_second(self._owner.agent)
        if audio_ms < MIN_COMMIT_MS:
            hint = f"turn too short ({audio_ms:.0f} ms): hold the key while you speak, at least {MIN_COMMIT_MS} ms"
            return [*self._states.user_idle(), Notice(hint)]
        self.ended_at(now)
        actions: list[Action] = [*self._states.user_ended(), self._owner.send({"type": "input_audio_buffer.commit"})]
        if self._gate.guards_input(self._owner.agent.name):
            return actions  # the response follows the transcript's check
        return actions + self._owner.request_response("reply")

    def interrupt(self, now: float) -> list[Action]:
        """Local barge-in: the server does not know, so the client cancels."""
        if self._owner.ended:
            return []
        self.new_turn()
        return self._owner.barge_in(now, server_cancels=False)

    def on_speech_started(self, event: dict[str, Any], now: float) -> list[Action]:
        self.new_turn()
        detection = (self._owner.agent.session.get("audio") or {}).get("input", {}).get("turn_detection")
        server_cancels = bool(detection) and detection.get("interrupt_response", True)
        cut = self._owner.barge_in(now, server_cancels=server_cancels)
        return [*cut, *self._states.user_started()]

    def on_user_turn_end(self, event: dict[str, Any], now: float) -> list[Action]:
        self.ended_at(now)
        return list(self._states.user_ended())

    def on_committed(self, event: dict[str, Any], now: float) -> list[Action]:
        if self.current is None or self.current.turn != self.number:
            self.ended_at(now)
        return []

    def on_item_added(self, event: dict[str, Any], now: float) -> list[Action]:
        item = event["item"]
        if item.get("role") != "user" or item["id"] in self._user_items:
            return []
        if not any(isinstance(part, dict) and part.get("type") == "input_audio" for part in item.get("content") or ()):
            return []  # our own typed or re-seeded text: already in the transcript
        message = Message("user", self._owner.agent.name, "", "in_progress", now, item_id=item["id"])
        self._user_items[item["id"]] = message
        self._owner.note(message)
        return []

    def on_item_done(self, event: dict[str, Any], now: float) -> list[Action]:
        message = self._user_items.get(event["item"].get("id"))
        if message is not None and message.status == "in_progress":
            message.status = "done"
            message.ended = now
        return []

    def on_transcription_completed(self, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event["item_id"]
        message = self._user_items.get(item_id)
        if message is None:
            message = self._user_items[item_id] = Message("user", self._owner.agent.name, "", "done", now, item_id=item_id)
            self._owner.note(message)
        message.text = event.get("transcript") or ""
        message.status = "done"
        message.ended = message.ended or now
        actions: list[Action] = [UserMessage(message.text, item_id)]
        if self._gate.guards_input(self._owner.agent.name) and not self._owner.ending:
            actions += self._gate.gate_user_turn(message.text)
        return actions

    def on_transcription_failed(self, event: dict[str, Any], now: float) -> list[Action]:
        error = event.get("error") or {}
        actions = self._owner.error(now, code=error.get("code") or "transcription_failed", message=error.get("message") or "input transcription failed")
        if self._gate.guards_input(self._owner.agent.name) and not self._owner.ending:
            actions += self._gate.gate_without_transcript()
        return actions

    def new_turn(self) -> None:
        self.number += 1
        self._gate.new_user_turn()

    def ended_at(self, now: float) -> None:
        """The user's turn ended: its latency is measured from now."""
        self.current = TurnLatency(len(self.latencies) + 1, now)
        self.latencies.append(self.current)

    # ---- the latency of the turn being answered ------------------------------------------

    def response_created(self, now: float) -> None:
        if self.current is not None and self.current.response_created is None:
            self.current.response_created = now

    def first_output(self, now: float) -> list[LatencyMeasured]:
        """The first reply output of this turn (audio, text, or the service starting to play)."""
        turn = self.current
        if turn is None or turn.first_output is not None:
            return []
        turn.first_output = now
        return [LatencyMeasured(**turn.as_dict())]

    def interrupted(self) -> None:
        if self.current is not None:
            self.current.interrupted = True

    def tool_time(self, seconds: float) -> None:
        if self.current is not None:
            self.current.tool_seconds += seconds
