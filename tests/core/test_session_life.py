"""Usage and cost, per-turn latency, the session limit, ending, and wiring errors."""

import pytest

from runner.config.model import Limits
from runner.core import EndSession, Output, Session
from runner.core.pricing import PRICES, Price

USAGE = {
    "total_tokens": 1500, "input_tokens": 1000, "output_tokens": 500,
    "input_token_details": {"text_tokens": 400, "audio_tokens": 600, "image_tokens": 0, "cached_tokens": 200,
                            "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 100, "image_tokens": 0}},
    "output_token_details": {"text_tokens": 100, "audio_tokens": 400},
}


def test_usage_is_summed_over_responses_and_priced_per_model(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.response_done("r1", usage=USAGE),
           server.response_created("r2"), server.response_done("r2", usage=USAGE), now=1.0)
    usage = s.usage
    assert (usage.responses, usage.input_tokens, usage.output_tokens, usage.total_tokens) == (2, 2000, 1000, 3000)
    assert (usage.text_in, usage.audio_in, usage.cached_text, usage.cached_audio, usage.text_out, usage.audio_out) == (800, 1200, 200, 200, 200, 800)
    # per response: 300 fresh text in at $4, 100 cached at $0.40, 100 text out at $24,
    # 500 fresh audio in at $32, 100 cached at $0.40, 400 audio out at $64 (per million)
    assert usage.cost == pytest.approx(2 * 45_280 / 1_000_000)


def test_each_response_done_records_the_running_totals(make_session, server, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed(server.response_created("r1"), server.response_done("r1", usage=USAGE))
    assert h.records(actions, "usage") == [{"model": "gpt-realtime-2", "responses": 1, "input_tokens": 1000,
                                            "output_tokens": 500, "total_tokens": 1500, "cost_usd": pytest.approx(0.04528)}]


def test_a_model_without_a_listed_price_has_no_cost(make_session, server, h):
    assert "gpt-realtime-9" not in PRICES
    s = make_session({"solo": h.agent("solo", model="gpt-realtime-9")}, "solo")
    s.start(0.0)
    s.feed(server.response_created("r1"), server.response_done("r1", usage=USAGE))
    assert s.usage.total_tokens == 1500 and s.usage.cost is None


def test_the_example_model_is_priced_as_published(make_session, server, h):
    """gpt-realtime-2.1's model page lists the same token prices as gpt-realtime-2."""
    assert PRICES["gpt-realtime-2.1"] == Price(4.00, 0.40, 24.00, 32.00, 0.40, 64.00, 5.00, 0.50)
    s = make_session({"solo": h.agent("solo", model="gpt-realtime-2.1")}, "solo")
    s.start(0.0)
    s.feed(server.response_created("r1"), server.response_done("r1", usage=USAGE))
    assert s.usage.cost == pytest.approx(45_280 / 1_000_000)


def test_turn_latency_runs_from_the_end_of_speech_to_the_first_audio(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.speech_started("u1"), now=1.0)
    s.feed(server.speech_stopped("u1"), now=2.0)
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), now=2.3)
    s.feed(server.call("r1", "c1", "authenticate_user"), server.response_done("r1"), now=2.4)
    s.tool_done("c1", "{}", error=None, duration=0.4, now=2.8)
    actions = s.feed(server.response_created("r2"), server.message_added("r2", "a2"), now=2.9)
    actions += s.feed(server.audio("r2", "a2", 40), now=3.1)
    latency = s.latencies[0]
    assert (latency.response_delay, latency.first_output_delay, latency.tool_seconds) == (pytest.approx(0.3), pytest.approx(1.1), 0.4)
    assert h.records(actions, "latency") == [{"turn": 1, "response_delay": pytest.approx(0.3), "first_output_delay": pytest.approx(1.1),
                                              "tool_seconds": 0.4, "interrupted": False}]


def test_an_interrupted_turn_is_flagged(make_session, server):
    s = make_session()
    s.start(0.0)
    s.user_text("hi", 1.0)
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.audio("r1", "a1", 500), now=1.2)
    s.interrupt(1.4)
    assert s.latencies[0].interrupted is True


