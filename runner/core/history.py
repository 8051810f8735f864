"""Re-seed a fresh Realtime conversation from our transcript after a reconnect.

The new socket starts an empty conversation.  Each turn goes back as the item type the
protocol has for it: user turns as `input_text`, assistant turns as `output_text`
(assistant audio cannot be created by a client), and each finished tool call as its
`function_call` item followed by its `function_call_output`, so the model reads that the
call was made and answered, not a note about it.  Handoffs, which have no item of their
own, become a short system note.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from runner.core.transcript import HandoffRecord, Message, ToolCall, TranscriptEntry


def system_note(text: str) -> dict[str, Any]:
    """A system message item carrying `text`."""
    return {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}


def tool_call_items(call_id: str, name: str, arguments: str, output: str) -> list[dict[str, Any]]:
    """A call and its answer as the two conversation items a model expects to find."""
    return [
        {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments or "{}"},
        {"type": "function_call_output", "call_id": call_id, "output": output},
    ]


def reseed_items(transcript: Iterable[TranscriptEntry]) -> list[dict[str, Any]]:
    """The conversation items that restore `transcript`, oldest first."""
    items: list[dict[str, Any]] = []
    for entry in transcript:
        if isinstance(entry, Message):
            if not entry.text or entry.blocked_by is not None:
                continue
            if entry.role == "user":
                items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": entry.text}]})
            else:
                items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": entry.text}]})
        elif isinstance(entry, ToolCall) and entry.status != "running":
            output = entry.output if entry.output or entry.error is None else json.dumps({"error": entry.error})
            items += tool_call_items(entry.call_id, entry.name, entry.arguments, output or "")
        elif isinstance(entry, HandoffRecord) and entry.success:
            because = f" ({entry.reason})" if entry.reason else ""
            items.append(system_note(f"The conversation was transferred from {entry.source} to {entry.target}{because}."))
    return items
