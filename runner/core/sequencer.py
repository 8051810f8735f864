"""One response at a time: queue, coalesce and re-queue `response.create`.

The service allows a single active response per conversation; a second `response.create`
fails with `conversation_already_has_active_response`.  The sequencer sends a request only
when no response is active or requested, merges everything asked for meanwhile into one,
and puts a request back in the queue when the service refused it because of a race with a
response the server created on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from runner.core.actions import Send
from runner.core.states import ResponsePhase

# What a request is for; `goodbye` wins a merge because the session is ending.
Purpose = str


@dataclass(slots=True)
class ResponseRequest:
    """A `response.create` we want: its purpose and the `response` overrides."""

    purpose: Purpose
    response: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""

    def merged(self, later: ResponseRequest) -> ResponseRequest:
        """One request answering both: later overrides win, a goodbye stays a goodbye."""
        purpose = "goodbye" if "goodbye" in (self.purpose, later.purpose) else later.purpose
        return ResponseRequest(purpose, {**self.response, **later.response})


class ResponseSequencer:
    """Tracks the active response and the one queued request."""

    __slots__ = ("_next_event_id", "active", "in_flight", "pending", "last_sent", "held")

    def __init__(self, next_event_id: Callable[[], str]) -> None:
        self._next_event_id = next_event_id
        self.active = False  # between response.created and response.done
        self.in_flight: ResponseRequest | None = None  # sent, no response.created yet
        self.pending: ResponseRequest | None = None  # waiting for the active one to finish
        self.last_sent: ResponseRequest | None = None
        self.held = False  # requests queue but are not sent (until the hosted MCP servers have listed their tools)

    @property
    def busy(self) -> bool:
        return self.active or self.in_flight is not None

    @property
    def phase(self) -> ResponsePhase:
        if self.active:
            return ResponsePhase.ACTIVE
        return ResponsePhase.IDLE if self.in_flight is None and self.pending is None else ResponsePhase.REQUESTED

    def request(self, request: ResponseRequest) -> list[Send]:
        """Ask for a response: sent now if idle, otherwise merged into the queue."""
        self.pending = request if self.pending is None else self.pending.merged(request)
        return self.flush()

    def flush(self) -> list[Send]:
        """Send the queued request if nothing is active or requested."""
        if self.pending is None or self.busy or self.held:
            return []
        request, self.pending = self.pending, None
        request.event_id = self._next_event_id()
        self.in_flight = self.last_sent = request
        event: dict[str, Any] = {"type": "response.create", "event_id": request.event_id}
        if request.response:
            event["response"] = request.response
        return [Send(event)]

    def created(self) -> ResponseRequest | None:
        """A response started; returns our request it answers (None: the server's own)."""
        self.active = True
        request, self.in_flight = self.in_flight, None
        return request

    def finished(self) -> None:
        """The active response is done; call `flush` after queuing follow-ups."""
        self.active = False

    def refused(self, event_id: str | None, *, race: bool) -> ResponseRequest | None:
        """The service refused one of our `response.create`s; returns the refused request.

        On a race with a server-created response the request goes back in the queue, to be
        sent after that response's `response.done`.  `event_id` None means the error did not
        say which event failed: the latest request is assumed.
        """
        refused = self.last_sent
        if refused is None or (event_id is not None and event_id != refused.event_id):
            return None
        if self.in_flight is refused:
            self.in_flight = None
        if race:
            self.pending = refused if self.pending is None else refused.merged(self.pending)
        return refused

    def reset(self) -> bool:
        """Forget the socket's responses (reconnect); True when a reply was pending or cut off."""
        owed = self.busy or self.pending is not None
        self.active = False
        self.in_flight = self.pending = None
        return owed

    def drop_pending(self) -> None:
        self.pending = None
