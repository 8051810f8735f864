"""The simulator held to outside truth: event sequences and shapes the project did not write.

Sources (each fixture file names repository, path, commit and licence):
- the installed `openai` SDK's client-event docstrings: what the server answers to each event;
- openai/openai-python `examples/realtime/`: the client events its examples send, and the
  server events they wait for;
- openai/openai-agents-python `tests/realtime/`: server events its tests feed the agents
  SDK, the client-event order it sends, and raw client events the service must refuse.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import openai.types.realtime
import pytest

from runner.sim import Simulator, parse_rules
from runner.sim.client_events import Refusal, refusal

FIXTURES = Path(__file__).parent / "fixtures" / "contract"
DOCSTRINGS = json.loads((FIXTURES / "openai-sdk-docstrings.json").read_text(encoding="utf-8"))
EXAMPLES = json.loads((FIXTURES / "openai-python-examples.json").read_text(encoding="utf-8"))
AGENTS = json.loads((FIXTURES / "openai-agents-realtime-tests.json").read_text(encoding="utf-8"))
USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]}
PCM_200_MS = bytes(200 * 48)  # 24 kHz, 16-bit mono
TOOL = {"type": "function", "name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}
WEATHER_RULES = """\
rules:
  - when: 'weather'
    call: {name: get_weather, args: {location: San Francisco}}
  - after_tool: get_weather
    say: "It is {{ output.sky }}."
"""


def _field_paths(value: Any, path: str = "") -> set[str]:
    """Every key of a JSON value as a dotted path (list members as `[]`)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            here = f"{path}.{key}" if path else key
            found |= {here} | _field_paths(child, here)
    elif isinstance(value, list):
        for child in value:
            found |= _field_paths(child, f"{path}[]")
    return found


def _is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(any(kind == wanted_kind for kind in remaining) for wanted_kind in wanted)


# ---- the SDK's docstrings: what the server answers ---------------------------------------


@pytest.mark.parametrize("promise", DOCSTRINGS["promises"], ids=lambda p: f"{p['class']}:{p['answer'][-1]}")
def test_each_quoted_promise_is_in_the_installed_sdk(promise: dict[str, Any]) -> None:
    cls = getattr(openai.types.realtime, promise["class"])
    assert inspect.getsourcefile(cls).replace("\\", "/").endswith(promise["path"])
    assert " ".join(promise["quote"].split()) in " ".join(inspect.getdoc(cls).split())


async def _audio_reply(client: Any) -> str:
    """An assistant audio item the client has been sent: the one thing truncate applies to."""
    await client.say("Hello")
    await client.send({"type": "response.create"})
    return (await client.until("response.done"))[-1]["response"]["output"][0]["id"]


async def _prepare(promise: dict[str, Any], client: Any) -> dict[str, Any]:
    """Bring the session to where the promise applies; returns the client event to send."""
    kind, answer = promise["class"], promise["answer"]
    if kind == "SessionUpdateEvent":
        return promise["example"]
    if kind == "ConversationItemCreateEvent":
        return {"type": "conversation.item.create", "item": USER_TEXT}
    if kind in ("ConversationItemRetrieveEvent", "ConversationItemDeleteEvent"):
        await client.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_doc"}})
        await client.until("conversation.item.done")
        return {"type": "conversation.item." + ("retrieve" if kind.endswith("RetrieveEvent") else "delete"), "item_id": "item_doc"}
    if kind == "InputAudioBufferClearEvent":
        return {"type": "input_audio_buffer.clear"}
    if kind == "InputAudioBufferCommitEvent":
        await client.configure(audio={"input": {"turn_detection": None}})
        if answer != ["error"]:
            await client.append(PCM_200_MS)
        return {"type": "input_audio_buffer.commit"}
    if kind == "ResponseCreateEvent":
        await client.say("Hello")
        return {"type": "response.create"}
    if kind == "ResponseCancelEvent":
        if answer != ["error"]:
            await client.send({"type": "response.create"})
            await client.until("response.created")
        return {"type": "response.cancel"}
    if kind == "ConversationItemTruncateEvent":
        return {"type": "conversation.item.truncate", "item_id": await _audio_reply(client), "content_index": 0, "audio_end_ms": 100}
    raise AssertionError(f"no setup for {kind}")


