"""The browser channel: a page's SDP offer becomes a call; a client secret for clients that dial themselves.

- `POST /calls` (body: the browser's SDP offer; query: template variables) → 201 with the
  SDP answer (`application/sdp`) and `Location: /calls/<call_id>`.
- `POST /calls/<call_id>/hangup` → 200 once the call's artifacts are written; 404 unknown.
- `POST /token` (query: template variables) → a short-lived client secret with the start
  session pinned, for clients that dial the service themselves.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .calls import CallRefused
from .server import Server, error

MAX_OFFER_BYTES = 64 * 1024  # a browser's offer is a few kB


def routes(server: Server) -> list[BaseRoute]:
    async def create_call(request: Request) -> Response:
        offer = await _offer(request)
        if isinstance(offer, Response):
            return offer
        try:
            call_id, answer = await server.running_calls.start(offer, dict(request.query_params))
        except CallRefused as refused:
            return error(refused.status, refused.message)
        return Response(answer, status_code=201, media_type="application/sdp", headers={"Location": f"/calls/{call_id}"})

    async def hangup(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        if not await server.running_calls.hangup(call_id):
            return error(404, f"no active call {call_id!r}")
        return JSONResponse({"call_id": call_id, "ended": True})

    async def token(request: Request) -> Response:
        try:
            secret = await server.running_calls.client_secret(dict(request.query_params))
        except CallRefused as refused:
            return error(refused.status, refused.message)
        return JSONResponse(secret, headers={"Cache-Control": "no-store"})

    return [
        Route("/calls", create_call, methods=["POST"]),
        Route("/calls/{call_id}/hangup", hangup, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
    ]


async def _offer(request: Request) -> str | Response:
    """The SDP offer in the body, or the error response that says what is wrong with it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/sdp", "text/plain", ""):
        return error(415, f"send the SDP offer as the body with Content-Type application/sdp, not {kind!r}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            return error(413, f"the SDP offer is larger than {MAX_OFFER_BYTES // 1024} kB")
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        return error(400, "the SDP offer is not UTF-8 text")
    problem = _offer_problem(offer)
    if problem is not None:
        return error(400, problem)
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
