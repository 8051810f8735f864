"""The answer of one guardrail check, with the policy's `on_error` already applied."""

from __future__ import annotations

from dataclasses import dataclass

from runner.config.model import Guardrail


@dataclass(frozen=True, slots=True)
class Verdict:
    """`tripped` is what the session acts on; `error` says why a check could not decide."""

    tripped: bool
    category: str | None = None
    rationale: str | None = None
    error: str | None = None

    @classmethod
    def passed(cls) -> Verdict:
        return cls(tripped=False)

    @classmethod
    def failed(cls, policy: Guardrail, error: str) -> Verdict:
        """A check that could not decide: fail open (pass) or closed (trip) as the policy says."""
        return cls(tripped=policy.on_error == "closed", error=error)
