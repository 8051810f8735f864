"""The simulator speaks GPT-Live: `/v1/live/sessions` through the SDK's own `client.live.connect()`.

Every server event it sends must parse as the SDK's Live server-event union with nothing
unknown in it, and every client event it refuses is refused the way the service would.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai import AsyncOpenAI
from openai.types.live import ServerEvent

from runner.compile_live import compile_live, session_start_event
from runner.config import load
from runner.sim import Simulator
from runner.audio import g711
from runner.sim.live_events import live_refusal
from runner.sim.speech import speech_ms, synthesize
from tests.sim.conftest import extra_keys, run

PROJECT = """\
version: 1
target: live
start: front
agents:
  front:
    description: Greets the caller.
    instructions: You are the front desk.
    tools: [lookup_order]
    handoffs: [orders]
  orders:
    description: Answers questions about orders.
    instructions: You answer order questions.
    tools: [lookup_order]
tools:
  lookup_order:
    description: Look an order up.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    python: shop:lookup_order
"""
_server_events = pydantic.TypeAdapter(ServerEvent)


@pytest.fixture
def program(tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(PROJECT, encoding="utf-8")
    return compile_live(load(path, import_code=False).config)


class LiveClient:
    """The SDK's Live connection, raw JSON in and out, keeping what it received."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, sim: Simulator) -> LiveClient:
        client = AsyncOpenAI(api_key="sk-sim", websocket_base_url=sim.ws_base_url, base_url=sim.http_base_url)
        return cls(await client.live.connect().enter())

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send_raw(json.dumps(event))

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            event = json.loads(await self.connection.recv_bytes())
            self.events.append(event)
            if event["type"] == kind:
                return event

    async def close(self) -> None:
        await self.connection.close()


def assert_valid_live_server_events(events: list[dict[str, Any]]) -> None:
    for event in events:
        model = _server_events.validate_python(event)
        assert model.type == event["type"]
        assert extra_keys(model) == set(), (event["type"], extra_keys(model))


def test_a_text_conversation_with_a_tool_call_and_a_handoff(program):
    async def scenario() -> list[dict[str, Any]]:
        async with Simulator() as sim:
            sim.script([
                {"call": {"name": "lookup_order", "args": {"order_id": "42"}}},
                {"call": {"name": "transfer_to_orders", "args": {"reason": "order question"}}},
                {"say": "Orders desk here: order 42 has shipped."},
            ])
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            started = await client.until("session.started")
            assert started["session"]["id"].startswith("live_")
            await client.send({"type": "response.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Where is order 42?"}]}})
            await client.send({"type": "response.create"})
            done = await client.until("response.event")
            assert done["event"]["type"] == "response.created"
            call = (await client.until("response.event"))["event"]["item"]
            assert (call["type"], call["name"], json.loads(call["arguments"])) == ("function_call", "lookup_order", {"order_id": "42"})
            assert (await client.until("response.event"))["event"]["type"] == "response.completed"
            await client.send({"type": "response.item.create", "item": {"type": "function_call_output", "call_id": call["call_id"], "output": '{"status": "shipped"}'}})
            await client.send({"type": "response.create"})
            await client.until("response.event")
            transfer = (await client.until("response.event"))["event"]["item"]
            assert transfer["name"] == "transfer_to_orders"
            await client.until("response.event")
            await client.send(program.agents["orders"].handoff[0])
            updated = await client.until("session.updated")
            assert updated["session"]["delegation"]["responses"]["instructions"] == "You answer order questions."
            await client.send({"type": "response.item.create", "item": {"type": "function_call_output", "call_id": transfer["call_id"], "output": '{"transferred_to": "orders"}'}})
            await client.send({"type": "response.create"})
            await client.send(program.agents["orders"].handoff[1])
            usage = await client.until("session.usage.updated")
            await client.until("session.instructions.appended")
            spoken = "".join(event["delta"] for event in client.events if event["type"] == "session.output_transcript.delta")
            assert spoken == "Orders desk here: order 42 has shipped."
            assert usage["usage"]["seconds"] == pytest.approx(speech_ms("Orders desk here: order 42 has shipped.") / 1000)
            await client.send({"type": "session.close"})
            closed = await client.until("session.closed")
            assert closed["reason"] == "close_requested"
            await client.close()
            return client.events

    assert_valid_live_server_events(run(scenario))


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"type": "response.create"}, "session_not_started"),
        ({"type": "session.start", "session": {"model": "gpt-realtime-2.1"}}, "invalid_model"),
        ({"type": "session.start", "session": {"model": "gpt-live-1", "voice": "marin"}}, "unknown_parameter"),
        ({"type": "response.cancel"}, "invalid_value"),
    ],
)
def test_what_the_service_refuses_before_and_at_session_start(first, code):
    async def scenario() -> dict[str, Any]:
        async with Simulator() as sim:
            client = await LiveClient.connect(sim)
            await client.send(first)
            error = await client.until("error")
            await client.close()
            return error

    assert run(scenario)["error"]["code"] == code


