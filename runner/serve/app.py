"""The ASGI app: each channel's routes over one `Server` (a `Host` and its `CallService`).

- the browser (`browser.py`): `POST /calls`, `POST /calls/<id>/hangup`, `POST /token`;
- Twilio Media Streams (`twilio.py`): `POST /twilio/voice`, `WS /twilio/media`;
- `GET /healthz` → the number of active calls.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import browser, twilio
from .calls import CallService
from .server import Server

if TYPE_CHECKING:
    from runner.host.project import Project
    from runner.host.transports import BaseTransport

CALL_RECONNECT_DELAYS = (0.25, 0.5, 1.0)  # a sideband that drops re-attaches fast; an ended call is given up soon


def create_app(
    project: Project,
    transport: BaseTransport,
    *,
    session_dir: Path | None = None,
    max_calls: int = 100,
    reconnect_delays: Sequence[float] = CALL_RECONNECT_DELAYS,
) -> Starlette:
    """The app; the host (and with it the transport, a simulator say) lives as long as the app runs."""
    server = Server(project, transport, session_dir=session_dir, max_calls=max_calls, reconnect_delays=reconnect_delays)
    app = Starlette(routes=[*browser.routes(server), *twilio.routes(server), *_health_routes(server)], lifespan=_lifespan(server))
    app.state.server = server
    return app


def _lifespan(server: Server) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    from runner.host.host import Host

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        host = Host(server.project, transport=server.transport, max_conversations=server.max_calls, reconnect_delays=server.reconnect_delays)
        async with host:
            server.host = host
            server.calls = CallService(host, session_dir=server.session_dir)
            try:
                yield
            finally:
                for close in reversed(server.on_close):
                    await close()
                await server.calls.aclose()

    return lifespan


def _health_routes(server: Server) -> list[BaseRoute]:
    async def health(request: Request) -> Response:
        return JSONResponse({"calls": len(server.running_calls.calls)})

    return [Route("/healthz", health, methods=["GET"])]
