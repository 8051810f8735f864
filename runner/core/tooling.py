"""Tool calls and handoffs for the session core.

Every function call the model makes is answered exactly once: local tools by the driver
(`RunTool` → `tool_done`), transfers and mistakes by the core itself.  The calls of one
response form a batch; once the response is done and every call is answered, a valid
transfer is applied and exactly one `response.create` follows.  `ToolBatches` owns the
batches and calls; what it needs of the session it asks through `ToolsOwner`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from runner.core.actions import Action, RunTool, Send
from runner.core.records import ErrorReported, Handoff, Notice, ToolFinished, ToolStarted
from runner.core.history import tool_call_items
from runner.core.sequencer import ResponseSequencer
from runner.core.transcript import HandoffRecord, ToolCall, TranscriptEntry
from runner.core.state import ToolBatch, Transfer
from runner.core.wiring import Handler

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

TRANSFER_PREFIX = "transfer_to_"
PHONE_TRANSFER_INSTRUCTIONS = "You are transferring the caller to a person. In one short sentence, tell them you are connecting them now. Do not call tools."
FILLER_INSTRUCTIONS = (
    "A tool is still running. In one short sentence, tell the caller you are working on it. "
    "Do not call tools and do not guess the result."
)


class ToolsOwner(Protocol):
    """What the tool batches need of the session."""

    @property
    def agent(self) -> CompiledAgent: ...
    @property
    def ended(self) -> bool: ...
    @property
    def closing(self) -> bool: ...
    def response_in_progress(self, response_id: str) -> bool: ...
    def transfer_to(self, target: str) -> None: ...
    def tool_time(self, seconds: float) -> None: ...
    def note(self, entry: TranscriptEntry) -> None: ...
    def send(self, event: dict[str, Any]) -> Send: ...
    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]: ...
    def switch_context(self, policy: str, source: str, target: str, reason: str | None, answered: list[str], response: dict[str, Any] | None) -> list[Action]: ...


class ToolBatches:
    """Function-call dispatch, tool results, handoffs and the slow-tool filler."""

    def __init__(self, owner: ToolsOwner, sequencer: ResponseSequencer, *, filler_after: float) -> None:
        self._owner = owner
        self._seq = sequencer
        self._filler_after = filler_after
        self._batches: dict[str, ToolBatch] = {}
        self._calls: dict[str, tuple[ToolCall, ToolBatch]] = {}
        self._answered: set[str] = set()
        self.tool_calls: list[ToolCall] = []
        self.handoffs: list[HandoffRecord] = []

    @property
    def busy(self) -> bool:
        """A batch is not finished: a call is unanswered, or its response is not done."""
        return bool(self._batches)

    @property
    def running(self) -> bool:
        """A local tool call has not answered yet."""
        return bool(self._calls)

    def has_batch(self, response_id: str) -> bool:
        return response_id in self._batches

    def handlers(self) -> dict[str, Handler]:
        return {"response.function_call_arguments.done": self.on_call, "response.output_item.done": self.on_item_done}

    def on_call(self, event: dict[str, Any], now: float) -> list[Action]:
        call_id = event["call_id"]
        name = event["name"]
        arguments = event.get("arguments") or ""
        if call_id in self._answered or call_id in self._calls:
            return [Notice(f"function call {call_id!r} seen twice; answered once")]
        response_id = event.get("response_id") or ""
        if not self._owner.response_in_progress(response_id):
            # No response.done will follow for a response we never saw created (or saw
            # finish): answering would leave the batch owed forever.  A server bug.
            message = f"function call {call_id!r} ({name}) for response {response_id!r}, which is not in progress, ignored"
            return [Notice(message)]
        batch = self._batches.get(response_id)
        if batch is None:
            batch = self._batches[response_id] = ToolBatch(response_id)
        agent = self._owner.agent
        if name in agent.tool_names:
            call = ToolCall(call_id, name, arguments, agent.name, now, response_id)
            self.tool_calls.append(call)
            self._owner.note(call)
            self._calls[call_id] = (call, batch)
            batch.open_calls.add(call_id)
            return [_call_record(call), RunTool(call_id, name, arguments, agent.name)]
        if name in agent.transfers or name.startswith(TRANSFER_PREFIX):
            return self._on_transfer_call(call_id, name, arguments, batch, now)
        known = ", ".join(sorted(agent.tool_names)) or "none"
        call = ToolCall(call_id, name, arguments, agent.name, now, response_id, status="failed", duration=0.0)
        call.error = f"unknown tool {name!r} for agent {agent.name!r} (its tools: {known})"
        self.tool_calls.append(call)
        self._owner.note(call)
        return [_call_record(call), _result_record(call), *self._call_output(batch, call_id, name, arguments, _error_output(call.error))]

    def on_item_done(self, event: dict[str, Any], now: float) -> list[Action]:
        """A hosted MCP server's call waits for approval: answer it by the agent's policy; the response follows its response.done."""
        item = event["item"]
        if item.get("type") != "mcp_approval_request":
            return []
        response_id = event.get("response_id") or ""
        label, name = item.get("server_label"), item.get("name")
        if not self._owner.response_in_progress(response_id) or not isinstance(item.get("id"), str):
            return [Notice(f"MCP approval request for {label}.{name} outside a response in progress, ignored")]
        if response_id not in self._batches:
            self._batches[response_id] = ToolBatch(response_id)
        policy = self._owner.agent.mcp_approvals.get(label, "never")
        approve = policy == "always" or (not isinstance(policy, str) and name in policy)
        answer: dict[str, Any] = {"type": "mcp_approval_response", "id": "mcpa_" + item["id"][-27:], "approval_request_id": item["id"], "approve": approve}
        if not approve:
            answer["reason"] = f"{name} is not among the tools this project approves on {label}"
        verdict = "approved" if approve else "denied"
        return [Notice(f"MCP call {label}.{name} {verdict} by policy"), self._owner.send({"type": "conversation.item.create", "item": answer})]

    def _on_transfer_call(self, call_id: str, name: str, arguments: str, batch: ToolBatch, now: float) -> list[Action]:
        agent = self._owner.agent
        source = agent.name
        target = agent.transfers.get(name)
        requested = target or name[len(TRANSFER_PREFIX):]
        reason, problem = _transfer_reason(name, arguments)
        if requested == source:
            problem = f"{source!r} cannot transfer to itself"
        elif target is None:
            edges = ", ".join(sorted(agent.transfers.values())) or "nobody"
            problem = f"{requested!r} is not a handoff of {source!r} (it can transfer to: {edges})"
        elif problem is None and batch.transfer is not None:
            problem = f"this response already transfers to {batch.transfer.target!r}; only the first transfer is applied"
        if problem is None:
            batch.transfer = Transfer(call_id, requested, reason)
            return []
        record = HandoffRecord(source, requested, reason, now, False, problem, call_id)
        self.handoffs.append(record)
        self._owner.note(record)
        return [_handoff_record(record), *self._call_output(batch, call_id, name, arguments, _error_output(problem))]

    def tool_done(self, call_id: str, output: str, *, error: str | None, duration: float, now: float) -> list[Action]:
        """A tool finished. `output` is what the model sees; `error`, when set, says why it failed
        (a timeout, an exception, invalid arguments) for the transcript and report; an empty
        `output` with an error set is sent as `{"error": error}`."""
        if self._owner.ended:
            return []
        entry = self._calls.pop(call_id, None)
        if entry is None:
            why = "already answered" if call_id in self._answered else "unknown"
            return [ErrorReported("unexpected_tool_result", f"result for {why} call {call_id!r} ignored")]
        call, batch = entry
        call.output, call.error, call.duration = output, error, duration
        call.status = "failed" if error is not None else "done"
        self._owner.tool_time(duration)
        batch.open_calls.discard(call_id)
        sent = output if output or error is None else _error_output(error)
        actions: list[Action] = [_result_record(call), *self._call_output(batch, call_id, call.name, call.arguments, sent)]
        return actions + self._finish_batch(batch, now)

    def response_done(self, response_id: str, now: float) -> list[Action]:
        """The response that made the calls is done: its batch may finish now."""
        batch = self._batches.get(response_id)
        if batch is None:
            return []
        batch.response_done = True
        return self._finish_batch(batch, now)

    def reconnected(self, now: float) -> list[Action]:
        """A new socket has none of the call items: finish each batch with them re-created."""
        actions: list[Action] = []
        for batch in list(self._batches.values()):
            batch.calls_gone = True
            batch.response_done = True
            actions += self._finish_batch(batch, now)
        return actions

    def _finish_batch(self, batch: ToolBatch, now: float) -> list[Action]:
        """After the response is done and every call answered: the transfer, then one response."""
        if batch.finished or not batch.response_done or batch.open_calls:
            return []
        batch.finished = True
        del self._batches[batch.response_id]
        transfer = batch.transfer
        if transfer is None:
            return self._owner.request_response("tool_results")
        source = self._owner.agent.name
        policy = self._owner.agent.handoff_context.get(f"{TRANSFER_PREFIX}{transfer.target}", "keep")
        actions = self._apply_transfer(batch, now, answer=policy != "reset")  # reset deletes the call: it needs no answer
        if policy == "keep":
            return actions + self.entered()
        return actions + self._owner.switch_context(policy, source, transfer.target, transfer.reason, batch.answered, self._first_response())

    def _first_response(self) -> dict[str, Any] | None:
        """The handed-to agent's first reply: its on_enter after its own instructions, if it has one.

        Response-level instructions replace the session's for that response, so the
        agent's own instructions go first and on_enter is added to them.
        """
        agent = self._owner.agent
        if not agent.on_enter:
            return None
        return {"instructions": f"{agent.session.get('instructions', '')}\n\n{agent.on_enter}".strip()}

    def entered(self) -> list[Action]:
        """The first response of the agent just handed to: its on_enter, or, when it stands for a
        person and the call can be transferred, one short line before the transfer."""
        agent = self._owner.agent
        notes: list[Action] = []
        if agent.transfer_to is not None and agent.transfers_calls:
            instructions = f"{agent.session.get('instructions', '')}\n\n{PHONE_TRANSFER_INSTRUCTIONS}".strip()
            return self._owner.request_response("transfer", {"instructions": instructions, "tool_choice": "none"})
        if agent.transfer_to is not None:
            notes.append(Notice(f"'{agent.name}' stands for {agent.transfer_to}: a phone call would be transferred there; here '{agent.name}' answers"))
        return notes + self._owner.request_response("handoff", self._first_response())

    def hand_off(self, target: str, reason: str, now: float) -> list[Action]:
        """A handoff no function call asked for (a keypad press): the target's session, then its first response."""
        source = self._owner.agent.name
        self._owner.transfer_to(target)
        record = HandoffRecord(source, target, reason, now, True, None, None)
        self.handoffs.append(record)
        self._owner.note(record)
        update = self._owner.send({"type": "session.update", "session": self._owner.agent.handoff_session})
        return [update, _handoff_record(record), *self.entered()]

    def _apply_transfer(self, batch: ToolBatch, now: float, *, answer: bool) -> list[Action]:
        transfer = batch.transfer
        assert transfer is not None
        source = self._owner.agent.name
        self._owner.transfer_to(transfer.target)
        record = HandoffRecord(source, transfer.target, transfer.reason, now, True, None, transfer.call_id)
        self.handoffs.append(record)
        self._owner.note(record)
        output = json.dumps({"transferred_to": transfer.target})
        actions: list[Action] = [self._owner.send({"type": "session.update", "session": self._owner.agent.handoff_session}), _handoff_record(record)]
        if answer:
            actions += self._call_output(batch, transfer.call_id, f"{TRANSFER_PREFIX}{transfer.target}", "", output)
        return actions

    def _call_output(self, batch: ToolBatch, call_id: str, name: str, arguments: str, output: str) -> list[Send]:
        """The answer to one function call; after a reconnect the call item is gone, so it is created again first."""
        self._answered.add(call_id)
        batch.answered.append(call_id)
        items = tool_call_items(call_id, name, arguments, output)
        return [self._owner.send({"type": "conversation.item.create", "item": item}) for item in (items if batch.calls_gone else items[1:])]

    # ---- the Timer interface: the slow-tool filler ----------------------------------------

    def next_deadline(self) -> float | None:
        """When the first tool still running without a filler deserves one; only while no response is
        active or owed and the session is not closing (None: none does)."""
        if not self._calls or self._seq.busy or self._seq.pending is not None or self._owner.closing:
            return None
        due = [call.started + self._filler_after for call, batch in self._calls.values() if batch.response_done and not batch.filler_sent]
        return min(due, default=None)

    def tick(self, now: float) -> list[Action]:
        """One 'working on it' response per batch whose tool runs past `filler_after`."""
        for call, batch in self._calls.values():
            if batch.response_done and not batch.filler_sent and call.started + self._filler_after <= now:
                batch.filler_sent = True
                return self._owner.request_response("filler", {"instructions": FILLER_INSTRUCTIONS, "tool_choice": "none"})
        return []


def _transfer_reason(name: str, arguments: str) -> tuple[str | None, str | None]:
    """(reason, problem) from a transfer call's JSON arguments."""
    if not arguments.strip():
        return None, None
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as error:
        return None, f"invalid arguments for {name}: {error.msg} at position {error.pos}"
    if not isinstance(parsed, dict):
        return None, f"invalid arguments for {name}: expected a JSON object"
    reason = parsed.get("reason")
    return (reason if isinstance(reason, str) else None), None


def _error_output(message: str) -> str:
    return json.dumps({"error": message})


def _call_record(call: ToolCall) -> ToolStarted:
    return ToolStarted(call.agent, call.call_id, call.name, call.arguments)


def _result_record(call: ToolCall) -> ToolFinished:
    return ToolFinished(call.agent, call.call_id, call.name, call.output, call.error, call.duration)


def _handoff_record(record: HandoffRecord) -> Handoff:
    return Handoff(record.source, record.target, record.reason, record.success, record.error)
