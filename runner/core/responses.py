"""The response lifecycle for the session core: one response, its items and their deltas.

`response.created` to `response.done`: assistant items as they appear, audio to play,
text streamed into the transcript (and into guardrail checks), usage and latency at the
end, and barge-in (mute, cancel, cut).  `Responses` owns the responses and items; the
session asks for the next response through the sequencer, and hears of each finished
one through `ResponsesOwner.finished`.
"""

from __future__ import annotations

from typing import Any, Protocol

from runner.core.actions import Action, Play, Send
from runner.core.context import SUMMARY_PURPOSE
from runner.core.guarding import GuardrailGate
from runner.core.playback import Playback, StopReason
from runner.core.records import AssistantDelta, AssistantMessage, UsageUpdated
from runner.core.sequencer import ResponseRequest, ResponseSequencer
from runner.core.state import ItemState, ResponseState
from runner.core.states import Output, StateMachine
from runner.core.tooling import ToolBatches
from runner.core.transcript import Message, TranscriptEntry, Usage
from runner.core.turns import UserTurns
from runner.core.wiring import Handler


class ResponsesOwner(Protocol):
    """What the response lifecycle needs of the session."""

    @property
    def agent_name(self) -> str: ...
    def note(self, entry: TranscriptEntry) -> None: ...
    def send(self, event: dict[str, Any]) -> Send: ...
    def error(self, now: float, *, code: str, message: str) -> list[Action]: ...
    def finished(self, request: ResponseRequest | None, response: dict[str, Any], now: float) -> list[Action]: ...


