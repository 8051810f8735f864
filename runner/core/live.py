"""GPT-Live as a second protocol of the session core, behind the same records and actions.

Sans-I/O like `Session`: server events and local inputs in, actions out, time as `now`.
What differs is the protocol (docs: ../shared/live-protocol.md): the session is opened
with `session.start`, the model decides turns itself and speaks while the backend
Responses model runs tools (`live_tools.py`), transcripts come as timestamped deltas
with no turn ids (grouped into messages in `live_transcript.py`), usage is cumulative session seconds (replaced, never added), nothing can be
cancelled (a guardrail trip plays a short fixture, which cuts the model off, then
appends a correction), and a reconnect is a new GPT-Live session seeded with the text history.
"""

from __future__ import annotations

import base64
import collections
from typing import Any, Mapping

from runner.config.model import Guardrail, Limits
from runner.core.actions import Action, EndSession, Send, StopPlayback
from runner.core.ending import LIMIT_GOODBYE_INSTRUCTIONS
from runner.core.live_guard import DEFAULT_REFUSAL, LiveGuard, correction
from runner.core.live_phone import LastLineWatch, LivePhone
from runner.core.live_playback import LivePlayback
from runner.core.live_tools import Delegations, LiveAgentSpec
from runner.core.live_transcript import SEGMENT_GAP, Segment, initial_item
from runner.core.live_usage import LiveUsage
from runner.core.states import Connection, Playback, ResponsePhase, States, UserTurn
from runner.core.records import ConnectionLost, ConnectionRestored, ErrorReported, Notice, UserMessage
from runner.core.transcript import Breadcrumb, Message, TranscriptEntry, TurnLatency

CLOSE_TIMEOUT = 5.0  # seconds to wait for session.closed after session.close
HISTORY_ITEMS = 128  # the most session.start's `input` takes
INPUT_SETTLE_SECONDS = 2.5  # after the caller's audio ends: nothing owed this long means no reply is coming
FIXTURE_MS = 300  # the sound that cuts the model off: silence, PCM16 24 kHz
FIXTURE_AUDIO = base64.b64encode(bytes(24 * 2 * FIXTURE_MS)).decode("ascii")
FATAL_CODES = frozenset({"invalid_api_key", "insufficient_quota", "account_deactivated", "billing_hard_limit_reached", "invalid_model", "model_not_found"})
IGNORED_EVENTS = frozenset({
    "session.instructions.appended", "session.thinking.appended", "session.commentary.appended", "session.input_audio.muted",
    "session.input_audio.unmuted", "session.output_audio.fixture.playing", "info", "session.input_audio.append",
})


