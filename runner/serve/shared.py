"""One app's link to the store every worker shares: its worker name, the rate limiter, the call board.

- `worker_name()`: `host:pid`, unique among the workers of a deployment;
- `StoreLimiter`: the rate limit on new calls, counted in the store (so N workers allow
  `rate_limit_rpm` a minute per client address in all, not N times it);
- `CallBoard`: a host observer that lists this worker's calls in the store (opened, agent
  changed, closed) and beats, so `/admin/calls` on any worker shows every worker's calls.
  Writes are queued and made by one task in order: the observer never waits on the store.

`shared_of(server)` makes them on first use and ties their life to the app's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from runner.core.records import Handoff, Record

from .store import BEAT_SECONDS, CallEntry, ClaimStoreError, Store, open_claim_store

if TYPE_CHECKING:
    from runner.host.conversation import Conversation

    from .server import Server

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """This app as the store names it: `host:pid`, then `#2`, `#3`, ... for more apps in one process.

    Read when an app starts, so a forked worker has its own pid.
    """
    base = f"{socket.gethostname()}:{os.getpid()}"
    count = _apps_started.setdefault(os.getpid(), 0) + 1
    _apps_started[os.getpid()] = count
    return base if count == 1 else f"{base}#{count}"


_apps_started: dict[int, int] = {}  # by pid: a forked child counts afresh


class StoreLimiter:
    """At most `per_minute` new calls per client address in each clock minute, across every worker."""

    def __init__(self, store: Callable[[], Store], per_minute: int) -> None:
        self.store = store
        self.per_minute = per_minute

    async def allow(self, key: str, now: float) -> float | None:
        """None when `key` may go ahead (and counts it), else the seconds until it may; `now` is Unix time."""
        return await self.store().hit(key, self.per_minute, now)


class CallBoard:
    """This worker's calls, written to the shared list as they open, change agent and close."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self.store = store
        self.worker = ""
        self._writes: asyncio.Queue[Callable[[], Awaitable[None]]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def opened(self, conversation: Conversation) -> None:
        entry = CallEntry(conversation.id, conversation.call_id, conversation.channel, conversation.core.active_agent, self.worker, os.getpid(), time.time())
        self._queue(lambda: self.store().call_opened(entry))

    def record(self, conversation: Conversation, record: Record, t: float) -> None:
        if isinstance(record, Handoff) and record.success:
            session_id, agent = conversation.id, record.target
            self._queue(lambda: self.store().call_agent(session_id, agent))

    def closed(self, conversation: Conversation) -> None:
        session_id = conversation.id
        self._queue(lambda: self.store().call_closed(session_id))

    async def entries(self) -> list[CallEntry]:
        """Every worker's calls, once this worker's own writes so far are in."""
        if self._writes is not None:
            await self._writes.join()
        return await self.store().calls(time.time())

    async def start(self) -> None:
        self.worker = worker_name()
        self._writes = asyncio.Queue()
        await _logged(lambda: self.store().worker_gone(self.worker), "forgetting a previous worker of this name")  # a pid reused after a crash
        await _logged(lambda: self.store().beat(self.worker, os.getpid(), time.time()), "the first beat")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._write(), name="call board writes"), loop.create_task(self._beat(), name="call board beat")]

    async def stop(self) -> None:
        if self._writes is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._writes.join(), BEAT_SECONDS)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await _logged(lambda: self.store().worker_gone(self.worker), "leaving the call list")

    def _queue(self, write: Callable[[], Awaitable[None]]) -> None:
        if self._writes is not None:
            self._writes.put_nowait(write)

    async def _write(self) -> None:
        assert self._writes is not None
        while True:
            write = await self._writes.get()
            try:
                await _logged(write, "updating the call list")
            finally:
                self._writes.task_done()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            await _logged(lambda: self.store().beat(self.worker, os.getpid(), time.time()), "the beat")


async def _logged(write: Callable[[], Awaitable[None]], what: str) -> None:
    """The call list is for operators: a store that fails (to open, or to write) is logged, and the calls go on."""
    try:
        await write()
    except ClaimStoreError as failure:
        logger.warning("shared call list, %s: %s", what, failure)


class Shared:
    """The store (opened on first use) and what uses it, for one app."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._store: Store | None = None
        self.board = CallBoard(self.store)
        self.limiter = StoreLimiter(self.store, server.options.rate_limit_rpm) if server.options.rate_limit_rpm > 0 else None

    def store(self) -> Store:
        if self._store is None:
            project = self.server.project
            self._store = open_claim_store(project.environ, project.config.state_dir)
        return self._store

    async def start(self) -> None:
        await self.board.start()

    async def close(self) -> None:
        await self.board.stop()
        if self._store is not None:
            await self._store.aclose()
            self._store = None


def shared_of(server: Server) -> Shared:
    """The server's `Shared`, made, registered as a host observer and tied to the app's life on first use."""
    for hook in server.on_start:
        owner: Any = getattr(hook, "__self__", None)
        if isinstance(owner, Shared):
            return owner
    shared = Shared(server)
    server.observers.append(shared.board)
    server.on_start.append(shared.start)
    server.on_close.append(shared.close)
    return shared
