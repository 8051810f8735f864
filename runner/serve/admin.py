"""A small admin view of the calls in flight (guarded by protect.py: a bearer token, or loopback only).

- `GET /admin/calls` → `{"calls": [{session_id, call_id, channel, agent, duration_s, transcript}]}`,
  longest first; the transcript is the call's so far.
- `POST /admin/calls/<id>/hangup` (a session id or a call id) → 200 once its artifacts are
  written; 404 when there is no such call.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .ops import CLOSE_SECONDS, operations_of
from .server import Server, error

OPERATOR_REASON = "hung up by an operator"


def routes(server: Server) -> list[BaseRoute]:
    live = operations_of(server).live

    async def calls(request: Request) -> Response:
        views = sorted((call.view() for call in live.calls.values()), key=lambda view: -view["duration_s"])
        return JSONResponse({"calls": views}, headers={"Cache-Control": "no-store"})

    async def hangup(request: Request) -> Response:
        key = request.path_params["key"]
        call = live.find(key)
        if call is None:
            return error(404, f"no active call {key!r}")
        conversation = call.conversation
        if conversation.call_id is not None and await server.running_calls.hangup(conversation.call_id, OPERATOR_REASON):
            return JSONResponse({"session_id": conversation.id, "call_id": conversation.call_id, "ended": True})
        conversation.end_reason = OPERATOR_REASON
        conversation.stop_now(OPERATOR_REASON)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(call.closed.wait(), CLOSE_SECONDS)
        return JSONResponse({"session_id": conversation.id, "call_id": conversation.call_id, "ended": call.closed.is_set()})

    return [Route("/admin/calls", calls, methods=["GET"]), Route("/admin/calls/{key}/hangup", hangup, methods=["POST"])]
