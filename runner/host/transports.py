"""Where a host's conversations connect: the seam between the host and the Realtime service.

Like httpx's `transport=`: a transport is started once by its host, makes one
`Connection` (runner/host/driver.py) per conversation, and is closed with the host.

- `OpenAITransport`: the OpenAI Realtime WebSocket, dialled by model, or by `call_id`
  for the sideband socket of a SIP or WebRTC call that already exists.
- `SimulatorTransport`: one in-process offline simulator shared by the host's conversations.
- `MemoryTransport(handler)`: no socket at all; `handler` answers each client event.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import json
import os
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence, Union

from .driver import Connection
from .errors import ConnectionLost, SetupError

OFFLINE_API_KEY = "sk-offline-simulator"
MEMORY_QUEUE_EVENTS = 1024  # server events a memory connection holds before the handler waits

ServerEvents = Union[Iterable[Mapping[str, Any]], AsyncIterator[Mapping[str, Any]], Awaitable[Any], None]
Handler = Callable[[dict[str, Any], "MemoryConnection"], ServerEvents]


class BaseTransport(abc.ABC):
    """What a host needs from a transport; subclasses implement `connection`."""

    async def start(self) -> None:
        """Called once when the host opens."""

    async def aclose(self) -> None:
        """Called once when the host closes."""

    @abc.abstractmethod
    def connection(self, *, model: str, call_id: str | None = None) -> Connection:
        """One new connection for a conversation (not yet connected)."""

    def rest_client(self) -> Any:
        """An `AsyncOpenAI` client for the REST calls remote guardrails make."""
        raise SetupError(f"{type(self).__name__} has no REST API: remote guardrails (moderation, classifier) need OpenAITransport or SimulatorTransport")


class OpenAITransport(BaseTransport):
    """The OpenAI Realtime API; `api_key` and `base_url` default to OPENAI_API_KEY and OPENAI_BASE_URL."""

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        key = api_key or environ.get("OPENAI_API_KEY", "")
        if not key:
            raise SetupError("OPENAI_API_KEY is not set: export it to talk to the Realtime API, or use --offline for the built-in simulator.")
        self.api_key = key
        self.base_url = base_url or environ.get("OPENAI_BASE_URL")
        self._client: Any = None

    async def start(self) -> None:
        self.rest_client()  # built with the host, not by its first conversation: it loads the CA bundle, ~30 ms on the event loop

    def connection(self, *, model: str, call_id: str | None = None) -> Connection:
        from .transport import Transport

        return Transport(self.rest_client(), model=model, call_id=call_id)

    def rest_client(self) -> Any:
        """One `AsyncOpenAI` for every connection and REST call of this transport."""
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class SimulatorTransport(BaseTransport):
    """The offline simulator (runner/sim), started once and shared by the host's conversations.

    `rules`: a bundled rule set's name, a path, or None for none. Scripted model actions
    (`simulator.script`) are shared too: script one conversation per host.
    """

    def __init__(self, rules: str | Path | None = "techcorp", *, drop_after_events: int | None = None) -> None:
        self.rules = rules
        self.drop_after_events = drop_after_events
        self.simulator: Any = None  # runner.sim.Simulator while started
        self._client: Any = None

    async def start(self) -> None:
        from ..sim import Simulator

        from openai import AsyncOpenAI

        simulator = Simulator(self.rules, drop_after_events=self.drop_after_events)
        await simulator.start()
        self.simulator = simulator
        self._client = AsyncOpenAI(api_key=OFFLINE_API_KEY, base_url=simulator.http_base_url, websocket_base_url=simulator.ws_base_url, max_retries=0)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self.simulator is not None:
            await self.simulator.close()
            self.simulator = None

    def connection(self, *, model: str, call_id: str | None = None) -> Connection:
        from .transport import Transport

        return Transport(self.rest_client(), model=model, call_id=call_id)

    def rest_client(self) -> Any:
        """One `AsyncOpenAI` for every connection and REST call of this transport."""
        self._started()
        return self._client

    def _started(self) -> Any:
        if self.simulator is None:
            raise RuntimeError("SimulatorTransport is not started: open a Host on it first")
        return self.simulator


class MemoryTransport(BaseTransport):
    """An in-memory connection for tests, like httpx's `MockTransport`.

    `handler(event, connection)` receives each client event as a dict, with the
    connection it came on (`connection.sent`: that connection's client events so far),
    and returns the server events it causes: a list, a generator, an async generator, or
    a coroutine returning a list. `connections` keeps every connection made.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections: list[MemoryConnection] = []

    def connection(self, *, model: str, call_id: str | None = None) -> Connection:
        connection = MemoryConnection(self.handler, model=model, call_id=call_id)
        self.connections.append(connection)
        return connection


class MemoryConnection:
    """One in-memory socket. Like a server, the handler answers client events in order on
    its own task, so a slow answer never blocks the sender; both queues are bounded."""

    def __init__(self, handler: Handler, *, model: str, call_id: str | None) -> None:
        self.handler = handler
        self.model = model
        self.call_id = call_id
        self.sent: list[dict[str, Any]] = []  # every client event, in order (for tests)
        self._outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MEMORY_QUEUE_EVENTS)
        self._incoming: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(MEMORY_QUEUE_EVENTS)
        self._server: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self.close()
        self._outgoing = asyncio.Queue(MEMORY_QUEUE_EVENTS)
        self._incoming = asyncio.Queue(MEMORY_QUEUE_EVENTS)
        self._server = asyncio.get_running_loop().create_task(self._serve(self._outgoing, self._incoming))

    async def send_texts(self, texts: Sequence[str]) -> None:
        for text in texts:
            if self._server is None or self._server.done():
                raise ConnectionLost("the memory connection is closed")
            event = json.loads(text)
            self.sent.append(event)
            await self._outgoing.put(event)

    async def recv(self) -> tuple[dict[str, Any], str]:
        event = await self._incoming.get()
        if event is None:
            raise ConnectionLost("the memory connection was dropped")
        return event, json.dumps(event)

    async def drop(self) -> None:
        """End the connection as a server that goes away would: the session's reader sees the loss."""
        if self._server is not None:
            self._server.cancel()
        await self._incoming.put(None)

    async def close(self) -> None:
        if self._server is not None:
            self._server.cancel()
            await asyncio.gather(self._server, return_exceptions=True)
            self._server = None

    async def _serve(self, outgoing: asyncio.Queue[dict[str, Any]], incoming: asyncio.Queue[dict[str, Any] | None]) -> None:
        while True:
            event = await outgoing.get()
            answer = self.handler(event, self)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is None:
                continue
            if hasattr(answer, "__aiter__"):
                async for server_event in answer:
                    await incoming.put(dict(server_event))
            else:
                for server_event in answer:
                    await incoming.put(dict(server_event))
