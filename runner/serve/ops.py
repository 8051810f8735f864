"""Operating the server: health, readiness, metrics, and the graceful drain.

- `GET /healthz` → 200 while the process is up (`{"calls": N}`);
- `GET /readyz` → 200 while it takes calls; 503 while draining or at capacity (take it
  out of the load balancer, keep it running);
- `GET /metrics` → Prometheus text from the app's own registry (off: 404).

`drain(server)` is what SIGTERM starts: refuse new calls, wait for the calls in flight
until they end or `drain_timeout` passes, then end the rest with a goodbye; every
conversation's artifacts are written as it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .observe import DRAIN_REASON, EventLog, LiveCalls, Metrics
from .server import Server

if TYPE_CHECKING:
    from runner.core.records import Record
    from runner.host.conversation import Conversation

SHUTDOWN_REASON = "the server shut down"
GOODBYE_SECONDS = 10.0  # for the agent's goodbye, once the drain timeout has passed
CLOSE_SECONDS = 5.0  # for the conversations stopped without a goodbye to close

logger = logging.getLogger(__name__)


class Operations:
    """One app's live calls, metrics and event log: observers of its host."""

    def __init__(self) -> None:
        self.live = LiveCalls()
        self.metrics = Metrics()
        self.observers = (self.live, self.metrics, EventLog())
        self.hurry = asyncio.Event()  # a second signal: stop waiting for the calls in flight

    def opened(self, conversation: Conversation) -> None:
        for observer in self.observers:
            observer.opened(conversation)

    def record(self, conversation: Conversation, record: Record, t: float) -> None:
        for observer in self.observers:
            observer.record(conversation, record, t)

    def closed(self, conversation: Conversation) -> None:
        for observer in self.observers:
            observer.closed(conversation)

    def call_ids(self, server: Server) -> set[str]:
        """Every call in flight: the browser calls (from the offer on) and every open conversation."""
        ids = {call.conversation.call_id or call.conversation.id for call in self.live.calls.values()}
        return ids | set(server.calls.calls if server.calls is not None else ())


def operations_of(server: Server) -> Operations:
    """The server's `Operations`, made and registered with the host's observers on first use."""
    for observer in server.observers:
        if isinstance(observer, Operations):
            return observer
    operations = Operations()
    server.observers.append(operations)

    async def watch_loop() -> None:
        task = asyncio.get_running_loop().create_task(operations.metrics.watch_loop(), name="event loop lag")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        server.on_close.append(stop)

    server.on_start.append(watch_loop)
    return operations


def routes(server: Server) -> list[BaseRoute]:
    operations = operations_of(server)

    async def health(request: Request) -> Response:
        return JSONResponse({"calls": len(operations.call_ids(server))})

    async def ready(request: Request) -> Response:
        reason = not_ready(server)
        if reason is not None:
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse({"ready": True})

    async def metrics(request: Request) -> Response:
        if not server.options.metrics:
            return JSONResponse({"error": "metrics are off (ENABLE_METRICS=false or server.metrics: false)"}, status_code=404)
        return Response(generate_latest(operations.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", health, methods=["GET"]), Route("/readyz", ready, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]


def not_ready(server: Server) -> str | None:
    """Why the server should get no new calls now, or None."""
    if server.draining:
        return "draining: the server is shutting down and takes no new calls"
    host = server.host
    if host is None:
        return "starting"
    if host.open_count >= host.max_conversations:
        return f"at capacity: {host.open_count} of {host.max_conversations} calls"
    return None


async def drain(server: Server, timeout: float, *, goodbye: bool = True) -> None:
    """Stop taking calls; let those in flight finish for up to `timeout` s; then end the rest.

    With `goodbye` the agent says one (bounded by GOODBYE_SECONDS) and the report says the
    server was shutting down; without, each call stops at once as "the server shut down".
    """
    operations = operations_of(server)
    server.draining = True
    live = operations.live
    if timeout > 0 and live.calls:
        logger.warning("draining: waiting up to %g s for the calls in flight (%d) to end", timeout, len(live.calls))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_empty_or_hurry(operations), timeout)
    if not live.calls:
        return
    if goodbye:
        logger.warning("drain: saying goodbye to the calls still in flight (%d)", len(live.calls))
        for call in list(live.calls.values()):
            call.conversation.say_goodbye(DRAIN_REASON)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_empty_or_hurry(operations), GOODBYE_SECONDS)
    reason = DRAIN_REASON if goodbye else SHUTDOWN_REASON
    for call in list(live.calls.values()):
        call.conversation.end_reason = reason
        call.conversation.stop_now(reason)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(live.empty.wait(), CLOSE_SECONDS)


async def _empty_or_hurry(operations: Operations) -> None:
    waits = [asyncio.ensure_future(operations.live.empty.wait()), asyncio.ensure_future(operations.hurry.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
