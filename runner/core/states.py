"""The named states of a conversation and every transition between them, in one place.

Each transition returns the records it is reported by (user started speaking, agent
stopped speaking, connection lost...), so edges (the voice loop, a phone or browser
bridge) read the state or match the records instead of re-deriving them from wire events.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from runner.core.records import (
    AgentStartedSpeaking, AgentStoppedSpeaking, ConnectionLost, ConnectionRestored, Record, ThinkingStarted, ThinkingStopped,
    UserStartedSpeaking, UserStoppedSpeaking,
)


class Output(enum.Enum):
    """What the agent's output is, and who plays it."""

    TEXT = "text"
    AUDIO_LOCAL = "audio_local"  # we play it (devices, Twilio): playback tracked, unheard audio truncated by us
    AUDIO_REMOTE = "audio_remote"  # the service plays it (WebRTC, SIP): it reports playback and truncates itself


class Connection(enum.Enum):
    CONNECTING = "connecting"  # dialled, the first session.update not confirmed yet
    LIVE = "live"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class ResponsePhase(enum.Enum):
    IDLE = "idle"
    REQUESTED = "requested"  # a response.create is queued or in flight
    ACTIVE = "active"  # between response.created and response.done


class UserTurn(enum.Enum):
    IDLE = "idle"
    SPEAKING = "speaking"
    AWAITING_REPLY = "awaiting_reply"  # the turn ended; no response to it was created yet


class Playback(enum.Enum):
    SILENT = "silent"
    PLAYING = "playing"
    STOPPING = "stopping"  # StopPlayback sent, `playback_stopped` not heard yet


@dataclass(frozen=True, slots=True)
class States:
    """A snapshot of the four states."""

    connection: Connection
    response: ResponsePhase
    user: UserTurn
    playback: Playback


class StateMachine:
    """Connection, user turn and playback, changed only through these transitions."""

    __slots__ = ("connection", "user", "playback", "thinking")

    def __init__(self) -> None:
        self.connection = Connection.CONNECTING
        self.user = UserTurn.IDLE
        self.playback = Playback.SILENT
        self.thinking = False  # the thinking sound's cue is on (local audio only)

    # -- connection ----------------------------------------------------------
    def configured(self) -> None:
        if self.connection is Connection.CONNECTING:
            self.connection = Connection.LIVE

    def lost(self, message: str) -> list[Record]:
        if self.connection is Connection.CLOSED:
            return []
        self.connection = Connection.RECONNECTING
        return [ConnectionLost(message)]

    def restored(self, message: str) -> list[Record]:
        self.connection = Connection.LIVE
        return [ConnectionRestored(message)]

    def closed(self) -> None:
        self.connection = Connection.CLOSED

    # -- the user's turn -------------------------------------------------------
    def user_started(self) -> list[Record]:
        if self.user is UserTurn.SPEAKING:
            return []
        self.user = UserTurn.SPEAKING
        return [UserStartedSpeaking()]

    def user_ended(self) -> list[Record]:
        """Speech stopped, push-to-talk released, or a line typed: a reply is owed."""
        was = self.user
        self.user = UserTurn.AWAITING_REPLY
        return [UserStoppedSpeaking()] if was is UserTurn.SPEAKING else []

    def user_idle(self) -> list[Record]:
        """A push-to-talk turn too short to send: nothing is owed."""
        was = self.user
        self.user = UserTurn.IDLE
        return [UserStoppedSpeaking()] if was is UserTurn.SPEAKING else []

    def response_created(self) -> None:
        if self.user is UserTurn.AWAITING_REPLY:
            self.user = UserTurn.IDLE

    # -- playback --------------------------------------------------------------
    def agent_audible(self, item_id: str | None) -> list[Record]:
        if self.playback is not Playback.SILENT:
            return []
        self.playback = Playback.PLAYING
        return [AgentStartedSpeaking(item_id)]

    def stopping(self) -> None:
        self.playback = Playback.STOPPING

    def agent_silent(self) -> list[Record]:
        if self.playback is Playback.SILENT:
            return []
        self.playback = Playback.SILENT
        return [AgentStoppedSpeaking()]

    # -- the thinking sound ------------------------------------------------------
    def think(self, agent: str) -> list[Record]:
        if self.thinking:
            return []
        self.thinking = True
        return [ThinkingStarted(agent)]

    def stop_thinking(self) -> list[Record]:
        if not self.thinking:
            return []
        self.thinking = False
        return [ThinkingStopped()]
