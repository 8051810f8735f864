"""What the session core asks its driver to do.

The core never performs I/O: every input method returns a list of these, and the
driver carries them out in order.  Keeping the vocabulary small keeps drivers thin.
Records (`runner.core.records`) are actions too: the driver hands them to its hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from runner.core.records import Record


@dataclass(slots=True)
class Send:
    """Send this client event (a GA event dict) on the socket."""

    event: dict[str, Any]


@dataclass(slots=True)
class Play:
    """Queue base64 PCM audio of an assistant item for playback."""

    item_id: str
    audio_b64: str


@dataclass(slots=True)
class AudioComplete:
    """No more audio will come for this item: once its queued audio is heard, it is finished."""

    item_id: str


@dataclass(slots=True)
class StopPlayback:
    """Stop playback now (short fade) and drop queued audio.

    The driver must answer with `Session.playback_stopped(item_id, played_ms, now)`
    for the item that was audible (or `None, 0` if nothing was), because truncation
    needs the exact amount the user heard.
    """

    reason: Literal["barge_in", "guardrail", "end"]


@dataclass(slots=True)
class RunTool:
    """Run a local tool; answer with `Session.tool_done(...)`."""

    call_id: str
    name: str
    arguments: str  # the raw JSON string from the model
    agent: str


@dataclass(slots=True)
class CheckGuardrail:
    """Run one guardrail policy on a text; answer with `Session.guardrail_result(...)`."""

    check_id: int
    policy: str
    role: Literal["assistant", "user"]
    text: str
    final: bool  # True for the check on the complete text


@dataclass(slots=True)
class EndSession:
    """Close the session after the actions before this one are carried out."""

    reason: str


Action = Send | Play | AudioComplete | StopPlayback | RunTool | CheckGuardrail | Record | EndSession
