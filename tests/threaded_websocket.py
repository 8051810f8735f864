"""A WebSocket server on its own thread and event loop, for tests whose runner is another
process (or whose own loop must not share the server's)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Awaitable, Callable, Iterator

import websockets


@contextlib.contextmanager
def serving(handler: Callable[[Any], Awaitable[None]]) -> Iterator[int]:
    """Serve `handler` on 127.0.0.1 at a free port; yields the port, stops on exit."""
    loop = asyncio.new_event_loop()
    ports: list[int] = []
    up = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            ports.append(server.sockets[0].getsockname()[1])
            up.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert up.wait(10), "the test WebSocket server did not start"
    try:
        yield ports[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
