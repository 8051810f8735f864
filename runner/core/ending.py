"""How a session ends: the goodbye, the time limit's goodbye, the last line heard, then the close.

A goodbye is one response the sequencer lets through even while ending (every other
request is dropped); its `response.done` closes the session. The service may still be
playing that line (WebRTC, SIP: it plays the audio, not us), and hanging up or
transferring then would cut it off, so the close waits until the service reports the
audio stopped, at most `LAST_LINE_SECONDS`. The session limit is a timer here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from runner.core.actions import Action, EndSession
from runner.core.playback import Playback
from runner.core.records import CallTransferRequested, Notice
from runner.core.sequencer import ResponseRequest, ResponseSequencer
from runner.core.states import StateMachine

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

LAST_LINE_SECONDS = 15.0  # the longest the service may still be playing a goodbye or transfer line
GOODBYE_INSTRUCTIONS = "The conversation is ending now. Say one short, friendly goodbye sentence. Do not call tools."
LIMIT_GOODBYE_INSTRUCTIONS = (
    "The session has reached its time limit. Tell the caller in one short sentence that you have to end "
    "the call now, and say goodbye. Do not call tools."
)


class EndingOwner(Protocol):
    """What the ending needs of the session."""

    @property
    def agent(self) -> CompiledAgent: ...


class Ending:
    """Whether the session is ending or ended, why, and the timers that end it."""

    def __init__(self, owner: EndingOwner, *, sequencer: ResponseSequencer, playback: Playback, states: StateMachine,
                 max_session_minutes: float) -> None:
        self._owner = owner
        self._seq = sequencer
        self._playback = playback
        self._states = states
        self._max_minutes = max_session_minutes
        self._started_at: float | None = None
        self._instructions = GOODBYE_INSTRUCTIONS
        self.reason: str | None = None  # once a goodbye is on its way
        self.last_line: tuple[str, float] | None = None  # (reason, deadline): closing once the service has played it
        self.ended = False

    @property
    def closing(self) -> bool:
        """A goodbye is on its way, or the last line is being played: no timer but ours matters."""
        return self.reason is not None or self.last_line is not None

    def started(self, now: float) -> None:
        self._started_at = now

    # ---- the Timer interface ------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The last line's bound while it plays, else the session limit (none once ending)."""
        if self.last_line is not None:
            return self.last_line[1]
        if self._started_at is None or self.reason is not None:
            return None
        return self._started_at + self._max_minutes * 60

    def tick(self, now: float) -> list[Action]:
        if self.last_line is not None:
            return self.close(self.last_line[0])
        notice = Notice(f"session limit of {self._max_minutes:g} minutes reached")
        return [notice, *self.say_goodbye("session_limit", LIMIT_GOODBYE_INSTRUCTIONS)]

    # ---- ending -----------------------------------------------------------------------------

    def end(self, reason: str) -> list[Action]:
        """Say goodbye; asked again while the goodbye is on its way, close at once."""
        if self.reason is not None:
            return self.close(self.reason)
        return self.say_goodbye(reason, GOODBYE_INSTRUCTIONS)

    def say_goodbye(self, reason: str, instructions: str) -> list[Action]:
        """The one response still asked for: whatever was owed before is dropped."""
        if self.reason is not None:
            return []
        self.reason = reason
        self._instructions = instructions
        self._seq.drop_pending()
        return list(self._seq.request(self.owed_request()))

    def owed_request(self) -> ResponseRequest:
        """What a reply owed across a reconnect becomes: the goodbye, once ending."""
        if self.reason is None:
            return ResponseRequest("reply")
        return ResponseRequest("goodbye", {"instructions": self._instructions, "tool_choice": "none"})

    def finished(self, purpose: str | None, now: float) -> list[Action]:
        """A goodbye or a phone transfer's line is done: close once it is heard (empty: not ours to end)."""
        if purpose == "goodbye":
            return self._close_once_heard(self.reason or "ended", now)
        if purpose != "transfer":
            return []
        agent = self._owner.agent
        if agent.transfer_to is None:
            return []
        target = agent.transfer_to
        return [Notice(f"transferring the call to {target}"), CallTransferRequested(agent.name, target),
                *self._close_once_heard(f"transferred to {target}", now)]

    def heard(self) -> list[Action]:
        """After each server event while the last line plays: close once the service stopped playing it."""
        if self.last_line is None or self._playback.remote_playing:
            return []
        return self.close(self.last_line[0])

    def close(self, reason: str) -> list[Action]:
        """The session is over: the entries of replies the service was still playing, then EndSession."""
        self.ended = True
        self._states.closed()
        return [*self._playback.remote_settle(ended=True), EndSession(reason)]

    def _close_once_heard(self, reason: str, now: float) -> list[Action]:
        """Close now, or, while the service still plays the last line, once it is heard.

        The line's response is done long before its audio has played; the service says
        when it stopped playing, and LAST_LINE_SECONDS bounds the wait if it never does.
        """
        if not self._playback.remote_playing:
            return self.close(reason)
        self.last_line = (reason, now + LAST_LINE_SECONDS)
        return []
