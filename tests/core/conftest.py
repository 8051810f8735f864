"""Builders for the core tests: hand-made compiled agents, GA server events, and a session
wrapper that asserts every client event the core emits is GA-valid."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from runner.compile import CompiledAgent
from runner.config.model import Guardrail, Limits
from runner.core import Action, CheckGuardrail, Output, Record, Send, Session
from runner.protocol import client_event_problems

PCM_BYTES_PER_MS = 48


def compiled_agent(
    name: str,
    *,
    tools: tuple[str, ...] = (),
    transfers: tuple[str, ...] = (),
    on_enter: str | None = None,
    guardrails: tuple[str, ...] = (),
    voice: str = "marin",
    turn_detection: dict[str, Any] | None = None,
    text_mode: bool = False,
    model: str = "gpt-realtime-2",
    greeting: dict[str, Any] | None = None,
) -> CompiledAgent:
    """A CompiledAgent shaped the way the compiler builds one (GA session fields only)."""
    detection = {"type": "semantic_vad", "create_response": True, "interrupt_response": True} if turn_detection is None else turn_detection
    function_tools = [
        {"type": "function", "name": tool, "description": f"The {tool} tool.", "parameters": {"type": "object", "properties": {}}}
        for tool in tools
    ]
    transfer_tools = [
        {
            "type": "function",
            "name": f"transfer_to_{target}",
            "description": f"Hand the caller to {target}.",
            "parameters": {"type": "object", "properties": {"reason": {"type": "string", "description": "Why."}}, "additionalProperties": False},
        }
        for target in transfers
    ]
    audio_format = {"type": "audio/pcm", "rate": 24000}
    session = {
        "type": "realtime",
        "model": model,
        "instructions": f"You are the {name} agent.",
        "output_modalities": ["text"] if text_mode else ["audio"],
        "audio": {
            "input": {
                "format": audio_format,
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "noise_reduction": None,
                "turn_detection": detection or None,
            },
            "output": {"format": audio_format, "voice": voice, "speed": 1.0},
        },
        "tools": function_tools + transfer_tools,
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    }
    handoff_session = {**session, "audio": {**session["audio"], "output": {"format": audio_format, "speed": 1.0}}}
    return CompiledAgent(
        name=name,
        session=session,
        handoff_session=handoff_session,
        transfers={f"transfer_to_{target}": target for target in transfers},
        tool_names=frozenset(tools),
        on_enter=on_enter,
        guardrails=guardrails,
        voice=voice,
        greeting=greeting,
    )


def team(**overrides: Any) -> dict[str, CompiledAgent]:
    """The example project in miniature: a router and two specialists with their own voices."""
    router = dict(tools=("authenticate_user",), transfers=("support", "billing"), voice="marin")
    support = dict(tools=("search_knowledge_base", "create_support_ticket"), transfers=("router", "billing"),
                   on_enter="Introduce yourself as technical support.", voice="cedar")
    billing = dict(tools=("lookup_invoice",), transfers=("router",), on_enter="Introduce yourself as billing.", voice="coral")
    specs = {"router": router, "support": support, "billing": billing}
    for name, extra in overrides.items():
        specs[name] = {**specs[name], **extra}
    return {name: compiled_agent(name, **spec) for name, spec in specs.items()}


class Checked:
    """A Session whose every returned Send is asserted GA-valid; `feed` replays events."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.now = 0.0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.session, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> list[Action]:
            actions = attribute(*args, **kwargs)
            for action in actions if isinstance(actions, list) else ():
                if isinstance(action, Send):
                    assert client_event_problems(action.event) == [], action.event
            return actions

        return call

    def feed(self, *events: dict[str, Any], now: float | None = None) -> list[Action]:
        """Receive events in order, all at `now` (default: the last time used)."""
        if now is not None:
            self.now = now
        actions: list[Action] = []
        for event in events:
            actions += self.receive(event, self.now)
        return actions


@pytest.fixture
def make_session() -> Callable[..., Checked]:
    def make(
        agents: dict[str, CompiledAgent] | None = None,
        start: str = "router",
        *,
        guardrails: dict[str, Guardrail] | None = None,
        limits: Limits | None = None,
        audio: bool = True,
        output: Output | None = None,
        session_id: str = "s1",
    ) -> Checked:
        session = Session(
            agents if agents is not None else team(),
            start,
            guardrails=guardrails or {},
            limits=limits or Limits(),
            output=output or (Output.AUDIO_LOCAL if audio else Output.TEXT),
            session_id=session_id,
        )
        return Checked(session)

    return make


