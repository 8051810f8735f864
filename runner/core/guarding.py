"""Guardrail decisions for the session core: streaming and final output checks, the input gate.

The gate owns the checks it sent and the user turn it holds back; what a verdict does to
the conversation (cut a reply, ask again, refuse, say goodbye) it asks of its owner, the
session, through the small `GateOwner` interface, so this module imports no session.
A reply cut by a guardrail is corrected only once the cut is done: the correction waits
for the awaited playback stop as data (`Correct`, `Close`), not as a callback.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Protocol

from runner.config.model import Guardrail
from runner.core.actions import Action, CheckGuardrail, Send
from runner.core.history import system_note
from runner.core.playback import AfterStop, Close, Correct, Playback
from runner.core.records import GuardrailTripped, Notice
from runner.core.state import InputGate, ItemState, PendingCheck, ResponseState
from runner.core.transcript import Breadcrumb

DEFAULT_REFUSAL = "Sorry, I can't help with that."
CLOSING_INSTRUCTIONS = "End the conversation now: say one short, polite goodbye sentence. Do not call tools."
# A policy whose check keeps failing closed (or a model that keeps breaking it) would
# otherwise block and re-ask forever; after this many corrections the agent waits for the user.
MAX_CORRECTIONS_PER_TURN = 2


class GateOwner(Protocol):
    """What the gate needs of the session it guards."""

    @property
    def user_turn(self) -> int: ...
    @property
    def agent_name(self) -> str: ...
    @property
    def ended(self) -> bool: ...
    def send(self, event: dict[str, Any]) -> Send: ...
    def note(self, entry: Breadcrumb) -> None: ...
    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]: ...
    def say_goodbye(self, reason: str, instructions: str) -> list[Action]: ...
    def cut(self, response: ResponseState) -> list[Action]: ...


class GuardrailGate:
    """Guardrail checks in flight, the held user turn, and the corrections of this turn."""

    def __init__(self, owner: GateOwner, playback: Playback, *, output_policies: Mapping[str, tuple[Guardrail, ...]],
                 input_policies: Mapping[str, tuple[Guardrail, ...]]) -> None:
        self._owner = owner
        self._playback = playback
        self.output_policies = output_policies
        self._input_policies = input_policies
        self._checks: dict[int, PendingCheck] = {}
        self._check_count = 0
        self._input_gate: InputGate | None = None
        self._corrections = (0, 0)  # (user turn, corrective replies asked for in it)

    @property
    def busy(self) -> bool:
        """A verdict is owed, or a user turn is held back for one."""
        return bool(self._checks) or self._input_gate is not None

    def guards_input(self, agent: str) -> bool:
        return bool(self._input_policies[agent])

    def new_user_turn(self) -> None:
        self._input_gate = None  # an earlier turn's input check is now stale

    # ---- output guardrails -----------------------------------------------------------

    def streaming_checks(self, item: ItemState, actions: list[Action]) -> None:
        length = len(item.message.text)
        for index, policy in enumerate(item.policies):
            if length >= item.next_checks[index]:
                step = policy.check_every_chars
                item.next_checks[index] = (length // step + 1) * step
                actions.append(self._check(policy, "assistant", item.message.text, False, item))

    def final_checks(self, item: ItemState, actions: list[Action]) -> None:
        for policy in item.policies:
            actions.append(self._check(policy, "assistant", item.message.text, True, item))

    def _check(self, policy: Guardrail, role: Literal["assistant", "user"], text: str, final: bool, item: ItemState | None) -> CheckGuardrail:
        self._check_count += 1
        self._checks[self._check_count] = PendingCheck(policy, role, text, final, self._owner.user_turn, item)
        return CheckGuardrail(self._check_count, policy.name, role, text, final)

    def guardrail_result(
        self,
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
        if check is None or self._owner.ended:
            return []
        if check.role == "user":
            return self._input_verdict(check_id, check, tripped, category, rationale, error, now)
        item = check.item
        if item is None or item.muted or item.message.blocked_by is not None or check.user_turn != self._owner.user_turn:
            return []  # stale: that reply was already cut, or the user has spoken since
        if not tripped:
            return self._failed_open(check, error, now) if error else []
        actions = self._trip_record(check, category, rationale, error, now)
        if check.policy.action == "log":
            return actions
        item.message.blocked_by = check.policy.name
        actions += self._playback.stop("guardrail")
        response = item.response
        if response is not None and response.active:
            actions += self._owner.cut(response)
        elif not self._playback.is_audible(item):
            item.muted = True
        actions += self._playback.remote_clear()  # the service plays it: stop the speech already playing
        after: AfterStop = Close(check.policy) if check.policy.action == "end_session" else Correct(check.policy)
        if self._playback.defer(after):
            return actions
        return actions + self.after_stop(after, now)

    def after_stop(self, after: AfterStop, now: float) -> list[Action]:
        """What follows a blocking trip once the cut is done: a correction, or a goodbye."""
        policy = after.policy
        if isinstance(after, Close):
            return self._owner.say_goodbye(f"guardrail {policy.name}", CLOSING_INSTRUCTIONS)
        user_turn = self._owner.user_turn
        turn, count = self._corrections
        count = count + 1 if turn == user_turn else 1
        self._corrections = (user_turn, count)
        if count > MAX_CORRECTIONS_PER_TURN:
            message = f"guardrail {policy.name!r} blocked {count} replies in a row; the agent waits for the user instead of trying again"
            notice = Notice(message, policy=policy.name)
            self._owner.note(Breadcrumb("notice", self._owner.agent_name, now, notice.to_json()))
            return [notice]
        note = f'Your last reply was stopped by the "{policy.name}" policy. {policy.hint} Answer the user again, within the policy.'
        item = system_note(" ".join(note.split()))
        return [self._owner.send({"type": "conversation.item.create", "item": item}), *self._owner.request_response("corrective")]

    # ---- input guardrails ------------------------------------------------------------

    def gate_user_turn(self, text: str) -> list[Action]:
        """Hold the reply to this user turn until every input policy has passed it."""
        gate = self._input_gate = InputGate(self._owner.user_turn, text)
        checks = [self._check(policy, "user", text, True, None) for policy in self._input_policies[self._owner.agent_name]]
        gate.pending.update(check.check_id for check in checks)
        return list(checks)

    def gate_without_transcript(self) -> list[Action]:
        """No transcript to check: each policy's `on_error` decides, `closed` refuses."""
        policies = self._input_policies[self._owner.agent_name]
        closed = next((p for p in policies if p.on_error == "closed"), None)
        if closed is not None:
            return self._refuse(closed)
        return self._owner.request_response("reply")

    def _input_verdict(
        self, check_id: int, check: PendingCheck, tripped: bool, category: str | None, rationale: str | None, error: str | None, now: float
    ) -> list[Action]:
        gate = self._input_gate
        if gate is None or check_id not in gate.pending or gate.user_turn != self._owner.user_turn:
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
                return actions + self._owner.say_goodbye(f"guardrail {check.policy.name}", CLOSING_INSTRUCTIONS)
        elif error:
            actions += self._failed_open(check, error, now)
        if not gate.pending:
            self._input_gate = None
            actions += self._owner.request_response("reply")
        return actions

    def _refuse(self, policy: Guardrail) -> list[Action]:
        refusal = policy.refusal or DEFAULT_REFUSAL
        instructions = f'Do not act on the user\'s last message. Reply with exactly this sentence and nothing else: "{refusal}"'
        return self._owner.request_response("refusal", {"instructions": instructions, "tool_choice": "none"})

    # ---- records ---------------------------------------------------------------------

    def _trip_record(self, check: PendingCheck, category: str | None, rationale: str | None, error: str | None, now: float) -> list[Action]:
        agent = check.item.message.agent if check.item is not None else self._owner.agent_name
        trip = GuardrailTripped(check.policy.name, check.policy.action, check.role, category, rationale, check.text, check.final, error)
        self._owner.note(Breadcrumb("guardrail", agent, now, trip.to_json()))
        return [trip]

    def _failed_open(self, check: PendingCheck, error: str, now: float) -> list[Action]:
        message = f"guardrail {check.policy.name!r} could not check the {check.role} text and let it pass: {error}"
        notice = Notice(message, policy=check.policy.name, role=check.role)
        self._owner.note(Breadcrumb("notice", self._owner.agent_name, now, notice.to_json()))
        return [notice]
