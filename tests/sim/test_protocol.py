"""The simulator speaks the GA protocol: event sequences, shapes and the service's errors."""

from __future__ import annotations

import base64
import json
import math

import pytest
import websockets
from openai import AsyncOpenAI

from runner.sim import Simulator
from runner.sim.server import BETA_MESSAGE
from runner.sim.speech import speech_ms

TOOLS = [{"type": "function", "name": "lookup", "description": "Look up.", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]


def test_sdk_client_gets_a_full_session_and_a_text_reply(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = AsyncOpenAI(websocket_base_url=sim.ws_base_url, api_key="sk-sim")
            async with client.realtime.connect(model="gpt-realtime-2.1") as conn:
                first = await conn.recv()
                assert first.type == "session.created"
                assert first.session.model == "gpt-realtime-2.1"
                await conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief."})
                await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]})
                await conn.response.create()
                types = []
                async for event in conn:
                    types.append(event.type)
                    if event.type == "response.done":
                        assert event.response.status == "completed"
                        assert event.response.usage.total_tokens > 0
                        break
            assert types[:3] == ["conversation.created", "session.updated", "conversation.item.added"]
            text = "".join(event["delta"] for event in kit.of_type(sim.sent[0], "response.output_text.delta"))
            assert text == "Sorry, I didn't catch that. Could you say it another way?"
            kit.assert_valid(sim.sent[0])
            assert [event["type"] for event in sim.received[0]] == ["session.update", "conversation.item.create", "response.create"]

    kit.run(scenario)


