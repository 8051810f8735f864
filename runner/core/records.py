"""What the core reports as it happens: one frozen class per kind of record.

Consumers match on the class (`case ToolFinished(name=name, error=error):`) instead of
re-parsing a kind string.  `to_json()` gives the shape that transcript.jsonl, the console
and scenario expectations have always used, and `Record.from_json(kind, data)` (also
spelled `Record(kind, data)`) reads it back, so the files on disk keep their format.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal


class _RecordMeta(type):
    """`Record("notice", {...})` builds the typed record: the original spelling of the API."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Record:
            return Record.from_json(*args, **kwargs)
        return super().__call__(*args, **kwargs)


@dataclass(frozen=True, slots=True)
class Record(metaclass=_RecordMeta):
    """Base of every record; `kind` names its JSON form."""

    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        """The record's data as written to transcript.jsonl (without `t` and `kind`)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @property
    def data(self) -> dict[str, Any]:
        """The JSON data, for readers of the dict form."""
        return self.to_json()

    @classmethod
    def from_json(cls, kind: str, data: dict[str, Any] | None = None) -> Record:
        """The typed record of a JSON kind and data (redacted copies, tests, readers of files)."""
        data = dict(data or {})
        if kind == "assistant":
            return AssistantMessage(data["agent"], data.get("item_id"), data.get("text", ""), heard_ms=data.get("heard_ms"), playing="heard_ms" in data and data["heard_ms"] is None)
        if kind == "handoff":
            return Handoff(data["from"], data["to"], data.get("reason"), data.get("success", True), data.get("error"))
        record_class = _BY_KIND.get(kind)
        if record_class is None:
            raise ValueError(f"unknown record kind {kind!r}")
        return record_class(**data)


@dataclass(frozen=True, slots=True)
class UserMessage(Record):
    """What the user said or typed, once complete."""

    kind: ClassVar[str] = "user"
    text: str
    item_id: str | None


@dataclass(frozen=True, slots=True)
class AssistantDelta(Record):
    """A piece of reply text as it streams."""

    kind: ClassVar[str] = "assistant_delta"
    agent: str
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class AssistantMessage(Record):
    """A reply's complete text; `playing` says its audio is still being heard, so the
    transcript entry follows as `Heard` or `Interrupted`."""

    kind: ClassVar[str] = "assistant"
    agent: str
    item_id: str | None
    text: str
    heard_ms: int | None = None
    playing: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"agent": self.agent, "item_id": self.item_id, "text": self.text}
        if self.playing:
            data["heard_ms"] = None
        elif self.heard_ms is not None:
            data["heard_ms"] = self.heard_ms
        return data


@dataclass(frozen=True, slots=True)
class Heard(Record):
    """A spoken reply was played to the end."""

    kind: ClassVar[str] = "heard"
    agent: str
    item_id: str | None
    text: str
    heard_ms: int | None


@dataclass(frozen=True, slots=True)
class Interrupted(Record):
    """A reply was cut off; `text` is what was heard of it."""

    kind: ClassVar[str] = "interrupted"
    agent: str
    item_id: str | None
    text: str
    heard_ms: int | None


@dataclass(frozen=True, slots=True)
class ToolStarted(Record):
    kind: ClassVar[str] = "tool_call"
    agent: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolFinished(Record):
    kind: ClassVar[str] = "tool_result"
    agent: str
    call_id: str
    name: str
    output: str | None
    error: str | None
    duration: float | None


@dataclass(frozen=True, slots=True)
class Handoff(Record):
    """A transfer between agents, applied or refused (`error` says why)."""

    kind: ClassVar[str] = "handoff"
    source: str
    target: str
    reason: str | None
    success: bool
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "reason": self.reason, "success": self.success, "error": self.error}


@dataclass(frozen=True, slots=True)
class GuardrailTripped(Record):
    kind: ClassVar[str] = "guardrail"
    policy: str
    action: str
    role: Literal["assistant", "user"]
    category: str | None
    rationale: str | None
    text: str
    final: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class ErrorReported(Record):
    """An error from the service, or a peer's event the core could not use."""

    kind: ClassVar[str] = "error"
    code: str
    message: str
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Notice(Record):
    """A one-line remark; `policy` and `role` name the guardrail a notice is about."""

    kind: ClassVar[str] = "notice"
    message: str
    policy: str | None = None
    role: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {} if self.policy is None else {"policy": self.policy}
        if self.role is not None:
            data["role"] = self.role
        data["message"] = self.message
        return data


@dataclass(frozen=True, slots=True)
class ConnectionLost(Notice):
    """The socket dropped; the driver is dialling again."""


@dataclass(frozen=True, slots=True)
class ConnectionRestored(Notice):
    """A new socket is configured and the history re-seeded."""


@dataclass(frozen=True, slots=True)
class KeyPressed(Record):
    """A keypad press on a phone call (DTMF): 0-9, *, #, A-D."""

    kind: ClassVar[str] = "dtmf"
    agent: str
    key: str


@dataclass(frozen=True, slots=True)
class CallTransferRequested(Record):
    """The agent said its line: the channel now transfers the call to a person (SIP REFER)."""

    kind: ClassVar[str] = "call_transfer"
    agent: str
    target_uri: str


@dataclass(frozen=True, slots=True)
class UsageUpdated(Record):
    """Token usage summed so far, after each `response.done`."""

    kind: ClassVar[str] = "usage"
    model: str
    responses: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class LatencyMeasured(Record):
    """The timings of a user turn, once its first output arrived."""

    kind: ClassVar[str] = "latency"
    turn: int
    response_delay: float | None
    first_output_delay: float | None
    tool_seconds: float
    interrupted: bool


@dataclass(frozen=True, slots=True)
class UserStartedSpeaking(Record):
    kind: ClassVar[str] = "user_started_speaking"


@dataclass(frozen=True, slots=True)
class UserStoppedSpeaking(Record):
    kind: ClassVar[str] = "user_stopped_speaking"


@dataclass(frozen=True, slots=True)
class AgentStartedSpeaking(Record):
    """The agent's audio became audible (played by us, or by the service for WebRTC/SIP)."""

    kind: ClassVar[str] = "agent_started_speaking"
    item_id: str | None


@dataclass(frozen=True, slots=True)
class AgentStoppedSpeaking(Record):
    kind: ClassVar[str] = "agent_stopped_speaking"


@dataclass(frozen=True, slots=True)
class ThinkingStarted(Record):
    """A tool batch or a handoff is under way and nothing is being said: an audio sink we play
    may fill the wait with the thinking sound of `agent` (no transcript entry, never heard audio)."""

    kind: ClassVar[str] = "thinking_started"
    agent: str


@dataclass(frozen=True, slots=True)
class ThinkingStopped(Record):
    """The agent's audio arrived (or nothing is owed any more): the thinking sound stops now."""

    kind: ClassVar[str] = "thinking_stopped"


_BY_KIND: dict[str, type[Record]] = {
    record_class.kind: record_class
    for record_class in (
        UserMessage, AssistantDelta, Heard, Interrupted, ToolStarted, ToolFinished, GuardrailTripped, ErrorReported, Notice,
        UsageUpdated, LatencyMeasured, UserStartedSpeaking, UserStoppedSpeaking, AgentStartedSpeaking, AgentStoppedSpeaking,
        KeyPressed, CallTransferRequested, ThinkingStarted, ThinkingStopped,
    )
}
