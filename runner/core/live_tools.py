"""Tool calls and handoffs of GPT-Live delegations, for the Live session core.

The backend Responses model calls tools inside `response.event` envelopes, and a
response completes with its calls unanswered. Once it has completed *and* every local
call has its result, each call gets one `response.item.create(function_call_output)`
and the delegation one `response.create`. A transfer first swaps the backend's
instructions and tools (`session.update`), waits for `session.updated`, and after the
outputs appends the new agent's persona. Reaches its session through `DelegationOwner`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from runner.core.actions import Action, RunTool, Send
from runner.core.records import ErrorReported, Handoff, ToolFinished, ToolStarted
from runner.core.transcript import HandoffRecord, ToolCall

TRANSFER_PREFIX = "transfer_to_"


class LiveAgentSpec(Protocol):
    """What the core reads of a compiled GPT-Live agent (`runner.compile_live.LiveAgent`)."""

    name: str
    persona: str
    transfers: Mapping[str, str]
    tool_names: frozenset[str]
    guardrails: tuple[str, ...]
    greeting: str | None
    start_session: dict[str, Any]
    handoff: tuple[dict[str, Any], ...]
    transfer_to: str | None
    dtmf: Mapping[str, str]


class DelegationOwner(Protocol):
    @property
    def agent(self) -> LiveAgentSpec: ...
    def agent_named(self, name: str) -> LiveAgentSpec: ...
    def send(self, event: dict[str, Any]) -> Send: ...
    def note(self, entry: Any) -> None: ...
    def switch_agent(self, name: str) -> None: ...
    def reply_owed(self) -> None: ...
    def handoff_update(self, target: LiveAgentSpec) -> dict[str, Any]: ...


@dataclass(slots=True)
class Delegation:
    """One backend response's calls, in the order they came, and their outputs."""

    delegation_id: str | None
    order: list[str] = field(default_factory=list)  # call ids
    outputs: dict[str, str] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    transfer: tuple[str | None, str, str | None] | None = None  # (call_id, target, reason); no call_id: a key press
    completed: bool = False


