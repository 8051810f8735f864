"""`runner serve`: host calls for a project over HTTP (an ASGI app on uvicorn).

Settings come from flags, the environment and the file's `server:` section, in that
order (runner/serve/settings.py). SIGTERM drains: no new calls, the calls in flight go
on until they end or --drain-timeout passes, then the rest hear a goodbye; SIGINT (or a
second signal) ends every call at once. Either way every artifact is written and the
exit code is 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, Iterator

import click

from .app import EXIT_FAILED, EXIT_USAGE, config_or_exit, fail, main


@main.command()
@click.argument("file")
@click.option("--host", "address", metavar="ADDRESS", help="Address to listen on (default 127.0.0.1; server.host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on, 0 for any free port (default 8000; server.port).")
@click.option("--offline", is_flag=True, help="Use the built-in simulator as the Realtime service (no API key needed).")
@click.option("--rules", "sim_rules", default="techcorp", show_default=True, metavar="NAME|PATH", help="Simulator rule set (with --offline).")
@click.option("--session-dir", type=click.Path(file_okay=False, path_type=Path), help="Parent folder of the session folders (default: <state_dir>/sessions).")
@click.option("--max-calls", type=click.IntRange(min=1), help="Calls served at once; more are refused with 503 (default 100; MAX_CONCURRENT_SESSIONS).")
@click.option("--no-guardrails", is_flag=True, default=None, help="Turn guardrail policies off (also ENABLE_GUARDRAILS=false).")
@click.option("--rate-limit", type=click.IntRange(min=0), metavar="RPM", help="New calls a minute per client address, 0 for no limit (default 60; RATE_LIMIT_RPM).")
@click.option("--drain-timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="On SIGTERM, how long the calls in flight may go on (default 120).")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes on the one listening socket, 0 for one per CPU core; they share state through the store (RUNNER_DATABASE_URL or a SQLite file).")
@click.option("--simulator-url", metavar="URL", help="With --offline: the realtime URL of a simulator already running (python -m runner.sim), shared by every worker.")
@click.option("--simulator-rest-url", metavar="URL", help="With --simulator-url: that simulator's REST URL.")
@click.option("--print-config", is_flag=True, help="Print the effective settings and where each came from (secrets masked), then exit.")
@click.pass_context
def serve(ctx: click.Context, file: str, address: str | None, port: int | None, offline: bool, sim_rules: str, session_dir: Path | None,
          max_calls: int | None, no_guardrails: bool | None, rate_limit: int | None, drain_timeout: float | None, workers: int,
          simulator_url: str | None, simulator_rest_url: str | None, print_config: bool) -> None:
    """Serve FILE's agents to browsers: POST an SDP offer to /calls, get the answer back."""
    _require_serve_extra(offline)
    if (simulator_url is None) != (simulator_rest_url is None) or (simulator_url is not None and not offline):
        fail("--simulator-url and --simulator-rest-url go together, with --offline (the two URLs python -m runner.sim prints)", EXIT_USAGE)
    from runner.serve.settings import SettingsError, resolve

    config = config_or_exit(file)
    flags = {
        "host": address, "port": port, "max_concurrent_sessions": max_calls, "guardrails": False if no_guardrails else None,
        "rate_limit_rpm": rate_limit, "drain_timeout": drain_timeout, "log_level": ctx.find_root().params.get("log_level"),
    }
    try:
        settings = resolve(config, os.environ, flags)
    except SettingsError as error:
        for message in error.messages[:-1]:
            click.echo(f"runner: {message}", err=True)
        fail(error.messages[-1], EXIT_USAGE)
    if print_config:
        for line in settings.lines():
            click.echo(line)
        return
    simulator = (simulator_url, simulator_rest_url) if simulator_url and simulator_rest_url else None
    _serve(file, settings.applied(config), settings, offline=offline, sim_rules=sim_rules, session_dir=session_dir, workers=workers, simulator=simulator)


def _serve(file: str, config: Any, settings: Any, *, offline: bool, sim_rules: str, session_dir: Path | None, workers: int,
           simulator: tuple[str, str] | None) -> None:
    """With --offline and no --simulator-url, the simulator runs as this process's child for as long as it serves."""
    from runner.host.project import Project
    from runner.serve.workers import OwnSimulator

    _configure_logs(settings["log_level"])
    project = Project(config, guardrails=settings["guardrails"], environ=os.environ)
    own: OwnSimulator | None = None
    if offline and simulator is None:
        try:
            own = OwnSimulator(sim_rules)
        except OSError as error:
            fail(str(error), EXIT_USAGE)
        simulator = (own.realtime_url, own.rest_url)
    try:
        _serve_with(file, project, settings, offline=offline, session_dir=session_dir, workers=workers, simulator=simulator)
    finally:
        if own is not None:
            own.stop()