def test_session_update_is_a_partial_merge_and_null_disables(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            created = client.events[0]["session"]
            assert created["audio"]["input"]["turn_detection"]["type"] == "server_vad"
            assert created["object"] == "realtime.session" and created["id"].startswith("sess_")
            updated = await client.configure(instructions="One.", audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}})
            session = updated["session"]
            assert session["instructions"] == "One."
            assert session["audio"]["output"]["voice"] == "alloy"
            assert session["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "high", "create_response": True, "interrupt_response": True}
            session = (await client.configure(audio={"input": {"turn_detection": None, "noise_reduction": {"type": "far_field"}}}))["session"]
            assert session["audio"]["input"]["turn_detection"] is None
            assert session["audio"]["input"]["noise_reduction"] == {"type": "far_field", "strength": 1.0}
            assert session["instructions"] == "One."
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_items_are_placed_by_previous_item_id_and_unknown_ids_are_refused(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
            await client.send({"type": "conversation.item.create", "item": {**message, "id": "first"}})
            await client.send({"type": "conversation.item.create", "item": {**message, "id": "zero"}, "previous_item_id": "root"})
            await client.send({"type": "conversation.item.create", "item": {**message, "id": "middle"}, "previous_item_id": "zero"})
            await client.send({"type": "conversation.item.create", "event_id": "mine", "item": message, "previous_item_id": "nope"})
            events = await client.until("error")
            added = kit.of_type(events, "conversation.item.added")
            assert [(e["item"]["id"], e["previous_item_id"]) for e in added] == [("first", None), ("zero", None), ("middle", "zero")]
            assert [item["id"] for item in sim.connections[0].items] == ["zero", "middle", "first"]
            assert events[-1]["error"] == {
                "type": "invalid_request_error", "code": "invalid_value", "param": "previous_item_id", "event_id": "mine",
                "message": "Error adding item: the previous item with id 'nope' does not exist.",
            }

    kit.run(scenario)


def test_function_call_events_carry_call_id_name_and_arguments(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(output_modalities=["text"], tools=TOOLS)
            sim.script([{"calls": [{"name": "lookup", "args": {"q": "x"}}, {"name": "lookup", "args": {"q": "y"}}]}])
            await client.send({"type": "response.create"})
            events = await client.until("response.done")
            done = kit.of_type(events, "response.function_call_arguments.done")
            assert [(e["name"], json.loads(e["arguments"])) for e in done] == [("lookup", {"q": "x"}), ("lookup", {"q": "y"})]
            added = kit.of_type(events, "response.output_item.added")
            assert [a["item"]["call_id"] for a in added] == [d["call_id"] for d in done]
            deltas = "".join(e["delta"] for e in kit.of_type(events, "response.function_call_arguments.delta") if e["call_id"] == done[0]["call_id"])
            assert deltas == done[0]["arguments"]
            output = events[-1]["response"]["output"]
            assert [(item["type"], item["status"]) for item in output] == [("function_call", "completed")] * 2
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_audio_reply_interleaves_transcript_and_pcm_chunks(kit) -> None:
    async def scenario() -> None:
        async with Simulator(chunk_ms=50) as sim:
            client = await kit.connect(sim.ws_base_url)
            sim.script([{"say": "Hello there, how can I help you today?"}])
            await client.send({"type": "response.create"})
            events = await client.until("response.done")
            kinds = [e["type"] for e in events]
            assert kinds.index("response.output_audio_transcript.delta") < kinds.index("response.output_audio.delta")
            assert kinds[-6:] == ["response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
                                  "response.output_item.done", "conversation.item.done", "response.done"]
            audio = [base64.b64decode(e["delta"]) for e in kit.of_type(events, "response.output_audio.delta")]
            assert {len(chunk) for chunk in audio[:-1]} == {50 * 48}
            item_id = events[-1]["response"]["output"][0]["id"]
            assert sum(len(chunk) for chunk in audio) // 48 == sim.connections[0].audio_sent_ms[item_id] == speech_ms("Hello there, how can I help you today?")
            transcript = "".join(e["delta"] for e in kit.of_type(events, "response.output_audio_transcript.delta"))
            assert transcript == "Hello there, how can I help you today?"
            assert events[-1]["response"]["usage"]["output_token_details"]["audio_tokens"] == math.ceil(speech_ms("Hello there, how can I help you today?") / 50)
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


@pytest.mark.parametrize(
    ("event", "code", "param", "message"),
    [
        ({"type": "session.update", "session": {"type": "realtime", "voice": "marin"}}, "unknown_parameter", "session.voice", "Unknown parameter: 'session.voice'"),
        ({"type": "response.create", "response": {"modalities": ["text"]}}, "unknown_parameter", "response.modalities", "Unknown parameter: 'response.modalities'"),
        ({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0}, "missing_required_parameter", "audio_end_ms", "Invalid value at 'audio_end_ms': Field required"),
        ({"type": "response.audio.delta"}, "invalid_value", "type", None),
        ({"type": "session.update", "session": {"type": "realtime", "model": "gpt-realtime-2"}}, "invalid_value", "session.model", "Cannot update a session's model (it is 'gpt-realtime-2.1')."),
        ({"type": "response.cancel"}, "response_cancel_not_active", None, "Cancellation failed: no active response found"),
        ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None,
         "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 0ms of audio."),
    ],
)
def test_invalid_client_events_get_the_service_error_shape(kit, event: dict, code: str, param: str | None, message: str | None) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.send({**event, "event_id": "evt_client_1"})
            error = (await client.until("error"))[-1]
            assert error["error"]["type"] == "invalid_request_error"
            assert (error["error"]["code"], error["error"]["param"], error["error"]["event_id"]) == (code, param, "evt_client_1")
            if message is not None:
                assert error["error"]["message"] == message
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_second_response_create_while_one_is_active_is_refused(kit) -> None:
    async def scenario() -> None:
        async with Simulator(reply_delay=0.5) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.send({"type": "response.create"})
            created = (await client.until("response.created"))[-1]
            await client.send({"type": "response.create"})
            error = (await client.until("error"))[-1]["error"]
            assert error["code"] == "conversation_already_has_active_response"
            assert created["response"]["id"] in error["message"]

    kit.run(scenario)


def test_cancel_ends_the_response_as_client_cancelled(kit) -> None:
    async def scenario() -> None:
        async with Simulator(reply_delay=5.0) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.send({"type": "response.create"})
            await client.until("response.created")
            await client.send({"type": "response.cancel"})
            done = (await client.until("response.done"))[-1]["response"]
            assert (done["status"], done["status_details"]) == ("cancelled", {"type": "cancelled", "reason": "client_cancelled"})
            assert done["output"] == []
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_voice_cannot_change_after_audio_but_can_before(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            updated = await client.configure(audio={"output": {"voice": "marin"}})
            assert updated["session"]["audio"]["output"]["voice"] == "marin"
            await client.send({"type": "response.create"})
            await client.until("response.done")
            await client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}})
            error = (await client.until("error"))[-1]["error"]
            assert (error["code"], error["message"]) == ("cannot_update_voice", "Cannot update a conversation's voice if assistant audio is present.")
            same = await client.configure(audio={"output": {"voice": "marin"}}, instructions="Still fine.")
            assert same["session"]["instructions"] == "Still fine."

    kit.run(scenario)


