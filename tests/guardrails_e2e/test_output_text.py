"""Output guardrails in text mode: scripted replies that trip and pass, and what a trip leaves behind."""

from __future__ import annotations

from runner.core.guarding import CLOSING_INSTRUCTIONS
from tests.guardrails_e2e.sessions import COMPETITORS, PROMISES, run_session, turn

LONG_WITH_COMPETITOR = (
    "Our X1 laptop has a fourteen inch screen, a full day of battery and a backlit keyboard, "
    "and unlike the Globex Pro it weighs barely a kilo, so it travels well; it also comes in "
    "silver and graphite, with sixteen or thirty-two gigabytes of memory and a three year warranty."
)
SHORT_PROMISE = "We guarantee it will work."  # under 100 characters: only the final check sees it
CORRECTED = "The X1 is light and lasts all day; I can check stock for you."
CORRECTION_FOR_COMPETITORS = (
    'Your last reply was stopped by the "competitor_mentions" policy. Do not name or compare other companies. '
    "Answer the user again, within the policy."
)


def after_optional_cancel(types: list[str]) -> list[str]:
    """The client events without the trip's `response.cancel`, checking where it stood.

    Whether the reply was still streaming when the verdict came back depends on timing:
    if it was, the cancel is sent, and it must come right after the user turn, before the
    correction; if it was not, nothing was left to cancel.
    """
    if "response.cancel" in types:
        assert types.index("response.cancel") == 3 and types.count("response.cancel") == 1, types
    return [kind for kind in types if kind != "response.cancel"]


def test_a_short_reply_is_caught_by_the_final_check_and_corrected(project):
    config = project([COMPETITORS, PROMISES])

    async def body(live, sim):
        sim.script([{"say": SHORT_PROMISE}, {"say": CORRECTED}])
        await turn(live, "will the X1 work with my dock?")

    run = run_session(config, body)
    assert after_optional_cancel(run.sent_types()) == [
        "session.update", "conversation.item.create", "response.create",  # the user turn
        "conversation.item.create", "response.create",  # text mode: no truncate
    ]
    correction = run.sent[-2]["item"]
    assert correction == {"type": "message", "role": "system", "content": [{"type": "input_text", "text": (
        'Your last reply was stopped by the "unauthorised_promises" policy. Do not guarantee outcomes. '
        "Answer the user again, within the policy."
    )}]}
    [trip] = run.records_of("guardrail")
    assert trip == {
        "policy": "unauthorised_promises", "action": "block", "role": "assistant", "category": "promise",
        "rationale": 'matched "guarantee"', "text": SHORT_PROMISE, "final": True, "error": None,
    }
    assert run.message(SHORT_PROMISE).blocked_by == "unauthorised_promises"
    assert [r["text"] for r in run.records_of("assistant")] == [SHORT_PROMISE, CORRECTED]


def test_a_competitor_in_the_middle_of_a_long_reply_trips_a_streaming_check(project):
    config = project([COMPETITORS])

    async def body(live, sim):
        sim.script([{"say": LONG_WITH_COMPETITOR}, {"say": CORRECTED}])
        await turn(live, "tell me about the X1")

    run = run_session(config, body)
    [trip] = run.records_of("guardrail")
    assert (trip["policy"], trip["category"], trip["rationale"], trip["final"]) == ("competitor_mentions", "competitor", 'matched "Globex"', False)
    assert "Globex" in trip["text"] and len(trip["text"]) >= 100 and LONG_WITH_COMPETITOR.startswith(trip["text"])
    assert after_optional_cancel(run.sent_types())[3:] == ["conversation.item.create", "response.create"]
    assert run.sent[-2]["item"]["content"][0]["text"] == CORRECTION_FOR_COMPETITORS
    assert run.message(LONG_WITH_COMPETITOR[:40]).blocked_by == "competitor_mentions"


