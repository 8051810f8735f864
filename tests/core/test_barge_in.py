"""Barge-in and push-to-talk: stop playback, truncate to what was heard, cancel when needed."""

from runner.core import Play, StopPlayback

PCM_BYTES_PER_MS = 48  # PCM16 at 24 kHz


def _speaking(s, server, *, audio_ms=1000, text="Let me look that up for you and", done=False):
    """The agent is mid-reply: `audio_ms` of audio received, some of it playing."""
    events = [server.response_created("r1"), server.message_added("r1", "a1"), server.audio("r1", "a1", audio_ms),
              server.transcript_delta("r1", "a1", text)]
    if done:
        events += [server.transcript_done("r1", "a1", text), server.message_done("r1", "a1"), server.response_done("r1")]
    return s.feed(*events, now=1.0)


def test_audio_deltas_are_played(make_session, server):
    s = make_session()
    s.start(0.0)
    actions = _speaking(s, server, audio_ms=20)
    assert [type(a) for a in actions if isinstance(a, Play)] == [Play]
    assert [a.item_id for a in actions if isinstance(a, Play)] == ["a1"]


def test_partial_playback_truncates_at_the_exact_ms_and_keeps_the_heard_part_of_the_text(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _speaking(s, server, audio_ms=1000)
    stop = s.feed(server.speech_started(), now=1.5)
    assert h.steps(stop) == ["StopPlayback"]  # the server cancels the response itself
    assert stop[0] == StopPlayback("barge_in")
    actions = s.playback_stopped("a1", 420, 1.51)
    assert h.sent(actions) == [{"type": "conversation.item.truncate", "item_id": "a1", "content_index": 0, "audio_end_ms": 420, "event_id": "evt_s1_2"}]
    # 420 of 1000 ms: 13 of the 31 characters end inside "that", which was not heard whole
    assert h.records(actions, "interrupted") == [{"agent": "router", "item_id": "a1", "text": "Let me look", "heard_ms": 420}]
    message = s.transcript[-1]
    assert (message.status, message.heard_ms, message.text) == ("interrupted", 420, "Let me look")


def test_nothing_played_means_no_truncate(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _speaking(s, server)
    s.feed(server.speech_started(), now=1.5)
    assert h.sent(s.playback_stopped(None, 0, 1.51)) == []
    assert s.transcript[-1].heard_ms == 0


def test_everything_played_means_no_truncate(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _speaking(s, server, audio_ms=1000, done=True)
    s.feed(server.speech_started(), now=3.0)
    actions = s.playback_stopped("a1", 1000, 3.01)
    assert h.sent(actions) == []
    assert (s.transcript[-1].status, s.transcript[-1].heard_ms) == ("done", 1000)


def test_played_beyond_received_is_clamped_and_not_truncated(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _speaking(s, server, audio_ms=1000, done=True)
    s.feed(server.speech_started(), now=3.0)
    assert h.sent(s.playback_stopped("a1", 1040, 3.01)) == []
    assert s.transcript[-1].heard_ms == 1000


def test_client_cancels_when_the_server_will_not(make_session, server, h):
    agents = h.team(router={"turn_detection": {"type": "server_vad", "create_response": True, "interrupt_response": False}})
    s = make_session(agents)
    s.start(0.0)
    _speaking(s, server)
    actions = s.feed(server.speech_started(), now=1.5)
    assert h.steps(actions) == ["StopPlayback", "response.cancel"]
    assert h.sent(actions)[0]["response_id"] == "r1"
    assert h.sent_types(s.playback_stopped("a1", 300, 1.51)) == ["conversation.item.truncate"]


def test_no_cancel_once_the_response_is_done_even_if_audio_still_plays(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _speaking(s, server, done=True)
    assert h.steps(s.interrupt(2.0)) == ["StopPlayback"]
    assert h.sent_types(s.playback_stopped("a1", 500, 2.01)) == ["conversation.item.truncate"]


def test_audio_of_a_cut_response_still_in_flight_is_not_played(make_session, server):
    s = make_session()
    s.start(0.0)
    _speaking(s, server)
    s.feed(server.speech_started(), now=1.5)
    late = s.feed(server.audio("r1", "a1", 100), server.transcript_delta("r1", "a1", " more words"), now=1.52)
    assert late == []
    s.playback_stopped("a1", 400, 1.53)
    assert s.transcript[-1].text == "Let me look"  # the late words are dropped, then cut to what was heard
    s.feed(server.response_done("r1", "cancelled", reason="turn_detected"), now=1.6)
    assert s.transcript[-1].status == "interrupted"


def test_speech_while_nothing_plays_does_nothing(make_session, server, h):
    s = make_session()
    s.start(0.0)
    assert h.steps(s.feed(server.speech_started(), now=1.0)) == []


def test_push_to_talk_press_stops_playback_cancels_and_clears_the_buffer(make_session, server, h):
    s = make_session(h.team(router={"turn_detection": {}}))
    s.start(0.0)
    _speaking(s, server)
    actions = s.begin_user_turn(1.5)
    assert h.steps(actions) == ["StopPlayback", "response.cancel", "input_audio_buffer.clear"]
    assert h.sent_types(s.playback_stopped("a1", 250, 1.51)) == ["conversation.item.truncate"]


def test_push_to_talk_release_commits_and_asks_for_a_reply(make_session, h):
    s = make_session(h.team(router={"turn_detection": {}}))
    s.start(0.0)
    s.begin_user_turn(1.0)
    for _ in range(16):
        s.user_audio(bytes(40 * PCM_BYTES_PER_MS), 1.1)  # 16 blocks of 40 ms
    assert h.sent_types(s.commit_user_turn(1.7)) == ["input_audio_buffer.commit", "response.create"]


def test_push_to_talk_release_under_100_ms_sends_nothing_and_hints(make_session, h):
    s = make_session(h.team(router={"turn_detection": {}}))
    s.start(0.0)
    s.user_audio(bytes(200 * PCM_BYTES_PER_MS), 0.5)  # before the press: not part of the turn
    s.begin_user_turn(1.0)
    s.user_audio(bytes(60 * PCM_BYTES_PER_MS), 1.06)
    actions = s.commit_user_turn(1.06)
    assert h.sent(actions) == []
    assert h.records(actions, "notice") == [{"message": "turn too short (60 ms): hold the key while you speak, at least 100 ms"}]


def test_text_mode_plays_nothing_and_an_interrupt_only_cancels(make_session, server, h):
    s = make_session(h.team(router={"text_mode": True}), audio=False)
    s.start(0.0)
    s.user_text("hi", 0.5)
    actions = s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.text_delta("r1", "a1", "Hello"), now=1.0)
    assert h.steps(actions) == []
    assert h.records(actions, "assistant_delta") == [{"agent": "router", "item_id": "a1", "delta": "Hello"}]
    interrupted = s.interrupt(1.1)
    assert h.steps(interrupted) == ["response.cancel"]
    assert h.records(interrupted, "interrupted") == [{"agent": "router", "item_id": "a1", "text": "Hello", "heard_ms": None}]
    assert s.transcript[-1].status == "interrupted"


def test_a_cancel_that_arrives_after_the_response_finished_is_not_an_error(make_session, server, h):
    agents = h.team(router={"turn_detection": {"type": "server_vad", "create_response": True, "interrupt_response": False}})
    s = make_session(agents)
    s.start(0.0)
    _speaking(s, server)
    cancel = h.sent(s.feed(server.speech_started(), now=1.5))[0]
    s.playback_stopped("a1", 300, 1.51)
    s.feed(server.response_done("r1"), now=1.52)  # the server finished before our cancel arrived
    late = s.feed(server.error("response_cancel_not_active", "Cancellation failed: no active response found", event_id=cancel["event_id"]), now=1.53)
    assert late == []
    assert not [entry for entry in s.transcript if getattr(entry, "kind", None) == "error"]


def test_an_error_about_some_other_event_is_still_recorded(make_session, server, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed(server.error("invalid_value", "bad value", event_id="evt_elsewhere"), now=1.0)
    assert h.records(actions, "error") == [{"code": "invalid_value", "message": "bad value", "fatal": False}]
