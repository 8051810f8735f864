"""One simulated GPT-Live session (`/v1/live/sessions`) over one WebSocket.

Every client event is checked the way the service does (`live_events.py`) and answered
with GPT-Live's events: `session.start` first and only once, delegations to a backend
whose tool calls arrive in `response.event` envelopes and wait for one output each and
then one `response.create`, spoken replies as timestamped transcript deltas, cumulative
usage seconds, fixtures and `session.close`. What the backend does is decided from its
conversation by the same brain as the Realtime simulator (`brain.py`). It hears the
caller's audio and speaks its replies as audio (`live_audio.py`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .brain import Call, Say, Turn, decide, fill_history, parse_output, remember, tool_result_since_user
from .frames import send_text
from .live_audio import LiveAudioMixin
from .live_events import live_refusal

if TYPE_CHECKING:
    from .server import Simulator

logger = logging.getLogger(__name__)
SESSION_SECONDS = 3600
FIXTURE_MAX_BYTES = 24_000 * 2 * 30  # 30 s of PCM16 at 24 kHz
UNNUMBERED_EVENTS = frozenset({"session.output_audio.delta"})  # the service gives its audio chunks no event_id


class _Dropped(Exception):
    """The simulated network failure happened; nothing more may be sent."""


class LiveSimConnection(LiveAudioMixin):
    def __init__(self, sim: Simulator, ws: ServerConnection, *, drop_after_events: int | None = None) -> None:
        self.sim = sim
        self.ws = ws
        self.drop_after_events = drop_after_events
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.session: dict[str, Any] | None = None  # the resource, once started
        self.items: list[dict[str, Any]] = []  # the backend's conversation
        self.open_calls: dict[str, str] = {}  # call_id -> name, until its output arrives
        self.facts: dict[str, Any] = {}
        self.appended: list[str] = []  # instruction appends, in order
        self.model_turns = 0
        self.timeline_ms = 0  # the end of the last thing said on the session timeline
        self.closed = False
        self._handling: set[asyncio.Task[None]] = set()  # client events still being handled while the model speaks
        self._init_audio()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_sim{next(self._ids):06d}"

    async def send(self, event: dict[str, Any]) -> None:
        if self.drop_after_events is not None and len(self.sent) >= self.drop_after_events:
            self.ws.transport.abort()
            raise _Dropped
        if event["type"] not in UNNUMBERED_EVENTS:
            event = {"event_id": self.new_id("event"), **event}
        self.sent.append(event)
        await send_text(self.ws, json.dumps(event))

    async def error(self, code: str, message: str, *, param: str | None = None, client_event: dict[str, Any] | None = None) -> None:
        error: dict[str, Any] = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        if isinstance(client_event, dict) and client_event.get("event_id"):
            error["client_event_id"] = client_event["event_id"]
        await self.send({"type": "error", "error": error})

    async def serve(self) -> None:
        """Run the session until the client leaves, closes it, or the simulated network drops.

        Events are handled one after the other, except while the model speaks: then the
        next one is handled meanwhile (`handle`), as the full-duplex service does.
        """
        try:
            async for message in self.ws:
                await self.handle(message)
                if self.closed:
                    await self.ws.close(1000, "session closed")
                    return
        except (_Dropped, ConnectionClosed):
            pass
        finally:
            for task in list(self._handling):
                task.cancel()

    async def handle(self, message: str | bytes) -> None:
        """Handle one client event; return once it is handled, or once the model is speaking a paced
        reply (the caller's audio, a fixture or a close can then reach the session while it speaks)."""
        handling = asyncio.get_running_loop().create_task(self._dispatch(message))
        speaking = asyncio.get_running_loop().create_task(self.speech_started.wait())
        await asyncio.wait({handling, speaking}, return_when=asyncio.FIRST_COMPLETED)
        speaking.cancel()
        if handling.done():
            handling.result()
            return
        self._handling.add(handling)
        handling.add_done_callback(self._handled)

    def meanwhile(self, work: Any) -> None:
        """Run `work` (an answer) while the session keeps hearing the caller."""
        task = asyncio.get_running_loop().create_task(work)
        self._handling.add(task)
        task.add_done_callback(self._handled)

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._handling.discard(task)
        if not task.cancelled() and not isinstance(task.exception(), (_Dropped, ConnectionClosed, type(None))):
            logger.error("live session: handling a client event failed", exc_info=task.exception())

    async def _dispatch(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except ValueError as exc:
            await self.error("invalid_json", f"The server could not parse the event as JSON: {exc}")
            return
        if not isinstance(event, dict):
            await self.error("invalid_json", "Each event must be a JSON object.")
            return
        self.received.append(event)
        refused = live_refusal(event)
        if refused is not None:
            await self.error(refused.code, refused.message, param=refused.param, client_event=event)
            return
        if self.session is None and event["type"] != "session.start":
            await self.error("session_not_started", f"Send session.start and wait for session.started before {event['type']}.", client_event=event)
            return
        handler = getattr(self, "_on_" + event["type"].replace(".", "_"), None)
        if handler is None:
            await self.error("unsupported_event", f"The simulator does not support {event['type']}.", client_event=event)
            return
        await handler(event)

    # ---- session ------------------------------------------------------------------

    async def _on_session_start(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            await self.error("session_already_started", "session.start may be sent only once.", client_event=event)
            return
        config = event["session"]
        if not str(config["model"]).startswith("gpt-live-"):
            await self.error("invalid_model", f"The model '{config['model']}' is not a GPT-Live model.", param="session.model", client_event=event)
            return
        delegation = config.get("delegation") or {"type": "client"}
        self.session = {"id": self.new_id("live"), "expires_at": int(time.time()) + SESSION_SECONDS, "status": "active", **config, "delegation": delegation}
        for item in config.get("input") or []:
            self.items.append({"type": "message", "role": item["role"], "content": item["content"]})
        await self.send({"type": "session.started", "session": self.session})

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        assert self.session is not None
        update = event["session"].get("delegation")
        current = self.session["delegation"]
        if update is not None:
            if update["type"] != current["type"]:
                await self.error("invalid_value", f"Cannot change the delegation type from '{current['type']}'.", param="session.delegation.type", client_event=event)
                return
            if update["type"] == "responses" and update.get("responses"):
                current["responses"] = {**current["responses"], **update["responses"]}
        if "triggers" in event["session"]:
            self.session["triggers"] = event["session"]["triggers"]
        await self.send({"type": "session.updated", "session": self.session})

    async def _append(self, event: dict[str, Any], acked: str) -> bool:
        assert self.session is not None
        if event["delegation_id"] is not None and self.session["delegation"]["type"] == "responses":
            await self.error("invalid_value", "A non-null delegation_id is not accepted with Responses delegation.", param="delegation_id", client_event=event)
            return False
        await self.send({"type": acked, "start_ms": self.timeline_ms, "end_ms": self.timeline_ms})
        return True

    async def _on_session_instructions_append(self, event: dict[str, Any]) -> None:
        if await self._append(event, "session.instructions.appended"):
            self.appended.append(event["content"])

    async def _on_session_thinking_append(self, event: dict[str, Any]) -> None:
        await self._append(event, "session.thinking.appended")

    async def _on_session_commentary_append(self, event: dict[str, Any]) -> None:
        """The model says something in its own words: an opening line, or what it was asked to."""
        if not await self._append(event, "session.commentary.appended"):
            return
        turn = self._turn(response_instructions=event["content"])
        if not turn.opening:  # the voice model speaks it itself: no delegation, no tools
            turn.tool_choice = "none"
        said = [output.text for output in decide(self.sim.rules, turn) if isinstance(output, Say)]
        for text in said:
            await self._speak(text)

    async def _on_session_output_audio_fixture_play(self, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            await self.error("invalid_value", "Fixture audio is not valid base64.", param="audio", client_event=event)
            return
        if len(audio) % 2 or len(audio) > FIXTURE_MAX_BYTES or audio[:4] == b"RIFF":
            await self.error("invalid_value", "Fixture audio must be raw PCM16 at 24 kHz, at most 30 seconds, without a header.", param="audio", client_event=event)
            return
        self._cut_off()  # the fixture interrupts the model's speech
        await self.send({"type": "session.output_audio.fixture.playing", "client_event_id": event.get("event_id")})
        self.timeline_ms += len(audio) // 48
        await self.send({"type": "session.output_audio.fixture.played", "client_event_id": event.get("event_id")})

    async def _on_session_close(self, event: dict[str, Any]) -> None:
        self._cut_off()
        await self.send({"type": "session.closed", "reason": "close_requested", "session": self.session, "usage": {"seconds": self.timeline_ms / 1000}})
        self.closed = True

    # ---- the backend --------------------------------------------------------------

    async def _on_response_item_create(self, event: dict[str, Any]) -> None:
        if not await self._responses_only(event):
            return
        item = dict(event["item"])
        if item.get("type") == "function_call_output":
            if item.get("call_id") not in self.open_calls:
                await self.error("invalid_value", f"No open function call with call_id '{item.get('call_id')}'.", param="item.call_id", client_event=event)
                return
            del self.open_calls[item["call_id"]]
            remember(self.facts, parse_output(item["output"]))
        elif item.get("type", "message") == "message" and item.get("role") == "user":
            self.model_turns = 0
        self.items.append({"type": "message", **item} if "type" not in item else item)

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        if not await self._responses_only(event):
            return
        if self.open_calls:
            await self.error("invalid_value", f"response.create needs an output for every open call first: {', '.join(self.open_calls)}.", client_event=event)
            return
        await self._delegate()

    async def _responses_only(self, event: dict[str, Any]) -> bool:
        assert self.session is not None
        if self.session["delegation"]["type"] == "responses":
            return True
        await self.error("invalid_value", f"{event['type']} requires Responses delegation.", client_event=event)
        return False

    async def _delegate(self) -> None:
        """One backend response: its calls (left open) or the text the voice model then speaks."""
        delegation_id, response_id = self.new_id("del"), self.new_id("resp")
        created = {"type": "delegation", "id": delegation_id, "target": "responses", "response_id": response_id}
        await self.send({"type": "session.delegation.created", "delegation": created, "offset_ms": self.timeline_ms})
        await self._backend(delegation_id, {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}})
        outputs = self.sim.next_scripted_response() or decide(self.sim.rules, self._turn())
        self.model_turns += 1
        said: list[str] = []
        for output in outputs:
            if isinstance(output, Call):
                call_id = self.new_id("call")
                item = {"type": "function_call", "id": self.new_id("fc"), "status": "completed", "call_id": call_id, "name": output.name, "arguments": output.arguments}
                self.open_calls[call_id] = output.name
                self.items.append(item)
                remember(self.facts, parse_output(output.arguments))
            else:
                said.append(output.text)
                item = {"type": "message", "id": self.new_id("msg"), "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": output.text}]}
                self.items.append(item)
            await self._backend(delegation_id, {"type": "response.output_item.done", "item": item})
        usage = {"input_tokens": len(json.dumps(self.items)) // 4, "output_tokens": sum(len(text) for text in said) // 4 + 1}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        await self._backend(delegation_id, {"type": "response.completed", "response": {"id": response_id, "status": "completed", "usage": usage}})
        for text in said:
            await self._speak(text)
        if self.turns_waiting and not self.open_calls:  # the caller spoke while the calls were open: answer that now
            await self.answer(" ".join(self.turns_waiting))
            self.turns_waiting.clear()

    async def _backend(self, delegation_id: str, event: dict[str, Any]) -> None:
        await self.send({"type": "response.event", "delegation_id": delegation_id, "event": event})

    def _turn(self, *, response_instructions: str = "") -> Turn:
        assert self.session is not None
        responses = self.session["delegation"].get("responses") or {}
        tools = frozenset(tool.get("name") for tool in responses.get("tools") or [] if tool.get("type") == "function")
        users = [item for item in self.items if item["type"] == "message" and item["role"] == "user"]
        turn = Turn(
            user_text=" ".join(part.get("text", "") for part in users[-1]["content"]) if users else "",
            instructions=responses.get("instructions") or "",
            tools=tools, tool_choice=responses.get("tool_choice", "auto"), facts=dict(self.facts),
            model_turns=self.model_turns, response_instructions=response_instructions,
        )
        if (result := tool_result_since_user(self.items)) is not None:
            turn.after_tool, turn.output = result
        turn.opening = not users and not any(item["type"] == "function_call_output" for item in self.items)
        turn.tool_specs = tuple(tool for tool in responses.get("tools") or [] if tool.get("type") == "function")
        fill_history(turn, self.items, _text_of)
        return turn


def _text_of(item: dict[str, Any]) -> str:
    """A message item's words (Live items carry text, as a typed or transcribed turn)."""
    return " ".join(part.get("text") or part.get("transcript") or "" for part in item.get("content") or [] if part.get("text") or part.get("transcript"))
