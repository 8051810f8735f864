"""The simulator drops the socket mid-conversation (`runner run --sim-drop-after N`): the
runner reconnects, configures the new socket, re-seeds the history and goes on.

N is found from an undisturbed run of the same conversation, so the drop lands at the
intended event however the simulator's event stream evolves.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest

LINES = ["Hi, I'm Alex, my phone is (555) 123-4567", "my wifi keeps disconnecting", "thanks"]
GREETING = "Thanks for calling TechCorp. Who am I speaking with, and what's the phone number on your account?"
Entries = list[dict[str, Any]]


def _talk(project: Path, e2e: Any, *extra: str, lines: list[str] = LINES) -> tuple[Any, Entries]:
    finished = e2e.run_runner(project, ["run", "agents.yaml", "--offline", "--text", *extra], "\n".join(lines) + "\n")
    assert finished.returncode == 0, finished.stderr
    return finished, e2e.read_jsonl(finished.session / "events.jsonl")


def _server_events_until(entries: Entries, found: Callable[[int, dict[str, Any]], bool]) -> int:
    """How many server events the simulator had sent when `found(index, event)` first held."""
    count = 0
    for index, entry in enumerate(entries):
        if entry["dir"] == "in":
            count += 1
            if found(index, entry["event"]):
                return count
    raise AssertionError("the undisturbed run never reached the drop point")


def _after_second_delta_of_last_reply(entries: Entries) -> int:
    last_user = max(i for i, e in enumerate(entries) if e["dir"] == "out" and e["event"].get("item", {}).get("role") == "user")
    deltas = [i for i, e in enumerate(entries) if i > last_user and e["event"]["type"] == "response.output_text.delta"]
    return _server_events_until(entries, lambda index, event: index == deltas[1])


def _after_first_tool_calls_response_done(entries: Entries) -> int:
    def calls_done(index: int, event: dict[str, Any]) -> bool:
        return event["type"] == "response.done" and any(item["type"] == "function_call" for item in event["response"]["output"])

    return _server_events_until(entries, calls_done)


def _split_at_second_connection(entries: Entries) -> tuple[Entries, Entries]:
    created = [i for i, e in enumerate(entries) if e["dir"] == "in" and e["event"]["type"] == "session.created"]
    assert len(created) == 2, "expected exactly one reconnect"
    return entries[: created[1]], entries[created[1] :]


def _text(item: dict[str, Any]) -> tuple[str, str]:
    return item["role"], item["content"][0]["text"]


def _fresh_project(tmp_path: Path, name: str, e2e: Any) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return e2e.copy_example(folder)


@pytest.fixture
def clean_run(tmp_path: Path, e2e: Any) -> tuple[Any, Entries]:
    return _talk(_fresh_project(tmp_path, "undisturbed", e2e), e2e)


def test_a_reply_cut_mid_stream_is_answered_on_a_new_connection_with_the_history_reseeded(tmp_path: Path, e2e: Any, clean_run: tuple[Any, Entries]) -> None:
    undisturbed, undisturbed_entries = clean_run
    drop_after = _after_second_delta_of_last_reply(undisturbed_entries)
    project = _fresh_project(tmp_path, "dropped", e2e)
    finished, entries = _talk(project, e2e, "--sim-drop-after", str(drop_after))
    before, after = _split_at_second_connection(entries)
    assert [e["event"]["type"] for e in before if e["dir"] == "in"][-1] == "response.output_text.delta"

    # The new socket is configured for the active agent, then given the history, then asked once.
    sent = [e["event"] for e in after if e["dir"] == "out"]
    first_create = next(i for i, event in enumerate(sent) if event["type"] == "response.create")
    assert sent[0]["type"] == "session.update"
    assert "technical support specialist" in sent[0]["session"]["instructions"]
    assert sent[0]["session"]["output_modalities"] == ["text"]
    reseeded = [event["item"] for event in sent[1:first_create]]
    assert all(event["type"] == "conversation.item.create" for event in sent[1:first_create])
    conversation = [_text(item) for item in reseeded if item["type"] == "message" and item["role"] != "system"]
    assert conversation == [
        ("assistant", GREETING),  # the router spoke first
        ("user", LINES[0]),
        ("assistant", "Thanks, Alex, you're verified. How can I help you today?"),
        ("user", LINES[1]),
        ("assistant", conversation[4][1]),
        ("user", LINES[2]),
        ("assistant", "You're welcome. "),  # what had streamed when the socket dropped
    ]
    assert conversation[4][1].startswith('Our guide "Wi-Fi keeps disconnecting" says:')
    kinds = [item["role"] if item["type"] == "message" else item["type"] for item in reseeded]
    assert kinds == ["assistant", "user", "function_call", "function_call_output", "assistant", "user", "system",
                     "function_call", "function_call_output", "assistant", "user", "assistant"]
    calls, outputs = [item for item in reseeded if item["type"] == "function_call"], [item for item in reseeded if item["type"] == "function_call_output"]
    assert [call["call_id"] for call in calls] == [output["call_id"] for output in outputs]
    assert (calls[0]["name"], calls[0]["arguments"]) == ("authenticate_user", '{"phone": "(555) 123-4567"}')
    assert outputs[0]["output"].startswith('{"authenticated": true')
    assert calls[1]["name"] == "search_knowledge_base" and calls[1]["arguments"].startswith('{"query": "wifi keeps disconnecting"')
    assert [_text(item)[1] for item in reseeded if item.get("role") == "system"] == ["The conversation was transferred from router to support (my wifi keeps disconnecting)."]
    until_answered = next(i for i, e in enumerate(after) if e["event"]["type"] == "response.done")
    assert [e["event"]["type"] for e in after[:until_answered]].count("response.create") == 1
    assert [e for e in after if e["event"]["type"] == "error"] == []

    # The user is told, and the transcript and report read as one conversation.
    assert "  · connection lost (the connection dropped without a close frame); reconnecting" in finished.stdout.splitlines()
    assert "  · reconnected: session re-sent, 12 history items re-seeded" in finished.stdout.splitlines()
    assert finished.stdout.splitlines()[-1] == "support: You're welcome. Have a great day!"
    transcript = [(e["kind"], e.get("text")) for e in e2e.read_jsonl(finished.session / "transcript.jsonl") if e["kind"] in ("user", "assistant")]
    assert transcript == [
        (kind, text) for kind, text in
        ((e["kind"], e.get("text")) for e in e2e.read_jsonl(undisturbed.session / "transcript.jsonl") if e["kind"] in ("user", "assistant"))
    ]
    report = json.loads((finished.session / "report.json").read_text(encoding="utf-8"))
    assert report["reconnects"] == 1 and report["fatal_error"] is None
    assert report["agents_visited"] == ["router", "support"] and report["final_agent"] == "support"


def test_a_drop_while_a_tool_runs_sends_nothing_stale_to_the_new_connection(tmp_path: Path, e2e: Any, clean_run: tuple[Any, Entries]) -> None:
    """The tool answers during the outage; its output and request were for the old socket."""
    _, undisturbed_entries = clean_run
    drop_after = _after_first_tool_calls_response_done(undisturbed_entries)
    project = _fresh_project(tmp_path, "dropped", e2e)
    finished, entries = _talk(project, e2e, "--sim-drop-after", str(drop_after))
    _, after = _split_at_second_connection(entries)
    sent = [e["event"] for e in after if e["dir"] == "out"]
    assert [event["type"] for event in sent[:6]] == ["session.update", *["conversation.item.create"] * 4, "response.create"]
    assert [_text(event["item"]) for event in sent[1:3]] == [("assistant", GREETING), ("user", LINES[0])]
    call, output = sent[3]["item"], sent[4]["item"]  # the call item was on the old socket: created again, then answered
    assert (call["type"], call["name"], output["type"], output["call_id"]) == ("function_call", "authenticate_user", "function_call_output", call["call_id"])
    assert [e["event"] for e in after if e["event"]["type"] == "error"] == []
    assert "router: Thanks, Alex, you're verified. How can I help you today?" in finished.stdout.splitlines()
    assert finished.stdout.splitlines()[-1] == "support: You're welcome. Have a great day!"
    # The call and its output in the history tell the model the tool already ran, so it answers instead of calling again.
    report = json.loads((finished.session / "report.json").read_text(encoding="utf-8"))
    assert [call["name"] for call in report["tool_calls"]] == ["authenticate_user", "search_knowledge_base"]


def test_a_drop_after_a_ticket_was_opened_does_not_open_a_second_one(tmp_path: Path, e2e: Any) -> None:
    """The ticket call's response is complete when the socket drops; its call and output items, created
    on the new socket, tell the model the ticket is open."""
    lines = [*LINES[:2], "it still doesn't work", "thanks"]
    _, undisturbed = _talk(_fresh_project(tmp_path, "undisturbed", e2e), e2e, lines=lines)

    def ticket_call_done(index: int, event: dict[str, Any]) -> bool:
        if event["type"] != "response.done":
            return False
        return any(item.get("name") == "create_support_ticket" for item in event["response"]["output"])

    drop_after = _server_events_until(undisturbed, ticket_call_done)
    project = _fresh_project(tmp_path, "dropped", e2e)
    finished, entries = _talk(project, e2e, "--sim-drop-after", str(drop_after), lines=lines)
    _split_at_second_connection(entries)
    with sqlite3.connect(project / ".runner" / "techcorp.db") as connection:
        tickets = connection.execute("SELECT id, subject FROM tickets WHERE description = ?", ("it still doesn't work",)).fetchall()
    assert tickets == [("TKT-00003", "Wifi keeps disconnecting")]
    lines_out = finished.stdout.splitlines()
    assert "support: I've opened ticket TKT-00003 with high priority; expect a resolution within 1 business day." in lines_out
    assert lines_out[-1] == "support: You're welcome. Have a great day!"
