"""Assemble a live session from a config: compile, tools, guardrails, simulator, core, driver.

`open_session` is the one place that knows how the pieces fit; `runner run`,
`runner test` and the benchmarks all go through it, so they exercise the same
machinery a user talks to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from ..config.model import Config
from ..core.actions import EndSession, Record
from ..core.pricing import unpriced_warning
from .artifacts import Redactor, SessionArtifacts, new_session_folder
from .driver import RECONNECT_DELAYS, SETUP_TIMEOUT, Driver, Hooks, Outcome
from .report import build_report, transcript_entry

OFFLINE_API_KEY = "sk-offline-simulator"

logger = logging.getLogger(__name__)


class SetupError(Exception):
    """The session cannot start; the message is meant for the user, one line."""


@dataclass
class RunOptions:
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


def guardrails_enabled(options: RunOptions, environ: Mapping[str, str]) -> bool:
    """`--no-guardrails` or ENABLE_GUARDRAILS=false turns them off."""
    return options.guardrails and environ.get("ENABLE_GUARDRAILS", "true").strip().lower() not in {"false", "0", "no", "off"}


@dataclass
class LiveSession:
    """A running session: the driver to talk through, and where its files go."""

    config: Config
    driver: Driver
    folder: Path
    artifacts: SessionArtifacts
    simulator: Any = None  # runner.sim.Simulator when offline
    outcome: Any = None  # runner.host.driver.Outcome, once closed
    end_reason: str = "session closed"  # the report's end_reason when the session did not end itself

    @property
    def core(self) -> Any:
        return self.driver.session

    def stop_now(self, reason: str) -> None:
        """End without waiting for the pending reply (a second Ctrl-C); the report is still written."""
        self.driver.apply([EndSession(reason)])


def api_key(options: RunOptions, environ: Mapping[str, str]) -> str:
    """The key to use; a missing one is a SetupError, checked before anything else is opened."""
    if options.offline:
        return OFFLINE_API_KEY
    key = options.api_key or environ.get("OPENAI_API_KEY", "")
    if not key:
        raise SetupError("OPENAI_API_KEY is not set: export it to talk to the Realtime API, or use --offline for the built-in simulator.")
    return key


def _compile(config: Config, options: RunOptions, enabled: bool, environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..compile import CompileError, compile_config
    from ..config import resolve_variables

    values, problems = resolve_variables(config, options.variables)
    if problems:
        raise SetupError("; ".join(problems))
    try:
        compiled = compile_config(config, values=values, modality="text" if options.text else None, guardrails_enabled=enabled, environ=environ)
    except CompileError as error:
        raise SetupError("; ".join(error.messages)) from None
    return compiled, values


@contextlib.asynccontextmanager
async def open_session(
    config: Config,
    options: RunOptions,
    *,
    on_record: Callable[[Record, float], None] = lambda record, t: None,
    on_event: Callable[[str, dict[str, Any], float], None] = lambda direction, event, t: None,
    environ: Mapping[str, str] | None = None,
    stop_setup: Sequence[asyncio.Event] = (),
) -> AsyncIterator[LiveSession]:
    """Start a configured session (the first session.update applied) and close it afterwards.

    Raises SetupError for anything the user must fix before a session can start.  When
    the server never confirms the session, or one of `stop_setup` is set first, the
    session is yielded already ended, so the caller closes it and report.json says why.
    """
    from ..bindings import BindingError, ToolContext, ToolExecutor, run_setup
    from ..core import Session
    from .errors import ConnectFailed
    from .transport import Transport

    environ = os.environ if environ is None else environ
    enabled = guardrails_enabled(options, environ)
    compiled, values = _compile(config, options, enabled, environ)
    start = options.start or config.start
    if start not in compiled:
        raise SetupError(f"no agent named {start!r} to start with")
    key = api_key(options, environ)
    try:
        run_setup(config)
    except BindingError as error:
        raise SetupError(f"setup: {error}") from None

    session_id = secrets.token_hex(4)
    folder = new_session_folder(options.session_dir or config.state_dir / "sessions")
    redactor = Redactor.for_config(config, environ)
    artifacts = SessionArtifacts(folder, redactor)
    started = datetime.now(timezone.utc)
    config_hash = hashlib.sha256(config.path.read_bytes()).hexdigest()
    artifacts.transcript_header(config.name, started)

    async with contextlib.AsyncExitStack() as stack:
        stack.callback(artifacts.close)
        def log_tool_traceback(line: str) -> None:
            # Tools run only once the driver below exists, so `driver.now()` is the session time.
            logger.error("%s", line.rstrip())
            artifacts.event("log", {"type": "tool.traceback", "text": line}, driver.now())

        try:
            executor = ToolExecutor(config, log=log_tool_traceback)
        except BindingError as error:
            raise SetupError(str(error)) from None
        stack.push_async_callback(executor.aclose)

        base_url, websocket_base_url = options.base_url or environ.get("OPENAI_BASE_URL"), None
        simulator = None
        if options.offline:
            from ..sim import Simulator

            simulator = await stack.enter_async_context(Simulator(options.sim_rules, drop_after_events=options.sim_drop_after_events))
            base_url, websocket_base_url = simulator.http_base_url, simulator.ws_base_url

        policies = config.guardrails if enabled else {}
        checker = None
        if policies:
            from ..guardrails import GuardrailChecker

            def client_factory() -> Any:
                from openai import AsyncOpenAI

                return AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0)

            checker = GuardrailChecker(policies, client_factory=client_factory)
            stack.push_async_callback(checker.aclose)

        core = Session(compiled, start, guardrails=policies, limits=config.limits, audio=not options.text, session_id=session_id)
        transport = Transport(api_key=key, model=config.model, base_url=base_url, websocket_base_url=websocket_base_url)

        def record(entry: Record, t: float) -> None:
            on_record(Record(entry.kind, redactor.value(entry.data)) if redactor else entry, t)
            written = transcript_entry(entry, t)
            if written is not None:
                artifacts.transcript(*written)
            if entry.kind == "usage":  # one per response.done: keep report.json current, off the hot path
                artifacts.report_later(lambda: build_report(core, config=config, config_hash=config_hash, started=started, outcome=None, session_id=session_id))


        def make_context(agent: str) -> Any:
            return ToolContext(session_id=session_id, agent=agent, variables=values, transcript=tuple(core.transcript), state_dir=config.state_dir)

        hooks = Hooks(on_record=record, on_event=on_event, on_frame=artifacts.frame, make_context=make_context)
        driver = Driver(core, transport, executor, checker, hooks=hooks, setup_timeout=options.setup_timeout, reconnect_delays=options.reconnect_delays)
        live = LiveSession(config=config, driver=driver, folder=folder, artifacts=artifacts, simulator=simulator)
        unpriced = unpriced_warning(config.model)
        if unpriced is not None:
            record(Record("notice", {"message": unpriced}), 0.0)
        logger.info("session %s: artifacts in %s", session_id, folder)
        if not enabled and config.guardrails:
            record(Record("notice", {"message": "guardrails are OFF for this run (--no-guardrails or ENABLE_GUARDRAILS=false)"}), 0.0)
        try:
            await driver.start(stop_setup)
        except ConnectFailed as failure:
            live.outcome = Outcome(reason="cannot connect", fatal_error=redactor.text(str(failure)))
            artifacts.report(build_report(core, config=config, config_hash=config_hash, started=started, outcome=live.outcome, session_id=session_id))
            raise SetupError(live.outcome.fatal_error) from None
        try:
            yield live
        finally:
            outcome = await driver.finish(live.end_reason)
            if outcome.fatal_error is not None:  # shown on the console by the caller
                outcome.fatal_error = redactor.text(outcome.fatal_error)
            live.outcome = outcome
            artifacts.report(build_report(core, config=config, config_hash=config_hash, started=started, outcome=live.outcome, session_id=session_id))