class Responses:
    """Response events in, playback, transcript, usage and cancels out."""

    def __init__(self, owner: ResponsesOwner, *, output: Output, sequencer: ResponseSequencer, states: StateMachine, playback: Playback,
                 gate: GuardrailGate, tools: ToolBatches, turns: UserTurns, usage: Usage) -> None:
        self._owner = owner
        self._output = output
        self._seq = sequencer
        self._states = states
        self._playback = playback
        self._gate = gate
        self._tools = tools
        self._turns = turns
        self.usage = usage
        self._responses: dict[str, ResponseState] = {}
        self._items: dict[str, ItemState] = {}
        self.current: ResponseState | None = None
        self._cancel_event_ids: set[str] = set()  # our response.cancel events, to recognise a late cancel

    def handlers(self) -> dict[str, Handler]:
        """The server events of a response's life."""
        return {
            "response.created": self.on_response_created,
            "response.output_item.added": self.on_output_item_added,
            "response.output_audio.delta": self.on_audio_delta,
            "response.output_audio.done": self.on_audio_done,
            "response.output_audio_transcript.delta": self.on_text_delta,
            "response.output_text.delta": self.on_text_delta,
            "response.output_audio_transcript.done": self.on_text_done,
            "response.output_text.done": self.on_text_done,
            "response.output_item.done": self.on_output_item_done,
            "response.done": self.on_response_done,
            "output_audio_buffer.started": self.on_remote_audio_started,
            "output_audio_buffer.stopped": self.on_remote_audio_stopped,
            "output_audio_buffer.cleared": self.on_remote_audio_cleared,
            "conversation.item.truncated": self.on_item_truncated,
        }

    def in_progress(self, response_id: str) -> bool:
        return response_id in self._responses

    def refused(self, request: ResponseRequest) -> None:
        """The service refused our request: the active response, if it answered it, is the server's own."""
        if self.current is not None and self.current.request is request:
            self.current.request = None

    def our_late_cancel(self, event_id: str | None) -> bool:
        """True (once) when a failed event is our cancel of a response that had already finished."""
        if event_id not in self._cancel_event_ids:
            return False
        self._cancel_event_ids.discard(event_id)  # type: ignore[arg-type]
        return True

    def reconnected(self) -> ResponseState | None:
        """The socket's responses are gone; returns the one that was cut off, muted."""
        cut, self.current = self.current, None
        if cut is not None:
            self._mute(cut)
        self._responses.clear()
        return cut

    def on_response_created(self, event: dict[str, Any], now: float) -> list[Action]:
        response_id = event["response"]["id"]
        state = ResponseState(response_id, self._owner.agent_name, self._seq.created())
        self._responses[response_id] = state
        self.current = state
        self._states.response_created()
        self._turns.response_created(now)
        return self._playback.remote_settle(ended=False)  # a cut reply's truncations came before this

    def _out_of_band(self, event: dict[str, Any]) -> bool:
        """A handoff summary's event: its text is for the core, not the caller or the transcript."""
        state = self._responses.get(event.get("response_id") or "")
        return state is not None and state.request is not None and state.request.purpose == SUMMARY_PURPOSE

    def on_output_item_added(self, event: dict[str, Any], now: float) -> list[Action]:
        item = event["item"]
        if self._out_of_band(event):
            return []
        if item.get("type") == "message" and item["id"] not in self._items:
            self._new_item(item["id"], event.get("response_id"), now)
        return []

    def _new_item(self, item_id: str, response_id: str | None, now: float) -> ItemState:
        response = self._responses.get(response_id) if response_id else None
        agent = response.agent if response is not None else self._owner.agent_name
        message = Message("assistant", agent, "", "in_progress", now, item_id=item_id, response_id=response_id)
        policies = self._gate.output_policies[agent]
        item = ItemState(message, response, policies, [p.check_every_chars for p in policies], self._turns.number, self._turns.current)
        if response is not None:
            item.muted = response.muted
            response.items.append(item)
        self._items[item_id] = item
        self._owner.note(message)
        return item

    def on_audio_delta(self, event: dict[str, Any], now: float) -> list[Action]:
        if self._out_of_band(event):
            return []
        item_id = event["item_id"]
        item = self._items.get(item_id) or self._new_item(item_id, event.get("response_id"), now)
        delta = event["delta"]
        item.received_bytes += len(delta) * 3 // 4 - (2 if delta.endswith("==") else 1 if delta.endswith("=") else 0)
        if item.muted or item.audio_done:
            return []  # cut, or past its end
        if not self._playback.local:  # played by the service (WebRTC, SIP)
            self._playback.remote_audio(item)
            return []
        return [*self._playback.play(item), *self._turns.first_output(now), Play(item_id, delta)]

    def on_audio_done(self, event: dict[str, Any], now: float) -> list[Action]:
        item = self._items.get(event["item_id"])
        return [] if item is None else self._playback.audio_complete(item)

    def on_remote_audio_started(self, event: dict[str, Any], now: float) -> list[Action]:
        """The service started playing a response (WebRTC, SIP): the first output the caller hears."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        return [*self._states.agent_audible(None), *self._turns.first_output(now)]

    def on_remote_audio_stopped(self, event: dict[str, Any], now: float) -> list[Action]:
        """Played out: the caller heard the whole response."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        return [*self._playback.remote_stopped(event.get("response_id")), *self._states.agent_silent()]

    def on_remote_audio_cleared(self, event: dict[str, Any], now: float) -> list[Action]:
        """Cleared on barge-in (or by our clear): the service truncates the items itself."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        self._playback.remote_cleared(event.get("response_id"))
        return list(self._states.agent_silent())

    def on_item_truncated(self, event: dict[str, Any], now: float) -> list[Action]:
        """The service truncated an item it played (WebRTC, SIP); ours over a WebSocket need nothing."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        return self._playback.remote_truncated(event["item_id"], event["audio_end_ms"])

    def on_text_delta(self, event: dict[str, Any], now: float) -> list[Action]:
        if self._out_of_band(event):
            return []
        item_id = event["item_id"]
        item = self._items.get(item_id) or self._new_item(item_id, event.get("response_id"), now)
        if item.muted:
            return []
        if not self._playback.local and event["type"] == "response.output_audio_transcript.delta":
            self._playback.remote_audio(item)  # WebRTC and SIP carry the audio as media, not as deltas
        delta = event["delta"]
        message = item.message
        message.text += delta
        actions: list[Action] = [AssistantDelta(message.agent, item_id, delta)]
        if self._output is Output.TEXT:
            actions += self._turns.first_output(now)
        if item.policies:
            self._gate.streaming_checks(item, actions)
        return actions

    def on_text_done(self, event: dict[str, Any], now: float) -> list[Action]:
        if self._out_of_band(event):
            return []
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

    def on_output_item_done(self, event: dict[str, Any], now: float) -> list[Action]:
        item = self._items.get(event["item"].get("id"))
        if item is not None and item.message.status == "in_progress":
            item.message.status = "done"
            item.message.ended = now
        return []

    def on_response_done(self, event: dict[str, Any], now: float) -> list[Action]:
        response = event["response"]
        response_id = response.get("id")
        status = response.get("status")
        state = self._responses.pop(response_id, None)
        self._seq.finished()
        if self.current is state:
            self.current = None
        actions: list[Action] = []
        if response.get("usage"):
            self.usage.add(response["usage"])
            actions.append(UsageUpdated(**self.usage.as_dict()))
        if status == "failed":
            error = (response.get("status_details") or {}).get("error") or {}
            actions += self._owner.error(now, code=error.get("code") or "response_failed", message=error.get("message") or "the response failed")
        if state is not None:
            state.active = False
            for item in state.items:
                actions += self._playback.audio_complete(item)
                if item.message.status == "in_progress":
                    item.message.status = "done" if status in ("completed", "incomplete") and not item.muted else "interrupted"
                    item.message.ended = now
            ended = self._owner.finished(state.request, response, now)
            if ended:
                return actions + ended
        actions += self._tools.response_done(response_id or "", now)
        return actions + self._seq.flush()

    # ---- cutting a response off -------------------------------------------------------

    def barge_in(self, reason: StopReason, now: float, *, server_cancels: bool) -> list[Action]:
        actions = self._playback.stop(reason)
        response = self.current
        if response is not None and response.active and not response.muted:
            self._mute(response)
            self._turns.interrupted()
            if not server_cancels:
                actions.append(self._cancel(response))
            for item in response.items:  # audible items are reported once playback has stopped
                if not self._playback.is_audible(item):
                    actions += self._playback.cut_unplayed(item)
        return actions

    def cut(self, response: ResponseState) -> list[Action]:
        """Silence the rest of `response` and cancel it (a guardrail blocked it)."""
        self._mute(response)
        return [] if response.cancel_sent else [self._cancel(response)]

    def _mute(self, response: ResponseState) -> None:
        response.muted = True
        for item in response.items:
            item.muted = True
            if item.message.status == "in_progress":
                item.message.status = "interrupted"

    def _cancel(self, response: ResponseState) -> Send:
        response.cancel_sent = True
        cancel = self._owner.send({"type": "response.cancel", "response_id": response.id})
        self._cancel_event_ids.add(cancel.event["event_id"])
        return cancel
