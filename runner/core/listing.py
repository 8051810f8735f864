"""Hosted MCP servers list their tools once the session is configured; the first response waits for them.

Each `type: mcp` tool of the start agent makes the service list that server's tools
(`mcp_list_tools.in_progress`, then `.completed` or `.failed`). A response asked for
before then could not call them, so requests are held until every listing has finished,
or until `MCP_LIST_WAIT` seconds after `session.updated` (a service that never lists
must not silence the call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.core.actions import Action
from runner.core.records import Notice
from runner.core.sequencer import ResponseSequencer
from runner.core.wiring import Handler

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

MCP_LIST_WAIT = 10.0  # seconds after session.updated


class McpListings:
    """How many hosted servers have yet to list their tools, and until when the sequencer is held for them."""

    def __init__(self, agent: CompiledAgent, sequencer: ResponseSequencer) -> None:
        self._seq = sequencer
        self.owed = sum(1 for tool in agent.session.get("tools", ()) if tool.get("type") == "mcp")
        self.deadline: float | None = None
        sequencer.held = self.owed > 0  # the first response waits for the hosted servers' tools

    def handlers(self) -> dict[str, Handler]:
        return {"session.updated": self.on_configured, "mcp_list_tools.completed": self.on_listed, "mcp_list_tools.failed": self.on_listed}

    def on_configured(self, event: dict[str, Any], now: float) -> list[Action]:
        if self.owed and self.deadline is None:
            self.deadline = now + MCP_LIST_WAIT
        return []

    def on_listed(self, event: dict[str, Any], now: float) -> list[Action]:
        """One listing finished: the held response may go once none is owed any more."""
        if not self.owed:
            return []
        self.owed -= 1
        notes: list[Action] = []
        if event.get("type") == "mcp_list_tools.failed":
            notes.append(Notice(f"a hosted MCP server could not list its tools (item {event.get('item_id')}); the model cannot call them"))
        if self.owed:
            return notes
        self._seq.held = False
        return notes + self._seq.flush()

    # ---- the Timer interface ------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self.deadline if self.owed else None

    def tick(self, now: float) -> list[Action]:
        """The wait is over without every listing: stop holding, and let the held response go."""
        self.owed = 0
        self._seq.held = False
        notice = Notice(f"hosted MCP servers did not list their tools within {MCP_LIST_WAIT:g} s; going on without waiting")
        return [notice, *self._seq.flush()]