def test_the_session_limit_says_goodbye_then_ends_after_it(make_session, server, h):
    s = make_session(limits=Limits(max_session_minutes=1))
    s.start(100.0)
    assert s.next_deadline() == 160.0
    assert s.tick(159.9) == []
    actions = s.tick(160.0)
    assert s.next_deadline() is None  # the goodbye is on its way
    assert h.records(actions, "notice") == [{"message": "session limit of 1 minutes reached"}]
    goodbye = h.sent(actions)
    assert [e["type"] for e in goodbye] == ["response.create"] and goodbye[0]["response"]["tool_choice"] == "none"
    assert s.tick(161.0) == []
    assert s.feed(*server.spoken_reply("r1", "a1", "Sorry, I have to go now. Goodbye!"), now=162.0)[-1] == EndSession("session_limit")
    assert s.ended


def test_end_waits_for_the_pending_reply_then_says_goodbye(make_session, server, h):
    s = make_session(audio=False)
    s.start(0.0)
    s.user_text("thanks", 1.0)
    s.feed(server.response_created("r1"), now=1.1)
    assert h.sent(s.end("stdin closed", 1.2)) == []
    assert h.sent_types(s.user_text("one more thing", 1.3)) == []
    assert h.sent_types(s.feed(server.response_done("r1"), now=1.5)) == ["response.create"]
    assert s.feed(*server.written_reply("r2", "a2", "Goodbye!"), now=2.0)[-1] == EndSession("stdin closed")


def test_a_second_end_ends_at_once(make_session):
    s = make_session()
    s.start(0.0)
    s.end("ctrl-c", 1.0)
    assert s.end("ctrl-c", 1.1) == [EndSession("ctrl-c")]


def test_tool_results_after_the_goodbye_was_asked_for_do_not_start_another_response(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), now=1.0)
    s.end("ctrl-c", 1.1)
    s.feed(server.response_done("r1"), now=1.2)  # the goodbye goes out here
    assert h.sent_types(s.tool_done("c1", "{}", error=None, duration=0.2, now=1.3)) == ["conversation.item.create"]


def test_a_spoken_user_turn_lands_in_the_transcript_with_its_transcript(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(server.speech_started("u1"), server.speech_stopped("u1"), server.user_item_added("u1"), now=1.0)
    s.feed(*server.spoken_reply("r1", "a1", "Hello!"), now=1.5)
    s.feed(server.transcription("u1", "Hi there"), now=1.6)
    user, assistant = s.transcript
    assert (user.role, user.text, user.status, user.item_id) == ("user", "Hi there", "done", "u1")
    assert (assistant.role, assistant.agent, assistant.text, assistant.status) == ("assistant", "router", "Hello!", "done")


def test_a_finished_playback_records_what_was_heard(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(*server.spoken_reply("r1", "a1", "Hello!", audio_ms=800), now=1.0)
    s.playback_finished("a1", 2.0)
    assert s.transcript[-1].heard_ms == 800


def test_wiring_mistakes_are_named(h):
    agents = h.team()
    with pytest.raises(ValueError, match="^start agent 'nobody' is not among the agents: router, support, billing$"):
        Session(agents, "nobody", guardrails={}, limits=Limits(), output=Output.AUDIO_LOCAL, session_id="x")
    with pytest.raises(ValueError, match="^agent 'router': guardrail policy 'brand' is not among the guardrails given$"):
        Session(h.team(router={"guardrails": ("brand",)}), "router", guardrails={}, limits=Limits(), output=Output.AUDIO_LOCAL, session_id="x")
    with pytest.raises(ValueError, match="^agent 'solo': transfer tool 'transfer_to_ghost' targets unknown agent 'ghost'$"):
        Session({"solo": h.agent("solo", transfers=("ghost",))}, "solo", guardrails={}, limits=Limits(), output=Output.AUDIO_LOCAL, session_id="x")
