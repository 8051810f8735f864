"""The response lifecycle for the session core: one response, its items and their deltas.

`response.created` to `response.done`: assistant items as they appear, audio to play,
text streamed into the transcript (and into guardrail checks), usage and latency at the
end, and the requests for the next response, queued through the sequencer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.core.actions import Action, Play, Send
from runner.core.playback import StopReason
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
        self._turns.response_created(now)
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
        policies = self._gate.output_policies[agent]
        item = ItemState(message, response, policies, [p.check_every_chars for p in policies], self._turns.number, self._turns.current)
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
        if item.muted or item.audio_done or not self._playback.local:
            return []  # cut, past its end, or played by the service (WebRTC, SIP)
        return [*self._playback.play(item), *self._turns.first_output(now), Play(item_id, delta)]

    def _on_audio_done(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item = self._items.get(event["item_id"])
        return [] if item is None else self._playback.audio_complete(item)

    def _on_remote_audio_started(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        """The service started playing a response (WebRTC, SIP): the first output the caller hears."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        return [*self._states.agent_audible(None), *self._turns.first_output(now)]

    def _on_remote_audio_stopped(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        """Played out, or cleared on barge-in: the service truncates the item itself."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        return list(self._states.agent_silent())

    def _on_text_delta(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event["item_id"]
        item = self._items.get(item_id) or self._new_item(item_id, event.get("response_id"), now)
        if item.muted:
            return []
        delta = event["delta"]
        message = item.message
        message.text += delta
        actions: list[Action] = [AssistantDelta(message.agent, item_id, delta)]
        if self._output is Output.TEXT:
            actions += self._turns.first_output(now)
        if item.policies:
            self._gate.streaming_checks(item, actions)
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
        playing = self._playback.is_audible(item)
        item.entry = "owed" if playing else "written"
        actions: list[Action] = [AssistantMessage(message.agent, item_id, message.text, heard_ms=message.heard_ms, playing=playing)]
        if item.policies:
            self._gate.final_checks(item, actions)
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
                actions += self._playback.audio_complete(item)
                if item.message.status == "in_progress":
                    item.message.status = "done" if status in ("completed", "incomplete") and not item.muted else "interrupted"
                    item.message.ended = now
            if state.request is not None and state.request.purpose == "greeting":
                self._greeting = "given"
            if state.request is not None and state.request.purpose == "goodbye":
                return actions + [self._close(self._ending or "ended")]
        actions += self._tools.response_done(response_id or "", now)
        return actions + self._seq.flush()

    # ---- cutting a response off -------------------------------------------------------

    def _barge_in(self: Session, reason: StopReason, now: float, *, server_cancels: bool) -> list[Action]:
        actions = self._playback.stop(reason)
        response = self._current
        if response is not None and response.active and not response.muted:
            self._mute(response)
            self._turns.interrupted()
            if not server_cancels:
                actions.append(self._cancel(response))
            for item in response.items:  # audible items are reported once playback has stopped
                if not self._playback.is_audible(item):
                    actions += self._playback.cut_unplayed(item)
        return actions

    def cut(self: Session, response: ResponseState) -> list[Action]:
        """Silence the rest of `response` and cancel it (a guardrail blocked it)."""
        self._mute(response)
        return [] if response.cancel_sent else [self._cancel(response)]

    def _mute(self: Session, response: ResponseState) -> None:
        response.muted = True
        for item in response.items:
            item.muted = True
            if item.message.status == "in_progress":
                item.message.status = "interrupted"

    def _cancel(self: Session, response: ResponseState) -> Send:
        response.cancel_sent = True
        cancel = self.send({"type": "response.cancel", "response_id": response.id})
        self._cancel_event_ids.add(cancel.event["event_id"])
        return cancel

    # ---- asking for responses ----------------------------------------------------------

    def request_response(self: Session, purpose: str, response: dict[str, Any] | None = None) -> list[Action]:
        """Ask for a response through the sequencer; once ending, only the goodbye goes out."""
        if self._ending is not None and purpose != "goodbye":
            return []
        return list(self._seq.request(ResponseRequest(purpose, response or {})))

    def _owed_request(self: Session) -> ResponseRequest:
        if self._ending is None:
            return ResponseRequest("reply")
        return ResponseRequest("goodbye", {"instructions": self._goodbye_instructions, "tool_choice": "none"})

    def say_goodbye(self: Session, reason: str, instructions: str) -> list[Action]:
        if self._ending is not None:
            return []
        self._ending = reason
        self._goodbye_instructions = instructions
        self._seq.drop_pending()
        return self.request_response("goodbye", {"instructions": instructions, "tool_choice": "none"})
