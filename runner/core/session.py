"""The sans-I/O session state machine (see docs/architecture.md, "The session core").

Like h11: no asyncio, sockets, threads, clocks or randomness.  Server events and local
inputs go in, a list of actions comes out, and the driver carries them out in order.
Time is always the `now` argument; ids come from counters seeded by `session_id`.
Owned components keep their own state: `Responses` (responses and items, barge-in),
`UserTurns`, `Playback` (what is audible, what was heard), `GuardrailGate` (checks in
flight, the held user turn), `ToolBatches` (calls, handoffs, the filler), `Ending` (the
goodbye, the last line, the close), `Greeting`, `McpListings`, `Keypad`, `ServerErrors`,
the `ThinkingCue` and the `ResponseSequencer`; they reach the session through small
protocols and import nothing of it.  Each brings its own server-event handlers (joined
into one table), and those with timers share one interface (`Timer`) that `next_deadline`
and `tick` iterate.  This module holds the inputs, that table, and reconnects.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Mapping

from runner.config.model import Guardrail, Limits
from runner.core.actions import Action, Send
from runner.core.context import SUMMARY_PURPOSE, ConversationItems, HandoffContext
from runner.core.ending import Ending
from runner.core.errors import ServerErrors
from runner.core.events import MalformedEvent, check_shape
from runner.core.greeting import Greeting
from runner.core.guarding import GuardrailGate
from runner.core.history import reseed_items
from runner.core.keypad import Keypad
from runner.core.listing import McpListings
from runner.core.playback import Playback
from runner.core.responses import Responses
from runner.core.sequencer import ResponseRequest, ResponseSequencer
from runner.core.state import ResponseState
from runner.core.states import Output, StateMachine, States
from runner.core.thinking import ThinkingCue
from runner.core.tooling import ToolBatches
from runner.core.transcript import HandoffRecord, ToolCall, TranscriptEntry, TurnLatency, Usage
from runner.core.turns import UserTurns
from runner.core.wiring import Timer, bytes_per_second, check_wiring, handler_table, policies

if TYPE_CHECKING:
    from runner.compile import CompiledAgent


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
        self._states = StateMachine()
        self.session_id = session_id
        self._event_prefix = f"evt_{session_id}_"
        self._event_count = 0
        self._voice = self._agent.voice
        # Owned components: each keeps its own state and reaches the rest through this session.
        self._seq = ResponseSequencer(self._next_event_id)
        self._playback = Playback(
            local=output is Output.AUDIO_LOCAL, states=self._states, bytes_per_second={n: bytes_per_second(a) for n, a in agents.items()}, send=self.send
        )
        self._gate = GuardrailGate(
            self, self._playback, output_policies={n: policies(a, guardrails, "assistant") for n, a in agents.items()},
            input_policies={n: policies(a, guardrails, "user") for n, a in agents.items()},
        )
        self._tools = ToolBatches(self, self._seq, filler_after=limits.filler_after)
        self._turns = UserTurns(self, self._gate, self._states)
        self.usage = Usage(model=str(self._agent.session.get("model", "")))
        self._responses = Responses(
            self, output=output, sequencer=self._seq, states=self._states, playback=self._playback, gate=self._gate, tools=self._tools,
            turns=self._turns, usage=self.usage,
        )
        self._end = Ending(self, sequencer=self._seq, playback=self._playback, states=self._states, max_session_minutes=limits.max_session_minutes)
        self._errors = ServerErrors(self, sequencer=self._seq, responses=self._responses, ending=self._end)
        self._greeting = Greeting(self, self._agent.greeting)
        self._listings = McpListings(self._agent, self._seq)
        self._keypad = Keypad(self, agents=agents.keys(), tools=self._tools, turns=self._turns)
        # The thinking sound is ours to play only when we play the audio (the service plays remote audio).
        self._cue = ThinkingCue(self, states=self._states, tools=self._tools, sequencer=self._seq).apply if output is Output.AUDIO_LOCAL else _uncued
        self._items = ConversationItems()
        self._context = HandoffContext(self, self._items)
        self.transcript: list[TranscriptEntry] = []
        self.agents_visited: list[str] = [start]
        self._timers: tuple[Timer, ...] = (self._listings, self._end, self._tools)  # asked in this order
        self._handlers = handler_table(
            self._responses.handlers(), self._turns.handlers(), self._tools.handlers(),
            {"session.updated": self._on_session_updated, "conversation.item.deleted": self._items.on_deleted,
             "conversation.item.added": self._context.on_added, "conversation.item.created": self._context.on_added},
            self._greeting.handlers(), self._listings.handlers(), self._keypad.handlers(), self._errors.handlers(),
        )

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
        return self._end.ended

    @property
    def busy(self) -> bool:
        """Something is still owed: a response, a tool, a guardrail verdict or a playback stop.

        Drivers wait for this to clear before the next scripted turn or before closing.
        """
        return bool(
            self._greeting.owed or self._seq.busy or self._seq.pending is not None or self._tools.busy or self._gate.busy
            or self._playback.pending is not None or self._context.busy
        )

    @property
    def unknown_events(self) -> dict[str, int]:
        """Server event types nobody handles, and how often each came."""
        return self._errors.unknown_events

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

    def key_pressed(self, key: str, now: float) -> list[Action]:
        """A keypad press (SIP's event, or a Twilio stream's): a mapped key hands off at once; any other reaches the model as text."""
        return self._keypad.key_pressed(key, now)

    def start(self, now: float) -> list[Action]:
        """Configure the socket for the start agent (the only session.update with a voice)."""
        self._end.started(now)
        return [self.send({"type": "session.update", "session": self._full_session(self._agent)})]

    def receive(self, event: dict[str, Any], now: float) -> list[Action]:
        """Feed one server event; a malformed one is reported, a bug of ours raises."""
        end = self._end
        if end.ended:
            return []
        kind = event.get("type")
        handler = self._handlers.get(kind)  # type: ignore[arg-type]
        if handler is None:
            return self._errors.unknown(event)
        try:
            check_shape(event)
        except MalformedEvent as problem:
            return self._errors.record(now, code="malformed_event", message=f"malformed server event {kind!r}: {problem}; ignored")
        actions = handler(event, now)  # an exception from here on is our bug, and is raised
        if end.last_line is not None:
            actions += end.heard()
        return self._cue(actions)

    def next_deadline(self) -> float | None:
        """When the core next needs `tick`: the earliest of its timers (session limit, last line, slow
        tool's filler, hosted MCP listings); None: no timer. Any other input may move it, so a driver
        asks again after each one."""
        if self._end.ended:
            return None
        earliest: float | None = None
        for timer in self._timers:
            deadline = timer.next_deadline()
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def tick(self, now: float) -> list[Action]:
        """The timers that are due, in order (each asked after the ones before it acted; see `next_deadline`)."""
        if self._end.ended:
            return []
        actions: list[Action] = []
        for timer in self._timers:
            if self._end.ended:  # the last line's bound closed the session
                break
            deadline = timer.next_deadline()
            if deadline is not None and now >= deadline:
                actions += timer.tick(now)
        return self._cue(actions)

    def end(self, reason: str, now: float) -> list[Action]:
        """Say goodbye, then EndSession; a second call ends at once."""
        return [] if self._end.ended else self._cue(self._end.end(reason))

    def hang_up(self, reason: str, now: float) -> list[Action]:
        """End at once, with no goodbye: the caller hung up, or the host stops the conversation."""
        return [] if self._end.ended else self._cue(self._end.close(reason))

    def connection_lost(self, why: str, now: float) -> list[Action]:
        """The socket dropped; the driver dials again and calls `reconnected` once it has a new one."""
        if self._end.ended:
            return []
        return self._states.lost(f"connection lost ({why}); reconnecting")

    def reconnected(self, now: float) -> list[Action]:
        """A new socket: configure it, re-seed the history, and reply if a reply was owed."""
        if self._end.ended:
            return []
        actions: list[Action] = [self.send({"type": "session.update", "session": self._full_session(self._agent)})]
        items = reseed_items(self.transcript)
        actions += [self.send({"type": "conversation.item.create", "item": item}) for item in items]
        owed = self._seq.reset()
        self._items.forget()
        self._context.switch = None  # the new socket is re-seeded with the whole history: nothing left to reset
        if self._greeting.reconnected():  # cut by the drop: asked again once the new socket is configured
            owed = False
        cut = self._responses.reconnected()
        actions += self._states.restored(f"reconnected: session re-sent, {len(items)} history items re-seeded")
        if owed and (cut is None or not self._tools.has_batch(cut.id)):  # a cut tool batch asks once its tools answer
            self._seq.pending = self._end.owed_request()
        actions += self._tools.reconnected(now)
        actions += self._seq.flush()
        return actions

    def _on_session_updated(self, event: dict[str, Any], now: float) -> list[Action]:
        self._states.configured()
        return []

    # ---- helpers ---------------------------------------------------------------------

    def _next_event_id(self) -> str:
        self._event_count += 1
        return f"{self._event_prefix}{self._event_count}"

    # ---- for the components: their owner protocols -----------------------------------------

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
        return self._end.reason is not None

    @property
    def closing(self) -> bool:
        """Ending, or the last line is playing: no filler any more."""
        return self._end.closing

    def barge_in(self, now: float, *, server_cancels: bool) -> list[Action]:
        return self._responses.barge_in("barge_in", now, server_cancels=server_cancels)

    def error(self, now: float, *, code: str, message: str) -> list[Action]:
        return self._errors.record(now, code=code, message=message)

    @property
    def agent_name(self) -> str:
        return self._agent.name

    def note(self, entry: TranscriptEntry) -> None:
        self.transcript.append(entry)

    def playback_stopped(self, item_id: str | None, played_ms: float, now: float) -> list[Action]:
        """The driver's answer to StopPlayback: which item was audible and how much was heard."""
        actions, after = self._playback.stopped(item_id, played_ms, ended=self._end.ended)
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
        purpose = request.purpose if request is not None else None
        if purpose == SUMMARY_PURPOSE:
            return self._context.summarised(response)
        if purpose == "greeting":
            self._greeting.given()
        return self._end.finished(purpose, now)

    # ---- asking for responses ----------------------------------------------------------

    def request_response(self, purpose: str, response: dict[str, Any] | None = None) -> list[Action]:
        """Ask for a response through the sequencer; once ending, only the goodbye goes out."""
        if self._end.reason is not None and purpose != "goodbye":
            return []
        return list(self._seq.request(ResponseRequest(purpose, response or {})))

    def say_goodbye(self, reason: str, instructions: str) -> list[Action]:
        return self._end.say_goodbye(reason, instructions)

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


def _uncued(actions: list[Action]) -> list[Action]:
    """No thinking sound: the service plays the audio, or there is none."""
    return actions
