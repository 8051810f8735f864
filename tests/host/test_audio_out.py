"""The agent's audio reaches a sink the embedder attaches, and barge-in truncates at what the sink says was heard."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import runner
from tests.host.embedding import write_project

WAIT = 30.0
CHUNKS = [bytes([n]) * 960 for n in range(1, 6)]  # five 20 ms chunks of 24 kHz PCM16


class Sink:
    """A phone bridge's view: what was handed over, and how much of it the caller heard."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, bytes]] = []
        self.heard_ms = 40
        self.all_played = asyncio.Event()
        self.stopped = asyncio.Event()
        self.ended: list[str] = []

    def play(self, item_id: str, pcm: bytes) -> None:
        self.chunks.append((item_id, pcm))
        if len(self.chunks) == len(CHUNKS):
            self.all_played.set()

    def end_item(self, item_id: str) -> None:
        self.ended.append(item_id)

    def stop(self) -> tuple[str | None, int]:
        self.stopped.set()
        return (self.chunks[-1][0] if self.chunks else None), self.heard_ms


def speaking_model(event: dict[str, Any], connection: Any) -> Any:
    kind = event["type"]
    if kind == "session.update":
        return [{"type": "session.updated", "session": event["session"]}]
    if kind == "input_audio_buffer.append":  # the caller talks over the reply: server VAD hears it
        return [{"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "user_speech"}]
    if kind == "conversation.item.create":
        return [{"type": "conversation.item.added", "item": {**event["item"], "id": f"user_{len(connection.sent)}"}}]
    if kind == "response.create":
        where = {"response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0}
        return [
            {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}},
            {"type": "response.output_item.added", "response_id": "resp_1", "item": {"id": "item_1", "type": "message", "role": "assistant"}},
            *({"type": "response.output_audio.delta", **where, "delta": base64.b64encode(chunk).decode("ascii")} for chunk in CHUNKS),
            {"type": "response.output_audio_transcript.done", **where, "transcript": "One two three four five."},
            {"type": "response.done", "response": {"id": "resp_1", "status": "completed", "output": []}},
        ]
    return []


def test_the_agents_audio_goes_to_the_attached_sink_in_order_and_a_barge_in_truncates_at_what_it_heard(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def main() -> tuple[Sink, list[dict[str, Any]]]:
        sink = Sink()
        transport = runner.MemoryTransport(speaking_model)
        async with runner.Host(project, transport=transport) as host:
            async with host.open(variables={"customer": "ada"}) as conv:
                conv.attach_audio(sink)
                await conv.send_text("speak")
                await sink.all_played.wait()
                await conv.send_audio(bytes(960))
                await sink.stopped.wait()
        return sink, [event for event in transport.connections[0].sent if event["type"] == "conversation.item.truncate"]

    sink, truncates = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert sink.chunks == [("item_1", chunk) for chunk in CHUNKS] and sink.ended == ["item_1"]
    assert [(event["item_id"], event["audio_end_ms"]) for event in truncates] == [("item_1", 40)]


def test_a_conversation_opened_in_pcmu_sends_pcmu_both_ways_and_an_unknown_format_is_refused(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def main() -> list[dict[str, Any]]:
        transport = runner.MemoryTransport(speaking_model)
        async with runner.Host(project, transport=transport) as host:
            async with host.open(variables={"customer": "ada"}, audio_format="audio/pcmu"):
                pass
            try:
                async with host.open(variables={"customer": "ada"}, audio_format="audio/mp3"):
                    raise AssertionError("opened")
            except runner.SetupError as refused:
                assert str(refused) == "unknown audio format 'audio/mp3'; expected audio/pcm, audio/pcmu or audio/pcma"
        return [event for event in transport.connections[0].sent if event["type"] == "session.update"]

    [update] = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert update["session"]["audio"]["input"]["format"] == update["session"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
