"""Internal bookkeeping of the session core: responses, items, tool batches, checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runner.config.model import Guardrail
from runner.core.transcript import Message, TurnLatency
from runner.core.sequencer import ResponseRequest


@dataclass(slots=True)
class ItemState:
    """An assistant message item being streamed."""

    message: Message
    response: ResponseState | None
    policies: tuple[Guardrail, ...]  # output policies of the agent that speaks
    next_checks: list[int]  # per policy: text length that triggers its next streaming check
    user_turn: int
    turn: TurnLatency | None = None  # the user turn this item answers
    received_bytes: int = 0
    played: bool = False  # some of its audio went to our playback
    audio_done: bool = False  # response.output_audio.done (or the response's end) seen
    muted: bool = False  # cut by barge-in or a guardrail: drop the rest of its output
    # The transcript entry: "pending" until the text is complete, "owed" while the complete
    # text waits for playback to say how much was heard, then "written".
    entry: Literal["pending", "owed", "written"] = "pending"


@dataclass(slots=True)
class ResponseState:
    """One response between `response.created` and `response.done`."""

    id: str
    agent: str
    request: ResponseRequest | None  # ours, or None for a server-created response
    items: list[ItemState] = field(default_factory=list)
    active: bool = True
    muted: bool = False
    cancel_sent: bool = False


@dataclass(slots=True)
class Transfer:
    """A valid transfer call, applied once the rest of its response's calls are answered."""

    call_id: str
    target: str
    reason: str | None


@dataclass(slots=True)
class ToolBatch:
    """The function calls of one response; one `response.create` follows them all."""

    response_id: str
    open_calls: set[str] = field(default_factory=set)
    response_done: bool = False
    transfer: Transfer | None = None
    filler_sent: bool = False
    calls_gone: bool = False  # after a reconnect the call items are gone: create them with the outputs
    finished: bool = False
    answered: list[str] = field(default_factory=list)  # call ids whose outputs were sent


@dataclass(slots=True)
class PendingCheck:
    """A CheckGuardrail sent to the driver and not answered yet."""

    policy: Guardrail
    role: Literal["assistant", "user"]
    text: str
    final: bool
    user_turn: int
    item: ItemState | None  # the assistant item checked, None for user input


@dataclass(slots=True)
class InputGate:
    """A user turn held back until every input policy has passed it."""

    user_turn: int
    text: str
    pending: set[int] = field(default_factory=set)
