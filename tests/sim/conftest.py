"""Shared helpers for the simulator tests: a raw WebSocket client and strict event checks."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Awaitable, Callable, TypeVar

import pydantic
import pytest
import websockets
from openai.types.realtime import RealtimeServerEvent

T = TypeVar("T")
SESSION_CREATED_EXTRAS = {"session.id", "session.object", "session.expires_at"}
_server_events = pydantic.TypeAdapter(RealtimeServerEvent)


def run(coroutine_function: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine_function(), 20))


def extra_keys(value: Any, path: str = "") -> set[str]:
    """Every key that landed in some `model_extra`: what the SDK types do not know."""
    found: set[str] = set()
    if isinstance(value, pydantic.BaseModel):
        found |= {f"{path}.{key}" if path else key for key in value.model_extra or {}}
        for name in type(value).model_fields:
            found |= extra_keys(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found |= extra_keys(child, f"{path}[{index}]")
    return found


def assert_valid_server_events(events: list[dict[str, Any]]) -> None:
    """Each event validates against the GA union with nothing unknown in it."""
    for event in events:
        model = _server_events.validate_python(event)
        assert model.type == event["type"]
        allowed = SESSION_CREATED_EXTRAS if event["type"] == "session.created" else set()
        assert extra_keys(model) == allowed, (event["type"], extra_keys(model))


class RawClient:
    """A plain `websockets` client that keeps everything it received."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, base_url: str, *, model: str = "gpt-realtime-2.1", headers: dict[str, str] | None = None) -> RawClient:
        ws = await websockets.connect(f"{base_url}/realtime?model={model}", additional_headers={"Authorization": "Bearer sk-sim", **(headers or {})}, max_size=None)
        client = cls(ws)
        await client.until("conversation.created")
        return client

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def recv(self) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        self.events.append(event)
        return event

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        """Events up to and including the next one of `event_type`."""
        seen = []
        while True:
            event = await self.recv()
            seen.append(event)
            if event["type"] == event_type:
                return seen

    async def configure(self, **session: Any) -> dict[str, Any]:
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        return (await self.until("session.updated"))[-1]

    async def say(self, text: str) -> None:
        await self.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        await self.until("conversation.item.done")

    async def append(self, pcm: bytes, chunk_ms: int = 40) -> None:
        size = chunk_ms * 48
        for start in range(0, len(pcm), size):
            await self.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm[start : start + size]).decode()})

    async def close(self) -> None:
        await self.ws.close()


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == event_type]


@pytest.fixture
def text_session() -> dict[str, Any]:
    """Text output and manual turns: what `runner run --text` configures."""
    return {"output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}


class Kit:
    """What the simulator tests share (pytest's importlib mode cannot import conftest)."""

    run = staticmethod(run)
    connect = staticmethod(RawClient.connect)
    of_type = staticmethod(of_type)
    assert_valid = staticmethod(assert_valid_server_events)


@pytest.fixture
def kit() -> Kit:
    return Kit()
