"""The browser channel: a page's SDP offer becomes a call; a client secret for clients that dial themselves.

- `POST /calls` (body: the browser's SDP offer; query: template variables) → 201 with the
  SDP answer (`application/sdp`) and `Location: /calls/<call_id>`.
- `POST /calls/<call_id>/hangup` → 200 once the call's artifacts are written; 404 unknown.
- `GET /calls/<call_id>/events` → Server-Sent Events, one JSON entry each: the call's
  records (`kind: record`) and sideband events (`kind: event`, `direction` out/in), from
  the start of the call, then `kind: end` once it is over (`event: end`).
- `POST /token` (query: template variables) → a short-lived client secret with the start
  session pinned, for clients that dial the service themselves.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
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

    async def events(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        feed = server.running_calls.feed(call_id)
        if feed is None:
            return error(404, f"no call {call_id!r}")
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(_server_sent(feed.entries()), media_type="text/event-stream", headers=headers)

    return [
        Route("/calls", create_call, methods=["POST"]),
        Route("/calls/{call_id}/hangup", hangup, methods=["POST"]),
        Route("/calls/{call_id}/events", events, methods=["GET"]),
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


async def _server_sent(entries: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """Each entry as an SSE message; the last one (the call's end) is `event: end`, so the page stops listening."""
    yield "retry: 1000\n\n"
    async for entry in entries:
        name = "end" if entry.get("kind") == "end" else "message"
        yield f"event: {name}\ndata: {json.dumps(entry, separators=(',', ':'))}\n\n"