@pytest.mark.parametrize("promise", DOCSTRINGS["promises"], ids=lambda p: f"{p['class']}:{p['answer'][-1]}")
def test_the_simulator_answers_each_client_event_as_the_sdk_documents(kit, promise: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with Simulator(reply_delay=0.5 if promise["class"] == "ResponseCancelEvent" else 0.0) as sim:
            client = await kit.connect(sim.ws_base_url)
            event = await _prepare(promise, client)
            assert refusal(event) is None
            await client.send(event)
            reply = await client.until(promise["answer"][-1])
            kinds = [e["type"] for e in reply]
            assert _is_subsequence(promise["answer"], kinds), kinds
            assert ("error" in kinds) == (promise["answer"] == ["error"]), reply
            if promise["class"] == "ResponseCancelEvent" and kinds[-1] == "response.done":
                assert reply[-1]["response"]["status"] == "cancelled"  # "a status of `response.status=cancelled`"
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


# ---- openai-python's realtime examples ----------------------------------------------------


def test_the_sdk_text_example_gets_the_events_it_waits_for_in_order(kit) -> None:
    example = EXAMPLES["text_conversation"]

    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url, model=example["connect_model"])
            for event in example["client_events"]:
                assert refusal(event) is None, event
                await client.send(event)
            kinds = [e["type"] for e in await client.until("response.done")]
            awaited = [kind for kind in kinds if kind in example["awaited_server_events"]]
            deltas = awaited.count("response.output_text.delta")
            assert deltas > 0 and awaited == ["response.output_text.delta"] * deltas + ["response.output_text.done", "response.done"]
            # session.update is answered first, the item next, then the response (the docstrings above)
            assert kinds[:3] == ["session.updated", "conversation.item.added", "conversation.item.done"]
            assert kinds[3] == "response.created" and "error" not in kinds
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_the_push_to_talk_examples_events_are_accepted_and_its_blind_cancel_is_harmless(kit) -> None:
    """The example sends `response.cancel` when recording starts, whether or not a reply is
    playing; the SDK documents that as safe: an error, and the session unaffected."""
    example = EXAMPLES["push_to_talk"]
    assert [refusal(event) for event in example["client_events"]] == [None] * len(example["client_events"])
    update, cancel = example["client_events"][:2]

    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url, model=example["connect_model"])
            await client.send(update)
            updated = (await client.until("session.updated"))[-1]
            assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
            await client.send(cancel)
            assert (await client.until("error"))[-1]["error"]["code"] == "response_cancel_not_active"
            await client.say("Hello")
            await client.send({"type": "response.create"})
            kinds = [e["type"] for e in await client.until("response.done")]
            assert {"response.output_audio.delta", "response.output_audio_transcript.delta"} <= set(kinds) and "error" not in kinds
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


# ---- openai-agents' realtime test events --------------------------------------------------


async def _equivalent(sim: Simulator, client: Any, documented: dict[str, Any]) -> dict[str, Any]:
    """The simulator's own event of the documented event's type, from the equivalent client input."""
    kind = documented["type"]
    if kind == "error":
        await client.send({"type": "response.cancel", "event_id": "pending"})
        return (await client.until("error"))[-1]
    if kind == "response.output_item.done":
        await client.configure(output_modalities=["text"], tools=[TOOL])
        await client.say("what's the weather")
    elif kind == "response.output_text.delta":
        await client.configure(output_modalities=["text"])
        await client.say("Hello")
    else:
        await client.say("Hello")
    await client.send({"type": "response.create"})
    return next(event for event in await client.until("response.done") if event["type"] == kind)


@pytest.mark.parametrize("fixture", AGENTS["server_events"], ids=lambda f: f["event"]["type"])
def test_the_simulators_server_events_carry_every_field_of_the_agents_fixtures(kit, fixture: dict[str, Any]) -> None:
    documented = fixture["event"]

    async def scenario() -> None:
        async with Simulator(parse_rules(WEATHER_RULES, "weather.yaml")) as sim:
            client = await kit.connect(sim.ws_base_url)
            ours = await _equivalent(sim, client, documented)
            assert _field_paths(documented) - _field_paths(ours) == set()
            if "item" in documented:
                assert {key: ours["item"][key] for key in ("type", "status", "name", "arguments")} == {key: documented["item"][key] for key in ("type", "status", "name", "arguments")}
            kit.assert_valid(sim.sent[0])  # and nothing beyond what the SDK's types know

    kit.run(scenario)


