"""What every channel of one `runner serve` app shares: the host, the calls, the settings.

Each channel (the browser, SIP, Twilio, operations) is a module with a `routes(server)`
function; the app is their routes over one `Server`, whose `host` and `calls` exist
while the app runs (between the lifespan's start and its end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from starlette.responses import JSONResponse, Response

from .settings import ServeOptions

if TYPE_CHECKING:
    from runner.host.host import Host
    from runner.host.project import Project
    from runner.host.transports import BaseTransport

    from .calls import CallService


@dataclass
class Server:
    """One app's shared parts. `host` and `calls` are set by the lifespan, so use them in handlers only."""

    project: Project
    transport: BaseTransport
    session_dir: Path | None = None
    max_calls: int = 100
    reconnect_delays: Sequence[float] = (0.25, 0.5, 1.0)
    host: Host | None = None
    calls: CallService | None = None
    on_start: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)  # once the host and calls exist
    on_close: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    observers: list[Any] = field(default_factory=list)  # the host's observers (runner.host.host.Observer)
    options: ServeOptions = field(default_factory=ServeOptions)
    draining: bool = False  # set on SIGTERM: every channel refuses new calls (browser 503, SIP reject 503, Twilio busy)

    @property
    def running_host(self) -> Host:
        if self.host is None:
            raise RuntimeError("the app is not running: its host exists between the lifespan's start and end")
        return self.host

    @property
    def running_calls(self) -> CallService:
        if self.calls is None:
            raise RuntimeError("the app is not running: its calls exist between the lifespan's start and end")
        return self.calls


def error(status: int, message: str) -> Response:
    """Errors are JSON `{"error": message}` with a status that says whose fault it was."""
    return JSONResponse({"error": message}, status_code=status)
