"""Playback for the session core: what is audible, what was heard, what to truncate.

With `Output.AUDIO_LOCAL` (we play it) the component owns the audible items and the
awaited stop; its transitions go through the state machine's playback state.  A stop is
answered by the driver with how much was heard; the items are then truncated to it and
the transcript entries that waited for playback are written.

With `Output.AUDIO_REMOTE` (the service plays it: WebRTC, SIP) the service truncates on
barge-in itself and says so (`conversation.item.truncated`); the items whose audio it is
playing are tracked only so that their transcript entries say what was heard: in full
once its buffer `stopped`, up to `audio_end_ms` once truncated (the text cut to match
when the audio came as deltas; as media its length is unknown, so the text stays whole
and the entry says how long it was heard). A reply the service `cleared` without
truncating had been heard to its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping

from runner.config.model import Guardrail
from runner.core.actions import Action, AudioComplete, Send, StopPlayback
from runner.core.records import Heard, Interrupted
from runner.core.state import ItemState
from runner.core.states import StateMachine

StopReason = Literal["barge_in", "guardrail", "end"]


@dataclass(frozen=True, slots=True)
class Correct:
    """After the cut: tell the agent its reply broke `policy` and ask again."""

    policy: Guardrail


@dataclass(frozen=True, slots=True)
class Close:
    """After the cut: say goodbye, because `policy` ends the session."""

    policy: Guardrail


AfterStop = Correct | Close


@dataclass(slots=True)
class PendingStop:
    """A StopPlayback awaiting `playback_stopped`, and what follows the truncate."""

    reason: StopReason
    after: list[AfterStop] = field(default_factory=list)


def heard_text(text: str, heard_ms: int, received_ms: int) -> str:
    """What the listener heard of `text` when `heard_ms` of its `received_ms` of audio played.

    The transcript carries no timing, so speech is taken to run at an even pace over its
    characters: the heard share of the audio is the heard share of the text. The cut falls
    back to the last whole word, so the transcript never claims a word that was cut off.
    """
    if heard_ms <= 0 or received_ms <= 0:
        return ""
    if heard_ms >= received_ms:
        return text
    end = len(text) * heard_ms // received_ms
    while end > 0 and not text[end].isspace():
        end -= 1
    return text[:end].rstrip()


class Playback:
    """The audible items and the awaited stop (nothing is tracked when the service plays)."""

    def __init__(self, *, local: bool, states: StateMachine, bytes_per_second: Mapping[str, int], send: Callable[[dict], Send]) -> None:
        self.local = local
        self._states = states
        self._bytes_per_second = bytes_per_second
        self._send = send
        self._audible: dict[str, ItemState] = {}
        self.pending: PendingStop | None = None
        self._cleared: set[str] = set()  # remote: responses whose buffer the service cleared

    def is_audible(self, item: ItemState) -> bool:
        return item.message.item_id in self._audible

    # ---- the service plays it (WebRTC, SIP) -----------------------------------------------

    def remote_audio(self, item: ItemState) -> None:
        """Audio of `item` reached the service's playout buffer: its entry waits for the outcome."""
        self._audible[item.message.item_id or ""] = item

    @property
    def remote_playing(self) -> bool:
        """The service is still playing audio of ours that it has not reported stopped or cleared."""
        return not self.local and any(item.response is None or item.response.id not in self._cleared for item in self._audible.values())

    def remote_clear(self) -> list[Action]:
        """Cut what the service is playing (a guardrail trip): `output_audio_buffer.clear`, after the cancel."""
        if self.local or not self._audible:
            return []
        return [self._send({"type": "output_audio_buffer.clear"})]

    def remote_stopped(self, response_id: str | None) -> list[Action]:
        """The service played `response_id` to its end: it and every item queued before it were heard in full."""
        items = list(self._audible.values())
        last = max((index for index, item in enumerate(items) if item.response is not None and item.response.id == response_id), default=-1)
        actions: list[Action] = []
        for item in items[: last + 1]:
            del self._audible[item.message.item_id or ""]
            item.message.heard_ms = self.received_ms(item)
            actions += self.heard_in_full(item)
        return actions

    def remote_cleared(self, response_id: str | None) -> None:
        """The service cut `response_id`'s audio: its truncations follow, or it had been heard."""
        if response_id is not None:
            self._cleared.add(response_id)

    def remote_truncated(self, item_id: str, audio_end_ms: int) -> list[Action]:
        """The service truncated `item_id` at `audio_end_ms`: that much of it was heard."""
        item = self._audible.pop(item_id, None)
        if item is None or self.local:
            return []
        message = item.message
        received = self.received_ms(item)
        if received == 0:  # the audio came as media: how long it was is not known, so neither is which words were heard
            message.heard_ms = max(0, audio_end_ms)
        else:
            message.heard_ms = max(0, min(audio_end_ms, received))
            if message.heard_ms >= received:
                return self.heard_in_full(item)
            message.text = heard_text(message.text, message.heard_ms, received)
        item.muted = True
        message.status = "interrupted"
        if message.blocked_by is None and item.turn is not None:
            item.turn.interrupted = True
        return self.interrupted_entry(item)

    def remote_settle(self, *, ended: bool) -> list[Action]:
        """Write the entries the service will not report on any more.

        A cleared response's items with no truncation were heard to the end; at the end of
        the session every item still playing is written as far as it is known (in full).
        """
        actions: list[Action] = []
        for item_id, item in list(self._audible.items()):
            if ended or (item.response is not None and item.response.id in self._cleared):
                del self._audible[item_id]
                item.message.heard_ms = self.received_ms(item)
                actions += self.heard_in_full(item)
        if ended or not self._audible:
            self._cleared.clear()
        return actions

    def play(self, item: ItemState) -> list[Action]:
        """Audio of `item` goes to our playback (the caller appends the Play)."""
        self._audible[item.message.item_id or ""] = item
        item.played = True
        return list(self._states.agent_audible(item.message.item_id))

    def audio_complete(self, item: ItemState) -> list[Action]:
        """No more audio for `item`: playback reports it finished once the queued audio is heard."""
        if item.audio_done:
            return []
        item.audio_done = True
        return [AudioComplete(item.message.item_id or "")] if item.played and self.is_audible(item) else []

    def stop(self, reason: StopReason) -> list[Action]:
        """StopPlayback when something is audible and no stop is already awaited."""
        if not self.local or not self._audible or self.pending is not None:
            return []
        self.pending = PendingStop(reason)
        self._states.stopping()
        return [StopPlayback(reason)]

    def defer(self, after: AfterStop) -> bool:
        """Keep `after` for once the awaited stop is answered; False when no stop is awaited."""
        if self.pending is None:
            return False
        self.pending.after.append(after)
        return True

    def stopped(self, item_id: str | None, played_ms: float, *, ended: bool) -> tuple[list[Action], list[AfterStop]]:
        """The driver's answer to StopPlayback: truncate what was not heard; returns what follows."""
        stop, self.pending = self.pending, None
        audible, self._audible = self._audible, {}
        reason = stop.reason if stop is not None else "barge_in"
        actions: list[Action] = list(self._states.agent_silent())
        for audible_id, item in audible.items():
            actions += self._truncate(item, played_ms if audible_id == item_id else 0, reason, ended)
        return actions, (stop.after if stop is not None and not ended else [])

    def finished(self, item_id: str) -> list[Action]:
        """The whole item was heard."""
        item = self._audible.pop(item_id, None)
        if item is None:
            return []
        item.message.heard_ms = self.received_ms(item)
        actions = self.heard_in_full(item)
        if not self._audible and self.pending is None:
            actions += self._states.agent_silent()
        return actions

    def cut_unplayed(self, item: ItemState) -> list[Action]:
        """An item of a cut response that is not playing: heard in full already, or not at all."""
        if item.entry == "written":
            return []
        message = item.message
        if self.local and message.heard_ms is not None:
            return self.heard_in_full(item)
        if self.local:  # no audio of it was played: nothing of it was heard
            message.text, message.heard_ms = "", 0
        return self.interrupted_entry(item)

    def _truncate(self, item: ItemState, played_ms: float, reason: StopReason, ended: bool) -> list[Action]:
        """Forget the unheard audio and text: truncate only when 0 < played < received.

        A reply cut by the user (barge-in, Ctrl-C, end) makes its turn interrupted; one cut
        by a guardrail is answered by the correction that follows.
        """
        received = self.received_ms(item)
        heard = max(0, min(int(played_ms), received))
        message = item.message
        message.heard_ms = heard
        if heard >= received:
            return self.heard_in_full(item)
        actions: list[Action] = []
        if heard > 0 and reason != "end" and not ended:
            truncate = {"type": "conversation.item.truncate", "item_id": message.item_id, "content_index": 0, "audio_end_ms": heard}
            actions.append(self._send(truncate))
        item.muted = True
        message.status = "interrupted"
        message.text = heard_text(message.text, heard, received)
        if reason != "guardrail" and item.turn is not None:
            item.turn.interrupted = True
        return actions + self.interrupted_entry(item)

    def heard_in_full(self, item: ItemState) -> list[Action]:
        """Played to the end: write the transcript entry that waited for it, if one did."""
        if item.entry != "owed":
            return []
        item.entry = "written"
        message = item.message
        return [Heard(message.agent, message.item_id, message.text, message.heard_ms)]

    def interrupted_entry(self, item: ItemState) -> list[Action]:
        """The one transcript entry of a cut reply, with what was heard of it."""
        if item.entry == "written":
            return []
        item.entry = "written"
        message = item.message
        return [Interrupted(message.agent, message.item_id, message.text, message.heard_ms)]

    def received_ms(self, item: ItemState) -> int:
        return item.received_bytes * 1000 // self._bytes_per_second[item.message.agent]
