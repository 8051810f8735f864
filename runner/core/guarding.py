"""Barge-in, playback truncation and guardrail decisions for the session core.

Both cut the agent off the same way: StopPlayback (when audio is audible), then
`response.cancel` (when the response is still active and the server will not cancel it
itself), then, once the driver says how much was heard, `conversation.item.truncate`
clamped to the audio received, then whatever follows (a corrective message, a goodbye).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal

from runner.config.model import Guardrail
from runner.core.actions import Action, CheckGuardrail, StopPlayback
from runner.core.records import GuardrailTripped, Heard, Interrupted, Notice
from runner.core.history import system_note
from runner.core.transcript import Breadcrumb
from runner.core.states import Output
from runner.core.state import InputGate, ItemState, PendingCheck, PendingStop, ResponseState

if TYPE_CHECKING:
    from runner.core.session import Session

DEFAULT_REFUSAL = "Sorry, I can't help with that."
CLOSING_INSTRUCTIONS = "End the conversation now: say one short, polite goodbye sentence. Do not call tools."
# A policy whose check keeps failing closed (or a model that keeps breaking it) would
# otherwise block and re-ask forever; after this many corrections the agent waits for the user.
MAX_CORRECTIONS_PER_TURN = 2


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


class GuardrailsMixin:
    """Stopping playback, truncating what was not heard, and acting on guardrail verdicts."""

    _corrections: tuple[int, int] = (0, 0)  # (user turn, corrective replies asked for in it)

    # ---- barge-in and playback -------------------------------------------------------

    def _barge_in(self: Session, reason: Literal["barge_in", "guardrail", "end"], now: float, *, server_cancels: bool) -> list[Action]:
        actions = self._stop_playback(reason)
        response = self._current
        if response is not None and response.active and not response.muted:
            self._mute(response)
            if self._turn is not None:
                self._turn.interrupted = True
            if not server_cancels:
                actions.append(self._cancel(response))
            for item in response.items:  # audible items are reported once playback has stopped
                if item.message.item_id not in self._audible:
                    actions += self._cut_unplayed(item)
        return actions

    def _cut_unplayed(self: Session, item: ItemState) -> list[Action]:
        """An item of a cut response that is not playing: heard in full already, or not at all."""
        if item.entry == "written":
            return []
        message = item.message
        if self._local_audio and message.heard_ms is not None:
            return self._heard_in_full(item)
        if self._local_audio:  # no audio of it was played: nothing of it was heard
            message.text, message.heard_ms = "", 0
        return self._interrupted_entry(item)

    def _stop_playback(self: Session, reason: Literal["barge_in", "guardrail", "end"]) -> list[Action]:
        """StopPlayback when something is audible and no stop is already awaited."""
        if not self._local_audio or not self._audible or self._stop is not None:
            return []
        self._stop = PendingStop(reason)
        self._states.stopping()
        return [StopPlayback(reason)]

    def _after_stop(self: Session, then: Callable[[float], list[Action]], now: float) -> list[Action]:
        """Run `then` after the awaited truncate, or now when no stop is awaited."""
        if self._stop is not None:
            self._stop.then.append(then)
            return []
        return then(now)

    def _mute(self: Session, response: ResponseState) -> None:
        response.muted = True
        for item in response.items:
            item.muted = True
            if item.message.status == "in_progress":
                item.message.status = "interrupted"

    def _cancel(self: Session, response: ResponseState) -> Action:
        response.cancel_sent = True
        cancel = self._send({"type": "response.cancel", "response_id": response.id})
        self._cancel_event_ids.add(cancel.event["event_id"])
        return cancel

    def playback_stopped(self: Session, item_id: str | None, played_ms: float, now: float) -> list[Action]:
        """The driver's answer to StopPlayback: which item was audible and how much was heard."""
        stop, self._stop = self._stop, None
        audible, self._audible = self._audible, {}
        reason = stop.reason if stop is not None else "barge_in"
        actions: list[Action] = list(self._states.agent_silent())
        for audible_id, item in audible.items():
            actions += self._truncate(item, played_ms if audible_id == item_id else 0, reason)
        if stop is not None and not self._ended:
            for then in stop.then:
                actions += then(now)
        return actions

    def playback_finished(self: Session, item_id: str, now: float) -> list[Action]:
        """The whole item was heard."""
        item = self._audible.pop(item_id, None)
        if item is None:
            return []
        item.message.heard_ms = self._received_ms(item)
        actions = self._heard_in_full(item)
        if not self._audible and self._stop is None:
            actions += self._states.agent_silent()
        return actions

    def _on_remote_audio_started(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        """The service started playing a response (WebRTC, SIP): the first output the caller hears."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        actions: list[Action] = list(self._states.agent_audible(None))
        if self._turn is not None and self._turn.first_output is None:
            actions.append(self._first_output(now))
        return actions

    def _on_remote_audio_stopped(self: Session, event: dict[str, Any], now: float) -> list[Action]:
        """Played out, or cleared on barge-in: the service truncates the item itself."""
        if self._output is not Output.AUDIO_REMOTE:
            return []
        return list(self._states.agent_silent())

    def _truncate(self: Session, item: ItemState, played_ms: float, reason: Literal["barge_in", "guardrail", "end"]) -> list[Action]:
        """Forget the unheard audio and text: truncate only when 0 < played < received.

        A reply cut by the user (barge-in, Ctrl-C, end) makes its turn interrupted; one cut
        by a guardrail is answered by the correction that follows.
        """
        received = self._received_ms(item)
        heard = max(0, min(int(played_ms), received))
        message = item.message
        message.heard_ms = heard
        if heard >= received:
            return self._heard_in_full(item)
        actions: list[Action] = []
        if heard > 0 and reason != "end" and not self._ended:
            truncate = {"type": "conversation.item.truncate", "item_id": message.item_id, "content_index": 0, "audio_end_ms": heard}
            actions.append(self._send(truncate))
        item.muted = True
        message.status = "interrupted"
        message.text = heard_text(message.text, heard, received)
        if reason != "guardrail" and item.turn is not None:
            item.turn.interrupted = True
        return actions + self._interrupted_entry(item)

    def _heard_in_full(self: Session, item: ItemState) -> list[Action]:
        """Played to the end: write the transcript entry that waited for it, if one did."""
        if item.entry != "owed":
            return []
        item.entry = "written"
        message = item.message
        return [Heard(message.agent, message.item_id, message.text, message.heard_ms)]

    def _interrupted_entry(self: Session, item: ItemState) -> list[Action]:
        """The one transcript entry of a cut reply, with what was heard of it."""
        if item.entry == "written":
            return []
        item.entry = "written"
        message = item.message
        return [Interrupted(message.agent, message.item_id, message.text, message.heard_ms)]

    def _received_ms(self: Session, item: ItemState) -> int:
        return item.received_bytes * 1000 // self._bytes_per_second[item.message.agent]

    # ---- output guardrails -----------------------------------------------------------

    def _streaming_checks(self: Session, item: ItemState, actions: list[Action]) -> None:
        length = len(item.message.text)
        for index, policy in enumerate(item.policies):
            if length >= item.next_checks[index]:
                step = policy.check_every_chars
                item.next_checks[index] = (length // step + 1) * step
                actions.append(self._check(policy, "assistant", item.message.text, False, item))

    def _final_checks(self: Session, item: ItemState, actions: list[Action]) -> None:
        for policy in item.policies:
            actions.append(self._check(policy, "assistant", item.message.text, True, item))

    def _check(self: Session, policy: Guardrail, role: Literal["assistant", "user"], text: str, final: bool, item: ItemState | None) -> CheckGuardrail:
        self._check_count += 1
        self._checks[self._check_count] = PendingCheck(policy, role, text, final, self._user_turn, item)
        return CheckGuardrail(self._check_count, policy.name, role, text, final)

    def guardrail_result(
        self: Session,
        check_id: int,
        *,
        tripped: bool,
        category: str | None = None,
        rationale: str | None = None,
        error: str | None = None,
        now: float,
    ) -> list[Action]:
        """A verdict for a CheckGuardrail. `error` with `tripped` false: the check failed open."""
        check = self._checks.pop(check_id, None)
        if check is None or self._ended:
            return []
        if check.role == "user":
            return self._input_verdict(check_id, check, tripped, category, rationale, error, now)
        item = check.item
        if item is None or item.muted or item.message.blocked_by is not None or check.user_turn != self._user_turn:
            return []  # stale: that reply was already cut, or the user has spoken since
        if not tripped:
            return self._failed_open(check, error, now) if error else []
        actions = self._trip_record(check, category, rationale, error, now)
        if check.policy.action == "log":
            return actions
        item.message.blocked_by = check.policy.name
        actions += self._stop_playback("guardrail")
        response = item.response
        if response is not None and response.active:
            self._mute(response)
            if not response.cancel_sent:
                actions.append(self._cancel(response))
        elif item.message.item_id not in self._audible:
            item.muted = True
        return actions + self._after_stop(self._consequence(check.policy), now)

    def _consequence(self: Session, policy: Guardrail) -> Callable[[float], list[Action]]:
        """What follows a blocking trip once the cut is done: a correction, or a goodbye."""
        if policy.action == "end_session":
            return lambda now: self._say_goodbye(f"guardrail {policy.name}", CLOSING_INSTRUCTIONS)

        def correct(now: float) -> list[Action]:
            turn, count = self._corrections
            count = count + 1 if turn == self._user_turn else 1
            self._corrections = (self._user_turn, count)
            if count > MAX_CORRECTIONS_PER_TURN:
                message = f"guardrail {policy.name!r} blocked {count} replies in a row; the agent waits for the user instead of trying again"
                notice = Notice(message, policy=policy.name)
                self.transcript.append(Breadcrumb("notice", self._agent.name, now, notice.to_json()))
                return [notice]
            note = f'Your last reply was stopped by the "{policy.name}" policy. {policy.hint} Answer the user again, within the policy.'
            return [self._send({"type": "conversation.item.create", "item": system_note(" ".join(note.split()))}), *self._request_response("corrective")]

        return correct

    # ---- input guardrails ------------------------------------------------------------

    def _gate_user_turn(self: Session, text: str) -> list[Action]:
        """Hold the reply to this user turn until every input policy has passed it."""
        gate = self._input_gate = InputGate(self._user_turn, text)
        checks = [self._check(policy, "user", text, True, None) for policy in self._input_policies[self._agent.name]]
        gate.pending.update(check.check_id for check in checks)
        return list(checks)

    def _gate_without_transcript(self: Session) -> list[Action]:
        """No transcript to check: each policy's `on_error` decides, `closed` refuses."""
        policies = self._input_policies[self._agent.name]
        closed = next((p for p in policies if p.on_error == "closed"), None)
        if closed is not None:
            return self._refuse(closed)
        return self._request_response("reply")

    def _input_verdict(
        self: Session, check_id: int, check: PendingCheck, tripped: bool, category: str | None, rationale: str | None, error: str | None, now: float
    ) -> list[Action]:
        gate = self._input_gate
        if gate is None or check_id not in gate.pending or gate.user_turn != self._user_turn:
            return []  # stale: the user has spoken again, or the turn was already decided
        gate.pending.discard(check_id)
        actions: list[Action] = []
        if tripped:
            actions += self._trip_record(check, category, rationale, error, now)
            if check.policy.action == "block":
                self._input_gate = None
                return actions + self._refuse(check.policy)
            if check.policy.action == "end_session":
                self._input_gate = None
                return actions + self._say_goodbye(f"guardrail {check.policy.name}", CLOSING_INSTRUCTIONS)
        elif error:
            actions += self._failed_open(check, error, now)
        if not gate.pending:
            self._input_gate = None
            actions += self._request_response("reply")
        return actions

    def _refuse(self: Session, policy: Guardrail) -> list[Action]:
        refusal = policy.refusal or DEFAULT_REFUSAL
        instructions = f'Do not act on the user\'s last message. Reply with exactly this sentence and nothing else: "{refusal}"'
        return self._request_response("refusal", {"instructions": instructions, "tool_choice": "none"})

    # ---- records ---------------------------------------------------------------------

    def _trip_record(self: Session, check: PendingCheck, category: str | None, rationale: str | None, error: str | None, now: float) -> list[Action]:
        agent = check.item.message.agent if check.item is not None else self._agent.name
        trip = GuardrailTripped(check.policy.name, check.policy.action, check.role, category, rationale, check.text, check.final, error)
        self.transcript.append(Breadcrumb("guardrail", agent, now, trip.to_json()))
        return [trip]

    def _failed_open(self: Session, check: PendingCheck, error: str, now: float) -> list[Action]:
        message = f"guardrail {check.policy.name!r} could not check the {check.role} text and let it pass: {error}"
        notice = Notice(message, policy=check.policy.name, role=check.role)
        self.transcript.append(Breadcrumb("notice", self._agent.name, now, notice.to_json()))
        return [notice]
