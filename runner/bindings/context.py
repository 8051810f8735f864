"""What a tool function may ask for about the conversation it runs in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Passed to a tool function that declares a `context` parameter (or one annotated `ToolContext`).

    Tools see a snapshot, never the live session: `variables` is a read-only mapping and
    `transcript` a tuple of the transcript items as they stood when the call started.
    """

    session_id: str
    agent: str
    variables: Mapping[str, Any]
    transcript: Sequence[Any]
    state_dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))
        object.__setattr__(self, "transcript", tuple(self.transcript))
