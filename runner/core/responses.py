"""The response lifecycle for the session core: one response, its items and their deltas.

`response.created` to `response.done`: assistant items as they appear, audio to play,
text streamed into the transcript (and into guardrail checks), usage and latency at the
end, and the requests for the next response, queued through the sequencer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.core.actions import Action, AudioComplete, Play
from runner.core.records import AssistantDelta, AssistantMessage, UsageUpdated
from runner.core.transcript import Message
from runner.core.sequencer import ResponseRequest
from runner.core.state import ItemState, ResponseState
from runner.core.states import Output

if TYPE_CHECKING:
    from runner.core.session import Session


class ResponsesMixin:
    """Response events in, playback, transcript, usage and follow-up requests out."""

    def _on_response_created(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        response_id = event["response"]["id"]
        state = ResponseState(response_id, self._agent.name, self._seq.created())
        self._responses[response_id] = state
        self._current = state
        self._states.response_created()
        if self._turn is not None and self._turn.response_created is None:
            self._turn.response_created = now
        return []

    def _on_output_item_added(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item = event["item"]
        if item.get("type") == "message" and item["id"] not in self._items:
            self._new_item(item["id"], event.get("response_id"), now)
        return []

    def _new_item(self: Session, item_id: str, response_id: str | None, now: float) -> ItemState:
        response = self._responses.get(response_id) if response_id else None
        agent = response.agent if response is not None else self._agent.name
        message = Message("assistant", agent, "", "in_progress", now, item_id=item_id, response_id=response_id)
        policies = self._output_policies[agent]
        item = ItemState(message, response, policies, [p.check_every_chars for p in policies], self._user_turn, self._turn)
        if response is not None:
            item.muted = response.muted
            response.items.append(item)
        self._items[item_id] = item
        self.transcript.append(message)
        return item

    def _on_audio_delta(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event["item_id"]
        item = self._items.get(item_id) or self._new_item(item_id, event.get("response_id"), now)
        delta = event["delta"]
        item.received_bytes += len(delta) * 3 // 4 - (2 if delta.endswith("==") else 1 if delta.endswith("=") else 0)
        if item.muted or item.audio_done or not self._local_audio:
            return []  # cut, past its end, or played by the service (WebRTC, SIP)
        self._audible[item_id] = item
        item.played = True
        actions = self._states.agent_audible(item_id)
        if self._turn is not None and self._turn.first_output is None:
            actions.append(self._first_output(now))
        return [*actions, Play(item_id, delta)]

    def _on_audio_done(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item = self._items.get(event["item_id"])
        return [] if item is None else self._audio_complete(item)

    def _audio_complete(self: Session, item: ItemState) -> list[Action]:
        """No more audio for `item`: playback reports it finished once the queued audio is heard."""
        if item.audio_done:
            return []
        item.audio_done = True
        item_id = item.message.item_id
        return [AudioComplete(item_id)] if item.played and item_id in self._audible else []

    def _on_text_delta(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event["item_id"]
        item = self._items.get(item_id) or self._new_item(item_id, event.get("response_id"), now)
        if item.muted:
            return []
        delta = event["delta"]
        message = item.message
        message.text += delta
        actions: list[Action] = [AssistantDelta(message.agent, item_id, delta)]
        if self._output is Output.TEXT and self._turn is not None and self._turn.first_output is None:
            actions.append(self._first_output(now))
        if item.policies:
            self._streaming_checks(item, actions)
        return actions

    def _on_text_done(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event["item_id"]
        item = self._items.get(item_id) or self._new_item(item_id, event.get("response_id"), now)
        if item.muted:
            return []
        message = item.message
        final = event.get("transcript", event.get("text"))
        if final is not None:
            message.text = final
        # Still playing: the transcript entry follows as `Heard` or `Interrupted` once
        # playback tells how much was heard.
        playing = item_id in self._audible
        item.entry = "owed" if playing else "written"
        actions: list[Action] = [AssistantMessage(message.agent, item_id, message.text, heard_ms=message.heard_ms, playing=playing)]
        if item.policies:
            self._final_checks(item, actions)
        return actions

    def _on_output_item_done(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item = self._items.get(event["item"].get("id"))
        if item is not None and item.message.status == "in_progress":
            item.message.status = "done"
            item.message.ended = now
        return []

    def _on_response_done(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        response = event["response"]
        response_id = response.get("id")
        status = response.get("status")
        state = self._responses.pop(response_id, None)
        self._seq.finished()
        if self._current is state:
            self._current = None
        actions: list[Action] = []
        if response.get("usage"):
            self.usage.add(response["usage"])
            actions.append(UsageUpdated(**self.usage.as_dict()))
        if status == "failed":
            error = (response.get("status_details") or {}).get("error") or {}
            actions += self._error_record(now, code=error.get("code") or "response_failed", message=error.get("message") or "the response failed")
        if state is not None:
            state.active = False
            for item in state.items:
                actions += self._audio_complete(item)
                if item.message.status == "in_progress":
                    item.message.status = "done" if status in ("completed", "incomplete") and not item.muted else "interrupted"
                    item.message.ended = now
            if state.request is not None and state.request.purpose == "greeting":
                self._greeting = "given"
            if state.request is not None and state.request.purpose == "goodbye":
                return actions + [self._close(self._ending or "ended")]
        batch = self._batches.get(response_id)
        if batch is not None:
            batch.response_done = True
            actions += self._finish_batch(batch, now)
        return actions + self._seq.flush()

    def _request_response(self: Session, purpose: str, response: dict[str, Any] | None = None) -> list[Action]:
        """Ask for a response through the sequencer; once ending, only the goodbye goes out."""
        if self._ending is not None and purpose != "goodbye":
            return []
        return list(self._seq.request(ResponseRequest(purpose, response or {})))

    def _owed_request(self: Session) -> ResponseRequest:
        if self._ending is None:
            return ResponseRequest("reply")
        return ResponseRequest("goodbye", {"instructions": self._goodbye_instructions, "tool_choice": "none"})

    def _say_goodbye(self: Session, reason: str, instructions: str) -> list[Action]:
        if self._ending is not None:
            return []
        self._ending = reason
        self._goodbye_instructions = instructions
        self._seq.drop_pending()
        return self._request_response("goodbye", {"instructions": instructions, "tool_choice": "none"})
