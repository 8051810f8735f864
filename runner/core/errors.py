"""The service's `error` events, unknown event types, and the error records the components report.

A refused `response.create` goes back to the sequencer (a race with a server-created
response is asked again after it); a cancel that arrived after its response finished is
the outcome we wanted; fatal codes end the session; every other error is recorded and
the conversation goes on.
"""

from __future__ import annotations

from typing import Any, Protocol

from runner.core.actions import Action
from runner.core.ending import Ending
from runner.core.records import ErrorReported, Notice
from runner.core.responses import Responses
from runner.core.sequencer import ResponseSequencer
from runner.core.transcript import Breadcrumb, TranscriptEntry
from runner.core.wiring import Handler

RACE_CODE = "conversation_already_has_active_response"
FATAL_CODES = frozenset({"beta_api_shape_disabled", "session_expired", "invalid_api_key", "insufficient_quota"})
FATAL_TYPES = frozenset({"authentication_error"})


class ErrorsOwner(Protocol):
    """What the error handling needs of the session."""

    @property
    def agent_name(self) -> str: ...
    def note(self, entry: TranscriptEntry) -> None: ...


class ServerErrors:
    """Errors in, error records (and their transcript breadcrumbs) out; unknown event types counted."""

    def __init__(self, owner: ErrorsOwner, *, sequencer: ResponseSequencer, responses: Responses, ending: Ending) -> None:
        self._owner = owner
        self._seq = sequencer
        self._responses = responses
        self._end = ending
        self.unknown_events: dict[str, int] = {}

    def handlers(self) -> dict[str, Handler]:
        return {"error": self.on_error}

    def on_error(self, event: dict[str, Any], now: float) -> list[Action]:
        error = event.get("error") or {}
        code = error.get("code")
        failed_event = error.get("event_id")
        if failed_event is not None or code == RACE_CODE:
            refused = self._seq.refused(failed_event, race=code == RACE_CODE)
            if refused is not None:
                self._responses.refused(refused)
        if self._responses.our_late_cancel(failed_event):
            # The response finished on the server before our cancel arrived: nothing was
            # left to cancel, which is the outcome we wanted.
            return self._seq.flush()
        fatal = code in FATAL_CODES or error.get("type") in FATAL_TYPES
        actions = self.record(now, code=code or error.get("type") or "error", message=error.get("message") or "", fatal=fatal)
        if fatal:
            return actions + self._end.close(f"fatal error: {code or error.get('type')}")
        return actions + self._seq.flush()

    def record(self, now: float, *, code: str, message: str, fatal: bool = False) -> list[Action]:
        error = ErrorReported(code, message, fatal)
        self._owner.note(Breadcrumb("error", self._owner.agent_name, now, error.to_json()))
        return [error]

    def unknown(self, event: dict[str, Any]) -> list[Action]:
        """An event type nobody handles: a notice the first time, then only counted."""
        kind = str(event.get("type"))
        self.unknown_events[kind] = self.unknown_events.get(kind, 0) + 1
        if self.unknown_events[kind] > 1:
            return []
        return [Notice(f"unknown server event type {kind!r} ignored")]
