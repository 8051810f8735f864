"""Voice mode (a fake speaker records stops) and handoffs: the cut, the truncate, whose policies apply."""

from __future__ import annotations

import asyncio

from runner.sim.rest import Fault
from tests.guardrails_e2e.sessions import COMPETITORS, IDLE_TIMEOUT, PROMISES, run_session, turn
from tests.waits import wait_until

# about 36 words: 15 s of simulated speech, streamed at 5x real time, so it is still
# streaming when the check on its first 100 characters comes back
LONG_SPOKEN = (
    "Thanks for asking about the X1 laptop today. It is light, it lasts a full working day, "
    "and unlike the Globex Pro it has a backlit keyboard and a bright screen that works well outdoors, "
    "plus a three year warranty and free delivery."
)
CORRECTED = "The X1 is light and lasts all day."


def test_a_trip_while_audio_plays_stops_playback_cancels_truncates_at_what_was_heard_and_corrects(project):
    config = project([{**COMPETITORS, "check_every_chars": 40}])

    async def body(live, sim):
        sim.script([{"say": LONG_SPOKEN}, {"say": CORRECTED}])
        await turn(live, "tell me about the X1")

    run = run_session(config, body, text=False, audio_pace=5.0)
    assert run.sent_types() == [
        "session.update", "conversation.item.create", "response.create",
        "response.cancel", "conversation.item.truncate", "conversation.item.create", "response.create",
    ]
    [(stopped_item, played_ms, _)] = run.audio.stops
    cut = run.message(LONG_SPOKEN[:30])
    assert stopped_item == cut.item_id
    truncate = run.sent[4]
    assert truncate == {"type": "conversation.item.truncate", "item_id": cut.item_id, "content_index": 0, "audio_end_ms": played_ms}
    assert 0 < played_ms < run.audio.queued_ms[cut.item_id]
    assert (cut.status, cut.heard_ms, cut.blocked_by) == ("interrupted", played_ms, "competitor_mentions")
    assert "Globex" not in run.sent[5]["item"]["content"][0]["text"]  # the correction names the policy, not the word
    cancelled = [e for e in run.simulator_received if e["type"] == "response.cancel"]
    assert len(cancelled) == 1
    [trip] = run.records_of("guardrail")
    assert trip["final"] is False and "Globex" in trip["text"]


def test_a_late_verdict_for_a_reply_the_user_already_interrupted_is_dropped(project):
    brand = {"name": "brand_voice", "kind": "classifier", "checks": ["assistant"], "global": True, "timeout": 10,
             "categories": ["OFF_BRAND", "NONE"], "instructions": "Talk only about TechCorp."}
    config = project([brand])
    clean = LONG_SPOKEN.replace("the Globex Pro", "last year's model")

    async def body(live, sim):
        # the classifications in flight now answer OFF_BRAND, half a second late
        sim.rest.set_fault("responses", Fault(delay=0.5, output_text='{"category": "OFF_BRAND", "rationale": "off brand"}'))
        sim.script([{"say": clean}, {"say": "Sure, prices start at 900 dollars."}])
        await live.driver.say("tell me about the X1")
        await asyncio.to_thread(wait_until, lambda: sim.rest.requests, IDLE_TIMEOUT, "the first streaming check at the REST simulator")
        sim.rest.set_fault("responses", None)  # later checks pass
        live.driver.apply(live.core.interrupt(live.driver.now()))  # the caller cuts in: that reply's checks are stale
        await live.driver.say("actually, what about prices?")

    run = run_session(config, body, text=False, audio_pace=5.0)
    assert run.records_of("guardrail") == []
    assert run.sent_types() == [
        "session.update", "conversation.item.create", "response.create",
        "response.cancel", "conversation.item.truncate",  # the barge-in's own cut
        "conversation.item.create", "response.create",  # the new turn; no correction
    ]
    assert [r["text"] for r in run.records_of("assistant")] == ["Sure, prices start at 900 dollars."]


def test_policies_of_the_new_agent_apply_after_a_handoff_and_can_trip_right_away(project):
    config = project([{**PROMISES, "global": False}], sales=("unauthorised_promises",))

    async def body(live, sim):
        sim.script([
            {"say": "We guarantee a fast answer."},  # the router has no policy: passes
            {"call": {"name": "transfer_to_sales", "args": {"reason": "wants to buy"}}},
            {"say": "Sales here: we guarantee the lowest price."},  # the first words of sales trip
            {"say": "Sales here: prices depend on the model; which one interests you?"},
        ])
        await turn(live, "hello")
        await turn(live, "I want to buy a laptop")

    run = run_session(config, body)
    [trip] = run.records_of("guardrail")
    assert (trip["policy"], trip["text"]) == ("unauthorised_promises", "Sales here: we guarantee the lowest price.")
    assert run.report()["guardrail_trips"][0]["agent"] == "sales"
    assert [(h["from"], h["to"], h["success"]) for h in run.records_of("handoff")] == [("router", "sales", True)]
    types = run.sent_types()
    assert types[-2:] == ["conversation.item.create", "response.create"]
    assert [r["text"] for r in run.records_of("assistant")][-1].startswith("Sales here: prices depend")
