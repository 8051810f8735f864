"""`runner run agents.yaml --offline --text` through a whole conversation of the example project.

One subprocess per module walks authenticate → support → knowledge base → ticket → billing →
refund; each test checks one contract against what it left behind (wire log, artifacts,
database, console).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any


from runner.protocol import client_event_problems

AUDIO_EVENTS = {"input_audio_buffer.append"}


def logged(walk: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (walk.session / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def test_exits_zero_and_says_where_the_artifacts_are(walk: Any) -> None:
    assert walk.returncode == 0
    assert walk.stderr.splitlines()[-1] == f"runner: session ended (session closed); artifacts in {walk.session}"
    assert "Traceback" not in walk.stderr


def test_every_client_event_is_ga_valid_with_no_unknown_keys(walk: Any) -> None:
    events = [entry["event"] for entry in logged(walk) if entry["dir"] == "out"]
    assert len(events) > 20
    for event in events:
        if event["type"] not in AUDIO_EVENTS:
            assert client_event_problems(event) == [], event
        assert "OpenAI-Beta" not in json.dumps(event)


def test_one_response_create_per_model_round(walk: Any) -> None:
    """Responses strictly alternate create → done, the greeting is asked for once, and each round of a typed turn once."""
    in_flight = 0
    creates_per_turn: list[int] = [0]  # before the first typed turn: the router's greeting
    for entry in logged(walk):
        event = entry["event"]
        if entry["dir"] == "out" and event["type"] == "response.create":
            assert in_flight == 0, f"a second response.create at t={entry['t']} before the previous response.done"
            in_flight = 1
            creates_per_turn[-1] += 1
        elif entry["dir"] == "in" and event["type"] == "response.done":
            assert in_flight == 1, f"response.done at t={entry['t']} with no response requested"
            in_flight = 0
        elif entry["dir"] == "out" and event["type"] == "conversation.item.create" and event["item"].get("role") == "user":
            assert in_flight == 0, "a user turn was sent while a response was in flight"
            creates_per_turn.append(0)
    assert in_flight == 0
    # greeting: one; authenticate: call + answer; wifi: transfer + search + answer; still broken: ticket + answer;
    # refund: transfer + invoice + refund + answer; thanks: answer.
    assert creates_per_turn == [1, 2, 3, 2, 4, 1]
    server_errors = [entry["event"] for entry in logged(walk) if entry["dir"] == "in" and entry["event"]["type"] == "error"]
    assert server_errors == []


def test_handoff_sends_session_update_then_output_then_one_response_create(walk: Any) -> None:
    entries = logged(walk)
    transfers = [
        entry["event"]
        for entry in entries
        if entry["dir"] == "in" and entry["event"]["type"] == "response.function_call_arguments.done" and entry["event"]["name"].startswith("transfer_to_")
    ]
    assert [event["name"] for event in transfers] == ["transfer_to_support", "transfer_to_billing"]
    outgoing = [entry["event"] for entry in entries if entry["dir"] == "out"]
    for transfer, target in zip(transfers, ["support", "billing"]):
        output_at = next(
            index for index, event in enumerate(outgoing)
            if event["type"] == "conversation.item.create" and event["item"].get("call_id") == transfer["call_id"]
        )
        update, output, create = outgoing[output_at - 1 : output_at + 2]
        assert update["type"] == "session.update"
        assert f"{target} specialist" in update["session"]["instructions"]
        assert "voice" not in update["session"]["audio"]["output"]
        assert json.loads(output["item"]["output"]) == {"transferred_to": target}
        assert create["type"] == "response.create"
        assert f"Introduce yourself as {'technical support' if target == 'support' else 'billing'}" in create["response"]["instructions"]


def test_database_holds_the_ticket_and_the_refund(walk: Any) -> None:
    database = walk.session.parents[1] / "techcorp.db"
    with sqlite3.connect(database) as connection:
        tickets = connection.execute("SELECT id, customer_id, subject, priority, status FROM tickets WHERE description = ?", ("it still doesn't work",)).fetchall()
        refunds = connection.execute("SELECT id, customer_id, invoice_id, decision, refunded_cents FROM refunds").fetchall()
    assert tickets == [("TKT-00003", "CUST-1001", "Wifi keeps disconnecting", "high", "open")]
    assert refunds == [("RFD-00001", "CUST-1001", "INV-2001", "approved", 12999)]


def test_report_lists_agents_tools_handoffs_and_usage(walk: Any, e2e: Any) -> None:
    report = json.loads((walk.session / "report.json").read_text(encoding="utf-8"))
    assert report["agents_visited"] == ["router", "support", "billing"]
    assert report["final_agent"] == "billing"
    assert report["model"] == "gpt-realtime-2.1"
    assert report["config"]["name"] == "TechCorp customer service"
    assert len(report["config"]["sha256"]) == 64
    assert report["end_reason"] == "session closed" and report["reconnects"] == 0 and report["fatal_error"] is None
    calls = report["tool_calls"]
    assert [(call["agent"], call["name"]) for call in calls] == [
        ("router", "authenticate_user"),
        ("support", "search_knowledge_base"),
        ("support", "create_support_ticket"),
        ("billing", "lookup_invoice"),
        ("billing", "request_refund"),
    ]
    for call in calls:
        assert call["status"] == "done" and call["error"] is None
        assert 0 < call["duration"] < 10
    assert [(h["source"], h["target"], h["success"]) for h in report["handoffs"]] == [("router", "support", True), ("support", "billing", True)]
    assert report["handoff_counts"] == {"router->support": 1, "support->billing": 1}
    usage = report["usage"]
    assert usage["responses"] == 13  # the greeting and 12 for the typed turns
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert len(report["latency"]["turns"]) == len(e2e.CONVERSATION)


def test_transcripts_tell_the_conversation_in_order(walk: Any, e2e: Any) -> None:
    entries = e2e.read_jsonl(walk.session / "transcript.jsonl")
    assert [entry["text"] for entry in entries if entry["kind"] == "user"] == e2e.CONVERSATION
    story = [(entry["kind"], entry.get("agent") or entry.get("to") or entry.get("name")) for entry in entries if entry["kind"] != "user"]
    assert [step for step in story if step[0] != "tool_result"] == [
        ("assistant", "router"),  # the greeting
        ("assistant", "router"),
        ("handoff", "support"),
        ("assistant", "support"),
        ("assistant", "support"),
        ("handoff", "billing"),
        ("assistant", "billing"),
        ("assistant", "billing"),
    ]
    assert [entry["name"] for entry in entries if entry["kind"] == "tool_result"] == [
        "authenticate_user", "search_knowledge_base", "create_support_ticket", "lookup_invoice", "request_refund"
    ]
    markdown = (walk.session / "transcript.md").read_text(encoding="utf-8")
    assert markdown.startswith("# TechCorp customer service\n\nStarted ")
    expected_in_order = [
        f"**user:** {e2e.CONVERSATION[0]}",
        "> tool `authenticate_user` in ",
        "**router:** Thanks, Alex, you're verified. How can I help you today?",
        "> handoff router → support (my wifi keeps disconnecting)",
        "**billing:** Your refund request for INV-2001 was approved.",
        "**billing:** You're welcome. Have a great day!",
    ]
    positions = [markdown.index(line) for line in expected_in_order]
    assert positions == sorted(positions)
    assert "I've opened ticket TKT-00003 with high priority" in markdown


def test_api_key_never_reaches_an_artifact(walk: Any, e2e: Any) -> None:
    for path in sorted(walk.session.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert e2e.FAKE_API_KEY not in text, path.name
        assert "sk-offline-simulator" not in text, path.name
    assert e2e.FAKE_API_KEY not in walk.stdout + walk.stderr


def test_console_names_agents_and_shows_breadcrumbs(walk: Any, e2e: Any) -> None:
    lines = walk.stdout.splitlines()
    assert f"you: {e2e.CONVERSATION[0]}" in lines
    assert "router: Thanks, Alex, you're verified. How can I help you today?" in lines
    assert '  ↳ authenticate_user({"phone": "(555) 123-4567"})' in lines
    assert "  ⇢ handoff router → support (my wifi keeps disconnecting)" in lines
    assert "  ⇢ handoff support → billing (I want a refund for INV-2001)" in lines
    assert any(line.startswith("  ✓ create_support_ticket in ") for line in lines)
    assert any(line.startswith("support: I've opened ticket TKT-00003") for line in lines)
    assert "billing: You're welcome. Have a great day!" in lines
    assert walk.stderr.splitlines()[0] == "runner: talking to TechCorp customer service (router) on the offline simulator; end with Ctrl-D or Ctrl-C"
