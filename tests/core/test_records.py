"""Records are typed and immutable; their JSON form is the one transcript.jsonl has always had."""

from __future__ import annotations

import dataclasses

import pytest

from runner.core import AssistantMessage, ConnectionLost, Handoff, Notice, Record, ToolFinished, ToolStarted


def test_a_tool_call_is_reported_as_typed_records_matched_by_class(make_session, server):
    s = make_session(audio=False)
    s.start(0.0)
    s.feed(server.session_updated())
    s.user_text("my order?", 1.0)
    actions = s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user", '{"id": 7}'))
    started = [action for action in actions if isinstance(action, Record)]
    match started:
        case [ToolStarted(name="authenticate_user", arguments='{"id": 7}', call_id="c1")]:
            pass
        case _:
            pytest.fail(f"expected one ToolStarted, got {started}")
    finished = [a for a in s.tool_done("c1", '{"status": "shipped"}', error=None, duration=0.25, now=2.0) if isinstance(a, Record)]
    assert finished == [ToolFinished("router", "c1", "authenticate_user", '{"status": "shipped"}', None, 0.25)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finished[0].name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("record, kind, data", [
    (AssistantMessage("desk", "a1", "Hi."), "assistant", {"agent": "desk", "item_id": "a1", "text": "Hi."}),
    (AssistantMessage("desk", "a1", "Hi.", playing=True), "assistant", {"agent": "desk", "item_id": "a1", "text": "Hi.", "heard_ms": None}),
    (AssistantMessage("desk", "a1", "Hi.", heard_ms=900), "assistant", {"agent": "desk", "item_id": "a1", "text": "Hi.", "heard_ms": 900}),
    (Handoff("desk", "sales", None, False, "no edge"), "handoff", {"from": "desk", "to": "sales", "reason": None, "success": False, "error": "no edge"}),
    (Notice("let it pass", policy="pii", role="user"), "notice", {"policy": "pii", "role": "user", "message": "let it pass"}),
])
def test_the_json_form_is_unchanged_and_reads_back(record: Record, kind: str, data: dict) -> None:
    assert (record.kind, record.to_json()) == (kind, data)
    assert Record.from_json(kind, data) == record
    assert Record(kind, data) == record  # the spelling the public API has always had


def test_a_connection_loss_is_a_notice_to_readers_of_the_transcript() -> None:
    lost = ConnectionLost("connection lost (reset); reconnecting")
    assert isinstance(lost, Notice) and (lost.kind, lost.to_json()) == ("notice", {"message": "connection lost (reset); reconnecting"})


def test_an_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown record kind 'assistent'"):
        Record.from_json("assistent", {})
