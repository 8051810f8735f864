"""An ASGI app on uvicorn in the test's own event loop, on 127.0.0.1, for as long as a block runs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

START_SECONDS = 20.0
POLL_SECONDS = 0.01


@contextlib.asynccontextmanager
async def on_uvicorn(app: Any, *, lifespan: str = "on") -> AsyncIterator[str]:
    """Serve `app` on a free port and yield its base URL; on leaving, uvicorn shuts down as on a signal."""
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    await _started(server, task)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """uvicorn sets a flag, not an event: poll it with a deadline, and fail with startup's own error if it stopped."""
    deadline = asyncio.get_running_loop().time() + START_SECONDS
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("uvicorn stopped before it started serving")
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"uvicorn did not start serving within {START_SECONDS:g} s")
        await asyncio.sleep(POLL_SECONDS)
