"""What a GPT-Live session costs: session seconds (what is billed) and the backend's tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from runner.core.records import UsageUpdated


@dataclass(frozen=True, slots=True)
class LiveUsageUpdated(UsageUpdated):
    """Usage so far on GPT-Live: session `seconds` (what is billed) and the backend's tokens."""

    kind: ClassVar[str] = "usage"
    seconds: float = 0.0


@dataclass(slots=True)
class LiveUsage:
    """Cumulative session seconds, replaced by each report, and backend tokens, summed per response."""

    model: str
    seconds: float = 0.0
    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """For report.json: the billed seconds beside the backend's tokens (no price table for GPT-Live yet)."""
        return {
            "model": self.model, "seconds": self.seconds, "responses": self.responses, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "total_tokens": self.total_tokens, "cost_usd": None,
        }

    def record(self) -> LiveUsageUpdated:
        return LiveUsageUpdated(self.model, self.responses, self.input_tokens, self.output_tokens, self.total_tokens, None, self.seconds)