def test_percent_promises_trip_and_a_bare_number_does_not(project):
    config = project([PROMISES])

    async def body(live, sim):
        sim.script([{"say": "It works 100% of the time."}, {"say": CORRECTED}, {"say": "Section 100 of the warranty terms covers it."}])
        await turn(live, "does it work?")
        await turn(live, "where are the warranty terms?")

    run = run_session(config, body)
    trips = run.records_of("guardrail")
    assert [(t["category"], t["rationale"]) for t in trips] == [("promise", 'matched "100%"')]
    assert [r["text"] for r in run.records_of("assistant")] == ["It works 100% of the time.", CORRECTED, "Section 100 of the warranty terms covers it."]


def test_replies_within_policy_pass_untouched(project):
    config = project([COMPETITORS, PROMISES])
    clean = "The X1 is our lightest laptop. " * 6  # long: several streaming checks, all passing

    async def body(live, sim):
        sim.script([{"say": clean}, {"say": "Anything else?"}])
        await turn(live, "tell me about the X1")
        await turn(live, "thanks")

    run = run_session(config, body)
    assert run.records_of("guardrail") == []
    assert run.sent_types() == ["session.update", "conversation.item.create", "response.create", "conversation.item.create", "response.create"]
    assert [r["text"] for r in run.records_of("assistant")] == [clean, "Anything else?"]


def test_a_trip_is_in_the_transcript_the_event_log_and_the_report(project):
    config = project([PROMISES])

    async def body(live, sim):
        sim.script([{"say": SHORT_PROMISE}, {"say": CORRECTED}])
        await turn(live, "will it work?")

    run = run_session(config, body)
    transcript = run.artifact_lines("transcript.jsonl")
    kinds = [entry["kind"] for entry in transcript]
    assert kinds == ["user", "assistant", "guardrail", "assistant"]
    assert transcript[2]["policy"] == "unauthorised_promises" and transcript[2]["text"] == SHORT_PROMISE
    markdown = (run.folder / "transcript.md").read_text()
    assert "> guardrail `unauthorised_promises` block [promise]" in markdown
    events = [line["event"] for line in run.artifact_lines("events.jsonl") if line["dir"] == "out"]
    correction = next(e for e in events if e["type"] == "conversation.item.create" and e["item"]["role"] == "system")
    assert "unauthorised_promises" in correction["item"]["content"][0]["text"]
    assert run.report()["guardrail_trips"] == [{
        "policy": "unauthorised_promises", "agent": "router", "action": "block", "role": "assistant", "category": "promise",
        "rationale": 'matched "guarantee"', "text": SHORT_PROMISE, "final": True, "error": None,
    }]


def test_action_log_marks_the_reply_and_changes_nothing(project):
    config = project([{**PROMISES, "action": "log"}])

    async def body(live, sim):
        sim.script([{"say": SHORT_PROMISE}])
        await turn(live, "will it work?")

    run = run_session(config, body)
    assert [(t["policy"], t["action"]) for t in run.records_of("guardrail")] == [("unauthorised_promises", "log")]
    assert run.sent_types() == ["session.update", "conversation.item.create", "response.create"]
    assert run.message(SHORT_PROMISE).blocked_by is None


def test_action_end_session_says_a_closing_line_and_ends(project):
    config = project([{**PROMISES, "action": "end_session"}])

    async def body(live, sim):
        sim.script([{"say": SHORT_PROMISE}])
        await turn(live, "will it work?")
        await live.driver.wait_ended()

    run = run_session(config, body)
    assert after_optional_cancel(run.sent_types()) == ["session.update", "conversation.item.create", "response.create", "response.create"]
    assert run.sent[-1]["response"] == {"instructions": CLOSING_INSTRUCTIONS, "tool_choice": "none"}
    assert run.outcome.reason == "guardrail unauthorised_promises"
    assert [r["text"] for r in run.records_of("assistant")][0] == SHORT_PROMISE
    assert len(run.records_of("assistant")) == 2  # the blocked reply, then the closing line
