"""Re-seed a fresh Realtime conversation from our transcript after a reconnect.

The new socket starts an empty conversation.  Text is all we can give back: user turns as
`input_text`, assistant turns as `output_text` (assistant audio cannot be created by a
client), and tool calls and handoffs as short system notes, because the original
function_call items do not exist on the new socket.
"""

from __future__ import annotations

from typing import Any, Iterable

from runner.core.records import HandoffRecord, Message, ToolCall, TranscriptEntry

TOOL_NOTE_MAX_CHARS = 600


def system_note(text: str) -> dict[str, Any]:
    """A system message item carrying `text`."""
    return {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}


def tool_note(name: str, arguments: str, result: str) -> str:
    """How an earlier tool call is told to the model once its call item is gone."""
    note = f"Earlier tool call {name}({arguments}) returned: {result}"
    return note if len(note) <= TOOL_NOTE_MAX_CHARS else note[: TOOL_NOTE_MAX_CHARS - 1] + "…"


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
            result = entry.output if entry.error is None else f"error: {entry.error}"
            items.append(system_note(tool_note(entry.name, entry.arguments, result or "")))
        elif isinstance(entry, HandoffRecord) and entry.success:
            because = f" ({entry.reason})" if entry.reason else ""
            items.append(system_note(f"The conversation was transferred from {entry.source} to {entry.target}{because}."))
    return items
