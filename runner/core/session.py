"""The sans-I/O session state machine (see docs/architecture.md, "The session core").

Like h11: no asyncio, sockets, threads, clocks or randomness.  Server events and local
inputs go in, a list of actions comes out, and the driver carries them out in order.
Time is always the `now` argument; ids come from counters seeded by `session_id`.
Owned components keep their own state: `Playback` (what is audible, what was heard),
`GuardrailGate` (checks in flight, the held user turn), `ToolBatches` (calls, handoffs,
the filler) and the `ResponseSequencer`; they reach the session through small protocols
and import nothing of it.  The response lifecycle lives in `ResponsesMixin`, user turns in
`TurnsMixin`; this module holds the shared state, the dispatch table, errors and reconnects.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Mapping

from runner.config.model import Guardrail, Limits
from runner.core.actions import Action, EndSession, Send
from runner.core.context import SUMMARY_PURPOSE, ConversationItems, HandoffContext
from runner.core.events import MalformedEvent, check_shape
from runner.core.guarding import GuardrailGate
from runner.core.history import reseed_items
from runner.core.listing import MCP_LIST_WAIT, McpListings
from runner.core.playback import Playback
from runner.core.records import CallTransferRequested, ErrorReported, Handoff, KeyPressed, Notice
from runner.core.responses import Responses
from runner.core.sequencer import ResponseRequest, ResponseSequencer
from runner.core.state import ResponseState
from runner.core.states import Output, ResponsePhase, StateMachine, States
from runner.core.thinking import thinking_cue
from runner.core.tooling import ToolBatches
from runner.core.transcript import Breadcrumb, HandoffRecord, ToolCall, TranscriptEntry, TurnLatency, Usage
from runner.core.turns import UserTurns
from runner.core.wiring import IGNORED_EVENTS, Handler, bytes_per_second, check_wiring, ignore, policies

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

RACE_CODE = "conversation_already_has_active_response"
LAST_LINE_SECONDS = 15.0  # the longest the service may still be playing a goodbye or transfer line
FATAL_CODES = frozenset({"beta_api_shape_disabled", "session_expired", "invalid_api_key", "insufficient_quota"})
FATAL_TYPES = frozenset({"authentication_error"})
GOODBYE_INSTRUCTIONS = "The conversation is ending now. Say one short, friendly goodbye sentence. Do not call tools."
LIMIT_GOODBYE_INSTRUCTIONS = (
    "The session has reached its time limit. Tell the caller in one short sentence that you have to end "
    "the call now, and say goodbye. Do not call tools."
)


class Session:
    """One conversation with a team of agents, as a pure state machine."""

    def __init__(
        self,
        agents: Mapping[str, CompiledAgent],
        start: str,
        *,
        guardrails: Mapping[str, Guardrail],
        limits: Limits,
        output: Output,
        session_id: str,
    ) -> None:
        check_wiring(agents, start, guardrails)
        self._agents = agents
        self._agent = agents[start]
        self._limits = limits
        self._states = StateMachine()
        self.session_id = session_id
        self._event_prefix = f"evt_{session_id}_"
        self._event_count = 0
        self._voice = self._agent.voice
        self._started_at: float | None = None
        self._ending: str | None = None  # reason, once a goodbye is on its way
        self._last_line: tuple[str, float] | None = None  # (reason, deadline): closing once the service has played the last line
        self._goodbye_instructions = GOODBYE_INSTRUCTIONS
        # The start agent opens the conversation: "due" until the session is configured,
        # "asked" once requested, "given" at its response.done; None when it waits for the caller.
        self._greeting_request = self._agent.greeting
        self._greeting: str | None = "due" if self._greeting_request is not None else None
        self._ended = False
        self._cues_thinking = output is Output.AUDIO_LOCAL  # the service plays remote audio: nothing to fill
        # Owned components: each keeps its own state and reaches the rest through this session.
        self._playback = Playback(
            local=output is Output.AUDIO_LOCAL, states=self._states, bytes_per_second={n: bytes_per_second(a) for n, a in agents.items()}, send=self.send
        )
        self._gate = GuardrailGate(
            self, self._playback, output_policies={n: policies(a, guardrails, "assistant") for n, a in agents.items()},
            input_policies={n: policies(a, guardrails, "user") for n, a in agents.items()},
        )
        self._tools = ToolBatches(self, filler_after=limits.filler_after)
        self._turns = UserTurns(self, self._gate, self._states)
        self._seq = ResponseSequencer(self._next_event_id)
        self.usage = Usage(model=str(self._agent.session.get("model", "")))
        self._responses = Responses(
            self, output=output, sequencer=self._seq, states=self._states, playback=self._playback, gate=self._gate, tools=self._tools,
            turns=self._turns, usage=self.usage,
        )
        self._listings = McpListings(self._agent)
        self._seq.held = self._listings.holding  # the first response waits for the hosted MCP servers' tools
        self._items = ConversationItems()
        self._context = HandoffContext(self, self._items)
        self.transcript: list[TranscriptEntry] = []
        self.agents_visited: list[str] = [start]
        self.unknown_events: dict[str, int] = {}
        self._handlers: dict[str, Handler] = {
            **self._responses.handlers(),
            **self._turns.handlers(),
            "response.function_call_arguments.done": self._tools.on_call,
            "session.updated": self._on_session_updated,
            "input_audio_buffer.dtmf_event_received": self._on_key_pressed,
            "error": self._on_error,
            **dict.fromkeys(IGNORED_EVENTS, ignore),
            "conversation.item.deleted": self._items.on_deleted,
        }
        for kind in ("conversation.item.added", "conversation.item.created"):  # the turns' and the context's both
            self._handlers[kind] = _both(self._handlers[kind], self._context.on_added)
        self._handlers["response.output_item.done"] = _both(self._handlers["response.output_item.done"], self._tools.on_item_done)
        self._handlers["mcp_list_tools.completed"] = self._handlers["mcp_list_tools.failed"] = self._on_listed

    # ---- read-only state -------------------------------------------------------------

    @property
    def active_agent(self) -> str:
        return self._agent.name

    @property
    def state(self) -> States:
        """Connection, response, user turn and playback, as named states."""
        machine = self._states
        return States(machine.connection, self._seq.phase, machine.user, machine.playback)

    @property
    def ended(self) -> bool:
        """True once EndSession has been returned."""
        return self._ended

    @property
    def busy(self) -> bool:
        """Something is still owed: a response, a tool, a guardrail verdict or a playback stop.

        Drivers wait for this to clear before the next scripted turn or before closing.
        """
        return bool(
            self._greeting_owed or self._seq.busy or self._seq.pending is not None or self._tools.busy or self._gate.busy
            or self._playback.pending is not None or self._context.busy
        )

    @property
    def _greeting_owed(self) -> bool:
        return self._greeting == "due" and not self._turns.number

    @property
    def latencies(self) -> list[TurnLatency]:
        """One latency record per user turn that ended."""
        return self._turns.latencies

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self._tools.tool_calls

    @property
    def handoffs(self) -> list[HandoffRecord]:
        return self._tools.handoffs

    @property
    def handoff_counts(self) -> dict[str, int]:
        """Successful handoffs per edge, keyed "source->target"."""
        return dict(collections.Counter(f"{r.source}->{r.target}" for r in self.handoffs if r.success))

    # ---- inputs ----------------------------------------------------------------------

    def user_text(self, text: str, now: float) -> list[Action]:
        """A typed user turn: the item now, the response once input policies pass."""
        return self._turns.user_text(text, now)

    def user_audio(self, audio: bytes, now: float) -> list[Action]:
        """User audio in (mic, phone, browser), in the session's input format."""
        return self._turns.user_audio(audio, now)

    def begin_user_turn(self, now: float) -> list[Action]:
        """Push-to-talk pressed: cut the agent off and start from an empty input buffer."""
        return self._turns.begin_user_turn(now)

    def commit_user_turn(self, now: float) -> list[Action]:
        """Push-to-talk released: commit the audio given since the press, then ask for a reply."""
        return self._turns.commit_user_turn(now)

    def interrupt(self, now: float) -> list[Action]:
        """Local barge-in: the server does not know, so the client cancels."""
        return self._turns.interrupt(now)

    def start(self, now: float) -> list[Action]:
        """Configure the socket for the start agent (the only session.update with a voice)."""
        self._started_at = now
        return [self.send({"type": "session.update", "session": self._full_session(self._agent)})]

    def receive(self, event: dict[str, Any], now: float) -> list[Action]:
        """Feed one server event; a malformed one is reported, a bug of ours raises."""
        if self._ended:
            return []
        kind = event.get("type")
        handler = self._handlers.get(kind)  # type: ignore[arg-type]
        if handler is None:
            return self._on_unknown(event, now)
        try:
            check_shape(event)
        except MalformedEvent as problem:
            return self._error_record(now, code="malformed_event", message=f"malformed server event {kind!r}: {problem}; ignored")
        actions = handler(event, now)  # an exception from here on is our bug, and is raised
        if self._last_line is not None and not self._playback.remote_playing:
            actions += self._close(self._last_line[0])
        return self._cue(actions)

    def _cue(self, actions: list[Action]) -> list[Action]:
        """The thinking sound's records among `actions` (runner/core/thinking.py); local audio only."""
        if not self._cues_thinking:
            return actions
        if not self._states.thinking and not self._tools.running and not any(type(action) is Handoff for action in actions):
            return actions  # the common case (every audio delta): nothing starts or stops
        return thinking_cue(actions, self._states, agent=self._agent.name, tools_running=self._tools.running,
                            responding=self._seq.phase is not ResponsePhase.IDLE, owed=self.busy and not self._ended)

    def next_deadline(self) -> float | None:
        """When the core next needs `tick`: the session limit or a slow tool's filler; None: no timer.

        Any other input may move it, so a driver asks again after each one.
        """
        if self._ended:
            return None
        if self._last_line is not None:
            return self._last_line[1]
        earliest: float | None = None  # asked after every input: no list built
        for deadline in (self._limit_deadline(), self._filler_deadline(), self._listings.deadline if self._listings.holding else None):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def _filler_deadline(self) -> float | None:
        """A slow tool's filler is due only while no response is active, owed or ending the call."""
        if self._seq.busy or self._seq.pending is not None or self._ending is not None:
            return None
        return self._tools.filler_deadline()

    def _limit_deadline(self) -> float | None:
        if self._started_at is None or self._ending is not None:
            return None
        return self._started_at + self._limits.max_session_minutes * 60

    def tick(self, now: float) -> list[Action]:
        """Timers that are due: the session limit and the slow-tool filler (see `next_deadline`)."""
        if self._ended:
            return []
        if self._last_line is not None:
            reason, deadline = self._last_line
            return self._close(reason) if now >= deadline else []
        if self._listings.due(now):
            self._seq.held = False
            notice = Notice(f"hosted MCP servers did not list their tools within {MCP_LIST_WAIT:g} s; going on without waiting")
            return [notice, *self._seq.flush()]
        limit = self._limit_deadline()
        if limit is not None and now >= limit:
            notice = Notice(f"session limit of {self._limits.max_session_minutes:g} minutes reached")
            return self._cue([notice, *self.say_goodbye("session_limit", LIMIT_GOODBYE_INSTRUCTIONS)])
        filler = self._filler_deadline()
        return self._tools.filler(now) if filler is not None and now >= filler else []

    def end(self, reason: str, now: float) -> list[Action]:
        """Say goodbye, then EndSession; a second call ends at once."""
        if self._ended:
            return []
        if self._ending is not None:
            return self._cue(self._close(self._ending))
        return self._cue(self.say_goodbye(reason, GOODBYE_INSTRUCTIONS))

    def hang_up(self, reason: str, now: float) -> list[Action]:
        """End at once, with no goodbye: the caller hung up, or the host stops the conversation."""
        return [] if self._ended else self._cue(self._close(reason))

    def connection_lost(self, why: str, now: float) -> list[Action]:
        """The socket dropped; the driver dials again and calls `reconnected` once it has a new one."""
        if self._ended:
            return []
        return self._states.lost(f"connection lost ({why}); reconnecting")

    def reconnected(self, now: float) -> list[Action]:
        """A new socket: configure it, re-seed the history, and reply if a reply was owed."""
        if self._ended:
            return []
        actions: list[Action] = [self.send({"type": "session.update", "session": self._full_session(self._agent)})]
        items = reseed_items(self.transcript)
        actions += [self.send({"type": "conversation.item.create", "item": item}) for item in items]
        owed = self._seq.reset()
        self._items.forget()
        self._context.switch = None  # the new socket is re-seeded with the whole history: nothing left to reset
        if self._greeting == "asked" and not self._turns.number:
            self._greeting = "due"  # cut by the drop: asked again once the new socket is configured
            owed = False
        cut = self._responses.reconnected()
        actions += self._states.restored(f"reconnected: session re-sent, {len(items)} history items re-seeded")
        if owed and (cut is None or not self._tools.has_batch(cut.id)):  # a cut tool batch asks once its tools answer
            self._seq.pending = self._owed_request()
        actions += self._tools.reconnected(now)
        actions += self._seq.flush()
        return actions

    def _on_session_updated(self, event: dict[str, Any], now: float) -> list[Action]:
        """A session.update was applied: the first one lets a start agent that speaks first open the call.

        Handoff and reconnect updates find the greeting asked or given already; a caller
        who spoke before the session was configured gets a reply instead of a greeting.
        """
        self._states.configured()
        self._listings.configured(now)
        if not self._greeting_owed or self._greeting_request is None:
            return []
        self._greeting = "asked"
        return self.request_response("greeting", dict(self._greeting_request))

    def _on_key_pressed(self, event: dict[str, Any], now: float) -> list[Action]:
        """A keypad press the service detected (SIP)."""
        return self.key_pressed(event["event"], now)

    def key_pressed(self, key: str, now: float) -> list[Action]:
        """A keypad press (SIP's event, or a Twilio stream's): a mapped key hands off at once; any other reaches the model as text."""
        target = self._agent.dtmf.get(key)
        pressed = KeyPressed(self._agent.name, key)
        if target is not None and target in self._agents and target != self._agent.name and self._ending is None:
            return [pressed, *self._tools.hand_off(target, f"the caller pressed {key}", now)]
        return [pressed, *self._turns.user_text(f"(The caller pressed {key} on the keypad.)", now)]

    def _on_listed(self, event: dict[str, Any], now: float) -> list[Action]:
        """A hosted MCP server's tools are listed (or failed to be): the held response may go once all are."""
        done, notes = self._listings.listed(event)
        if not done:
            return notes
        self._seq.held = False
        return notes + self._seq.flush()

    # ---- errors ----------------------------------------------------------------------

    def _on_error(self, event: dict[str, Any], now: float) -> list[Action]:
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
        actions = self._error_record(now, code=code or error.get("type") or "error", message=error.get("message") or "", fatal=fatal)
        if fatal:
            return actions + self._close(f"fatal error: {code or error.get('type')}")
        return actions + self._seq.flush()

    def _error_record(self, now: float, *, code: str, message: str, fatal: bool = False) -> list[Action]:
        error = ErrorReported(code, message, fatal)
        self.transcript.append(Breadcrumb("error", self._agent.name, now, error.to_json()))
        return [error]

    def _on_unknown(self, event: dict[str, Any], now: float) -> list[Action]:
        kind = str(event.get("type"))
        self.unknown_events[kind] = self.unknown_events.get(kind, 0) + 1
        if self.unknown_events[kind] > 1:
            return []
        return [Notice(f"unknown server event type {kind!r} ignored")]

    # ---- helpers ---------------------------------------------------------------------

    def _close(self, reason: str) -> list[Action]:
        """The session is over: the entries of replies the service was still playing, then EndSession."""
        self._ended = True
        self._states.closed()
        return [*self._playback.remote_settle(ended=True), EndSession(reason)]

    def _next_event_id(self) -> str:
        self._event_count += 1
        return f"{self._event_prefix}{self._event_count}"

    # ---- for the components: the GateOwner and ToolsOwner interfaces ---------------------

    @property
    def agent(self) -> CompiledAgent:
        """The agent that speaks now."""
        return self._agent

    def transfer_to(self, target: str) -> None:
        self._agent = self._agents[target]
        if target not in self.agents_visited:
            self.agents_visited.append(target)

    def response_in_progress(self, response_id: str) -> bool:
        return self._responses.in_progress(response_id)

    def switch_context(self, policy: str, source: str, target: str, reason: str | None, answered: list[str], response: dict[str, Any] | None) -> list[Action]:
        return self._context.begin(policy, source, target, reason, answered, response)

    def tool_time(self, seconds: float) -> None:
        self._turns.tool_time(seconds)

    def tool_done(self, call_id: str, output: str, *, error: str | None, duration: float, now: float) -> list[Action]:
        """A tool finished. `output` is what the model sees; `error`, when set, says why it failed
        (a timeout, an exception, invalid arguments) for the transcript and report; an empty
        `output` with an error set is sent as `{"error": error}`."""
        return self._cue(self._tools.tool_done(call_id, output, error=error, duration=duration, now=now))

    @property
    def user_turn(self) -> int:
        """The number of the user's current turn (input since the last one makes checks stale)."""
        return self._turns.number

    @property
    def ending(self) -> bool:
        """A goodbye is on its way: no new turn gets a reply."""
        return self._ending is not None

    def barge_in(self, now: float, *, server_cancels: bool) -> list[Action]:
        return self._responses.barge_in("barge_in", now, server_cancels=server_cancels)

    def error(self, now: float, *, code: str, message: str) -> list[Action]:
        return self._error_record(now, code=code, message=message)

    @property
    def agent_name(self) -> str:
        return self._agent.name

    def note(self, entry: TranscriptEntry) -> None:
        self.transcript.append(entry)

    def playback_stopped(self, item_id: str | None, played_ms: float, now: float) -> list[Action]:
        """The driver's answer to StopPlayback: which item was audible and how much was heard."""
        actions, after = self._playback.stopped(item_id, played_ms, ended=self._ended)
        for consequence in after:
            actions += self._gate.after_stop(consequence, now)
        return actions

    def playback_finished(self, item_id: str, now: float) -> list[Action]:
        """The whole item was heard."""
        return self._playback.finished(item_id)

    def guardrail_result(
        self, check_id: int, *, tripped: bool, category: str | None = None, rationale: str | None = None, error: str | None = None, now: float
    ) -> list[Action]:
        """A verdict for a CheckGuardrail. `error` with `tripped` false: the check failed open."""
        return self._gate.guardrail_result(check_id, tripped=tripped, category=category, rationale=rationale, error=error, now=now)

    def cut(self, response: ResponseState) -> list[Action]:
        return self._responses.cut(response)

    def finished(self, request: ResponseRequest | None, response: dict[str, Any], now: float) -> list[Action]:
        """A response of ours is done: the greeting is given, the goodbye said (EndSession), a handoff summarised."""
        if request is not None and request.purpose == SUMMARY_PURPOSE:
            return self._context.summarised(response)
        if request is not None and request.purpose == "greeting":
            self._greeting = "given"
        if request is not None and request.purpose == "goodbye":
            return self._close_once_heard(self._ending or "ended", now)
        if request is not None and request.purpose == "transfer" and self._agent.transfer_to is not None:
            target = self._agent.transfer_to
            return [Notice(f"transferring the call to {target}"), CallTransferRequested(self._agent.name, target),
                    *self._close_once_heard(f"transferred to {target}", now)]
        return []

    def _close_once_heard(self, reason: str, now: float) -> list[Action]:
        """Close now, or, while the service still plays the last line (WebRTC, SIP), once it is heard.

        The line's response is done long before its audio has played; hanging up (or
        transferring) then would cut it off. The service says when it stopped playing;
        LAST_LINE_SECONDS bounds the wait if it never does.
        """
        if not self._playback.remote_playing:
            return self._close(reason)
        self._last_line = (reason, now + LAST_LINE_SECONDS)
        return []

    # ---- asking for responses ----------------------------------------------------------

    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]:
        """Ask for a response through the sequencer; once ending, only the goodbye goes out."""
        if self._ending is not None and purpose != "goodbye":
            return []
        return list(self._seq.request(ResponseRequest(purpose, response or {})))

    def _owed_request(self) -> ResponseRequest:
        if self._ending is None:
            return ResponseRequest("reply")
        return ResponseRequest("goodbye", {"instructions": self._goodbye_instructions, "tool_choice": "none"})

    def say_goodbye(self, reason: str, instructions: str) -> list[Action]:
        if self._ending is not None:
            return []
        self._ending = reason
        self._goodbye_instructions = instructions
        self._seq.drop_pending()
        return self.request_response("goodbye", {"instructions": instructions, "tool_choice": "none"})

    def send(self, event: dict[str, Any]) -> Send:
        event["event_id"] = self._next_event_id()
        return Send(event)

    def _full_session(self, agent: CompiledAgent) -> dict[str, Any]:
        """The agent's start-of-session config, with the voice this conversation began with."""
        session = dict(agent.session)
        audio = session.get("audio")
        if audio and "output" in audio:
            session["audio"] = {**audio, "output": {**audio["output"], "voice": self._voice}}
        return session


def _both(first: Handler, second: Handler) -> Handler:
    """One server event for two components, in order."""
    return lambda event, now: first(event, now) + second(event, now)