class Server:
    """GA server events, named after what happens in the conversation."""

    def __init__(self) -> None:
        self._count = 0

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        self._count += 1
        return {"type": kind, "event_id": f"event_{self._count}", **fields}

    def session_updated(self, session: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._event("session.updated", session=session or {"type": "realtime", "object": "realtime.session"})

    def response_created(self, response_id: str) -> dict[str, Any]:
        return self._event("response.created", response={"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []})

    def message_added(self, response_id: str, item_id: str) -> dict[str, Any]:
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        return self._event("response.output_item.added", response_id=response_id, output_index=0, item=item)

    def audio(self, response_id: str, item_id: str, ms: int) -> dict[str, Any]:
        delta = base64.b64encode(b"\x01\x00" * (ms * PCM_BYTES_PER_MS // 2)).decode()
        return self._event("response.output_audio.delta", response_id=response_id, item_id=item_id, output_index=0, content_index=0, delta=delta)

    def transcript_delta(self, response_id: str, item_id: str, text: str) -> dict[str, Any]:
        return self._event("response.output_audio_transcript.delta", response_id=response_id, item_id=item_id, output_index=0, content_index=0, delta=text)

    def transcript_done(self, response_id: str, item_id: str, text: str) -> dict[str, Any]:
        return self._event("response.output_audio_transcript.done", response_id=response_id, item_id=item_id, output_index=0, content_index=0, transcript=text)

    def text_delta(self, response_id: str, item_id: str, text: str) -> dict[str, Any]:
        return self._event("response.output_text.delta", response_id=response_id, item_id=item_id, output_index=0, content_index=0, delta=text)

    def text_done(self, response_id: str, item_id: str, text: str) -> dict[str, Any]:
        return self._event("response.output_text.done", response_id=response_id, item_id=item_id, output_index=0, content_index=0, text=text)

    def message_done(self, response_id: str, item_id: str) -> dict[str, Any]:
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed", "content": []}
        return self._event("response.output_item.done", response_id=response_id, output_index=0, item=item)

    def call(self, response_id: str, call_id: str, name: str, arguments: str = "{}") -> dict[str, Any]:
        return self._event("response.function_call_arguments.done", response_id=response_id, item_id=f"item_{call_id}",
                           output_index=0, call_id=call_id, name=name, arguments=arguments)

    def response_done(self, response_id: str, status: str = "completed", *, usage: dict[str, Any] | None = None,
                      reason: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        response: dict[str, Any] = {"id": response_id, "object": "realtime.response", "status": status, "output": []}
        if usage is not None:
            response["usage"] = usage
        if reason or error:
            response["status_details"] = {"type": status, "reason": reason, "error": error}
        return self._event("response.done", response=response)

    def spoken_reply(self, response_id: str, item_id: str, text: str, *, audio_ms: int = 1000) -> list[dict[str, Any]]:
        """A whole spoken reply: created, audio with its transcript, done."""
        return [
            self.response_created(response_id),
            self.message_added(response_id, item_id),
            self.audio(response_id, item_id, audio_ms),
            self.transcript_delta(response_id, item_id, text),
            self.transcript_done(response_id, item_id, text),
            self.message_done(response_id, item_id),
            self.response_done(response_id),
        ]

    def written_reply(self, response_id: str, item_id: str, text: str) -> list[dict[str, Any]]:
        """A whole text-mode reply."""
        return [
            self.response_created(response_id),
            self.message_added(response_id, item_id),
            self.text_delta(response_id, item_id, text),
            self.text_done(response_id, item_id, text),
            self.message_done(response_id, item_id),
            self.response_done(response_id),
        ]

    def speech_started(self, item_id: str = "user_item") -> dict[str, Any]:
        return self._event("input_audio_buffer.speech_started", audio_start_ms=1000, item_id=item_id)

    def speech_stopped(self, item_id: str = "user_item") -> dict[str, Any]:
        return self._event("input_audio_buffer.speech_stopped", audio_end_ms=2000, item_id=item_id)

    def user_item_added(self, item_id: str) -> dict[str, Any]:
        item = {"id": item_id, "type": "message", "role": "user", "status": "completed", "content": [{"type": "input_audio", "transcript": None}]}
        return self._event("conversation.item.added", previous_item_id=None, item=item)

    def transcription(self, item_id: str, transcript: str) -> dict[str, Any]:
        return self._event("conversation.item.input_audio_transcription.completed", item_id=item_id, content_index=0, transcript=transcript,
                           usage={"type": "duration", "seconds": 1.0})

    def error(self, code: str | None, message: str, *, event_id: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
        return self._event("error", error={"type": kind, "code": code, "message": message, "param": None, "event_id": event_id})


@pytest.fixture
def server() -> Server:
    return Server()


def sent(actions: list[Action]) -> list[dict[str, Any]]:
    """The client events among the actions, in order."""
    return [action.event for action in actions if isinstance(action, Send)]


def sent_types(actions: list[Action]) -> list[str]:
    return [event["type"] for event in sent(actions)]


def steps(actions: list[Action]) -> list[str]:
    """Every action but Records, as short names: client event types or action class names."""
    return [action.event["type"] if isinstance(action, Send) else type(action).__name__ for action in actions if not isinstance(action, Record)]


def records(actions: list[Action], kind: str) -> list[dict[str, Any]]:
    return [action.data for action in actions if isinstance(action, Record) and action.kind == kind]


def checks(actions: list[Action]) -> list[CheckGuardrail]:
    return [action for action in actions if isinstance(action, CheckGuardrail)]


@pytest.fixture
def h() -> SimpleNamespace:
    """The builders and action filters (conftest cannot be imported in importlib mode)."""
    return SimpleNamespace(
        agent=compiled_agent, team=team, sent=sent, sent_types=sent_types, steps=steps, records=records, checks=checks,
    )