class Delegations:
    """The delegations in flight and the handoff waiting for its `session.updated`."""

    def __init__(self, owner: DelegationOwner) -> None:
        self._owner = owner
        self._open: dict[str | None, Delegation] = {}
        self._calls: dict[str, tuple[ToolCall, Delegation]] = {}
        self._awaiting_update: Delegation | None = None
        self.tool_calls: list[ToolCall] = []
        self.handoffs: list[HandoffRecord] = []

    @property
    def busy(self) -> bool:
        return bool(self._open) or self._awaiting_update is not None

    @property
    def handing_off(self) -> bool:
        """A transfer waits for the `session.updated` of its target's delegation."""
        return self._awaiting_update is not None

    def created(self, delegation_id: str | None) -> None:
        self._open.setdefault(delegation_id, Delegation(delegation_id))

    def on_call(self, delegation_id: str | None, item: dict[str, Any], now: float) -> list[Action]:
        """A `function_call` output item of the backend."""
        batch = self._open.setdefault(delegation_id, Delegation(delegation_id))
        call_id, name, arguments = str(item.get("call_id", "")), str(item.get("name", "")), str(item.get("arguments", ""))
        agent = self._owner.agent
        batch.order.append(call_id)
        if name in agent.tool_names:
            call = ToolCall(call_id, name, arguments, agent.name, now, delegation_id)
            self.tool_calls.append(call)
            self._owner.note(call)
            self._calls[call_id] = (call, batch)
            batch.running.add(call_id)
            return [ToolStarted(agent.name, call_id, name, arguments), RunTool(call_id, name, arguments, agent.name)]
        if name in agent.transfers or name.startswith(TRANSFER_PREFIX):
            return self._on_transfer(batch, call_id, name, arguments, now)
        known = ", ".join(sorted(agent.tool_names)) or "none"
        call = ToolCall(call_id, name, arguments, agent.name, now, delegation_id, status="failed", duration=0.0)
        call.error = f"unknown tool {name!r} for agent {agent.name!r} (its tools: {known})"
        self.tool_calls.append(call)
        self._owner.note(call)
        batch.outputs[call_id] = _error_output(call.error)
        return [ToolStarted(agent.name, call_id, name, arguments), ToolFinished(agent.name, call_id, name, None, call.error, 0.0)]

    def _on_transfer(self, batch: Delegation, call_id: str, name: str, arguments: str, now: float) -> list[Action]:
        source = self._owner.agent
        target = source.transfers.get(name)
        requested = target or name[len(TRANSFER_PREFIX):]
        reason, problem = _transfer_reason(name, arguments)
        if requested == source.name:
            problem = f"{source.name!r} cannot transfer to itself"
        elif target is None:
            edges = ", ".join(sorted(source.transfers.values())) or "nobody"
            problem = f"{requested!r} is not a handoff of {source.name!r} (it can transfer to: {edges})"
        elif problem is None and batch.transfer is not None:
            problem = f"this response already transfers to {batch.transfer[1]!r}; only the first transfer is applied"
        if problem is None:
            batch.transfer = (call_id, requested, reason)
            return []
        record = HandoffRecord(source.name, requested, reason, now, False, problem, call_id)
        self.handoffs.append(record)
        self._owner.note(record)
        batch.outputs[call_id] = _error_output(problem)
        return [_handoff(record)]

    def completed(self, delegation_id: str | None, now: float) -> list[Action]:
        """The backend response is complete: its calls may be answered now."""
        batch = self._open.get(delegation_id)
        if batch is None:
            return []
        batch.completed = True
        return self._finish(batch, now)

    def failed(self, delegation_id: str | None) -> list[Action]:
        """A failed or incomplete response refuses outputs: forget its calls (their tools may still finish)."""
        batch = self._open.pop(delegation_id, None)
        if batch is None:
            return []
        for call_id in batch.running:
            self._calls.pop(call_id, None)
        return [ErrorReported("delegation_failed", f"the backend response of delegation {delegation_id!r} did not complete; its calls are not answered")]

    def tool_done(self, call_id: str, output: str, *, error: str | None, duration: float, now: float) -> list[Action]:
        entry = self._calls.pop(call_id, None)
        if entry is None:
            return [ErrorReported("unexpected_tool_result", f"result for unknown call {call_id!r} ignored")]
        call, batch = entry
        call.output, call.error, call.duration = output, error, duration
        call.status = "failed" if error is not None else "done"
        batch.running.discard(call_id)
        batch.outputs[call_id] = output if output or error is None else _error_output(error)
        return [ToolFinished(call.agent, call_id, call.name, call.output, call.error, call.duration), *self._finish(batch, now)]

    def _finish(self, batch: Delegation, now: float) -> list[Action]:
        if not batch.completed or batch.running or not batch.order:
            if batch.completed and not batch.order:
                self._open.pop(batch.delegation_id, None)  # a plain answer: nothing to send
            return []
        self._open.pop(batch.delegation_id, None)
        if batch.transfer is None:
            return self._outputs(batch)
        target = self._owner.agent_named(batch.transfer[1])
        self._awaiting_update = batch
        return [self._owner.send(self._owner.handoff_update(target))]

    def hand_off(self, target: str, reason: str) -> list[Action]:
        """A handoff no function call asked for (a keypad press): the target's delegation, then a request to speak as it."""
        if self._awaiting_update is not None:
            return []
        self._awaiting_update = Delegation(None, transfer=(None, target, reason), completed=True)
        return [self._owner.send(self._owner.handoff_update(self._owner.agent_named(target)))]

    def session_updated(self, now: float) -> list[Action]:
        """The backend now has the target's instructions and tools: the outputs, then the persona."""
        batch, self._awaiting_update = self._awaiting_update, None
        if batch is None or batch.transfer is None:
            return []
        call_id, target, reason = batch.transfer
        source = self._owner.agent.name
        self._owner.switch_agent(target)
        record = HandoffRecord(source, target, reason, now, True, None, call_id)
        self.handoffs.append(record)
        self._owner.note(record)
        if call_id is not None:
            batch.outputs[call_id] = json.dumps({"transferred_to": target})
        persona = self._owner.agent.handoff[1]
        return [_handoff(record), *self._outputs(batch), self._owner.send(dict(persona))]

    def _outputs(self, batch: Delegation) -> list[Action]:
        """One output per call, in the order they came, then the one request to continue."""
        sends = [
            self._owner.send({"type": "response.item.create", "item": {"type": "function_call_output", "call_id": call_id, "output": batch.outputs[call_id]}})
            for call_id in batch.order
        ]
        self._owner.reply_owed()
        return [*sends, self._owner.send({"type": "response.create"})]

    def connection_lost(self) -> None:
        """A new socket is a new GPT-Live session: nothing of this one can be answered there."""
        self._open.clear()
        self._calls.clear()
        self._awaiting_update = None


def _transfer_reason(name: str, arguments: str) -> tuple[str | None, str | None]:
    if not arguments.strip():
        return None, None
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as error:
        return None, f"invalid arguments for {name}: {error.msg} at position {error.pos}"
    reason = parsed.get("reason") if isinstance(parsed, dict) else None
    return (reason if isinstance(reason, str) else None), None


def _error_output(message: str) -> str:
    return json.dumps({"error": message})


def _handoff(record: HandoffRecord) -> Handoff:
    return Handoff(record.source, record.target, record.reason, record.success, record.error)
