"""What the session core remembers: transcript entries, tool calls, handoffs, usage, latency.

Plain mutable dataclasses: the core updates them in place as events stream in, and the
driver reads them to write artifacts and reports.  Every transcript entry has a `kind`
so writers can dispatch without isinstance chains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping

from runner.core.pricing import price_for

MessageStatus = Literal["in_progress", "done", "interrupted"]


@dataclass(slots=True)
class Message:
    """One user or assistant utterance; `text` grows as deltas arrive."""

    kind: ClassVar[str] = "message"
    role: Literal["user", "assistant"]
    agent: str
    text: str
    status: MessageStatus
    started: float
    ended: float | None = None
    item_id: str | None = None
    response_id: str | None = None
    heard_ms: int | None = None  # assistant audio the user actually heard
    blocked_by: str | None = None  # guardrail policy that cut this reply


@dataclass(slots=True)
class ToolCall:
    """A local tool call: what the model asked for and what it got back."""

    kind: ClassVar[str] = "tool_call"
    call_id: str
    name: str
    arguments: str
    agent: str
    started: float
    response_id: str | None
    output: str | None = None
    error: str | None = None
    duration: float | None = None
    status: Literal["running", "done", "failed"] = "running"


@dataclass(slots=True)
class HandoffRecord:
    """One transfer attempt between agents, successful or refused."""

    kind: ClassVar[str] = "handoff"
    source: str
    target: str
    reason: str | None
    time: float
    success: bool
    error: str | None = None
    call_id: str | None = None


@dataclass(slots=True)
class Breadcrumb:
    """A one-line event in the transcript: kind is error, guardrail or notice."""

    kind: Literal["error", "guardrail", "notice"]
    agent: str
    time: float
    data: dict[str, Any] = field(default_factory=dict)


TranscriptEntry = Message | ToolCall | HandoffRecord | Breadcrumb


@dataclass(slots=True)
class TurnLatency:
    """Timings of one user turn, all in driver seconds."""

    turn: int
    user_turn_end: float
    response_created: float | None = None
    first_output: float | None = None  # first audio delta (voice) or text delta (text)
    tool_seconds: float = 0.0
    interrupted: bool = False

    @property
    def response_delay(self) -> float | None:
        return None if self.response_created is None else self.response_created - self.user_turn_end

    @property
    def first_output_delay(self) -> float | None:
        return None if self.first_output is None else self.first_output - self.user_turn_end

    def as_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "response_delay": self.response_delay,
            "first_output_delay": self.first_output_delay,
            "tool_seconds": self.tool_seconds,
            "interrupted": self.interrupted,
        }


@dataclass(slots=True)
class Usage:
    """Token usage summed over every `response.done` of the session."""

    model: str
    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    text_in: int = 0  # cached tokens included, as the service counts them
    audio_in: int = 0
    image_in: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    cached_image: int = 0
    text_out: int = 0
    audio_out: int = 0

    def add(self, usage: Mapping[str, Any]) -> None:
        """Add one `response.done.response.usage` object."""
        self.responses += 1
        self.input_tokens += usage.get("input_tokens") or 0
        self.output_tokens += usage.get("output_tokens") or 0
        self.total_tokens += usage.get("total_tokens") or 0
        given = usage.get("input_token_details") or {}
        self.text_in += given.get("text_tokens") or 0
        self.audio_in += given.get("audio_tokens") or 0
        self.image_in += given.get("image_tokens") or 0
        cached = given.get("cached_tokens_details") or {}
        self.cached_text += cached.get("text_tokens") or 0
        self.cached_audio += cached.get("audio_tokens") or 0
        self.cached_image += cached.get("image_tokens") or 0
        produced = usage.get("output_token_details") or {}
        self.text_out += produced.get("text_tokens") or 0
        self.audio_out += produced.get("audio_tokens") or 0

    @property
    def cost(self) -> float | None:
        """Estimated USD, or None when the model has no listed price."""
        price = price_for(self.model)
        if price is None:
            return None
        dollars = (
            (self.text_in - self.cached_text) * price.text_in
            + self.cached_text * price.text_cached
            + self.text_out * price.text_out
            + (self.audio_in - self.cached_audio) * price.audio_in
            + self.cached_audio * price.audio_cached
            + self.audio_out * price.audio_out
            + (self.image_in - self.cached_image) * price.image_in
            + self.cached_image * price.image_cached
        )
        return dollars / 1_000_000

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "responses": self.responses,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost,
        }