class GptLiveSession(LivePhone):
    """One conversation on GPT-Live; the same driver-facing surface as `Session` where GPT-Live has it."""

    # GPT-Live says nothing while it listens (no speech-started, no commit), so an edge that
    # has sent its last audio cannot see that a reply is coming: it waits until the session
    # has owed nothing for this long (runner/run/voice.py). Realtime's `Session` has none.
    input_settle_seconds = INPUT_SETTLE_SECONDS

    def __init__(
        self, agents: Mapping[str, LiveAgentSpec], start: str, *, guardrails: Mapping[str, Guardrail], limits: Limits, session_id: str,
        audio: bool = False, attached: bool = False, phone: bool = False,
    ) -> None:
        self._agents = agents
        self._start = start
        self._agent = agents[start]
        self._guardrails = guardrails
        self._limits = limits
        self._audio = audio  # play the model's audio (Play actions); False: a text conversation, or the service plays it
        self._attached = attached  # a sideband of a session its call started: never session.start
        self._phone = phone  # a phone call the edge transfers or hangs up (SIP): a handoff to a person transfers it
        self._last_line = LastLineWatch()  # attached: the service plays the audio, so ending waits until the last line was played
        self.session_id = session_id
        self._events = 0
        self._started_at: float | None = None
        self._configured = False
        self._restoring = False
        self._reconnecting = False
        self._ended = False
        self._ending: tuple[str, float] | None = None  # reason, deadline for session.closed
        self._greeting_due = self._agent.greeting is not None
        self._reply = False  # a reply is owed: after a user turn or the tools' outputs
        self._segment: Segment | None = None
        self._segments = 0
        self._guard = LiveGuard(guardrails)
        self._users = 0
        self._delegations = Delegations(self)
        self._playback = LivePlayback()
        self.usage = LiveUsage(model=str(self._agent.start_session.get("model", "")))
        self.transcript: list[TranscriptEntry] = []
        self.agents_visited = [start]
        self._latencies: list[TurnLatency] = []
        self.unknown_events: dict[str, int] = {}

    # ---- read-only state -------------------------------------------------------------

    @property
    def agent(self) -> LiveAgentSpec:
        return self._agent

    @property
    def active_agent(self) -> str:
        return self._agent.name

    @property
    def tool_calls(self) -> list[Any]:
        return self._delegations.tool_calls

    @property
    def handoffs(self) -> list[Any]:
        return self._delegations.handoffs

    @property
    def handoff_counts(self) -> dict[str, int]:
        """Successful handoffs per edge, keyed "source->target"."""
        return dict(collections.Counter(f"{r.source}->{r.target}" for r in self.handoffs if r.success))

    @property
    def latencies(self) -> list[TurnLatency]:
        """Per user turn: its end, the first delegation after it, the first reply text after it."""
        return self._latencies

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def state(self) -> States:
        """The named states an edge reads (the voice loop's status line and its wait for the reply)."""
        if self._ended:
            connection = Connection.CLOSED
        elif self._configured:
            connection = Connection.LIVE
        else:
            connection = Connection.RECONNECTING if self._reconnecting else Connection.CONNECTING
        speaking = self._segment is not None and self._segment.message.role
        user = UserTurn.SPEAKING if speaking == "user" else UserTurn.AWAITING_REPLY if self._reply and speaking != "assistant" else UserTurn.IDLE
        response = ResponsePhase.ACTIVE if self._delegations.busy or speaking == "assistant" else ResponsePhase.IDLE
        return States(connection, response, user, Playback.PLAYING if self._playback.playing else Playback.SILENT)

    @property
    def busy(self) -> bool:
        """A reply, a delegation, a verdict or a correction is still owed."""
        owed = self._reply or (self._greeting_due and not self._users)
        return bool(owed or self._segment or self._delegations.busy or self._guard.busy or self._ending or self._last_line.line)

    # ---- what the delegations need (DelegationOwner) ------------------------------------

    def agent_named(self, name: str) -> LiveAgentSpec:
        return self._agents[name]

    def send(self, event: dict[str, Any]) -> Send:
        self._events += 1
        return Send({**event, "event_id": f"evt_{self.session_id}_{self._events}"})

    def note(self, entry: TranscriptEntry) -> None:
        self.transcript.append(entry)

    def switch_agent(self, name: str) -> None:
        self._agent = self._agents[name]
        self.agents_visited.append(name)

    def reply_owed(self) -> None:
        self._reply = True

    # ---- local inputs ----------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        self._started_at = now
        if self._attached:  # the call's creation started the session; the attach's replay says session.started
            return []
        return [self.send({"type": "session.start", "session": self._agent.start_session})]

    def user_text(self, text: str, now: float) -> list[Action]:
        """A typed turn goes to the backend as a user message, then one request for its answer."""
        actions = self._close_segment(now)
        self._users += 1
        self._latencies.append(TurnLatency(self._users, now))
        message = Message("user", self._agent.name, text, "done", now, now)
        self.note(message)
        actions.append(UserMessage(text, None))
        self._reply = True
        checks = self._guard.checks_for(self._agent.guardrails, "user", message, final=True)
        if checks:  # typed text can wait for its verdicts, unlike speech the model already heard
            self._guard.hold(message, checks)
            return actions + list(checks)
        return actions + self._send_user_text(message)

    def _send_user_text(self, message: Message) -> list[Action]:
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": message.text}]}
        return [self.send({"type": "response.item.create", "item": item}), self.send({"type": "response.create"})]

    def user_audio(self, audio: bytes, now: float) -> list[Action]:
        return [self.send({"type": "session.input_audio.append", "audio": base64.b64encode(audio).decode("ascii")})]

    def tool_done(self, call_id: str, output: str, *, error: str | None, duration: float, now: float) -> list[Action]:
        if self._ended:
            return []
        return self._delegations.tool_done(call_id, output, error=error, duration=duration, now=now)

    def playback_stopped(self, item_id: str | None, played_ms: int, now: float) -> list[Action]:
        """Nothing to truncate: GPT-Live's history is append-only (the fixture already cut the model off)."""
        self._playback.stopped()
        return []

    def playback_finished(self, item_id: str, now: float) -> list[Action]:
        self._playback.heard(item_id)
        return []

    def interrupt(self, now: float) -> list[Action]:
        """The caller cut the agent off locally (Ctrl-C): GPT-Live has nothing to cancel or truncate."""
        return []

    def hang_up(self, reason: str, now: float) -> list[Action]:
        """End at once, with no goodbye: the close is sent, its confirmation not awaited."""
        if self._ended:
            return []
        actions = self._close_segment(now)
        if self._configured and not self._ending:
            actions.append(self.send({"type": "session.close"}))
        self._ended, self._ending = True, None
        return actions + [EndSession(reason)]

    def guardrail_result(
        self, check_id: int, *, tripped: bool, category: str | None = None, rationale: str | None = None, error: str | None = None, now: float
    ) -> list[Action]:
        outcome = self._guard.verdict(check_id, tripped=tripped, category=category, rationale=rationale, error=error)
        if outcome is None or self._ended:
            return []
        if isinstance(outcome, Message):
            return self._send_user_text(outcome)
        trip, policy, message = outcome.record, outcome.policy, outcome.message
        self.note(Breadcrumb("guardrail", message.agent, now, trip.to_json()))
        if policy.action == "log":
            return [trip]
        if policy.action == "end_session":
            return [trip, *self.end("guardrail", now)]
        message.blocked_by = policy.name
        if outcome.held:  # never sent: the model only needs to say the refusal
            refusal = policy.refusal or DEFAULT_REFUSAL
            return [trip, self.send({"type": "session.commentary.append", "content": f"Tell the caller: {refusal}", "delegation_id": None})]
        self._guard.correction = correction(policy, trip.role)
        actions: list[Action] = [trip, self.send({"type": "session.output_audio.fixture.play", "audio": FIXTURE_AUDIO})]
        return actions + ([StopPlayback("guardrail")] if self._audio else [])

    def _close(self, reason: str, now: float) -> list[Action]:
        """Close the session; EndSession follows session.closed (or a timeout without it)."""
        if self._ended or self._ending:
            return []
        actions = self._close_segment(now)
        if not self._configured:
            self._ended = True
            return actions + [EndSession(reason)]
        self._ending = (reason, now + CLOSE_TIMEOUT)
        return actions + [self.send({"type": "session.close"})]

    def close_session(self, reason: str, now: float) -> list[Action]:
        """The driver is closing: GPT-Live confirms the close (and the final usage) with session.closed."""
        self._last_line.line = None
        return self._close(reason, now)

    def next_deadline(self) -> float | None:
        due = [self._segment.last + SEGMENT_GAP] if self._segment else []
        if self._ending:
            due.append(self._ending[1])
        if self._last_line.line is not None:
            due.append(self._last_line.line.deadline)
        elif self._started_at is not None and not self._ended and not self._ending:
            due.append(self._started_at + self._limits.max_session_minutes * 60)
        return min(due, default=None)

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self._segment and now >= self._segment.last + SEGMENT_GAP:
            actions += self._close_segment(now)
        if self._ending and now >= self._ending[1]:
            self._ended = True
            actions.append(EndSession(self._ending[0]))
        elif (line := self._last_line.due(now)) is not None:
            actions += self._line_over(line, now)
        elif self._last_line.line is None and self._started_at is not None and now >= self._started_at + self._limits.max_session_minutes * 60:
            if self._attached and not self._ended and not self._ending:
                actions.append(Notice(f"session limit of {self._limits.max_session_minutes:g} minutes reached"))
            actions += self._say_goodbye("session limit", LIMIT_GOODBYE_INSTRUCTIONS, now)
        return actions

    def connection_lost(self, why: str, now: float) -> list[Action]:
        self._configured, self._reconnecting = False, True
        actions = self._close_segment(now)
        self._delegations.connection_lost()
        self._guard.clear()
        return actions + [ConnectionLost(f"connection lost ({why}); reconnecting")]

    def reconnected(self, now: float) -> list[Action]:
        """A new socket is a new GPT-Live session: the active agent in force, the text history as `input`.
        A sideband attaches again to the session its call still holds, which keeps everything."""
        if self._attached:
            return []
        self._restoring = True
        session = {**self._agent.start_session}
        history = [item for entry in self.transcript if (item := initial_item(entry)) is not None]
        if history:
            session["input"] = history[-HISTORY_ITEMS:]
        return [self.send({"type": "session.start", "session": session})]

    # ---- server events ---------------------------------------------------------------

    def receive(self, event: dict[str, Any], now: float) -> list[Action]:
        kind = str(event.get("type"))
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is None:
            if kind not in IGNORED_EVENTS:
                self.unknown_events[kind] = self.unknown_events.get(kind, 0) + 1
            return []
        actions = handler(event, now)
        if not self._ended and (line := self._last_line.due(now)) is not None:
            actions += self._line_over(line, now)
        return actions

    def _on_session_started(self, event: dict[str, Any], now: float) -> list[Action]:
        self._configured, self._reconnecting = True, False
        actions: list[Action] = []
        if self._restoring:
            self._restoring = False
            actions.append(ConnectionRestored("reconnected: a new GPT-Live session, seeded with the conversation so far"))
            if self._agent.name != self._start:
                actions.append(self.send(dict(self._agent.handoff[1])))
            if self._reply:  # the caller's turn went unanswered on the old session: ask the backend again
                actions.append(self.send({"type": "response.create"}))
        elif self._greeting_due and not self._users and self._agent.greeting is not None:
            self._greeting_due = False
            self._reply = True
            actions.append(self.send({"type": "session.commentary.append", "content": self._agent.greeting, "delegation_id": None}))
        return actions

    def _on_session_updated(self, event: dict[str, Any], now: float) -> list[Action]:
        """A handoff's update: what the source agent was saying ends here; the target speaks next."""
        actions = self._close_segment(now) if self._delegations.handing_off else []
        actions += self._delegations.session_updated(now)
        if self._phone and self._agent.transfer_to is not None and self._last_line.line is None:  # its one line, then the transfer
            self._last_line.ask("transfer", f"transferred to {self._agent.transfer_to}", now, first_segment=self._segments + 1,
                                transfer_to=self._agent.transfer_to)
        return actions

    def _on_session_delegation_created(self, event: dict[str, Any], now: float) -> list[Action]:
        delegation = event.get("delegation") or {}
        self._delegations.created(delegation.get("id"))
        actions = self._close_segment(now) if self._segment is not None and self._segment.message.role == "user" else []  # the model took the turn
        if self._latencies and self._latencies[-1].response_created is None:
            self._latencies[-1].response_created = now
        return actions

    def _on_response_event(self, event: dict[str, Any], now: float) -> list[Action]:
        inner = event.get("event") or {}
        delegation_id = event.get("delegation_id")
        kind = inner.get("type")
        if kind == "response.output_item.done" and (inner.get("item") or {}).get("type") == "function_call":
            return self._delegations.on_call(delegation_id, inner["item"], now)
        if kind == "response.completed":
            usage = (inner.get("response") or {}).get("usage") or {}
            self.usage.responses += 1
            self.usage.input_tokens += usage.get("input_tokens") or 0
            self.usage.output_tokens += usage.get("output_tokens") or 0
            self.usage.total_tokens += usage.get("total_tokens") or 0
            return [self.usage.record(), *self._delegations.completed(delegation_id, now)]
        if kind in ("response.failed", "response.incomplete"):
            return self._delegations.failed(delegation_id)
        return []

    def _on_session_output_audio_fixture_played(self, event: dict[str, Any], now: float) -> list[Action]:
        appended, self._guard.correction = self._guard.correction, None
        if appended is None:
            return []
        self._reply = True
        actions = [self.send({"type": "session.instructions.append", "content": appended, "delegation_id": None})]
        if self._delegations.busy:
            return actions  # the open calls' own response.create brings the corrected reply
        return actions + [self.send({"type": "response.create"})]  # the backend answers again, under the correction

    def _on_session_usage_updated(self, event: dict[str, Any], now: float) -> list[Action]:
        self.usage.seconds = float((event.get("usage") or {}).get("seconds") or 0.0)  # cumulative: replace
        return [self.usage.record()]

    def _on_session_closed(self, event: dict[str, Any], now: float) -> list[Action]:
        self.usage.seconds = float((event.get("usage") or {}).get("seconds") or self.usage.seconds)
        actions = [*self._close_segment(now), self.usage.record()]
        if self._ended:  # hung up already: only the final usage is news
            return actions
        reason = self._ending[0] if self._ending else str(event.get("reason", "closed"))
        self._ending, self._ended, self._configured = None, True, False
        return actions + [EndSession(reason)]

    def _on_error(self, event: dict[str, Any], now: float) -> list[Action]:
        error = event.get("error") or {}
        code, message = str(error.get("code") or error.get("type") or "error"), str(error.get("message", ""))
        fatal = code in FATAL_CODES
        self.note(Breadcrumb("error", self._agent.name, now, {"code": code, "message": message, "fatal": fatal}))
        actions: list[Action] = [ErrorReported(code, message, fatal)]
        if fatal:
            self._ended = True
            actions.append(EndSession(f"error: {code}"))
        return actions
