"""One conversation on a host: assembles core, connection, tools, guardrails and artifacts.

`Conversation` is what `Host.open` returns. Entering it claims a slot, compiles (cached
per project), dials and waits for the first `session.update` to be applied; leaving it
finishes the pending reply (bounded), or stops at once when the body was cancelled, and
writes report.json either way. Nothing here is process-wide: the state folder reaches
tools through `ToolContext.state_dir`.

`open_session` keeps the one-shot shape the tests and benchmarks use: a project, a host
and a conversation for one config, all through the same API.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Sequence

from ..core.records import Notice, Record, UsageUpdated
from ..core.states import Output
from ..core.pricing import unpriced_warning
from .artifacts import Redactor, SessionArtifacts, open_artifacts
from .bounds import ConversationTools, RecordQueue
from .driver import RECONNECT_DELAYS, SETUP_TIMEOUT, AudioOut, Driver, Hooks, Outcome
from .errors import SetupError
from .report import build_report

if TYPE_CHECKING:
    from ..config.model import Config
    from .host import Host

__all__ = ["Conversation", "LiveSession", "RunOptions", "SetupError", "open_session"]

logger = logging.getLogger(__name__)
TRANSFERRING_CHANNELS = frozenset({"sip", "twilio"})  # channels that can put the caller through to a person (CallTransferRequested)


class Conversation:
    """A conversation: `send_text`, `send_audio`, `records()`, `wait_idle()`; `id`, `folder`, `outcome`."""

    def __init__(self, host: Host, *, variables: dict[str, Any], state_dir: Path | None, session_dir: Path | None, text: bool,
                 start: str | None, call_id: str | None, on_record: Callable[[Record, float], None] | None,
                 on_event: Callable[[str, dict[str, Any], float], None] | None, stop_setup: tuple[asyncio.Event, ...],
                 channel: str | None = None, audio_format: str | None = None, records: bool = True) -> None:
        self.host = host
        self.config: Config = host.project.config
        self.id = secrets.token_hex(4)
        self.variables = variables
        self.state_dir = state_dir if state_dir is not None else self.config.state_dir
        self.text = text
        self.channel = channel or "other"  # for the host's observers
        self.call_id = call_id
        self.outcome: Outcome | None = None  # once closed
        self.analysis: asyncio.Task[Any] | None = None  # the post-call analysis, once closed (runner/analysis.py)
        self.end_reason = "session closed"  # the report's end_reason when the conversation did not end itself
        self.folder: Path = Path()
        self._session_dir = session_dir if session_dir is not None else self.state_dir / "sessions"
        self._start, self._call_id, self._stop_setup, self._channel, self._audio_format = start, call_id, stop_setup, channel, audio_format
        self._on_record = on_record or (lambda record, t: None)
        self._on_event = on_event or (lambda direction, event, t: None)
        self._records = RecordQueue(host.record_queue if records else 0)
        self._stack = contextlib.AsyncExitStack()
        self.driver: Driver
        self.artifacts: SessionArtifacts

    # -- what a caller uses ---------------------------------------------------------
    async def send_text(self, text: str) -> None:
        """A typed user turn."""
        await self.driver.say(text)

    async def send_audio(self, pcm: bytes) -> None:
        """User audio in, already in the session's input format (PCM16 24 kHz, or G.711 bytes), in order."""
        self.driver.apply(self.core.user_audio(pcm, self.driver.now()))

    def press_key(self, key: str) -> None:
        """A keypad press the channel detected itself (a Twilio stream's dtmf): see Session.key_pressed."""
        press = getattr(self.core, "key_pressed", None)
        if press is None:
            logger.warning("session %s: key %s ignored: the %s target takes no key presses", self.id, key, self.config.target)
            return
        self.driver.apply(press(key, self.driver.now()))

    def _output(self) -> Output:
        """Text; or audio the service plays itself (the sideband of a SIP/WebRTC call); or audio we play."""
        if self.text:
            return Output.TEXT
        return Output.AUDIO_REMOTE if self._call_id is not None else Output.AUDIO_LOCAL

    def attach_audio(self, sink: AudioOut) -> None:
        """Send the agent's audio to `sink` (a speaker, a phone bridge, a browser socket).

        `sink.play(item_id, pcm)` gets each chunk in the session's output format as it
        arrives (audio that came before the sink was attached, such as a greeting, is
        handed over first); `sink.end_item(item_id)` says that item's audio is complete;
        call `audio_played(item_id)` once the listener has heard all of it. On barge-in the
        core calls `sink.stop()`, which returns the item it was playing and how many
        milliseconds of it were heard, and the reply is truncated at exactly that point.
        Without a sink the audio is dropped.
        """
        self.driver.attach_audio(sink)

    def audio_played(self, item_id: str) -> None:
        """The sink has played all of `item_id`'s audio: the reply counts as heard in full.

        Still counted after the session ended and before it is closed: a goodbye plays out
        after the end, and its transcript entry waits for this.
        """
        if self.outcome is None:
            self.driver.apply(self.core.playback_finished(item_id, self.driver.now()))

    def records(self) -> AsyncIterator[Record]:
        """Records as they happen, until the conversation is closed (one consumer; see RecordQueue)."""
        return self._records.__aiter__()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no reply, tool or check is pending (False: timed out, or the conversation ended)."""
        return await self.driver.wait_idle(timeout)

    @property
    def ended(self) -> bool:
        return self.driver.ended

    def say_goodbye(self, reason: str) -> None:
        """End after one short goodbye from the agent (at once if one is already owed)."""
        if not self.driver.ended:
            self.end_reason = reason
            self.driver.apply(self.core.end(reason, self.driver.now()))

    def stop_now(self, reason: str) -> None:
        """End without waiting for the pending reply; the report is still written."""
        self.driver.apply(self.core.hang_up(reason, self.driver.now()))

    @property
    def core(self) -> Any:
        return self.driver.session

    @property
    def simulator(self) -> Any:
        """The host's simulator (runner.sim.Simulator) on a SimulatorTransport, else None."""
        return getattr(self.host.transport, "simulator", None)

    # -- lifecycle --------------------------------------------------------------------
    async def __aenter__(self) -> Conversation:
        self.host._claim()
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            self._records.close()
            self.host._release()
            raise
        self._notify("opened")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if exc_type is not None and issubclass(exc_type, asyncio.CancelledError) and not self.driver.ended:
                self.stop_now("cancelled")
            await self._finish()
        finally:
            await self._stack.aclose()
            self._records.close()
            self.host._release()
            self._notify("closed")
            self._analyse_after()

    def _analyse_after(self) -> None:
        """Post-call analysis, when configured, over the artifacts just closed; the call does not wait for it."""
        if self.config.analysis is not None:
            from ..analysis import after_call

            self.analysis = self.host.run_after_call(after_call(self))

    def _notify(self, event: str, *details: Any) -> None:
        for observer in self.host.observers:
            try:
                getattr(observer, event)(self, *details)
            except Exception:
                logger.exception("session %s: observer %r failed on %s", self.id, observer, event)

    async def _open(self) -> None:
        from ..bindings import ToolContext
        from ..core import Session
        from .errors import CALL_ENDED, CallGone, ConnectFailed

        host, project, config = self.host, self.host.project, self.config
        compiled, values, start = project.agents(text=self.text, variables=self.variables, start=self._start,
                                                 channel="sip" if self._channel == "sip" else None, audio_format=self._audio_format,
                                                 transfers_calls=self._channel in TRANSFERRING_CHANNELS)
        compiled = host.tools.offer_mcp_tools(compiled)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SetupError(f"cannot create the state folder {self.state_dir}: {error.strerror}") from None
        self._redactor = redactor = Redactor.for_config(config, project.environ)
        self.artifacts = artifacts = await open_artifacts(self._session_dir, redactor)
        self.folder = artifacts.folder
        self._stack.push_async_callback(artifacts.aclose)
        started = datetime.now(timezone.utc)
        config_hash = project.config_hash
        artifacts.transcript_header(config.name, started)

        checker = None
        if project.policies:
            from ..guardrails import GuardrailChecker

            checker = GuardrailChecker(project.policies, client_factory=host.transport.rest_client, shared_client=True)
            self._stack.push_async_callback(checker.aclose)

        if config.target == "live":
            from .live import open_live

            core, connection = open_live(project, host.transport, values=values, start=start, text=self.text, session_id=self.id, call_id=self._call_id,
                                       phone=self._channel in TRANSFERRING_CHANNELS)
        else:
            core = Session(compiled, start, guardrails=project.policies, limits=config.limits, output=self._output(), session_id=self.id)
            connection = host.transport.connection(model=config.model, call_id=self._call_id)

        def report_of(outcome: Outcome | None) -> dict[str, Any]:
            return build_report(core, config=config, config_hash=config_hash, started=started, outcome=outcome, session_id=self.id)

        self._report = lambda outcome: artifacts.report(report_of(outcome))

        def record(entry: Record, t: float) -> None:
            shown = _redacted(entry, redactor) if redactor else entry
            self._on_record(shown, t)
            self._records.put(shown)
            self._notify("record", shown, t)
            artifacts.transcript(entry, t)
            if isinstance(entry, UsageUpdated):  # one per response.done: keep report.json current, off the hot path
                artifacts.report_later(lambda: report_of(None))

        def log_tool_traceback(line: str) -> None:
            logger.error("%s", line.rstrip())
            artifacts.event("log", {"type": "tool.traceback", "text": line}, self.driver.now())

        def make_context(agent: str) -> Any:
            return ToolContext(session_id=self.id, agent=agent, variables=values, transcript=tuple(core.transcript), state_dir=self.state_dir)

        tools = ConversationTools(host.tools, host.max_tool_calls, log_tool_traceback)
        hooks = Hooks(on_record=record, on_event=self._on_event, on_frame=artifacts.frame, make_context=make_context, on_quiet=artifacts.settle)
        self.driver = Driver(core, connection, tools, checker, hooks=hooks, setup_timeout=host.setup_timeout, reconnect_delays=host.reconnect_delays)
        unpriced = unpriced_warning(config.model)
        if unpriced is not None:
            record(Notice(unpriced), 0.0)
        logger.info("session %s: artifacts in %s", self.id, self.folder)
        if not project.guardrails_enabled and config.guardrails:
            record(Notice("guardrails are OFF for this run (--no-guardrails or ENABLE_GUARDRAILS=false)"), 0.0)
        try:
            await self.driver.start(self._stop_setup)
        except CallGone as gone:  # the call ended before its sideband attached: over, not a failure
            record(Notice(str(gone)), self.driver.now())
            self.outcome = Outcome(reason=CALL_ENDED)
            self._report(self.outcome)
            raise
        except ConnectFailed as failure:
            self.outcome = Outcome(reason="cannot connect", fatal_error=redactor.text(str(failure)))
            self._report(self.outcome)
            raise SetupError(self.outcome.fatal_error) from None

    async def _finish(self) -> None:
        outcome = await self.driver.finish(self.end_reason)
        if outcome.fatal_error is not None:  # shown by the caller
            outcome.fatal_error = self._redactor.text(outcome.fatal_error)
        self.outcome = outcome
        self._report(outcome)

    async def close(self) -> None:
        """Leave the conversation as `async with` does on a normal exit."""
        await self.__aexit__(None, None, None)


