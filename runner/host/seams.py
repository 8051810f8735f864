"""What the driver drives: the socket, the tool and guardrail runners, and the audio output.

Protocols, so transports, channels and tests plug in their own (`runner/host/transports.py`,
`runner/serve/`, `MemoryTransport`).
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence


class Connection(Protocol):
    async def connect(self) -> None: ...
    async def send_texts(self, texts: Sequence[str]) -> None: ...
    async def recv(self) -> tuple[dict[str, Any], str]: ...
    async def close(self) -> None: ...


class ToolRunner(Protocol):
    async def run(self, name: str, arguments: str, *, call_id: str, agent: str, context: Any) -> Any: ...


class GuardrailRunner(Protocol):
    async def check(self, policy_name: str, text: str, *, role: str, final: bool) -> Any: ...


class AudioOut(Protocol):
    """Where the agent's audio goes: `play` each chunk, `end_item` when an item's audio is
    complete; `stop` (barge-in) returns the item playing and the milliseconds heard."""

    def play(self, item_id: str, pcm: bytes) -> None: ...
    def end_item(self, item_id: str) -> None: ...
    def stop(self) -> tuple[str | None, int]: ...
