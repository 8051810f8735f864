"""The ASGI app: Starlette routes over one `Host` and its `CallService`.

- `POST /calls` (body: the browser's SDP offer; query: template variables) → 201 with the
  SDP answer (`application/sdp`) and `Location: /calls/<call_id>`.
- `POST /calls/<call_id>/hangup` → 200 once the call's artifacts are written; 404 unknown.
- `POST /token` (query: template variables) → a short-lived client secret with the start
  session pinned, for clients that dial the service themselves.
- `GET /healthz` → the number of active calls.

Errors are JSON `{"error": message}` with a status that says whose fault it was.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .calls import CallRefused, CallService

if TYPE_CHECKING:
    from runner.host.project import Project
    from runner.host.transports import BaseTransport

MAX_OFFER_BYTES = 64 * 1024  # a browser's offer is a few kB
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
    from runner.host.host import Host

    state: dict[str, CallService] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with Host(project, transport=transport, max_conversations=max_calls, reconnect_delays=reconnect_delays) as host:
            service = CallService(host, session_dir=session_dir)
            state["service"] = service
            app.state.calls = service
            try:
                yield
            finally:
                await service.aclose()

    async def create_call(request: Request) -> Response:
        offer = await _offer(request)
        if isinstance(offer, Response):
            return offer
        try:
            call_id, answer = await state["service"].start(offer, dict(request.query_params))
        except CallRefused as refused:
            return _error(refused.status, refused.message)
        return Response(answer, status_code=201, media_type="application/sdp", headers={"Location": f"/calls/{call_id}"})

    async def hangup(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        if not await state["service"].hangup(call_id):
            return _error(404, f"no active call {call_id!r}")
        return JSONResponse({"call_id": call_id, "ended": True})

    async def token(request: Request) -> Response:
        try:
            secret = await state["service"].client_secret(dict(request.query_params))
        except CallRefused as refused:
            return _error(refused.status, refused.message)
        return JSONResponse(secret, headers={"Cache-Control": "no-store"})

    async def health(request: Request) -> Response:
        return JSONResponse({"calls": len(state["service"].calls)})

    routes = [
        Route("/calls", create_call, methods=["POST"]),
        Route("/calls/{call_id}/hangup", hangup, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _offer(request: Request) -> str | Response:
    """The SDP offer in the body, or the error response that says what is wrong with it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/sdp", "text/plain", ""):
        return _error(415, f"send the SDP offer as the body with Content-Type application/sdp, not {kind!r}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            return _error(413, f"the SDP offer is larger than {MAX_OFFER_BYTES // 1024} kB")
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        return _error(400, "the SDP offer is not UTF-8 text")
    problem = _offer_problem(offer)
    if problem is not None:
        return _error(400, problem)
    return offer


def _offer_problem(offer: str) -> str | None:
    """Refuse what no calls endpoint would take before spending a call on it."""
    lines = [line.strip() for line in offer.strip().splitlines()]
    if not lines or not lines[0]:
        return "the SDP offer is empty: POST the browser's offer (RTCPeerConnection.createOffer) as the body"
    if lines[0] != "v=0":
        return f"the SDP offer is malformed: it must start with 'v=0', not {lines[0][:20]!r}"
    if not any(line.startswith("m=audio ") for line in lines):
        return "the SDP offer has no audio: add a microphone track or an audio transceiver before createOffer"
    return None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