def test_response_create_with_a_call_unanswered_and_a_second_start_are_refused(program):
    async def scenario() -> list[str]:
        async with Simulator() as sim:
            sim.script([{"call": {"name": "lookup_order", "args": {"order_id": "1"}}}])
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            await client.until("session.started")
            await client.send({"type": "response.create"})
            await client.until("session.delegation.created")
            for _ in range(3):
                await client.until("response.event")
            await client.send({"type": "response.create"})
            first = await client.until("error")
            await client.send(session_start_event(program))
            second = await client.until("error")
            await client.send({"type": "session.instructions.append", "content": "x", "delegation_id": "del_1"})
            third = await client.until("error")
            await client.close()
            return [first["error"]["code"], second["error"]["code"], third["error"]["param"]]

    assert run(scenario) == ["invalid_value", "session_already_started", "delegation_id"]


def test_a_fixture_is_played_and_acknowledged(program):
    async def scenario() -> list[str]:
        async with Simulator() as sim:
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            await client.until("session.started")
            await client.send({"type": "session.output_audio.fixture.play", "audio": "AAAAAA==", "event_id": "fx1"})
            await client.until("session.output_audio.fixture.played")
            await client.close()
            return [event["type"] for event in client.events]

    assert run(scenario)[-2:] == ["session.output_audio.fixture.playing", "session.output_audio.fixture.played"]


def test_the_query_string_is_refused_before_the_upgrade():
    async def scenario() -> str:
        import websockets

        async with Simulator() as sim:
            try:
                await websockets.connect(f"{sim.ws_base_url}/live/sessions?model=gpt-live-1", additional_headers={"Authorization": "Bearer sk"})
            except websockets.InvalidStatus as refused:
                return json.loads(refused.response.body)["error"]["message"]
            return "accepted"

    assert run(scenario) == "GPT-Live takes no query parameters: the model goes in session.start."


def test_the_simulators_own_check_needs_the_nullable_delegation_id():
    refused = live_refusal({"type": "session.commentary.append", "content": "Hello."})
    assert (refused.code, refused.param) == ("missing_required_parameter", "delegation_id")
    assert live_refusal({"type": "session.commentary.append", "content": "Hello.", "delegation_id": None}) is None


def _appends(pcm: bytes, chunk_ms: int = 40, bytes_per_ms: int = 48) -> list[dict[str, Any]]:
    size = chunk_ms * bytes_per_ms
    return [{"type": "session.input_audio.append", "audio": base64.b64encode(pcm[at : at + size]).decode("ascii")} for at in range(0, len(pcm), size)]


def _spoken_audio(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(event["delta"]) for event in events if event["type"] == "session.output_audio.delta")


def test_the_callers_audio_is_heard_delegated_and_answered_in_audio_with_its_transcript(program):
    """PCM16 24 kHz in: the VAD ends the turn, the transcript delta and the backend's call follow; the reply is espeak audio."""
    caller = bytes(48 * 500) + synthesize("Where is order forty two?") + bytes(48 * 800)
    reply = "Order 42 has shipped."

    async def scenario() -> list[dict[str, Any]]:
        async with Simulator() as sim:
            sim.expect_user_audio("Where is order 42?")
            sim.script([{"call": {"name": "lookup_order", "args": {"order_id": "42"}}}, {"say": reply}])
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            await client.until("session.started")
            for append in _appends(caller):
                await client.send(append)
            heard = await client.until("session.input_transcript.delta")
            assert heard["delta"] == "Where is order 42?"
            assert 0 < heard["start_ms"] < heard["end_ms"] < len(caller) // 48
            await client.until("session.delegation.created")
            await client.until("response.event")
            call = (await client.until("response.event"))["event"]["item"]
            await client.until("response.event")
            await client.send({"type": "response.item.create", "item": {"type": "function_call_output", "call_id": call["call_id"], "output": '{"status": "shipped"}'}})
            await client.send({"type": "response.create"})
            usage = await client.until("session.usage.updated")
            assert usage["usage"]["seconds"] * 1000 == pytest.approx(heard["end_ms"] + speech_ms(reply))
            await client.close()
            return client.events

    events = run(scenario)
    assert_valid_live_server_events(events)
    assert _spoken_audio(events) == synthesize(reply)
    assert all("start_ms" not in event for event in events if event["type"] == "session.output_audio.delta")  # the primary WebSocket's shape
    said = [event for event in events if event["type"] == "session.output_transcript.delta"]
    assert "".join(event["delta"] for event in said) == reply
    assert said[0]["start_ms"] >= [e for e in events if e["type"] == "session.input_transcript.delta"][0]["end_ms"]


