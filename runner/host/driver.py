"""The asyncio driver: carries out the session core's actions against the world.

The core decides; this module only moves bytes.  All actions of one core call are
applied synchronously, in order, and client events go through one bounded queue with
one sender at a time (`outgoing.py`), so the order the core chose is the order on the
wire even while tools, guardrail checks and the socket reader run concurrently.  A lost
socket is dialled again by `reconnect.py`, and the core re-seeds the new one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

from ..core import Session
from ..core.actions import AudioComplete, CheckGuardrail, EndSession, Play, RunTool, Send, StopPlayback
from ..core.records import Notice, Record
from .errors import CALL_ENDED, BadFrame, ConnectionLost
from .outgoing import MAX_OUTGOING, Outgoing
from .reconnect import RECONNECT_DELAYS, SETUP_TIMEOUT, Reconnects
from .seams import AudioOut, Connection, GuardrailRunner, ToolRunner

__all__ = ["RECONNECT_DELAYS", "SETUP_TIMEOUT", "AudioOut", "Connection", "Driver", "GuardrailRunner", "Hooks", "Outcome", "ToolRunner"]

FINISH_TIMEOUT = 30.0  # seconds a closing session waits for the pending reply
EARLY_AUDIO_MAX_BYTES = 48_000 * 60  # a minute of 24 kHz PCM16 kept for an audio output not attached yet


@dataclass
class Outcome:
    """How the conversation ended."""

    reason: str
    reconnects: int = 0
    fatal_error: str | None = None


@dataclass
class Hooks:
    """Where the driver reports what happens (console, artifacts, tests)."""

    on_record: Callable[[Record, float], None] = lambda record, t: None
    on_event: Callable[[str, dict[str, Any], float], None] = lambda direction, event, t: None
    on_frame: Callable[[str, dict[str, Any], str, float], None] = lambda direction, event, text, t: None  # the event log
    make_context: Callable[[str], Any] = lambda agent: None
    on_quiet: Callable[[], None] = lambda: None  # nothing owed or unsent any more: once per quiet spell (the artifacts write then)


@dataclass
class Driver:
    session: Session
    connection: Connection
    tools: ToolRunner
    guardrails: GuardrailRunner | None = None
    audio_out: AudioOut | None = None
    hooks: Hooks = field(default_factory=Hooks)
    clock: Callable[[], float] = time.monotonic
    setup_timeout: float = SETUP_TIMEOUT
    reconnect_delays: Sequence[float] = RECONNECT_DELAYS
    max_outgoing: int = MAX_OUTGOING

    def __post_init__(self) -> None:
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self.outgoing = Outgoing(self.connection, connected=self._connected, hooks=self.hooks, now=self.now, backlogged=self._backlogged,
                                 after_flush=self._signal_if_idle, bound=self.max_outgoing)
        self._socket = Reconnects(self.connection, delays=self.reconnect_delays, setup_timeout=self.setup_timeout, now=self.now,
                                  ended=self._ended, notice=lambda message: self.hooks.on_record(Notice(message), self.now()))
        self._spawned = False  # a tool or check was started since the reader last yielded
        self._running_tools = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._progress = asyncio.Event()  # set when a `wait_idle` waiter may have something to see
        self._idle_waiters = 0
        self._quiet = True  # nothing owed and nothing unsent, as of the last look (`_signal_if_idle`)
        self._end_reason = ""
        self._configured = asyncio.Event()
        self._early_audio: list[tuple[str, bytes | None]] = []  # played (None: ended) once an audio output is attached
        self._early_audio_bytes = 0
        self._rearm = asyncio.Event()  # the core's next deadline moved: the timer sleeps again
        self._armed: float | None = None
        self._started_at = self.clock()
        self.fatal_error: str | None = None

    # -- time -------------------------------------------------------------
    def now(self) -> float:
        return self.clock() - self._started_at

    @property
    def reconnects(self) -> int:
        return self._socket.count

    # -- applying actions ---------------------------------------------------
    def apply(self, actions: list[Any]) -> None:
        """Carry out the core's actions in order; never awaits (the writer task sends what they queue).

        Playback stops at once, but the core hears how much was played only after the
        rest of the batch: a `response.cancel` that follows StopPlayback must reach the
        wire before the truncate and correction that the answer produces.
        """
        self._apply(actions)
        self.outgoing.wake_writer()

    async def _apply_and_flush(self, actions: list[Any]) -> None:
        """`apply`, then send from this task: the driver's own loops answer without waking the writer task."""
        self._apply(actions)
        await self.outgoing.flush()

    def _apply(self, actions: list[Any]) -> None:
        stopped: list[tuple[str | None, int]] = []
        for action in actions:
            kind = type(action)
            if kind is Send:
                self.outgoing.put(action.event)
            elif kind is Play:
                pcm = base64.b64decode(action.audio_b64)
                if self.audio_out is not None:
                    self.audio_out.play(action.item_id, pcm)
                elif self._early_audio_bytes + len(pcm) <= EARLY_AUDIO_MAX_BYTES:
                    self._early_audio.append((action.item_id, pcm))
                    self._early_audio_bytes += len(pcm)
            elif kind is AudioComplete:
                if self.audio_out is not None:
                    self.audio_out.end_item(action.item_id)
                else:
                    self._early_audio.append((action.item_id, None))
            elif kind is StopPlayback:
                stopped.append(self.audio_out.stop() if self.audio_out is not None else (None, 0))
            elif kind is RunTool:
                self._spawn(self._run_tool(action))
            elif kind is CheckGuardrail:
                self._spawn(self._check_guardrail(action))
            elif isinstance(action, Record):
                self.hooks.on_record(action, self.now())
            elif kind is EndSession:
                self._stop(action.reason)
        for item_id, played_ms in stopped:
            self._apply(self.session.playback_stopped(item_id, played_ms, self.now()))
        if self.session.next_deadline() != self._armed:
            self._rearm.set()
        self._signal_if_idle()

    def _backlogged(self, message: str) -> None:
        if not self._ended.is_set():
            self._fail("connection backlogged", message)

    def _signal_if_idle(self) -> None:
        """Wake `wait_idle` only when what it waits for holds, not on every event; tell `on_quiet` when it starts to hold."""
        quiet = self.outgoing.idle and not self.session.busy
        if quiet and not self._quiet:
            self.hooks.on_quiet()
        self._quiet = quiet
        if quiet and self._idle_waiters:
            self._progress.set()

    def attach_audio(self, audio_out: AudioOut) -> None:
        """Voice streams start once the session is configured; a greeting may already be arriving."""
        self.audio_out = audio_out
        early, self._early_audio, self._early_audio_bytes = self._early_audio, [], 0
        for item_id, pcm in early:
            if pcm is None:
                audio_out.end_item(item_id)
            else:
                audio_out.play(item_id, pcm)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._spawned = True
        self._tasks.add(task)
        task.add_done_callback(self._task_finished)

    def _task_finished(self, task: asyncio.Task[Any]) -> None:
        """A loop that dies would leave the conversation hanging: end the session instead."""
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        failure = task.exception()
        trace = "".join(traceback.format_exception(failure))
        failure_entry = {"type": "driver.failure", "text": trace}
        self.hooks.on_frame("log", failure_entry, json.dumps(failure_entry), self.now())
        if isinstance(failure, BadFrame):
            self.fatal_error = f"the session stopped: {failure}"
        else:
            self.fatal_error = f"the session stopped on an internal error: {type(failure).__name__}: {failure}"
        self._stop("failed")

    async def _run_tool(self, action: RunTool) -> None:
        self._running_tools += 1
        try:
            result = await self.tools.run(
                action.name, action.arguments, call_id=action.call_id, agent=action.agent, context=self.hooks.make_context(action.agent)
            )
        finally:
            self._running_tools -= 1
        await self._apply_and_flush(self.session.tool_done(action.call_id, result.output, error=result.error, duration=result.duration, now=self.now()))

    async def _check_guardrail(self, action: CheckGuardrail) -> None:
        assert self.guardrails is not None, "the core asked for a guardrail check with no checker configured"
        verdict = await self.guardrails.check(action.policy, action.text, role=action.role, final=action.final)
        await self._apply_and_flush(
            self.session.guardrail_result(
                action.check_id,
                tripped=verdict.tripped,
                category=verdict.category,
                rationale=verdict.rationale,
                error=verdict.error,
                now=self.now(),
            )
        )

    # -- the loops ----------------------------------------------------------
    async def _reader(self) -> None:
        while True:
            try:
                event, text = await self.connection.recv()
            except ConnectionLost as lost:
                if not await self._reconnect(str(lost)):
                    return
                continue
            now = self.now()
            self.hooks.on_frame("in", event, text, now)
            self.hooks.on_event("in", event, now)
            kind = event.get("type")
            if kind in ("session.updated", "session.started"):  # session.started: GPT-Live's first answer
                self._configured.set()
                self._socket.confirmed()
            elif kind == "session.created":
                self._socket.created()
            await self._apply_and_flush(self.session.receive(event, self.now()))
            if self._spawned or self._running_tools:
                # With a burst of events already buffered, `recv` does not yield until the
                # burst is read: yield now so a tool just started can begin, and one that
                # finished can send its output before the rest of the burst is handled.
                self._spawned = False
                await asyncio.sleep(0)

    async def _reconnect(self, why: str) -> bool:
        """Dial again (`Reconnects`); on a new socket the core re-sends its session and history."""
        self._connected.clear()
        self._socket.lost()
        self.apply(self.session.connection_lost(why, self.now()))
        redialled = await self._socket.redial(why)
        if redialled.connected:
            self.outgoing.discard()  # queued for the lost socket; no await before `reconnected`
            self._connected.set()
            self._rearm.set()  # the new socket's setup deadline
            self.apply(self.session.reconnected(self.now()))  # session.update first, then the history
            return True
        if redialled.call_ended is not None:
            self.hooks.on_record(Notice(redialled.call_ended), self.now())
            self._stop(CALL_ENDED)
        elif redialled.failure is not None:
            self._fail("connection lost", redialled.failure)
        return False

    def _fail(self, reason: str, message: str) -> None:
        self.fatal_error = message
        self._stop(reason)

    def _stop(self, reason: str) -> None:
        """The conversation is over (`reason` is its outcome's): every waiter wakes."""
        self._end_reason = reason
        self._ended.set()
        self._progress.set()

    async def _timer(self) -> None:
        """Sleep until the core's next deadline (or the setup timeout), not on a polling tick.

        Stops once the session ended: Python 3.11's wait_for can swallow the cancel that
        `finish` sends when the rearm event fires at the same moment."""
        while not self._ended.is_set():
            self._rearm.clear()
            self._armed = self.session.next_deadline()
            setup_deadline = self._socket.setup_deadline
            wake = min((d for d in (self._armed, setup_deadline) if d is not None), default=None)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel that
            # lands as the event fires, which would leave this loop waiting forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if wake is None else max(0.0, wake - self.now())):
                    await self._rearm.wait()
            if self._socket.setup_overdue():
                self._fail("setup timed out", f"the server did not confirm the session within {self.setup_timeout:g} s (no session.updated)")
                return
            await self._apply_and_flush(self.session.tick(self.now()))

    # -- public -------------------------------------------------------------
    async def start(self, stop: Sequence[asyncio.Event] = ()) -> None:
        """Connect, send the first session.update and wait until the server applied it.

        The session ends instead (with its reason) when the server does not confirm in
        time, keeps closing the connection, or one of `stop` is set (Ctrl-C, input closed).
        A failure to open the first socket is raised (`ConnectFailed`).
        """
        if not await self._unless_stopped(self.connection.connect(), stop):
            return
        self._connected.set()
        self._socket.opened()
        for loop_body in (self.outgoing.writer(), self._reader(), self._timer()):
            self._spawn(loop_body)
        self.apply(self.session.start(self.now()))
        await self._unless_stopped(self._configured.wait(), stop)

    async def _unless_stopped(self, awaitable: Awaitable[Any], stop: Sequence[asyncio.Event]) -> bool:
        """Await `awaitable` unless the session ends or a stop event is set first (False)."""
        work = asyncio.ensure_future(awaitable)
        watchers = [asyncio.ensure_future(event.wait()) for event in (self._ended, *stop)]
        try:
            await asyncio.wait({work, *watchers}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for watcher in watchers:
                watcher.cancel()
            if not work.done():
                work.cancel()
        if work.done() and not work.cancelled():
            work.result()
            return True
        if not self._ended.is_set():
            self._stop("stopped during setup")
        return False

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no response, tool or check is pending (or the session ended).

        Woken by `_signal_if_idle` only when that holds (every change to what it looks at
        goes through `_apply` or `flush`), with one timer for the whole wait: hundreds of
        waiting conversations add no timer churn per event.
        """
        self._idle_waiters += 1
        try:
            async with asyncio.timeout(timeout):
                while not self._ended.is_set():
                    self._progress.clear()
                    if not self.session.busy and self.outgoing.idle:
                        return True
                    await self._progress.wait()
        except TimeoutError:
            return False
        finally:
            self._idle_waiters -= 1
        return False

    async def say(self, text: str) -> None:
        """A typed user turn."""
        self.apply(self.session.user_text(text, self.now()))

    async def converse(self, lines: AsyncIterator[str], *, reply_timeout: float = 120.0) -> None:
        """Feed typed lines one turn at a time, each after the previous reply (or the greeting) finished."""
        await self.wait_idle(reply_timeout)  # a start agent that speaks first is heard out
        async for line in lines:
            if self._ended.is_set():
                return
            if not line.strip():
                continue
            await self.say(line)
            await self.wait_idle(reply_timeout)

    async def wait_ended(self) -> None:
        await self._ended.wait()

    async def finish(self, reason: str) -> Outcome:
        """Close the session after the pending reply (bounded), sending what is queued first."""
        if not self._ended.is_set():
            await self.wait_idle(timeout=FINISH_TIMEOUT)
            await self._close_session(reason)
        await self.outgoing.drain()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.connection.close()
        return Outcome(reason=self._end_reason or reason, reconnects=self.reconnects, fatal_error=self.fatal_error)

    async def _close_session(self, reason: str) -> None:
        """A core whose protocol confirms a close (GPT-Live: session.close, then session.closed
        with the final usage) sends it, and the answer is awaited, bounded."""
        close = getattr(self.session, "close_session", None)
        if close is None or not self._connected.is_set():
            return
        self.apply(close(reason, self.now()))
        await self.outgoing.flush()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ended.wait(), FINISH_TIMEOUT)
