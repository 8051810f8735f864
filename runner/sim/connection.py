"""One simulated Realtime session: the GA protocol over one WebSocket.

Every client event is validated the way the service does (SDK types plus unknown
keys, `client_events.py`) and answered with the service's events or its `error` shape and codes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from . import session_config
from .client_events import refusal
from .frames import send_text
from .brain import TRANSFER_PREFIX, Call, Turn, decide_explained, fill_history, parse_output, remember, tool_result_since_user
from .responses import SimResponse
from .input_audio import InputAudioMixin, plain_append
from .vad import EnergyVad

if TYPE_CHECKING:
    from .server import Simulator

SESSION_SECONDS = 3600


class ConnectionDropped(Exception):
    """The simulated network failure happened; nothing more may be sent."""


class SimConnection(InputAudioMixin):
    def __init__(self, sim: Simulator, ws: ServerConnection, model: str, *, drop_after_events: int | None) -> None:
        self.sim = sim
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        # time.perf_counter() of each event in `received` (frame in) and `sent` (just
        # before the frame goes out), for benchmarks that time the client from here.
        self.received_at: list[float] = []
        self.sent_at: list[float] = []
        self.drop_after_events = drop_after_events
        self._ids = itertools.count(1)
        self.session_id = self.new_id("sess")
        self.conversation_id = self.new_id("conv")
        self.session = session_config.default_session(model)
        self.items: list[dict[str, Any]] = []
        self.heard: dict[str, str] = {}  # user audio item id -> what the simulated model "heard"
        self.audio_sent_ms: dict[str, int] = {}
        self.produced_audio = False
        self.facts: dict[str, Any] = {}
        self.response: SimResponse | None = None
        self.model_turns = 0  # responses since the last user item: stops rule loops
        self._response_task: asyncio.Task[None] | None = None
        self.buffer = bytearray()
        self.appended_ms = 0
        self.vad: EnergyVad | None = None
        self._vad_origin_ms = 0
        self._speech_item_id: str | None = None
        self._configure_vad()

    # ---- plumbing -------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_sim{next(self._ids):06d}"

    async def send(self, event: dict[str, Any]) -> None:
        if self.drop_after_events is not None and len(self.sent) >= self.drop_after_events:
            raise ConnectionDropped
        event = {"event_id": self.new_id("event"), **event}
        self.sent.append(event)
        self.sent_at.append(time.perf_counter())
        await send_text(self.ws, json.dumps(event))
        if self.drop_after_events is not None and len(self.sent) >= self.drop_after_events:
            self.ws.transport.abort()
            raise ConnectionDropped

    async def error(self, code: str | None, message: str, *, param: str | None = None, client_event: dict[str, Any] | None = None) -> None:
        client_id = client_event.get("event_id") if isinstance(client_event, dict) else None
        await self.send({"type": "error", "error": {"type": "invalid_request_error", "code": code, "message": message, "param": param, "event_id": client_id}})

    async def serve(self) -> None:
        """Run the session until the client leaves (or the simulated network drops)."""
        try:
            created = {"id": self.session_id, "object": "realtime.session", "expires_at": int(time.time()) + SESSION_SECONDS, **self.session}
            await self.send({"type": "session.created", "session": created})
            await self.send({"type": "conversation.created", "conversation": {"id": self.conversation_id, "object": "realtime.conversation"}})
            async for message in self.ws:
                await self._dispatch(message)
        except (ConnectionDropped, ConnectionClosed):
            pass
        finally:
            if self._response_task is not None:
                self._response_task.cancel()

    async def _dispatch(self, message: str | bytes) -> None:
        arrived = time.perf_counter()
        try:
            event = json.loads(message)
        except ValueError as exc:
            await self.error("invalid_json", f"The server could not parse the event as JSON: {exc}")
            return
        if not isinstance(event, dict):
            await self.error("invalid_json", "Each event must be a JSON object.")
            return
        self.received.append(event)
        self.received_at.append(arrived)
        refused = None if plain_append(event) else refusal(event)
        if refused is not None:
            await self.error(refused.code, refused.message, param=refused.param, client_event=event)
            return
        handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
        await handler(event)

    # ---- conversation ---------------------------------------------------------

    def index_of(self, item_id: str) -> int | None:
        return next((index for index, item in enumerate(self.items) if item["id"] == item_id), None)

    def previous_id(self, item_id: str) -> str | None:
        index = self.index_of(item_id)
        return self.items[index - 1]["id"] if index else None

    def append_item(self, item: dict[str, Any]) -> str | None:
        """Add at the end; returns the id of the item before it."""
        previous = self.items[-1]["id"] if self.items else None
        self.items.append(dict(item))
        return previous

    def replace_item(self, item: dict[str, Any]) -> None:
        index = self.index_of(item["id"])
        if index is not None:
            self.items[index] = dict(item)

    def remember_call(self, call_id: str, call: Call) -> None:
        remember(self.facts, parse_output(call.arguments))

    def context_tokens(self) -> tuple[int, int]:
        """(text, audio) input tokens of the context: instructions, items, user audio."""
        text = len(self.session["instructions"]) // 4 + len(json.dumps(self.session["tools"])) // 4
        audio = 0
        for item in self.items:
            if item["id"] in self.heard:
                audio += 10 * max(1, len(self.heard[item["id"]]) // 12)
            else:
                text += len(json.dumps(item.get("content") or item.get("output") or item.get("arguments") or "")) // 4
        return text, audio

    async def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = {**event["item"], "object": "realtime.item", "status": "completed"}
        item.setdefault("id", self.new_id("item"))
        if self.index_of(item["id"]) is not None:
            await self.error("invalid_value", f"Item with id '{item['id']}' already exists.", param="item.id", client_event=event)
            return
        previous = event.get("previous_item_id")
        if previous is None:
            position = len(self.items)
        elif previous == "root":
            position = 0
        elif (index := self.index_of(previous)) is not None:
            position = index + 1
        else:
            await self.error("invalid_value", f"Error adding item: the previous item with id '{previous}' does not exist.", param="previous_item_id", client_event=event)
            return
        for part in item.get("content") or []:
            part.pop("audio", None)
        self.items.insert(position, item)
        if item["type"] == "message" and item["role"] == "user":
            self.model_turns = 0
        if item["type"] == "function_call_output":
            remember(self.facts, parse_output(item["output"]))
        elif item["type"] == "function_call":
            remember(self.facts, parse_output(item["arguments"]))
        before = self.items[position - 1]["id"] if position else None
        await self.send({"type": "conversation.item.added", "previous_item_id": before, "item": item})
        await self.send({"type": "conversation.item.done", "previous_item_id": before, "item": item})

    async def _existing_item(self, event: dict[str, Any]) -> int | None:
        """The index of the event's `item_id`, or None after telling the client it is unknown."""
        index = self.index_of(event["item_id"])
        if index is None:
            await self.error("invalid_value", f"Item with item_id not found: {event['item_id']}", param="item_id", client_event=event)
        return index

    async def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        if (index := await self._existing_item(event)) is None:
            return
        del self.items[index]
        await self.send({"type": "conversation.item.deleted", "item_id": event["item_id"]})

    async def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        if (index := await self._existing_item(event)) is None:
            return
        await self.send({"type": "conversation.item.retrieved", "item": self.items[index]})

    async def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end_ms = event["item_id"], event["audio_end_ms"]
        if (index := await self._existing_item(event)) is None:
            return
        if item_id not in self.audio_sent_ms:
            await self.error("unsupported_content_type", "Only model output audio messages can be truncated", param="item_id", client_event=event)
            return
        if event["content_index"] != 0:
            await self.error("invalid_value", f"Content index {event['content_index']} does not exist on item {item_id}.", param="content_index", client_event=event)
            return
        sent = self.audio_sent_ms[item_id]
        if end_ms > sent:
            await self.error("invalid_value", f"Audio content of {sent}ms is already shorter than {end_ms}ms", param="audio_end_ms", client_event=event)
            return
        self.audio_sent_ms[item_id] = end_ms
        item = self.items[index]
        for part in item.get("content") or []:
            if part.get("transcript") and sent:
                part["transcript"] = part["transcript"][: len(part["transcript"]) * end_ms // sent]
        await self.send({"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0, "audio_end_ms": end_ms})

    # ---- session --------------------------------------------------------------

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        if update["type"] != "realtime":
            await self.error("invalid_value", "Cannot change a realtime session into a transcription session.", param="session.type", client_event=event)
            return
        if "model" in update and update["model"] != self.session["model"]:
            await self.error("invalid_value", f"Cannot update a session's model (it is '{self.session['model']}').", param="session.model", client_event=event)
            return
        voice = update.get("audio", {}).get("output", {}).get("voice")
        if voice is not None and voice != session_config.voice_of(self.session) and self.produced_audio:
            await self.error("cannot_update_voice", "Cannot update a conversation's voice if assistant audio is present.", param="session.audio.output.voice", client_event=event)
            return
        self.session = session_config.merged(self.session, update)
        self._configure_vad()
        await self.send({"type": "session.updated", "session": self.session})

    def _configure_vad(self) -> None:
        detection = session_config.turn_detection_of(self.session)
        if detection is None:
            self.vad = None
            return
        silence = detection.get("silence_duration_ms") or 500
        threshold = detection.get("threshold") or 0.5
        if self.vad and self.vad.silence_duration_ms == silence and self.vad.rms_threshold == EnergyVad(threshold=threshold).rms_threshold:
            return
        self.vad = EnergyVad(threshold=threshold, silence_duration_ms=silence)
        self._vad_origin_ms = self.appended_ms
        self._speech_item_id = None

    # ---- responses ------------------------------------------------------------

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        if self.response is not None:
            await self.error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response.id}. Wait until the response is finished before creating a new one.",
                client_event=event,
            )
            return
        await self.start_response(event.get("response") or {})

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.response is None or (wanted is not None and wanted != self.response.id):
            await self.error("response_cancel_not_active", "Cancellation failed: no active response found", client_event=event)
            return
        await self.cancel_response("client_cancelled")

    async def start_response(self, params: dict[str, Any]) -> None:
        outputs = self.sim.next_scripted_response() if params.get("tool_choice", self.session["tool_choice"]) != "none" else None
        why = "scripted"
        if outputs is None:
            decision = decide_explained(self.sim.rules, self._turn(params))
            outputs, why = decision.outputs, decision.why
        self.model_turns += 1
        response = SimResponse(self, self.new_id("resp"), outputs, params, why=why)
        self.response = response
        self._response_task = asyncio.create_task(self._run_response(response))
        await asyncio.sleep(0)

    async def _run_response(self, response: SimResponse) -> None:
        try:
            await response.run(self.sim.reply_delay)
        except (ConnectionDropped, ConnectionClosed):
            pass
        finally:
            if self.response is response:
                self.response = None

    async def cancel_response(self, reason: str) -> None:
        """Stop the active response; returns once its `response.done` has been sent."""
        response = self.response
        if response is None:
            return
        response.cancel(reason)
        await response.finished.wait()

    def _turn(self, params: dict[str, Any]) -> Turn:
        tools = params.get("tools", self.session["tools"])
        names = frozenset(tool.get("name") for tool in tools if tool.get("type", "function") == "function")
        turn = Turn(user_text="", instructions=self.session["instructions"], tools=names,
                    tool_choice=params.get("tool_choice", self.session["tool_choice"]), facts=dict(self.facts),
                    model_turns=self.model_turns, response_instructions=params.get("instructions") or "",
                    tool_specs=tuple(tool for tool in tools if tool.get("type", "function") == "function"))
        latest = [item for item in self.items if not (item["type"] == "message" and item["role"] == "system")]
        if (result := tool_result_since_user(self.items)) is not None:
            turn.after_tool, turn.output = result
        users = [item for item in latest if item["type"] == "message" and item["role"] == "user"]
        if users:
            turn.user_text = self._user_text(users[-1])
        turn.opening = not users and not any(item["type"] == "function_call_output" for item in self.items)
        fill_history(turn, latest, self._user_text)
        return turn

    def _user_text(self, item: dict[str, Any]) -> str:
        if item["id"] in self.heard:
            return self.heard[item["id"]]
        parts = [part.get("text") or part.get("transcript") or "" for part in item.get("content") or []]
        return " ".join(part for part in parts if part)
