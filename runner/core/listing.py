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

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

MCP_LIST_WAIT = 10.0  # seconds after session.updated


class McpListings:
    """How many hosted servers have yet to list their tools, and until when to wait for them."""

    def __init__(self, agent: CompiledAgent) -> None:
        self.owed = sum(1 for tool in agent.session.get("tools", ()) if tool.get("type") == "mcp")
        self.deadline: float | None = None

    @property
    def holding(self) -> bool:
        """Responses wait: a listing is still owed."""
        return self.owed > 0

    def configured(self, now: float) -> None:
        if self.owed and self.deadline is None:
            self.deadline = now + MCP_LIST_WAIT

    def listed(self, event: dict[str, Any]) -> tuple[bool, list[Action]]:
        """One listing finished; True once none is owed any more."""
        if not self.owed:
            return False, []
        self.owed -= 1
        notes: list[Action] = []
        if event.get("type") == "mcp_list_tools.failed":
            notes.append(Notice(f"a hosted MCP server could not list its tools (item {event.get('item_id')}); the model cannot call them"))
        return not self.owed, notes

    def due(self, now: float) -> bool:
        """The wait is over without every listing: stop holding (True once)."""
        if not self.owed or self.deadline is None or now < self.deadline:
            return False
        self.owed = 0
        return True
