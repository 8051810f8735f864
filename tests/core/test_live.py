"""The GPT-Live session core: event sequences for tools, handoffs, transcripts, usage, guardrails, reconnects.

Agents come from a real agents file through `compile_live`; every client event the core
sends is checked against the SDK's Live client-event types with no unknown keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.compile_live import compile_live, live_client_event_problems
from runner.config import load
from runner.core import (
    AssistantDelta, AssistantMessage, AudioComplete, CheckGuardrail, ConnectionLost, ConnectionRestored, EndSession, GuardrailTripped, Handoff, LatencyMeasured,
    Play, RunTool, Send, ToolFinished, ToolStarted, UserMessage,
)
from runner.core.states import Connection, Playback, ResponsePhase, States, UserTurn
from runner.core.live import FIXTURE_AUDIO, SEGMENT_GAP, GptLiveSession
from runner.core.live_usage import LiveUsageUpdated

PROJECT = """\
version: 1
name: Shop
target: live
start: front
agents:
  front:
    description: Greets the caller.
    instructions: You are the front desk.
    tools: [lookup_order, check_stock]
    handoffs: [orders]
    guardrails: [no_darn]
  orders:
    description: Answers questions about orders.
    instructions: You answer order questions.
    on_enter: Say you are the orders desk.
    tools: [lookup_order]
tools:
  lookup_order:
    description: Look an order up.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    python: shop:lookup_order
  check_stock:
    description: Check the stock of a product.
    parameters: {type: object, properties: {sku: {type: string}}}
    python: shop:check_stock
guardrails:
  - name: no_darn
    kind: regex
    words: {profanity: [darn]}
    hint: Keep it polite.
