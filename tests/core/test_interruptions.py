"""Interrupted replies: counted as interrupted, recorded once, with only the text that was heard.

A spoken reply usually finishes streaming long before it finishes playing, so the cut
comes after `response.done`: the core must still count the turn as interrupted, and the
transcript entry for a spoken reply waits until playback says how much was heard.
"""

from runner.core import Record, heard_text

REPLY = "Thanks for calling. I can help you with your internet connection."  # 65 characters


def _reply_streamed_and_playing(s, server, *, audio_ms=2000):
    """A user turn, then its whole spoken reply received; playback has only begun."""
    s.feed(server.speech_started(), server.speech_stopped(), now=1.0)
    return s.feed(*server.spoken_reply("r1", "a1", REPLY, audio_ms=audio_ms), now=1.2)


def test_heard_text_keeps_the_whole_words_within_the_heard_share_of_the_audio():
    assert heard_text(REPLY, 1000, 2000) == "Thanks for calling. I can help"  # 32 of 65 characters end in "help y": cut back to "help"
    assert heard_text(REPLY, 1700, 2000) == "Thanks for calling. I can help you with your internet"
    assert heard_text(REPLY, 2000, 2000) == REPLY
    assert heard_text(REPLY, 2500, 2000) == REPLY
    assert heard_text(REPLY, 50, 2000) == ""  # not even the first word
    assert heard_text(REPLY, 0, 2000) == ""
    assert heard_text("", 500, 1000) == ""
    assert heard_text(REPLY, 500, 0) == ""


def test_a_barge_in_after_the_reply_finished_streaming_marks_its_turn_interrupted(make_session, server, h):
    s = make_session()
    s.start(0.0)
    streamed = _reply_streamed_and_playing(s, server)
    assert h.records(streamed, "assistant") == [{"agent": "router", "item_id": "a1", "text": REPLY, "heard_ms": None}]  # the entry waits for playback
    assert h.steps(s.feed(server.speech_started("user_2"), now=2.2)) == ["StopPlayback"]
    cut = s.playback_stopped("a1", 1000, 2.21)
    assert h.sent_types(cut) == ["conversation.item.truncate"]
    assert h.records(cut, "interrupted") == [{"agent": "router", "item_id": "a1", "text": "Thanks for calling. I can help", "heard_ms": 1000}]
    assert [turn.interrupted for turn in s.latencies] == [True]
    message = s.transcript[-1]
    assert (message.status, message.text, message.heard_ms) == ("interrupted", "Thanks for calling. I can help", 1000)


def test_ctrl_c_during_a_reply_that_finished_streaming_marks_its_turn_interrupted(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _reply_streamed_and_playing(s, server)
    assert h.steps(s.interrupt(2.0)) == ["StopPlayback"]
    cut = s.playback_stopped("a1", 1700, 2.01)
    assert h.records(cut, "interrupted") == [{"agent": "router", "item_id": "a1", "text": "Thanks for calling. I can help you with your internet", "heard_ms": 1700}]
    assert [turn.interrupted for turn in s.latencies] == [True]


def test_a_reply_heard_to_the_end_is_recorded_once_playback_finishes_and_counts_as_answered(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _reply_streamed_and_playing(s, server)
    finished = s.playback_finished("a1", 3.3)
    heard = ("heard", {"agent": "router", "item_id": "a1", "text": REPLY, "heard_ms": 2000})
    assert [(a.kind, a.data) for a in finished if isinstance(a, Record)] == [heard, ("agent_stopped_speaking", {})]
    assert h.steps(s.feed(server.speech_started("user_2"), now=4.0)) == []
    assert [turn.interrupted for turn in s.latencies] == [False]


def test_a_stop_after_the_whole_reply_was_heard_records_it_as_heard(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _reply_streamed_and_playing(s, server)
    s.feed(server.speech_started("user_2"), now=3.29)
    stopped = s.playback_stopped("a1", 2000, 3.3)
    heard = ("heard", {"agent": "router", "item_id": "a1", "text": REPLY, "heard_ms": 2000})
    assert [(a.kind, a.data) for a in stopped if isinstance(a, Record)] == [("agent_stopped_speaking", {}), heard]
    assert [turn.interrupted for turn in s.latencies] == [False]


def test_a_reply_cut_while_streaming_is_recorded_once_with_the_heard_share_of_what_had_arrived(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.speech_started(), server.speech_stopped(), now=1.0)
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.audio("r1", "a1", 1000),
           server.transcript_delta("r1", "a1", "Thanks for calling. I can help"), now=1.2)
    s.feed(server.speech_started("user_2"), now=1.6)
    cut = s.playback_stopped("a1", 500, 1.61)
    late = s.feed(server.transcript_done("r1", "a1", "Thanks for calling. I can help"), server.response_done("r1", "cancelled", reason="turn_detected"), now=1.7)
    records = [(a.kind, a.data) for a in cut + late if isinstance(a, Record) and a.kind in ("assistant", "heard", "interrupted")]
    assert records == [("interrupted", {"agent": "router", "item_id": "a1", "text": "Thanks for", "heard_ms": 500})]
    assert [turn.interrupted for turn in s.latencies] == [True]


def test_a_text_reply_is_recorded_at_once(make_session, server, h):
    s = make_session(h.team(router={"text_mode": True}), audio=False)
    s.start(0.0)
    s.user_text("hi", 0.5)
    done = s.feed(*server.written_reply("r1", "a1", "Hello there."), now=1.0)
    assert h.records(done, "assistant") == [{"agent": "router", "item_id": "a1", "text": "Hello there."}]