def test_a_g711_session_is_heard_and_answered_in_its_own_format(tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(PROJECT.replace("version: 1\n", "version: 1\nsession: {input_format: audio/pcmu, output_format: audio/pcmu}\n"), encoding="utf-8")
    start = session_start_event(compile_live(load(path, import_code=False).config))
    assert start["session"]["audio"]["format"] == {"type": "audio/pcmu", "rate": 8000}
    caller = g711.ulaw_from_pcm16(synthesize("Hello there.", 8000) + bytes(16 * 800))

    async def scenario() -> list[dict[str, Any]]:
        async with Simulator() as sim:
            sim.expect_user_audio("Hello there.")
            sim.script([{"say": "Hi."}])
            client = await LiveClient.connect(sim)
            await client.send(start)
            await client.until("session.started")
            for append in _appends(caller, bytes_per_ms=8):
                await client.send(append)
            await client.until("session.usage.updated")
            await client.close()
            return client.events

    events = run(scenario)
    assert _spoken_audio(events) == g711.ulaw_from_pcm16(synthesize("Hi.", 8000))


def test_audio_with_a_wav_header_is_refused_and_muted_audio_is_not_heard(program):
    wav_header = b"RIFF" + bytes(40)
    caller = synthesize("Hello there.") + bytes(48 * 800)

    async def scenario() -> tuple[dict[str, Any], list[str]]:
        async with Simulator() as sim:
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            await client.until("session.started")
            await client.send({"type": "session.input_audio.append", "audio": base64.b64encode(wav_header).decode("ascii")})
            refused = await client.until("error")
            await client.send({"type": "session.input_audio.mute"})
            await client.until("session.input_audio.muted")
            for append in _appends(caller):
                await client.send(append)
            await client.send({"type": "session.close"})
            await client.until("session.closed")
            await client.close()
            return refused, [event["type"] for event in client.events]

    refused, kinds = run(scenario)
    assert (refused["error"]["code"], refused["error"]["param"]) == ("invalid_value", "audio")
    assert refused["error"]["message"] == "Invalid 'audio'. Expected raw audio in the session's format, without a header."
    assert "session.input_transcript.delta" not in kinds


def test_a_long_words_transcript_deltas_meet_end_to_end_on_the_timeline(program):
    """However many audio chunks a word takes, its delta spans them: no gap a client would read as a pause."""
    long = "You are C-7; your files are in /tmp/pytest-of-root/pytest-1025/test_a_live_call/project/state."

    async def scenario() -> list[dict[str, Any]]:
        async with Simulator() as sim:
            sim.script([{"say": long}])
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            await client.until("session.started")
            await client.send({"type": "response.create"})
            await client.until("session.usage.updated")
            await client.close()
            return [event for event in client.events if event["type"] == "session.output_transcript.delta"]

    deltas = run(scenario)
    assert [(a["end_ms"], b["start_ms"]) for a, b in zip(deltas, deltas[1:]) if a["end_ms"] != b["start_ms"]] == []
    assert deltas[-1]["end_ms"] - deltas[0]["start_ms"] == speech_ms(long)


def test_a_sideband_for_an_unknown_session_is_refused_with_404_before_the_upgrade():
    async def scenario() -> tuple[int, str]:
        import websockets

        async with Simulator() as sim:
            try:
                await websockets.connect(f"{sim.ws_base_url}/live/sessions/live_nope/attach", additional_headers={"Authorization": "Bearer sk"})
            except websockets.InvalidStatus as refused:
                return refused.response.status_code, json.loads(refused.response.body)["error"]["message"]
            return 101, "accepted"

    assert run(scenario) == (404, "Live session with id 'live_nope' not found.")
