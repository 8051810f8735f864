"""What the next agent sees after a handoff: keep (everything), reset, or a summary.

`ConversationItems` follows the service's conversation (every `conversation.item.added`
and `.deleted`), so the core knows which items exist and can delete them. A
`ContextSwitch` carries one reset or summary through, in this order:

- reset: (the handoff's `session.update` has gone out) once every function-call output
  of the transfer's response is confirmed in the conversation, a `conversation.item.delete`
  for each earlier item, oldest first, then one system note saying who handed the caller
  over and why, then the target's `response.create`.
- summary: the transfer's output, then an out-of-band `response.create` (conversation
  "none", text, no tools) that summarises the conversation so far; at its `response.done`,
  and once the outputs are confirmed, the deletes, the summary as a system note, and the
  target's `response.create`. A summary that fails or says nothing falls back to the reset note.

Responses are asked for through the sequencer like every other, so the summary and the
target's reply are never active together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from runner.core.actions import Action, Send
from runner.core.history import system_note

SUMMARY_PURPOSE = "handoff_summary"
SUMMARY_INSTRUCTIONS = (
    "Summarise the conversation so far for the colleague who takes it over next: who the caller is, what they want, "
    "what has been found out or done, and what is still open. Plain sentences, at most five. Do not address the caller."
)


def reset_note(source: str, target: str, reason: str | None) -> str:
    why = f" ({reason})" if reason else ""
    return f"The caller was transferred to you ({target}) by {source}{why}. Earlier turns are not shown; ask for what you need."


def summary_note(source: str, target: str, reason: str | None, summary: str) -> str:
    why = f" ({reason})" if reason else ""
    return f"The caller was transferred to you ({target}) by {source}{why}. Summary of the conversation so far: {summary}"


def summary_request() -> dict[str, Any]:
    """The `response` of the out-of-band summary: writes nothing to the conversation."""
    return {
        "conversation": "none",
        "output_modalities": ["text"],
        "instructions": SUMMARY_INSTRUCTIONS,
        "tool_choice": "none",
        "metadata": {"purpose": SUMMARY_PURPOSE},
    }


class ContextOwner(Protocol):
    def send(self, event: dict[str, Any]) -> Send: ...
    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]: ...


class ConversationItems:
    """The ids of the items in the service's conversation, oldest first, and which hold function-call outputs."""

    def __init__(self) -> None:
        self.ids: dict[str, None] = {}  # an ordered set: a long call's hundreds of items are looked up, not scanned
        self.outputs: set[str] = set()  # call ids whose function_call_output is in the conversation

    def on_added(self, event: dict[str, Any], now: float) -> list[Action]:
        item = event["item"]
        item_id = item.get("id")
        if isinstance(item_id, str):
            self.ids[item_id] = None  # an item added again keeps its place
        if item.get("type") == "function_call_output" and isinstance(item.get("call_id"), str):
            self.outputs.add(item["call_id"])
        return []

    def on_deleted(self, event: dict[str, Any], now: float) -> list[Action]:
        item_id = event.get("item_id")
        if isinstance(item_id, str):
            self.ids.pop(item_id, None)
        return []

    def forget(self) -> None:
        """A new socket: its conversation holds only what the core re-seeds."""
        self.ids.clear()
        self.outputs.clear()


@dataclass(slots=True)
class ContextSwitch:
    """One reset or summary on its way: what it waits for and what it will say."""

    policy: str  # reset or summary
    source: str
    target: str
    reason: str | None
    waiting: set[str]  # call ids whose outputs are not yet confirmed
    response: dict[str, Any] | None  # the target's response.create overrides (on_enter)
    earlier: list[str]  # the items to delete: those there when the handoff was applied, and its outputs
    summary: str | None = None  # the summary's text, once its response is done
    summarised: bool = False


class HandoffContext:
    """Carries context switches through; at most one at a time (a handoff waits for its reply)."""

    def __init__(self, owner: ContextOwner, items: ConversationItems) -> None:
        self._owner = owner
        self._items = items
        self.switch: ContextSwitch | None = None

    @property
    def busy(self) -> bool:
        return self.switch is not None

    def begin(self, policy: str, source: str, target: str, reason: str | None, answered: list[str], response: dict[str, Any] | None) -> list[Action]:
        """After the handoff's session.update (and, for a summary, the transfer's output)."""
        self.switch = ContextSwitch(policy, source, target, reason, set(answered) - self._items.outputs, response, list(self._items.ids))
        if policy == "summary":
            return self._owner.request_response(SUMMARY_PURPOSE, summary_request())
        return self._ready()

    def on_added(self, event: dict[str, Any], now: float) -> list[Action]:
        self._items.on_added(event, now)
        switch = self.switch
        if switch is None or not switch.waiting:
            return []  # an item added after the handoff (the caller speaking meanwhile) is kept
        if event["item"].get("call_id") in switch.waiting and event["item"].get("type") == "function_call_output":
            switch.earlier.append(event["item"]["id"])
        switch.waiting -= self._items.outputs
        return self._ready()

    def summarised(self, response: dict[str, Any]) -> list[Action]:
        """The summary's response.done: its text (or nothing, when it failed)."""
        switch = self.switch
        if switch is None or switch.policy != "summary" or switch.summarised:
            return []
        switch.summarised = True
        if response.get("status") == "completed":
            switch.summary = _output_text(response) or None
        return self._ready()

    def _ready(self) -> list[Action]:
        switch = self.switch
        if switch is None or switch.waiting or (switch.policy == "summary" and not switch.summarised):
            return []
        self.switch = None
        going = set(switch.earlier)
        self._items.ids = {item_id: None for item_id in self._items.ids if item_id not in going}  # asked to go: never asked twice
        actions: list[Action] = [self._owner.send({"type": "conversation.item.delete", "item_id": item_id}) for item_id in switch.earlier]
        if switch.summary:
            note = summary_note(switch.source, switch.target, switch.reason, switch.summary)
        else:
            note = reset_note(switch.source, switch.target, switch.reason)
        actions.append(self._owner.send({"type": "conversation.item.create", "item": system_note(note)}))
        return actions + self._owner.request_response("handoff", switch.response)


def _output_text(response: dict[str, Any]) -> str:
    """The text parts of an out-of-band response's message items."""
    parts = [
        part.get("text") or part.get("transcript") or ""
        for item in response.get("output") or ()
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or ()
        if isinstance(part, dict)
    ]
    return " ".join(" ".join(parts).split())