"""


@pytest.fixture
def program(tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(PROJECT, encoding="utf-8")
    result = load(path, import_code=False)
    assert result.config is not None, [problem.format() for problem in result.problems]
    return compile_live(result.config), result.config


class Checked:
    """A GptLiveSession whose every sent event must be one GPT-Live accepts."""

    def __init__(self, program, config) -> None:
        self.core = GptLiveSession(program.agents, program.start, guardrails=config.guardrails, limits=config.limits, session_id="t1")
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.core, name)
        if not callable(method):
            return method

        def checked(*args: Any, **kwargs: Any) -> Any:
            actions = method(*args, **kwargs)
            for action in actions or []:
                if isinstance(action, Send):
                    assert live_client_event_problems(action.event) == [], action.event
                    self.sent.append(action.event)
            return actions

        return checked


@pytest.fixture
def live(program) -> Checked:
    session = Checked(*program)
    session.start(0.0)
    session.receive({"type": "session.started", "event_id": "e0", "session": {"id": "live_1"}}, 0.1)
    return session


def sends(actions: list[Any]) -> list[dict[str, Any]]:
    return [{key: value for key, value in action.event.items() if key != "event_id"} for action in actions if isinstance(action, Send)]


def backend(inner: dict[str, Any], delegation: str = "del_1") -> dict[str, Any]:
    return {"type": "response.event", "event_id": "e", "delegation_id": delegation, "event": inner}


def call(call_id: str, name: str, arguments: dict[str, Any], delegation: str = "del_1") -> dict[str, Any]:
    item = {"type": "function_call", "status": "completed", "call_id": call_id, "name": name, "arguments": json.dumps(arguments)}
    return backend({"type": "response.output_item.done", "item": item}, delegation)


def completed(delegation: str = "del_1", tokens: int = 30) -> dict[str, Any]:
    usage = {"input_tokens": tokens, "output_tokens": 5, "total_tokens": tokens + 5}
    return backend({"type": "response.completed", "response": {"status": "completed", "usage": usage}}, delegation)


def output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "response.item.create", "item": {"type": "function_call_output", "call_id": call_id, "output": text}}


def test_start_sends_the_compiled_session_start_and_nothing_before_session_started(program):
    compiled, config = program
    session = Checked(compiled, config)
    assert sends(session.start(0.0)) == [{"type": "session.start", "session": compiled.session}]
    assert sends(session.receive({"type": "session.started", "event_id": "e0", "session": {}}, 0.1)) == []
    assert not session.core.busy


def test_a_typed_turn_goes_to_the_backend_as_a_user_message(live):
    actions = live.user_text("Where is my order?", 1.0)
    assert actions[0] == UserMessage("Where is my order?", None)
    assert sends(actions) == [
        {"type": "response.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Where is my order?"}]}},
        {"type": "response.create"},
    ]
    assert live.core.busy


def test_a_tool_call_is_answered_after_the_response_completes(live):
    live.user_text("Where is order 42?", 1.0)
    live.receive({"type": "session.delegation.created", "event_id": "e", "delegation": {"id": "del_1", "target": "responses", "type": "delegation"}, "offset_ms": 900}, 1.1)
    assert live.receive(backend({"type": "response.created", "response": {"status": "in_progress"}}), 1.2) == []
    actions = live.receive(call("call_1", "lookup_order", {"order_id": "42"}), 1.3)
    assert actions == [ToolStarted("front", "call_1", "lookup_order", '{"order_id": "42"}'), RunTool("call_1", "lookup_order", '{"order_id": "42"}', "front")]
    actions = live.receive(completed(), 1.4)
    assert [type(action) for action in actions] == [LiveUsageUpdated]
    actions = live.tool_done("call_1", '{"status": "shipped"}', error=None, duration=0.2, now=1.6)
    assert actions[0] == ToolFinished("front", "call_1", "lookup_order", '{"status": "shipped"}', None, 0.2)
    assert sends(actions) == [output("call_1", '{"status": "shipped"}'), {"type": "response.create"}]
    assert live.core.tool_calls[0].status == "done"


def test_two_calls_in_one_delegation_get_their_outputs_in_order_then_one_response_create(live):
    live.user_text("Order 42, and is the lamp in stock?", 1.0)
    live.receive(call("call_a", "lookup_order", {"order_id": "42"}), 1.1)
    live.receive(call("call_b", "check_stock", {"sku": "lamp"}), 1.2)
    assert sends(live.tool_done("call_b", "in stock", error=None, duration=0.1, now=1.3)) == []
    assert sends(live.receive(completed(), 1.4)) == []
    assert sends(live.tool_done("call_a", "", error="timed out", duration=10.0, now=1.5)) == [
        output("call_a", '{"error": "timed out"}'),
        output("call_b", "in stock"),
        {"type": "response.create"},
    ]


def test_a_handoff_updates_the_delegation_then_answers_then_appends_the_persona(live, program):
    compiled, _ = program
    live.user_text("I have a question about an order.", 1.0)
    live.receive(call("call_t", "transfer_to_orders", {"reason": "order question"}), 1.1)
    live.receive(call("call_l", "lookup_order", {"order_id": "42"}), 1.2)
    live.receive(completed(), 1.3)
    update = live.tool_done("call_l", "found", error=None, duration=0.1, now=1.4)
    assert sends(update)[-1] == compiled.agents["orders"].handoff[0]
    assert live.core.active_agent == "front"
    actions = live.receive({"type": "session.updated", "event_id": "e", "session": {}}, 1.5)
    assert Handoff("front", "orders", "order question", True, None) in actions
    assert sends(actions) == [
        output("call_t", '{"transferred_to": "orders"}'),
        output("call_l", "found"),
        {"type": "response.create"},
        {"type": "session.instructions.append", "content": "You are now orders: Answers questions about orders.\nSay you are the orders desk.", "delegation_id": None},
    ]
    assert live.core.active_agent == "orders"
    assert live.core.agents_visited == ["front", "orders"]


def test_a_transfer_that_is_not_an_edge_gets_an_error_output_and_changes_nothing(live):
    live.user_text("Put me through to billing.", 1.0)
    actions = live.receive(call("call_x", "transfer_to_billing", {}), 1.1)
    assert actions == [Handoff("front", "billing", None, False, "'billing' is not a handoff of 'front' (it can transfer to: orders)")]
    assert sends(live.receive(completed(), 1.2)) == [
        output("call_x", json.dumps({"error": "'billing' is not a handoff of 'front' (it can transfer to: orders)"})),
        {"type": "response.create"},
    ]
    assert live.core.active_agent == "front"


def test_outputs_of_a_failed_response_are_not_sent(live):
    live.user_text("Order 42?", 1.0)
    live.receive(call("call_1", "lookup_order", {"order_id": "42"}), 1.1)
    actions = live.receive(backend({"type": "response.failed", "response": {"status": "failed"}}), 1.2)
    assert [action.code for action in actions] == ["delegation_failed"]
    assert sends(live.tool_done("call_1", "found", error=None, duration=0.1, now=1.3)) == []


def test_transcript_deltas_group_into_messages_by_speaker_and_gap(live):
    actions = live.receive({"type": "session.output_transcript.delta", "event_id": "e", "delta": "Hello, ", "start_ms": 0, "end_ms": 400}, 1.0)
    item_id = actions[0].item_id
    assert actions == [AssistantDelta("front", item_id, "Hello, ")]
    live.receive({"type": "session.output_transcript.delta", "event_id": "e", "delta": "how can I help?", "start_ms": 400, "end_ms": 900}, 1.2)
    assert live.core.next_deadline() == pytest.approx(1.2 + SEGMENT_GAP)
    actions = live.receive({"type": "session.input_transcript.delta", "event_id": "e", "delta": "My order", "start_ms": 1000, "end_ms": 1400}, 1.4)
    assert actions[0] == AssistantMessage("front", item_id, "Hello, how can I help?")
    assert live.tick(1.5) == []
    actions = live.tick(1.4 + SEGMENT_GAP)
    assert [type(action) for action in actions] == [UserMessage]
    assert actions[0].text == "My order"


def test_usage_seconds_replace_and_backend_tokens_add(live):
    live.receive({"type": "session.usage.updated", "event_id": "e", "usage": {"seconds": 3.0}}, 1.0)
    (record,) = live.receive({"type": "session.usage.updated", "event_id": "e", "usage": {"seconds": 5.5}}, 2.0)
    assert record.seconds == 5.5
    live.user_text("hi", 2.1)
    live.receive(completed(tokens=30), 2.2)
    (record,) = live.receive(completed(delegation="del_2", tokens=20), 2.3)
    assert (record.seconds, record.responses, record.input_tokens, record.total_tokens) == (5.5, 2, 50, 60)
    assert record.to_json()["seconds"] == 5.5


def test_an_output_guardrail_trip_plays_a_fixture_then_appends_a_correction(live):
    live.receive({"type": "session.output_transcript.delta", "event_id": "e", "delta": "Well darn it.", "start_ms": 0, "end_ms": 500}, 1.0)
    actions = live.tick(1.0 + SEGMENT_GAP)
    check = next(action for action in actions if isinstance(action, CheckGuardrail))
    assert (check.policy, check.role, check.text, check.final) == ("no_darn", "assistant", "Well darn it.", True)
    actions = live.guardrail_result(check.check_id, tripped=True, category="profanity", rationale="darn", now=1.9)
    assert actions[0] == GuardrailTripped("no_darn", "block", "assistant", "profanity", "darn", "Well darn it.", True, None)
    assert sends(actions) == [{"type": "session.output_audio.fixture.play", "audio": FIXTURE_AUDIO}]
    assert live.core.busy
    actions = live.receive({"type": "session.output_audio.fixture.played", "event_id": "e"}, 2.3)
    assert sends(actions) == [{
        "type": "session.instructions.append",
        "content": "Your last reply was cut off: it broke the 'no_darn' policy. Do not repeat it. Keep it polite. Continue from there.",
        "delegation_id": None,
    }, {"type": "response.create"}]


def test_a_reconnect_is_a_new_session_seeded_with_the_text_history(live, program):
    compiled, _ = program
    live.user_text("Where is order 42?", 1.0)
    live.receive({"type": "session.output_transcript.delta", "event_id": "e", "delta": "Let me check.", "start_ms": 0, "end_ms": 500}, 1.2)
    live.receive(call("call_t", "transfer_to_orders", {}), 1.3)
    live.receive(completed(), 1.4)
    live.receive({"type": "session.updated", "event_id": "e", "session": {}}, 1.5)
    live.receive(call("call_l", "lookup_order", {"order_id": "42"}, delegation="del_2"), 1.6)
    actions = live.connection_lost("code 1006", 2.0)
    assert isinstance(actions[-1], ConnectionLost)
    assert sends(live.tool_done("call_l", "found", error=None, duration=0.1, now=2.1)) == []
    (start,) = sends(live.reconnected(3.0))
    assert start["session"]["delegation"] == compiled.agents["orders"].start_session["delegation"]
    assert start["session"]["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Where is order 42?"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
    ]
    actions = live.receive({"type": "session.started", "event_id": "e", "session": {}}, 3.2)
    assert isinstance(actions[0], ConnectionRestored)
    assert sends(actions) == [compiled.agents["orders"].handoff[1], {"type": "response.create"}]  # lookup_order's answer never came


def test_end_closes_and_waits_for_session_closed(live):
    assert sends(live.end("user hung up", 1.0)) == [{"type": "session.close"}]
    assert not live.core.ended
    actions = live.receive({"type": "session.closed", "event_id": "e", "reason": "close_requested", "session": {}, "usage": {"seconds": 12.0}}, 1.3)
    assert actions[-1] == EndSession("user hung up")
    assert live.core.usage.seconds == 12.0 and live.core.ended


def test_end_without_session_closed_ends_after_the_timeout(live):
    live.end("done", 1.0)
    assert live.tick(2.0) == []
    assert live.tick(live.core.next_deadline()) == [EndSession("done")]


def test_a_fatal_error_ends_the_session(live):
    actions = live.receive({"type": "error", "event_id": "e", "error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "bad key"}}, 1.0)
    assert actions[-1] == EndSession("error: invalid_api_key")


def test_latency_is_timed_from_the_users_turn_to_the_delegation_and_the_first_reply_text(live):
    live.user_text("Order 42?", 1.0)
    live.receive({"type": "session.delegation.created", "event_id": "e", "delegation": {"id": "del_1", "target": "responses", "type": "delegation"}, "offset_ms": 1}, 1.25)
    actions = live.receive({"type": "session.output_transcript.delta", "event_id": "e", "delta": "It shipped.", "start_ms": 0, "end_ms": 500}, 1.75)
    assert actions[-1] == LatencyMeasured(1, 0.25, 0.75, 0.0, False)
    (turn,) = live.core.latencies
    assert (turn.turn, turn.response_delay, turn.first_output_delay) == (1, 0.25, 0.75)


def test_a_typed_turn_is_held_until_its_input_checks_pass(tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(PROJECT.replace("    words: {profanity: [darn]}", "    checks: [user]\n    words: {profanity: [darn]}\n    refusal: Let's keep it civil."), encoding="utf-8")
    config = load(path, import_code=False).config
    live = Checked(compile_live(config), config)
    live.start(0.0)
    live.receive({"type": "session.started", "event_id": "e0", "session": {}}, 0.1)
    actions = live.user_text("hello", 1.0)
    (check,) = [action for action in actions if isinstance(action, CheckGuardrail)]
    assert sends(actions) == []
    assert sends(live.guardrail_result(check.check_id, tripped=False, now=1.1))[-1] == {"type": "response.create"}
    actions = live.user_text("darn you", 2.0)
    (check,) = [action for action in actions if isinstance(action, CheckGuardrail)]
    assert sends(live.guardrail_result(check.check_id, tripped=True, category="profanity", now=2.1)) == [
        {"type": "session.commentary.append", "content": "Tell the caller: Let's keep it civil.", "delegation_id": None}
    ]


def test_a_turn_unanswered_at_the_drop_is_asked_for_again_on_the_new_session(live):
    live.user_text("Where is order 42?", 1.0)
    live.receive(call("call_1", "lookup_order", {"order_id": "42"}), 1.1)
    live.receive(completed(), 1.2)
    live.tool_done("call_1", "shipped", error=None, duration=0.1, now=1.3)
    live.connection_lost("code 1006", 1.4)
    (start,) = sends(live.reconnected(2.0))
    assert start["session"]["input"][-1] == {
        "type": "message", "role": "developer",
        "content": [{"type": "input_text", "text": 'The lookup_order tool was called with {"order_id": "42"} and returned shipped'}],
    }
    assert sends(live.receive({"type": "session.started", "event_id": "e", "session": {}}, 2.2)) == [{"type": "response.create"}]


@pytest.fixture
def spoken(program) -> Checked:
    """A Live session whose audio we play (a voice conversation)."""
    compiled, config = program
    session = Checked(compiled, config)
    session.core = GptLiveSession(compiled.agents, compiled.start, guardrails=config.guardrails, limits=config.limits, session_id="t1", audio=True)
    session.start(0.0)
    session.receive({"type": "session.started", "event_id": "e0", "session": {"id": "live_1"}}, 0.1)
    return session


def said(text: str, start_ms: int, end_ms: int, role: str = "output") -> dict[str, Any]:
    return {"type": f"session.{role}_transcript.delta", "event_id": "e", "delta": text, "start_ms": start_ms, "end_ms": end_ms}


AUDIO = {"type": "session.output_audio.delta", "delta": "AAAA"}


def test_a_replys_audio_plays_under_its_message_and_is_complete_when_the_message_closes(spoken):
    item_id = spoken.receive(said("Hello.", 0, 500), 1.0)[0].item_id
    assert spoken.receive(AUDIO, 1.0) == [Play(item_id, "AAAA")]
    assert spoken.core.state.playback is Playback.PLAYING
    actions = spoken.tick(1.0 + SEGMENT_GAP)
    assert actions[:2] == [AudioComplete(item_id), AssistantMessage("front", item_id, "Hello.")]
    assert spoken.core.state.playback is Playback.PLAYING  # queued, not heard yet
    (check,) = [action for action in actions if isinstance(action, CheckGuardrail)]
    spoken.guardrail_result(check.check_id, tripped=False, now=2.0)
    spoken.playback_finished(item_id, 2.5)
    assert spoken.core.state == States(Connection.LIVE, ResponsePhase.IDLE, UserTurn.IDLE, Playback.SILENT)
    assert not spoken.core.busy


def test_audio_without_words_is_played_but_is_no_message(spoken):
    item_id = spoken.receive(AUDIO, 1.0)[0].item_id
    assert spoken.tick(1.0 + SEGMENT_GAP) == [AudioComplete(item_id)]
    assert spoken.core.transcript == []


def test_a_gap_on_the_session_timeline_ends_a_message_however_fast_the_deltas_came(spoken):
    assert spoken.receive(said("My number is 555.", 1000, 2500, "input"), 1.0) == []
    closed = spoken.receive(said("My wifi keeps dropping.", 10_000, 11_500, "input"), 1.01)
    assert [action.text for action in closed if isinstance(action, UserMessage)] == ["My number is 555."]
    assert spoken.core.state.user is UserTurn.SPEAKING
    assert [action.text for action in spoken.tick(1.01 + SEGMENT_GAP) if isinstance(action, UserMessage)] == ["My wifi keeps dropping."]
    assert spoken.core.state.user is UserTurn.AWAITING_REPLY


def test_the_delegation_ends_the_callers_turn(spoken):
    spoken.receive(said("Where is order 42?", 0, 1500, "input"), 1.0)
    actions = spoken.receive({"type": "session.delegation.created", "event_id": "e", "delegation": {"id": "del_1", "target": "responses", "type": "delegation"}, "offset_ms": 1600}, 1.1)
    assert [action.text for action in actions if isinstance(action, UserMessage)] == ["Where is order 42?"]
    assert spoken.core.latencies[-1].response_created == 1.1


def test_a_handoff_ends_what_the_source_agent_was_saying(spoken):
    spoken.user_text("A question about an order.", 1.0)
    spoken.receive(call("call_t", "transfer_to_orders", {"reason": "order"}), 1.1)
    spoken.receive(completed(), 1.2)
    item_id = spoken.receive(said("One moment.", 0, 600), 1.3)[0].item_id
    actions = spoken.receive({"type": "session.updated", "event_id": "e", "session": {}}, 1.4)
    assert actions[0] == AssistantMessage("front", item_id, "One moment.")
    assert spoken.receive(said("Orders desk here.", 600, 1500), 1.5)[0].agent == "orders"


def test_hang_up_closes_at_once_without_waiting_for_session_closed(spoken):
    actions = spoken.hang_up("caller hung up", 2.0)
    assert sends(actions) == [{"type": "session.close"}]
    assert actions[-1] == EndSession("caller hung up")
    assert spoken.core.ended and spoken.core.state.connection is Connection.CLOSED
    assert spoken.hang_up("again", 2.1) == []


def test_the_session_closed_after_a_hang_up_brings_the_final_usage_and_keeps_the_reason(spoken):
    spoken.hang_up("hung up by the caller", 2.0)
    actions = spoken.receive({"type": "session.closed", "event_id": "e", "reason": "close_requested", "session": {}, "usage": {"seconds": 4.5}}, 2.1)
    assert not [action for action in actions if isinstance(action, EndSession)]
    assert spoken.core.usage.seconds == 4.5
