"""Handoff context policies: keep (as before), reset and summary, as exact event sequences."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from runner.core import RunTool
from runner.core.context import SUMMARY_INSTRUCTIONS, reset_note, summary_note
from runner.core.records import AssistantDelta, AssistantMessage, Handoff


def _team(h: Any, policy: str) -> dict[str, Any]:
    agents = h.team()
    agents["router"] = dataclasses.replace(agents["router"], handoff_context={"transfer_to_support": policy})
    return agents


def _added(server: Any, item: dict[str, Any]) -> dict[str, Any]:
    return server._event("conversation.item.added", previous_item_id=None, item={"object": "realtime.item", "status": "completed", **item})


def _user_turn_and_transfer(s: Any, server: Any, *, with_tool: bool = False) -> list[Any]:
    """The caller's typed turn, then one response that transfers (and looks the caller up)."""
    s.start(0.0)
    s.feed(server.session_updated())
    s.user_text("my wifi is down", 1.0)
    s.feed(_added(server, {"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "my wifi is down"}]}))
    events = [server.response_created("r1"), _added(server, {"id": "fc_t1", "type": "function_call", "call_id": "t1", "name": "transfer_to_support", "arguments": "{}"})]
    events.append(server.call("r1", "t1", "transfer_to_support", json.dumps({"reason": "wifi is down"})))
    if with_tool:
        events.append(_added(server, {"id": "fc_c1", "type": "function_call", "call_id": "c1", "name": "authenticate_user", "arguments": "{}"}))
        events.append(server.call("r1", "c1", "authenticate_user", "{}"))
    events.append(server.response_done("r1"))
    return s.feed(*events, now=2.0)


def _deleted(actions: list[Any], h: Any) -> list[str]:
    return [event["item_id"] for event in h.sent(actions) if event["type"] == "conversation.item.delete"]


def test_keep_is_unchanged_and_deletes_nothing(make_session, server, h):
    s = make_session(_team(h, "keep"), audio=False)
    actions = _user_turn_and_transfer(s, server)
    assert h.sent_types(actions) == ["session.update", "conversation.item.create", "response.create"]


def test_reset_updates_the_session_deletes_every_earlier_item_notes_why_then_asks_the_target(make_session, server, h):
    agents = _team(h, "reset")
    s = make_session(agents, audio=False)
    actions = _user_turn_and_transfer(s, server)
    update, delete_user, delete_call, note, create = h.sent(actions)
    assert update["session"] == agents["support"].handoff_session
    assert [delete_user["item_id"], delete_call["item_id"]] == ["u1", "fc_t1"]  # the transfer call too: it needs no answer
    assert note["item"] == {"type": "message", "role": "system", "content": [{"type": "input_text", "text": reset_note("router", "support", "wifi is down")}]}
    assert note["item"]["content"][0]["text"] == (
        "The caller was transferred to you (support) by router (wifi is down). Earlier turns are not shown; ask for what you need."
    )
    assert create == {"type": "response.create", "event_id": create["event_id"], "response": {"instructions": "You are the support agent.\n\nIntroduce yourself as technical support."}}
    assert [type(a) for a in actions if isinstance(a, Handoff)] == [Handoff] and s.active_agent == "support"


def test_reset_waits_until_the_batchs_outputs_are_in_the_conversation(make_session, server, h):
    s = make_session(_team(h, "reset"), audio=False)
    dispatched = _user_turn_and_transfer(s, server, with_tool=True)
    assert [a.name for a in dispatched if isinstance(a, RunTool)] == ["authenticate_user"]
    answered = s.tool_done("c1", '{"customer_id": "C1"}', error=None, duration=0.1, now=2.5)
    assert h.sent_types(answered) == ["conversation.item.create", "session.update"]  # c1's output, then the handoff: nothing deleted yet
    assert s.busy
    confirmed = s.feed(_added(server, {"id": "fo_c1", "type": "function_call_output", "call_id": "c1", "output": '{"customer_id": "C1"}'}), now=2.6)
    assert h.sent_types(confirmed) == ["conversation.item.delete"] * 4 + ["conversation.item.create", "response.create"]
    assert _deleted(confirmed, h) == ["u1", "fc_t1", "fc_c1", "fo_c1"]


def test_summary_asks_out_of_band_then_replaces_the_history_with_the_summary(make_session, server, h):
    s = make_session(_team(h, "summary"), audio=False)
    actions = _user_turn_and_transfer(s, server)
    update, output, summary_request = h.sent(actions)
    assert update["type"] == "session.update" and output["item"]["type"] == "function_call_output"
    assert summary_request["response"] == {
        "conversation": "none", "output_modalities": ["text"], "instructions": SUMMARY_INSTRUCTIONS, "tool_choice": "none",
        "metadata": {"purpose": "handoff_summary"},
    }
    assert s.feed(_added(server, {"id": "fo_t1", "type": "function_call_output", "call_id": "t1", "output": "{}"})) == []
    assert h.sent_types(s.user_text("hello?", 3.0)) == ["conversation.item.create"]  # no second response while the summary is owed
    s.feed(_added(server, {"id": "u2", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello?"}]}))
    text = "The caller's wifi is down; nothing is fixed yet."
    summary = s.feed(
        server.response_created("r2"),
        server.message_added("r2", "m2"),
        server.text_delta("r2", "m2", text),
        server.text_done("r2", "m2", text),
        server.message_done("r2", "m2"),
        server._event("response.done", response={
            "id": "r2", "object": "realtime.response", "status": "completed", "conversation_id": None,
            "output": [{"id": "m2", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
        }),
        now=4.0,
    )
    assert not [a for a in summary if isinstance(a, (AssistantDelta, AssistantMessage))]  # the caller never hears it
    assert _deleted(summary, h) == ["u1", "fc_t1", "fo_t1"]
    note, create = h.sent(summary)[3:]
    assert note["item"]["content"][0]["text"] == summary_note("router", "support", "wifi is down", text)
    assert create["type"] == "response.create" and h.sent_types(summary).count("response.create") == 1  # the target's reply, answering "hello?" too
    assert [entry.text for entry in s.transcript if getattr(entry, "role", None) == "assistant"] == []


def test_a_failed_summary_falls_back_to_the_reset_note(make_session, server, h):
    s = make_session(_team(h, "summary"), audio=False)
    _user_turn_and_transfer(s, server)
    s.feed(_added(server, {"id": "fo_t1", "type": "function_call_output", "call_id": "t1", "output": "{}"}))
    failed = s.feed(server.response_created("r2"), server.response_done("r2", "failed", error={"type": "server_error", "code": "x", "message": "boom"}))
    assert _deleted(failed, h) == ["u1", "fc_t1", "fo_t1"]
    note = [event for event in h.sent(failed) if event["type"] == "conversation.item.create"][0]
    assert note["item"]["content"][0]["text"] == reset_note("router", "support", "wifi is down")
    assert h.sent_types(failed)[-1] == "response.create"
