"""One simulated response, streamed event by event as the service does.

A response holds messages (audio with a transcript, or text) and function calls.
It can be cancelled between any two chunks; the open parts are then closed with
what was sent so far and `response.done` says `cancelled` with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import math
from typing import TYPE_CHECKING, Any

from . import speech
from .outputs import Call, Output, Say

if TYPE_CHECKING:
    from .connection import SimConnection

EXPLANATION_KEY = "simulator_decision"


class SimResponse:
    """A response in progress on one connection; `run()` streams it to the end."""

    def __init__(self, conn: SimConnection, response_id: str, outputs: tuple[Output, ...], params: dict[str, Any], *, why: str = "") -> None:
        self.conn = conn
        self.id = response_id
        self.outputs = outputs
        self.modalities: list[str] = params.get("output_modalities") or conn.session["output_modalities"]
        self.in_conversation = params.get("conversation", "auto") != "none"
        # why the simulated model did this, where the event log keeps it (a service's metadata holds strings of up to 512 characters)
        self.metadata = {**(params.get("metadata") or {}), EXPLANATION_KEY: why[:512]} if why else params.get("metadata")
        self.max_output_tokens = params.get("max_output_tokens", conn.session["max_output_tokens"])
        output_audio = params.get("audio", {}).get("output", {})
        self.voice = output_audio.get("voice", conn.session["audio"]["output"]["voice"])
        self.format = output_audio.get("format", conn.session["audio"]["output"]["format"])
        self.done_items: list[dict[str, Any]] = []
        self.cancel_reason: str | None = None
        self._wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.text_tokens = 0
        self.audio_ms = 0

    def cancel(self, reason: str) -> None:
        """Ask the stream to stop at its next chunk (`turn_detected` or `client_cancelled`)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    def describe(self, status: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "status_details": None,
            "output": self.done_items,
            "conversation_id": self.conn.conversation_id if self.in_conversation else None,
            "output_modalities": self.modalities,
            "max_output_tokens": self.max_output_tokens,
            "audio": {"output": {"format": self.format, "voice": self.voice}},
            "usage": None,
            "metadata": self.metadata,
        }
        return body

    async def run(self, reply_delay: float) -> None:
        try:
            await self.conn.send({"type": "response.created", "response": self.describe("in_progress")})
            await self.conn.send({"type": "rate_limits.updated", "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {"name": "tokens", "limit": 800000, "remaining": 795000, "reset_seconds": 0.375},
            ]})
            await self._pause(reply_delay)
            for index, output in enumerate(self.outputs):
                if self.cancel_reason:
                    break
                if isinstance(output, Say):
                    await self._message(index, output.text)
                else:
                    await self._function_call(index, output)
            await self._finish()
        finally:
            self.finished.set()

    async def _pause(self, seconds: float) -> None:
        """Yield to the connection (so a cancel can land), waiting up to `seconds`."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _open_item(self, index: int, item: dict[str, Any]) -> None:
        await self.conn.send({"type": "response.output_item.added", "response_id": self.id, "output_index": index, "item": dict(item)})
        if self.in_conversation:
            previous = self.conn.append_item(item)
            await self.conn.send({"type": "conversation.item.added", "previous_item_id": previous, "item": dict(item)})

    async def _close_item(self, index: int, item: dict[str, Any]) -> None:
        self.done_items.append(item)
        await self.conn.send({"type": "response.output_item.done", "response_id": self.id, "output_index": index, "item": item})
        if self.in_conversation:
            self.conn.replace_item(item)
            await self.conn.send({"type": "conversation.item.done", "previous_item_id": self.conn.previous_id(item["id"]), "item": item})

    async def _message(self, index: int, text: str) -> None:
        item_id = self.conn.new_id("item")
        audio = "audio" in self.modalities
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        await self._open_item(index, item)
        where = {"response_id": self.id, "item_id": item_id, "output_index": index, "content_index": 0}
        empty_part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        await self.conn.send({"type": "response.content_part.added", **where, "part": empty_part})
        words = _words(text)
        said = await (self._stream_audio(where, text, words) if audio else self._stream_text(where, words))
        status = "incomplete" if self.cancel_reason and said != text else "completed"
        self.text_tokens += _tokens(said)
        if audio:
            await self.conn.send({"type": "response.output_audio.done", **where})
            await self.conn.send({"type": "response.output_audio_transcript.done", **where, "transcript": said})
            part = {"type": "audio", "transcript": said}
            content = {"type": "output_audio", "transcript": said}
        else:
            await self.conn.send({"type": "response.output_text.done", **where, "text": said})
            part = {"type": "text", "text": said}
            content = {"type": "output_text", "text": said}
        await self.conn.send({"type": "response.content_part.done", **where, "part": part})
        await self._close_item(index, {**item, "status": status, "content": [content]})

    async def _stream_text(self, where: dict[str, Any], words: list[str]) -> str:
        said = ""
        for word in words:
            if self.cancel_reason:
                break
            await self.conn.send({"type": "response.output_text.delta", **where, "delta": word})
            said += word
            await self._pause(0)
        return said

    async def _stream_audio(self, where: dict[str, Any], text: str, words: list[str]) -> str:
        audio, bytes_per_ms = speech.wire_audio(text, self.format)
        pieces = speech.chunks(audio, self.conn.sim.chunk_ms, bytes_per_ms)
        item_id = where["item_id"]
        self.conn.audio_sent_ms[item_id] = 0
        said = ""
        words_sent = 0
        for number, piece in enumerate(pieces, start=1):
            if self.cancel_reason:
                break
            due = math.ceil(len(words) * number / len(pieces))
            if due > words_sent:
                delta = "".join(words[words_sent:due])
                await self.conn.send({"type": "response.output_audio_transcript.delta", **where, "delta": delta})
                said += delta
                words_sent = due
            await self.conn.send({"type": "response.output_audio.delta", **where, "delta": base64.b64encode(piece).decode("ascii")})
            self.conn.audio_sent_ms[item_id] += len(piece) // bytes_per_ms
            self.conn.produced_audio = True
            self.audio_ms += len(piece) // bytes_per_ms
            pace = self.conn.sim.audio_pace
            await self._pause(len(piece) / bytes_per_ms / 1000 / pace if pace else 0)
        return said

    async def _function_call(self, index: int, call: Call) -> None:
        item_id = self.conn.new_id("item")
        call_id = self.conn.new_id("call")
        item = {"id": item_id, "object": "realtime.item", "type": "function_call", "status": "in_progress", "name": call.name, "call_id": call_id, "arguments": ""}
        await self._open_item(index, item)
        where = {"response_id": self.id, "item_id": item_id, "output_index": index, "call_id": call_id}
        half = len(call.arguments) // 2
        for delta in (call.arguments[:half], call.arguments[half:]):
            if delta:
                await self.conn.send({"type": "response.function_call_arguments.delta", **where, "delta": delta})
        await self.conn.send({"type": "response.function_call_arguments.done", **where, "name": call.name, "arguments": call.arguments})
        self.text_tokens += _tokens(call.arguments) + 3
        self.conn.remember_call(call_id, call)
        await self._close_item(index, {**item, "status": "completed", "arguments": call.arguments})

    async def _finish(self) -> None:
        status = "cancelled" if self.cancel_reason else "completed"
        body = self.describe(status)
        if self.cancel_reason:
            body["status_details"] = {"type": "cancelled", "reason": self.cancel_reason}
        body["usage"] = self._usage()
        await self.conn.send({"type": "response.done", "response": body})

    def _usage(self) -> dict[str, Any]:
        text_in, audio_in = self.conn.context_tokens()
        audio_out = math.ceil(self.audio_ms / 50)
        return {
            "total_tokens": text_in + audio_in + self.text_tokens + audio_out,
            "input_tokens": text_in + audio_in,
            "output_tokens": self.text_tokens + audio_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": self.text_tokens, "audio_tokens": audio_out},
        }


def _words(text: str) -> list[str]:
    """Words with their following space, so the deltas join back to the exact text."""
    pieces = text.split(" ")
    words = [piece + " " for piece in pieces[:-1]] + [pieces[-1]]
    return [word for word in words if word]


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)
