"""The ASGI app: each channel's routes over one `Server` (a `Host` and its `CallService`).

- the browser (`browser.py`, `page.py`): the page at `/`, `POST /calls`, `POST /calls/<id>/hangup`, `GET /calls/<id>/events`, `POST /token`;
- Twilio Media Streams (`twilio.py`): `POST /twilio/voice`, `WS /twilio/media`;
- phone calls over SIP (`sip.py`): `POST /openai/webhook`;
- operations (`ops.py`, `admin.py`): `/healthz`, `/readyz`, `/metrics`, `/admin/calls`;
- protection (`protect.py`): body cap, CORS allow-list, bearer token, rate limit on new calls.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Callable, Sequence

from starlette.applications import Starlette

from . import admin, browser, ops, page, protect, sip, twilio
from .calls import CallService
from .server import Server
from .settings import ServeOptions

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
    options: ServeOptions | None = None,
) -> Starlette:
    """The app; the host (and with it the transport, a simulator say) lives as long as the app runs."""
    server = Server(project, transport, session_dir=session_dir, max_calls=max_calls, reconnect_delays=reconnect_delays, options=options or ServeOptions())
    routes = [*browser.routes(server), *page.routes(server), *sip.routes(server), *twilio.routes(server), *ops.routes(server), *admin.routes(server)]
    app = Starlette(routes=routes, middleware=protect.middleware(server), lifespan=_lifespan(server))
    app.state.server = server
    return app


def _lifespan(server: Server) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    from runner.host.host import Host

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        host = Host(server.project, transport=server.transport, max_conversations=server.max_calls, reconnect_delays=server.reconnect_delays,
                    observers=server.observers)
        async with host:
            server.host = host
            server.calls = CallService(host, session_dir=server.session_dir)
            try:
                for start in server.on_start:
                    await start()
                yield
            finally:
                for close in reversed(server.on_close):
                    await close()
                await server.calls.aclose()

    return lifespan

