"""User turns for the session core: typed text, push-to-talk, server VAD, transcripts.

A user turn ends (typed line, push-to-talk release, VAD speech stop) and starts the
latency record; its reply is created by us (typed, push-to-talk, input policies) or by the
server (VAD with `create_response`).  A new turn makes older input checks stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.core.actions import Action
from runner.core.records import LatencyMeasured, Notice, UserMessage
from runner.core.transcript import Message, TurnLatency

if TYPE_CHECKING:
    from runner.core.session import Session

MIN_COMMIT_MS = 100


class TurnsMixin:
    """Inputs that start or end a user turn."""

    def user_text(self: Session, text: str, now: float) -> list[Action]:
        """A typed user turn: the item now, the response once input policies pass."""
        if self._ended:
            return []
        text = text.strip()
        if self._ending is not None or not text:
            why = "the session is ending" if text else "the message is empty"
            return [Notice(f"typed input ignored: {why}")]
        self._new_user_turn()
        self.transcript.append(Message("user", self._agent.name, text, "done", now, now))
        self._start_turn(now)
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        actions: list[Action] = [*self._states.user_ended(), self.send({"type": "conversation.item.create", "item": item}), UserMessage(text, None)]
        if self._gate.guards_input(self._agent.name):
            return actions + self._gate.gate_user_turn(text)
        return actions + self.request_response("reply")

    def begin_user_turn(self: Session, now: float) -> list[Action]:
        """Push-to-talk pressed: cut the agent off and start from an empty input buffer."""
        if self._ended:
            return []
        self._new_user_turn()
        cut = self._barge_in("barge_in", now, server_cancels=False)
        return [*cut, self.send({"type": "input_audio_buffer.clear"}), *self._states.user_started()]

    def commit_user_turn(self: Session, audio_ms: float, now: float) -> list[Action]:
        """Push-to-talk released: commit the audio and ask for a reply (or wait for the input check)."""
        if self._ended:
            return []
        if audio_ms < MIN_COMMIT_MS:
            hint = f"turn too short ({audio_ms:.0f} ms): hold the key while you speak, at least {MIN_COMMIT_MS} ms"
            return [*self._states.user_idle(), Notice(hint)]
        self._start_turn(now)
        actions: list[Action] = [*self._states.user_ended(), self.send({"type": "input_audio_buffer.commit"})]
        if self._gate.guards_input(self._agent.name):
            return actions  # the response follows the transcript's check
        return actions + self.request_response("reply")

    def interrupt(self: Session, now: float) -> list[Action]:
        """Local barge-in: the server does not know, so the client cancels."""
        if self._ended:
            return []
        self._new_user_turn()
        return self._barge_in("barge_in", now, server_cancels=False)

    def _on_speech_started(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        self._new_user_turn()
        detection = (self._agent.session.get("audio") or {}).get("input", {}).get("turn_detection")
        server_cancels = bool(detection) and detection.get("interrupt_response", True)
        cut = self._barge_in("barge_in", now, server_cancels=server_cancels)
        return [*cut, *self._states.user_started()]

    def _on_user_turn_end(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        self._start_turn(now)
        return list(self._states.user_ended())

    def _on_committed(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        if self._turn is None or self._turn.turn != self._user_turn:
            self._start_turn(now)
        return []

    def _on_item_added(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item = event["item"]
        if item.get("role") != "user" or item["id"] in self._user_items:
            return []
        if not any(isinstance(part, dict) and part.get("type") == "input_audio" for part in item.get("content") or ()):
            return []  # our own typed or re-seeded text: already in the transcript
        message = Message("user", self._agent.name, "", "in_progress", now, item_id=item["id"])
        self._user_items[item["id"]] = message
        self.transcript.append(message)
        return []

    def _on_item_done(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        message = self._user_items.get(event["item"].get("id"))
        if message is not None and message.status == "in_progress":
            message.status = "done"
            message.ended = now
        return []

    def _on_transcription_completed(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event["item_id"]
        message = self._user_items.get(item_id)
        if message is None:
            message = self._user_items[item_id] = Message("user", self._agent.name, "", "done", now, item_id=item_id)
            self.transcript.append(message)
        message.text = event.get("transcript") or ""
        message.status = "done"
        message.ended = message.ended or now
        actions: list[Action] = [UserMessage(message.text, item_id)]
        if self._gate.guards_input(self._agent.name) and self._ending is None:
            actions += self._gate.gate_user_turn(message.text)
        return actions

    def _on_transcription_failed(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        error = event.get("error") or {}
        actions = self._error_record(now, code=error.get("code") or "transcription_failed", message=error.get("message") or "input transcription failed")
        if self._gate.guards_input(self._agent.name) and self._ending is None:
            actions += self._gate.gate_without_transcript()
        return actions

    def _new_user_turn(self) -> None:
        self._user_turn += 1
        self._gate.new_user_turn()

    def _start_turn(self: Session, now: float) -> None:
        self._turn = TurnLatency(len(self.latencies) + 1, now)
        self.latencies.append(self._turn)

    def _first_output(self: Session, now: float) -> LatencyMeasured:
        turn = self._turn
        assert turn is not None
        turn.first_output = now
        return LatencyMeasured(**turn.as_dict())