def _serve_with(file: str, project: Any, settings: Any, *, offline: bool, session_dir: Path | None, workers: int,
                simulator: tuple[str, str] | None) -> None:
    from runner.host.errors import SetupError
    from runner.host.transports import OpenAITransport
    from runner.serve import create_app
    from runner.serve.settings import ServeOptions
    from runner.serve.workers import RunningSimulator, cpu_count, supervise

    def make_app() -> Any:
        transport = RunningSimulator(*simulator) if simulator is not None else OpenAITransport(environ=project.environ)
        return create_app(project, transport, session_dir=session_dir, max_calls=settings["max_concurrent_sessions"], options=ServeOptions.of(settings))

    try:
        app = make_app()  # each forked worker makes its own: this one checks the settings, or is the only worker's
    except SetupError as error:  # no API key; a channel's settings (TWILIO_INPUT_FRAMES, ...) are wrong
        fail(str(error), EXIT_USAGE)
    address, port = settings["host"], settings["port"]
    try:
        listener = socket.create_server((address, port))
    except OSError as error:
        fail(f"cannot listen on {address}:{port}: {os.strerror(error.errno) if error.errno else error}", EXIT_FAILED)
    count = workers or cpu_count()
    upstream = "the offline simulator" if offline else "the OpenAI Realtime API"
    processes = f" with {count} workers" if count > 1 else ""
    click.echo(f"runner: serving {file} on http://{address}:{listener.getsockname()[1]}/ ({upstream}){processes}; "
               "open it in a browser, or POST an SDP offer to /calls", err=True)
    if count == 1:
        code = _serve_on(listener, app)
        if code == 0:
            click.echo("runner: stopped; every call was ended and its session folder written", err=True)
        raise click.exceptions.Exit(code)
    del app
    code = supervise(count, lambda index: _serve_on(listener, make_app()),
                     on_start=lambda index, pid: click.echo(f"runner: worker {index + 1} started (pid {pid})", err=True))
    if code == 0:
        click.echo("runner: stopped; every worker ended its calls and wrote their session folders", err=True)
    raise click.exceptions.Exit(code)


def _serve_on(listener: socket.socket, app: Any) -> int:
    """One process serving `app` on `listener` until a signal ends it; 0 when it stopped cleanly."""
    import uvicorn

    from runner.serve.heap import settle
    from runner.serve.observe import log_stopped
    from runner.serve.ops import operations_of

    server = _server_class(uvicorn)(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=WEBSOCKET_CLOSE_SECONDS),
                                    app.state.server, app.state.server.options.drain_timeout)
    server.config.load()  # uvicorn's protocol and loop modules, before the freeze
    settle()  # what a call loads too (openai's client and types, websockets), then frozen: out of the full collections that pause every call
    server.run(sockets=[listener])
    if not server.started:
        return EXIT_FAILED
    log_stopped(operations_of(app.state.server).metrics)
    return 0


def _configure_logs(level: str | None) -> None:
    """JSON lines on stderr when a log level is set or stderr is not a terminal (a container, a log shipper)."""
    from runner.serve.observe import JsonFormatter

    package = logging.getLogger("runner")
    if level is not None:
        package.setLevel(getattr(logging, level.upper()))
    if level is not None or not sys.stderr.isatty():
        for handler in package.handlers:
            handler.setFormatter(JsonFormatter())


def _server_class(uvicorn: Any) -> Any:
    """uvicorn's Server, with a drain on SIGTERM and an exit code of 0 after a signal.

    uvicorn closes every WebSocket with 1012 as its shutdown begins, and re-raises the
    signal once it has shut down (the process would die of it). Here the calls end first
    (drained on SIGTERM, at once on SIGINT or a second signal), while the listener still
    answers (/readyz 503, new calls 503); only then does uvicorn's own shutdown run.
    """

    class GracefulServer(uvicorn.Server):  # type: ignore[misc, name-defined]
        def __init__(self, config: Any, app_server: Any, drain_timeout: float) -> None:
            super().__init__(config)
            self.app_server = app_server
            self.drain_timeout = drain_timeout
            self.signals: list[int] = []
            self._ending: Any = None

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {number: signal.signal(number, self.handle_exit) for number in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.signals.append(sig)  # acted on by on_tick, on the event loop
            if len(self.signals) > 2:  # a third: stop waiting for anything (unfinished reports stay unwritten)
                self.force_exit = True

        async def on_tick(self, counter: int) -> bool:
            import asyncio

            from runner.serve.ops import drain, operations_of

            if self.signals and self._ending is None:
                graceful = self.signals[0] == signal.SIGTERM
                ending = drain(self.app_server, self.drain_timeout if graceful else 0.0, goodbye=graceful)
                self._ending = asyncio.get_running_loop().create_task(ending, name="drain")
            if len(self.signals) > 1:
                operations_of(self.app_server).hurry.set()
            if self._ending is not None and self._ending.done():
                self.should_exit = True
            return await super().on_tick(counter)

        async def shutdown(self, sockets: Any = None) -> None:
            """Let WebSockets still open (a channel closing its call) close themselves before uvicorn's 1012."""
            import asyncio

            loop = asyncio.get_running_loop()
            deadline = loop.time() + WEBSOCKET_CLOSE_SECONDS
            while any(_is_websocket(connection) for connection in self.server_state.connections) and loop.time() < deadline and not self.force_exit:
                await asyncio.sleep(0.05)
            await super().shutdown(sockets)

    return GracefulServer


WEBSOCKET_CLOSE_SECONDS = 5.0  # after the drain, for a channel's own goodbye and close frames


def _is_websocket(connection: Any) -> bool:
    return type(connection).__module__.startswith("uvicorn.protocols.websockets")


SERVE_EXTRA_HINT = "pip install -c requirements.lock -e '.[serve]'"


def _require_serve_extra(offline: bool) -> None:
    """`runner serve` needs the `serve` extra (and aiortc for the simulator's WebRTC peer): say so, once."""
    import importlib.util

    needed = ["starlette", "uvicorn", "prometheus_client"] + (["aiortc"] if offline else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"runner serve needs {', '.join(missing)}, from the serve extra: {SERVE_EXTRA_HINT}", EXIT_USAGE)