def test_the_agents_sdks_client_event_order_for_a_tool_turn_is_served_without_error(kit) -> None:
    """User input then `response.create`; the tool output then `response.create`, as the agents SDK sends them."""
    order = AGENTS["client_sequences"][0]["payload_types"]

    async def scenario() -> None:
        async with Simulator(parse_rules(WEATHER_RULES, "weather.yaml")) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(output_modalities=["text"], tools=[TOOL])
            await client.send({"type": "conversation.item.create", "item": {**USER_TEXT, "content": [{"type": "input_text", "text": "what's the weather"}]}})
            await client.send({"type": "response.create"})
            first = (await client.until("response.done"))[-1]["response"]["output"][0]
            await client.send({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": first["call_id"], "output": json.dumps({"sky": "sunny"})}})
            await client.send({"type": "response.create"})
            second = (await client.until("response.done"))[-1]["response"]["output"][0]
            assert [event["type"] for event in sim.received[0] if event["type"] != "session.update"] == order
            assert (first["type"], first["name"], second["content"][0]["text"]) == ("function_call", "get_weather", "It is sunny.")
            assert kit.of_type(sim.sent[0], "error") == []
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


# ---- the simulator's validator on documented client events --------------------------------


DOCUMENTED_CLIENT_EVENTS = [
    *EXAMPLES["text_conversation"]["client_events"],
    *EXAMPLES["push_to_talk"]["client_events"],
    *(promise["example"] for promise in DOCSTRINGS["promises"] if "example" in promise),
]


@pytest.mark.parametrize("event", DOCUMENTED_CLIENT_EVENTS, ids=lambda e: e["type"])
def test_documented_client_events_are_accepted(event: dict[str, Any]) -> None:
    assert refusal(event) is None


@pytest.mark.parametrize("fixture", AGENTS["client_events_the_service_refuses"], ids=lambda f: f["test"])
def test_raw_client_events_the_agents_tests_pass_through_are_refused_as_the_service_would(fixture: dict[str, Any]) -> None:
    assert refusal(fixture["event"]) == Refusal(**fixture["refusal"])


@pytest.mark.parametrize(
    ("alter", "expected"),
    [
        (lambda e: e.update(response_id="x"), Refusal("unknown_parameter", "response_id", "Unknown parameter: 'response_id'")),
        (lambda e: e["session"].update(voice="marin"), Refusal("unknown_parameter", "session.voice", "Unknown parameter: 'session.voice'")),
        (lambda e: e["session"].update(output_modalities="text"), Refusal("invalid_value", "session.output_modalities", "Invalid value at 'session.output_modalities': Input should be a valid list")),
        (lambda e: e["session"].pop("type"), Refusal("missing_required_parameter", "session.type", "Invalid value at 'session.type': Field required")),
        (lambda e: e["session"].update(type="realtime_v1"), Refusal("invalid_value", "session.type", "Invalid value at 'session.type': Input should be 'realtime' or 'transcription'")),
    ],
    ids=["unknown top-level key", "unknown nested key", "wrong type", "missing type", "wrong literal"],
)
def test_an_altered_sdk_example_is_refused_with_the_key_and_the_reason(alter: Any, expected: Refusal) -> None:
    event = json.loads(json.dumps(EXAMPLES["text_conversation"]["client_events"][0]))
    alter(event)
    assert refusal(event) == expected


@pytest.mark.parametrize(
    ("alter", "expected"),
    [
        (lambda i: i["content"][0].update(type="text"), Refusal("invalid_value", "item.content[0].type", "Invalid value at 'item.content[0].type': Input should be 'input_text', 'input_audio' or 'input_image'")),
        (lambda i: i["content"][0].update(txt="Hello"), Refusal("unknown_parameter", "item.content[0].txt", "Unknown parameter: 'item.content[0].txt'")),
        (lambda i: i.update(type="function_call_output", call_id="call_123", output=5) or [i.pop(k) for k in ("role", "content")], Refusal("invalid_value", "item.output", "Invalid value at 'item.output': Input should be a valid string")),
    ],
    ids=["beta content type", "misspelled content key", "non-string tool output"],
)
def test_an_altered_sdk_example_item_is_refused_with_the_key_and_the_reason(alter: Any, expected: Refusal) -> None:
    event = json.loads(json.dumps(EXAMPLES["text_conversation"]["client_events"][1]))
    alter(event["item"])
    assert refusal(event) == expected