def test_beta_header_gets_the_shape_error_then_close_4000(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            ws = await websockets.connect(f"{sim.ws_base_url}/realtime?model=gpt-realtime", additional_headers={"Authorization": "Bearer sk-sim", "OpenAI-Beta": "realtime=v1"})
            error = json.loads(await ws.recv())
            assert error["error"]["code"] == "beta_api_shape_disabled"
            assert error["error"]["message"] == BETA_MESSAGE
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4000

    kit.run(scenario)


def test_handshake_without_a_key_or_on_another_path_is_refused(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            with pytest.raises(websockets.InvalidStatus) as no_key:
                await websockets.connect(f"{sim.ws_base_url}/realtime?model=gpt-realtime")
            assert no_key.value.response.status_code == 401
            with pytest.raises(websockets.InvalidStatus) as wrong_path:
                await websockets.connect(f"{sim.ws_base_url}/chat", additional_headers={"Authorization": "Bearer sk-sim"})
            assert wrong_path.value.response.status_code == 404

    kit.run(scenario)


def test_drop_after_events_aborts_only_the_first_connection(kit) -> None:
    async def scenario() -> None:
        async with Simulator(drop_after_events=5) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(output_modalities=["text"])
            await client.send({"type": "response.create"})
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                while True:
                    await client.recv()
            assert closed.value.rcvd is None  # no close frame: the network dropped
            assert len(client.events) == 5
            again = await kit.connect(sim.ws_base_url)
            await again.send({"type": "response.create"})
            assert (await again.until("response.done"))[-1]["response"]["status"] == "completed"

    kit.run(scenario)


def test_rest_server_runs_beside_the_realtime_server(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = AsyncOpenAI(base_url=sim.http_base_url, api_key="sk-sim")
            result = await client.moderations.create(input="hello there", model="omni-moderation-latest")
            assert result.results[0].flagged is False

    kit.run(scenario)


def test_retrieve_delete_and_unknown_items(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.send({"type": "conversation.item.create", "item": {"id": "note", "type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be kind."}]}})
            await client.send({"type": "conversation.item.retrieve", "item_id": "note"})
            retrieved = (await client.until("conversation.item.retrieved"))[-1]
            assert retrieved["item"]["content"] == [{"type": "input_text", "text": "Be kind."}]
            await client.send({"type": "conversation.item.delete", "item_id": "note"})
            assert (await client.until("conversation.item.deleted"))[-1]["item_id"] == "note"
            for event in ({"type": "conversation.item.delete", "item_id": "note"}, {"type": "conversation.item.truncate", "item_id": "note", "content_index": 0, "audio_end_ms": 0}):
                await client.send(event)
                error = (await client.until("error"))[-1]["error"]
                assert (error["code"], error["param"], error["message"]) == ("invalid_value", "item_id", "Item with item_id not found: note")
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)
