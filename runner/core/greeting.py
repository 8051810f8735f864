"""The start agent's greeting: asked for once the first `session.updated` puts its instructions in force.

Never on a handoff's update, never again after a reconnect once its `response.done` came;
one cut off by a drop is asked for again on the new socket's `session.updated`; none if
the caller took a turn first.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from runner.core.actions import Action
from runner.core.wiring import Handler


class GreetingOwner(Protocol):
    """What the greeting needs of the session."""

    @property
    def user_turn(self) -> int: ...
    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]: ...


class Greeting:
    """Whether the greeting is due (until the session is configured), asked, or given (at its response.done)."""

    def __init__(self, owner: GreetingOwner, request: dict[str, Any] | None) -> None:
        self._owner = owner
        self._request = request  # the opening response.create's `response`; None: the agent waits for the caller
        self._phase: Literal["due", "asked", "given"] | None = "due" if request is not None else None

    @property
    def owed(self) -> bool:
        return self._phase == "due" and not self._owner.user_turn

    def handlers(self) -> dict[str, Handler]:
        return {"session.updated": self.on_configured}

    def on_configured(self, event: dict[str, Any], now: float) -> list[Action]:
        """Handoff and reconnect updates find it asked or given already; a caller who spoke first gets a reply instead."""
        if not self.owed or self._request is None:
            return []
        self._phase = "asked"
        return self._owner.request_response("greeting", dict(self._request))

    def given(self) -> None:
        self._phase = "given"

    def reconnected(self) -> bool:
        """True when the drop cut the greeting off: it is asked again once the new socket is configured."""
        if self._phase != "asked" or self._owner.user_turn:
            return False
        self._phase = "due"
        return True
