"""`runner serve`: host browser calls for a project over HTTP (an ASGI app on uvicorn)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path
from typing import Any, Iterator

import click

from .app import EXIT_FAILED, EXIT_USAGE, config_or_exit, fail, main


@main.command()
@click.argument("file")
@click.option("--host", "address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on (0: any free port).")
@click.option("--offline", is_flag=True, help="Use the built-in simulator as the Realtime service (no API key needed).")
@click.option("--rules", "sim_rules", default="techcorp", show_default=True, metavar="NAME|PATH", help="Simulator rule set (with --offline).")
@click.option("--session-dir", type=click.Path(file_okay=False, path_type=Path), help="Parent folder of the session folders (default: <state_dir>/sessions).")
@click.option("--max-calls", type=click.IntRange(min=1), default=100, show_default=True, help="Calls served at once; more are refused with 503.")
@click.option("--no-guardrails", is_flag=True, help="Turn guardrail policies off (also ENABLE_GUARDRAILS=false).")
def serve(file: str, address: str, port: int, offline: bool, sim_rules: str, session_dir: Path | None, max_calls: int, no_guardrails: bool) -> None:
    """Serve FILE's agents to browsers: POST an SDP offer to /calls, get the answer back."""
    _require_serve_extra(offline)
    import uvicorn

    from runner.host.errors import SetupError
    from runner.host.project import Project
    from runner.host.transports import OpenAITransport, SimulatorTransport
    from runner.serve import create_app

    config = config_or_exit(file)
    project = Project(config, guardrails=not no_guardrails, environ=os.environ)
    try:
        transport = SimulatorTransport(sim_rules) if offline else OpenAITransport(environ=project.environ)
    except SetupError as error:
        fail(str(error), EXIT_USAGE)
    try:
        listener = socket.create_server((address, port))
    except OSError as error:
        fail(f"cannot listen on {address}:{port}: {os.strerror(error.errno) if error.errno else error}", EXIT_FAILED)
    bound = listener.getsockname()[1]
    try:
        app = create_app(project, transport, session_dir=session_dir, max_calls=max_calls)
    except SetupError as error:  # a channel's settings (TWILIO_INPUT_FRAMES, ...) are wrong
        fail(str(error), EXIT_USAGE)
    server = _server_class(uvicorn)(uvicorn.Config(app, log_level="warning", lifespan="on"))
    upstream = "the offline simulator" if offline else "the OpenAI Realtime API"
    click.echo(f"runner: serving {file} on http://{address}:{bound} ({upstream}); POST an SDP offer to /calls", err=True)
    server.run(sockets=[listener])
    if not server.started:
        raise click.exceptions.Exit(EXIT_FAILED)
    click.echo("runner: stopped; every open call was hung up and its session folder written", err=True)


def _server_class(uvicorn: Any) -> Any:
    """uvicorn's Server, except that SIGINT/SIGTERM end a graceful shutdown and exit 0.

    uvicorn re-raises the signal once it has shut down, so the process would die of it
    (or click would say "Aborted!") after every call had been hung up cleanly.
    """

    class GracefulServer(uvicorn.Server):  # type: ignore[misc, name-defined]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {number: signal.signal(number, self.handle_exit) for number in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)

    return GracefulServer


SERVE_EXTRA_HINT = "pip install -c requirements.lock -e '.[serve]'"


def _require_serve_extra(offline: bool) -> None:
    """`runner serve` needs the `serve` extra (and aiortc for the simulator's WebRTC peer): say so, once."""
    import importlib.util

    needed = ["starlette", "uvicorn"] + (["aiortc"] if offline else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"runner serve needs {', '.join(missing)}, from the serve extra: {SERVE_EXTRA_HINT}", EXIT_USAGE)
