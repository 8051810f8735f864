"""Post-call analysis end to end: the example project on the offline simulator, a webhook on 127.0.0.1.

The conversation is real (text turns through the simulator's Realtime socket), the
analysis goes through the `openai` SDK to the simulator's REST side, and the webhook
is a small HTTP server in the test that checks the signature over the bytes it got.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from runner.sim.rest import Fault
from tests.analysis.calls import SECRET, Hook, call


def _signed(headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-runner-signature"], expected)


def test_a_finished_call_is_analysed_and_posted_signed_without_holding_up_its_end(tmp_path: Path) -> None:
    hook = Hook([200])
    conversation, host, _ = call(tmp_path, hook, hold=True)
    assert not host.after_calls
    analysis = json.loads((conversation.folder / "analysis.json").read_text())
    assert analysis["status"] == "completed" and analysis["error"] is None
    assert analysis["session_id"] == conversation.id
    assert analysis["structured_data"] == {"caller_name": "Alex", "phone": "(555) 123-4567", "team": "support"}
    assert analysis["success"] == {"type": "category", "value": "resolved", "rationale": "The transcript has 2 caller turns."}
    assert analysis["summary"].startswith('The caller said "Hi, I\'m Alex, my phone is (555) 123-4567". The last reply was from support: ')
    assert analysis["webhook"] == {"url": "${HOOK_URL}/calls", "signed": True, "delivered": True, "attempts": [{"status": 200, "error": None}], "error": None}
    [(headers, body)] = hook.requests
    assert headers["request-line"] == "POST /hooks/calls HTTP/1.1" and headers["content-type"] == "application/json"
    assert headers["x-runner-session"] == conversation.id and _signed(headers, body)
    assert json.loads(body) == {key: value for key, value in analysis.items() if key != "webhook"}
    report = json.loads((conversation.folder / "report.json").read_text())
    assert report["analysis"] == {"file": "analysis.json", "status": "completed", "error": None, "success": "resolved", "webhook": "delivered"}
    assert report["agents_visited"] == ["router", "support"]


def test_the_request_is_strict_structured_output_over_the_transcript(tmp_path: Path) -> None:
    conversation, _, requests = call(tmp_path, Hook([200]))
    [request] = [entry for entry in requests if entry.path == "/v1/responses" and entry.body["text"]["format"]["name"] == "call_analysis"]
    text_format = request.body["text"]["format"]
    assert (text_format["type"], text_format["name"], text_format["strict"]) == ("json_schema", "call_analysis", True)
    assert list(text_format["schema"]["properties"]) == ["summary", "structured_data", "success", "success_rationale"]
    assert text_format["schema"]["properties"]["success"] == {"type": "string", "enum": ["resolved", "escalated", "abandoned"], "description": "How did the call end?"}
    [message] = request.body["input"]
    lines = message["content"][0]["text"].splitlines()
    assert lines[:2] == ["router: Thanks for calling TechCorp. Who am I speaking with, and what's the phone number on your account?", "user: Hi, I'm Alex, my phone is (555) 123-4567"]
    assert lines[2].startswith("(tool authenticate_user → ")
    assert "(handoff router → support" in "\n".join(lines)
    assert request.body["store"] is False and request.body["model"] == "gpt-4.1-mini"
    analysis = json.loads((conversation.folder / "analysis.json").read_text())
    assert analysis["response_id"].startswith("resp_sim") and analysis["usage"]["output_tokens"] > 0


def test_a_failing_webhook_is_retried_then_recorded_and_the_analysis_kept(tmp_path: Path) -> None:
    hook = Hook([503, 502, 503])
    conversation, _, _ = call(tmp_path, hook, attempts=3)
    assert len(hook.requests) == 3 and all(_signed(headers, body) for headers, body in hook.requests)
    assert len({body for _, body in hook.requests}) == 1  # the same signed body each time
    waits = [later - earlier for earlier, later in zip(hook.times, hook.times[1:])]
    assert 0.5 <= waits[0] < 1.0 <= waits[1] < 2.0, waits  # backoff: 0.5 s, then doubled
    analysis = json.loads((conversation.folder / "analysis.json").read_text())
    assert analysis["status"] == "completed" and analysis["structured_data"]["phone"] == "(555) 123-4567"
    assert analysis["webhook"]["delivered"] is False
    assert analysis["webhook"]["attempts"] == [{"status": 503, "error": "HTTP 503"}, {"status": 502, "error": "HTTP 502"}, {"status": 503, "error": "HTTP 503"}]
    assert analysis["webhook"]["error"] == "not delivered after 3 attempts: HTTP 503"
    assert json.loads((conversation.folder / "report.json").read_text())["analysis"]["webhook"] == "failed"


def test_a_host_that_closes_before_delivery_cancels_it_and_says_so(tmp_path: Path) -> None:
    hook = Hook([200])
    conversation, host, _ = call(tmp_path, hook, grace=0.5)
    assert len(hook.requests) == 1 and not host.after_calls and conversation.analysis.cancelled()
    analysis = json.loads((conversation.folder / "analysis.json").read_text())
    assert analysis["status"] == "completed" and analysis["structured_data"]["caller_name"] == "Alex"
    assert analysis["webhook"] == {
        "url": "${HOOK_URL}/calls", "signed": None, "delivered": False, "attempts": [], "error": "cancelled before delivery finished (the host closed)"
    }
    assert json.loads((conversation.folder / "report.json").read_text())["analysis"]["webhook"] == "failed"


def test_a_failing_analysis_is_recorded_and_the_session_kept(tmp_path: Path) -> None:
    hook = Hook([200])
    conversation, _, _ = call(tmp_path, hook, fault=Fault(status=500))
    analysis = json.loads((conversation.folder / "analysis.json").read_text())
    assert (analysis["status"], analysis["error"]) == ("failed", "the Responses API answered HTTP 500: Simulated failure (HTTP 500).")
    assert analysis["summary"] is None and analysis["webhook"]["delivered"] is True
    assert json.loads(hook.requests[0][1])["status"] == "failed"
    report = json.loads((conversation.folder / "report.json").read_text())
    assert report["analysis"]["status"] == "failed" and report["end_reason"] == "session closed"
    assert "Alex" in (conversation.folder / "transcript.md").read_text()


def test_an_answer_that_breaks_the_schema_is_a_recorded_failure(tmp_path: Path) -> None:
    bad = json.dumps({"summary": "x", "structured_data": {"caller_name": "Alex"}, "success": "resolved", "success_rationale": "y"})
    conversation, _, _ = call(tmp_path, Hook([200]), fault=Fault(output_text=bad))
    analysis = json.loads((conversation.folder / "analysis.json").read_text())
    assert (analysis["status"], analysis["error"]) == ("failed", "the answer does not fit the schema at structured_data: 'phone' is a required property")


@pytest.fixture(autouse=True)
def _no_openai_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
