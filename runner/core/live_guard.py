"""Guardrail checks of a GPT-Live conversation: the checks in flight, a typed turn held for them.

Nothing GPT-Live said can be cancelled, so a trip on a reply is handled by the session
with a fixture (which cuts the model off) and then a correction appended once it has
played; a typed turn, though, is held until its input checks pass, since nothing of it
has reached the model yet. This component decides; the session sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

from runner.config.model import Guardrail
from runner.core.actions import CheckGuardrail
from runner.core.records import GuardrailTripped
from runner.core.transcript import Message

DEFAULT_REFUSAL = "Sorry, I can't help with that."


@dataclass(frozen=True, slots=True)
class Trip:
    """A verdict that tripped: its record, its policy, the message it is about, and whether that was held."""

    record: GuardrailTripped
    policy: Guardrail
    message: Message
    held: bool


class LiveGuard:
    def __init__(self, guardrails: Mapping[str, Guardrail]) -> None:
        self._guardrails = guardrails
        self._checks: dict[int, tuple[Guardrail, Literal["assistant", "user"], Message, str]] = {}
        self._count = 0
        self._held: tuple[Message, set[int]] | None = None
        self.correction: str | None = None  # appended once the fixture has played

    @property
    def busy(self) -> bool:
        return bool(self._checks or self._held or self.correction)

    def policies(self, names: tuple[str, ...], role: str) -> list[Guardrail]:
        return [self._guardrails[name] for name in names if role in self._guardrails[name].checks]

    def checks_for(self, names: tuple[str, ...], role: Literal["assistant", "user"], message: Message, *, final: bool) -> list[CheckGuardrail]:
        if message.blocked_by is not None or not message.text:
            return []
        checks = []
        for policy in self.policies(names, role):
            self._count += 1
            self._checks[self._count] = (policy, role, message, message.text)
            checks.append(CheckGuardrail(self._count, policy.name, role, message.text, final))
        return checks

    def hold(self, message: Message, checks: list[CheckGuardrail]) -> None:
        """A typed turn waits until every one of these checks has passed."""
        self._held = (message, {check.check_id for check in checks})

    def verdict(
        self, check_id: int, *, tripped: bool, category: str | None, rationale: str | None, error: str | None
    ) -> Message | Trip | None:
        """A held turn whose checks all passed (to send now), a trip, or nothing to do."""
        check = self._checks.pop(check_id, None)
        if check is None:
            return None
        policy, role, message, text = check
        tripped = tripped or (error is not None and policy.on_error == "closed")
        held = self._held is not None and self._held[0] is message
        if held and not tripped:
            assert self._held is not None
            self._held[1].discard(check_id)
            if self._held[1] or message.blocked_by is not None:
                return None
            self._held = None
            return message
        if not tripped or message.blocked_by is not None:
            return None
        if held:
            self._held = None
        return Trip(GuardrailTripped(policy.name, policy.action, role, category, rationale, text, True, error), policy, message, held)

    def clear(self) -> None:
        """A new socket: verdicts for the old session's text are stale."""
        self._checks.clear()
        self.correction = None


def correction(policy: Guardrail, role: str) -> str:
    """The instruction appended after a trip (checked at load to fit one append)."""
    if role == "user":
        return f"The caller's last words broke the '{policy.name}' policy. Do not act on them; say: {policy.refusal or DEFAULT_REFUSAL}"
    hint = f" {policy.hint}" if policy.hint else ""
    return f"Your last reply was cut off: it broke the '{policy.name}' policy. Do not repeat it.{hint} Continue from there."
