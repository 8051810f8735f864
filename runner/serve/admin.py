"""A small admin view of the calls in flight (guarded by protect.py: a bearer token, or loopback only).

- `GET /admin/calls` → `{"calls": [{session_id, call_id, channel, agent, duration_s, worker, pid, transcript}]}`,
  every worker's calls (from the shared store), longest first; the transcript is the
  call's so far for this worker's calls, null for another worker's (it lives there).
- `POST /admin/calls/<id>/hangup` (a session id or a call id) → 200 once its artifacts are
  written; 409 naming the worker when the call is another worker's (its socket is there:
  send the hangup to that worker); 404 when there is no such call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .ops import CLOSE_SECONDS, operations_of
from .server import Server, error
from .shared import CallBoard, shared_of
from .store import CallEntry, ClaimStoreError

OPERATOR_REASON = "hung up by an operator"
logger = logging.getLogger(__name__)


def routes(server: Server) -> list[BaseRoute]:
    live = operations_of(server).live
    board = shared_of(server).board

    async def calls(request: Request) -> Response:
        views = [call.view() | {"worker": board.worker, "pid": os.getpid()} for call in live.calls.values()]
        views += [_view(entry) for entry in await _others(board)]
        views.sort(key=lambda view: -view["duration_s"])
        return JSONResponse({"calls": views}, headers={"Cache-Control": "no-store"})

    async def hangup(request: Request) -> Response:
        key = request.path_params["key"]
        call = live.find(key)
        if call is None:
            elsewhere = next((entry for entry in await _others(board) if key in (entry.session_id, entry.call_id)), None)
            if elsewhere is not None:
                return JSONResponse({"error": f"call {key!r} is on worker {elsewhere.worker} (pid {elsewhere.pid}): send the hangup to that worker",
                                     "worker": elsewhere.worker, "pid": elsewhere.pid}, status_code=409)
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


async def _others(board: CallBoard) -> list[CallEntry]:
    """The other workers' calls (none when the store cannot be read: this worker's own still show)."""
    try:
        return [entry for entry in await board.entries() if entry.worker != board.worker]
    except ClaimStoreError as failure:
        logger.warning("admin view: the shared call list cannot be read: %s", failure)
        return []


def _view(entry: CallEntry) -> dict[str, Any]:
    return {"session_id": entry.session_id, "call_id": entry.call_id, "channel": entry.channel, "agent": entry.agent,
            "duration_s": round(max(0.0, time.time() - entry.started), 1), "worker": entry.worker, "pid": entry.pid, "transcript": None}