LiveSession = Conversation  # the name the terminal app and tests knew it by


@dataclass
class RunOptions:
    """One-shot options for `open_session` (the terminal app's flags, in one place)."""

    text: bool = False
    offline: bool = False
    sim_rules: str | Path | None = "techcorp"
    sim_drop_after_events: int | None = None
    base_url: str | None = None
    api_key: str | None = None
    session_dir: Path | None = None  # parent of the per-session folders
    variables: Mapping[str, str] = field(default_factory=dict)
    guardrails: bool = True
    start: str | None = None  # start agent override
    setup_timeout: float = SETUP_TIMEOUT  # seconds for session.updated after each connect
    reconnect_delays: Sequence[float] = RECONNECT_DELAYS

    def transport(self, environ: Mapping[str, str]) -> Any:
        """The transport these options name; a missing API key is a SetupError, before anything is opened."""
        from .transports import OpenAITransport, SimulatorTransport

        if self.offline:
            return SimulatorTransport(self.sim_rules, drop_after_events=self.sim_drop_after_events)
        return OpenAITransport(api_key=self.api_key, base_url=self.base_url, environ=environ)


@contextlib.asynccontextmanager
async def open_session(
    config: Config,
    options: RunOptions,
    *,
    on_record: Callable[[Record, float], None] = lambda record, t: None,
    on_event: Callable[[str, dict[str, Any], float], None] = lambda direction, event, t: None,
    environ: Mapping[str, str] | None = None,
    stop_setup: Sequence[asyncio.Event] = (),
) -> AsyncIterator[Conversation]:
    """One conversation on `config`: a project, a host and a conversation, closed afterwards."""
    from .host import Host
    from .project import Project

    project = Project(config, guardrails=options.guardrails, environ=os.environ if environ is None else environ)
    project.agents(text=options.text, variables=options.variables, start=options.start)  # bad variables first, as the CLI always said
    transport = options.transport(project.environ)
    host = Host(project, transport=transport, max_conversations=1, setup_timeout=options.setup_timeout, reconnect_delays=options.reconnect_delays)
    async with host:
        conversation = host.open(
            variables=options.variables, session_dir=options.session_dir, text=options.text, start=options.start,
            on_record=on_record, on_event=on_event, stop_setup=stop_setup,
        )
        async with conversation:
            yield conversation


def _redacted(record: Record, redactor: Redactor) -> Record:
    """The same record with the secrets in its strings replaced (the artifacts redact on their own)."""
    return dataclasses.replace(record, **{part.name: redactor.value(getattr(record, part.name)) for part in dataclasses.fields(record)})
