"""Audio the service plays (WebRTC, SIP): what the transcript says was heard, and guardrails that
stop speech already playing. The service truncates on barge-in itself and says so."""

from __future__ import annotations

from runner.config.model import Guardrail
from runner.core import AssistantMessage, Heard, Interrupted, Output

PROMISES = Guardrail(name="promises", kind="regex", action="block", hint="Do not guarantee outcomes.", check_every_chars=50)
REPLY = "Your refund of forty dollars is approved and will reach your card within five days."


def _event(kind: str, **fields) -> dict:
    return {"type": kind, "event_id": f"evt_{kind}", **fields}


def _entries(actions: list) -> list:
    return [a for a in actions if isinstance(a, (Heard, Interrupted))]


def _remote(make_session, h, **options):
    s = make_session(output=Output.AUDIO_REMOTE, **options)
    s.start(0.0)
    return s


def test_a_reply_the_service_played_out_is_written_once_heard_in_full(make_session, server, h):
    s = _remote(make_session, h)
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    done = s.feed(*server.spoken_reply("r1", "a1", REPLY, audio_ms=4000), now=1.1)
    assert [a.playing for a in done if isinstance(a, AssistantMessage)] == [True]  # the entry waits for the caller to hear it
    assert _entries(done) == []
    stopped = s.feed(_event("output_audio_buffer.stopped", response_id="r1"), now=5.1)
    assert _entries(stopped) == [Heard("router", "a1", REPLY, 4000)]


def test_a_barge_in_writes_only_what_the_service_says_was_heard(make_session, server, h):
    s = _remote(make_session, h)
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    s.feed(*server.spoken_reply("r1", "a1", REPLY, audio_ms=4000), now=1.1)
    cut = s.feed(server.speech_started("user_2"), now=2.0)
    assert h.steps(cut) == []  # the service cancels, clears and truncates itself: nothing of ours
    truncated = s.feed(_event("conversation.item.truncated", item_id="a1", content_index=0, audio_end_ms=1000), now=2.01)
    assert _entries(truncated) == [Interrupted("router", "a1", "Your refund of forty", 1000)]
    assert _entries(s.feed(_event("output_audio_buffer.cleared", response_id="r1"), now=2.02)) == []
    message = next(e for e in s.transcript if e.kind == "message" and e.item_id == "a1")
    assert (message.status, message.heard_ms, message.text) == ("interrupted", 1000, "Your refund of forty")


def test_a_cleared_reply_with_no_truncation_was_heard_to_its_end(make_session, server, h):
    s = _remote(make_session, h)
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    s.feed(*server.spoken_reply("r1", "a1", REPLY, audio_ms=4000), now=1.1)
    s.feed(server.speech_started("user_2"), _event("output_audio_buffer.cleared", response_id="r1"), now=5.2)
    settled = s.feed(server.speech_stopped("user_2"), server.response_created("r2"), now=6.0)
    assert _entries(settled) == [Heard("router", "a1", REPLY, 4000)]


def test_the_end_of_the_session_writes_the_reply_still_playing(make_session, server, h):
    s = _remote(make_session, h)
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    s.feed(*server.spoken_reply("r1", "a1", REPLY, audio_ms=4000), now=1.1)
    ended = s.hang_up("the caller hung up", 2.0)
    assert _entries(ended) == [Heard("router", "a1", REPLY, 4000)]
    assert h.steps(ended) == ["EndSession"]
    assert s.ended


def test_a_guardrail_trip_clears_the_speech_the_service_is_playing(make_session, server, h):
    s = _remote(make_session, h, agents=h.team(router={"guardrails": ("promises",)}), guardrails={"promises": PROMISES})
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    actions = s.feed(*server.spoken_reply("r1", "a1", "We guarantee it will work.", audio_ms=2000), now=1.1)
    tripped = s.guardrail_result(h.checks(actions)[0].check_id, tripped=True, category="promise", now=1.3)
    assert h.steps(tripped) == ["output_audio_buffer.clear", "conversation.item.create", "response.create"]
    truncated = s.feed(_event("conversation.item.truncated", item_id="a1", content_index=0, audio_end_ms=500), now=1.35)
    assert _entries(truncated) == [Interrupted("router", "a1", "We", 500)]


def test_a_guardrail_trip_mid_reply_cancels_before_it_clears(make_session, server, h):
    s = _remote(make_session, h, agents=h.team(router={"guardrails": ("promises",)}), guardrails={"promises": PROMISES})
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    actions = s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.audio("r1", "a1", 3000),
                     server.transcript_delta("r1", "a1", "We guarantee it. " * 4), now=1.1)
    tripped = s.guardrail_result(h.checks(actions)[0].check_id, tripped=True, now=1.2)
    assert h.steps(tripped)[:2] == ["response.cancel", "output_audio_buffer.clear"]


def test_over_webrtc_the_audio_is_media_so_a_cut_reply_keeps_its_text_and_says_how_long_it_was_heard(make_session, server, h):
    s = _remote(make_session, h)
    s.feed(server.session_updated(), _event("output_audio_buffer.started", response_id="r1"), now=1.0)
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.transcript_delta("r1", "a1", REPLY),
           server.transcript_done("r1", "a1", REPLY), server.response_done("r1"), now=1.1)
    s.feed(server.speech_started("user_2"), now=2.0)
    truncated = s.feed(_event("conversation.item.truncated", item_id="a1", content_index=0, audio_end_ms=900), now=2.01)
    assert _entries(truncated) == [Interrupted("router", "a1", REPLY, 900)]


def test_a_goodbye_the_service_is_still_playing_ends_the_session_once_it_stopped(make_session, server, h):
    s = _remote(make_session, h)
    s.feed(server.session_updated(), now=0.5)
    goodbye = h.sent(s.end("the caller said goodbye", 1.0))[-1]
    assert goodbye["type"] == "response.create"
    s.feed(server.response_created("r9"), _event("output_audio_buffer.started", response_id="r9"), server.message_added("r9", "a9"),
           server.transcript_delta("r9", "a9", "Goodbye!"), server.transcript_done("r9", "a9", "Goodbye!"), now=1.2)
    done = s.feed(server.response_done("r9"), now=1.3)
    assert "EndSession" not in h.steps(done) and not s.ended
    stopped = s.feed(_event("output_audio_buffer.stopped", response_id="r9"), now=2.4)
    assert h.steps(stopped) == ["EndSession"] and s.ended
