"""The named states of the core (connection, response, user turn, playback), the records their
transitions report, and the two audio outputs: played by us, or by the service (WebRTC, SIP)."""

from __future__ import annotations

from runner.core import (
    AgentStartedSpeaking, AgentStoppedSpeaking, AudioComplete, Connection, ConnectionLost, ConnectionRestored, Output, Play, Playback,
    Record, ResponsePhase, States, UserStartedSpeaking, UserStoppedSpeaking, UserTurn,
)


def _records(actions: list) -> list[Record]:
    return [action for action in actions if isinstance(action, Record) and action.kind not in ("assistant", "assistant_delta", "usage", "latency")]


def test_a_voice_turn_walks_the_user_response_and_playback_states(make_session, server):
    s = make_session()
    s.start(0.0)
    assert s.state == States(Connection.CONNECTING, ResponsePhase.IDLE, UserTurn.IDLE, Playback.SILENT)
    s.feed(server.session_updated())
    assert _records(s.feed(server.speech_started(), now=1.0)) == [UserStartedSpeaking()]
    assert s.state.user is UserTurn.SPEAKING
    assert _records(s.feed(server.speech_stopped(), now=2.0)) == [UserStoppedSpeaking()]
    assert (s.state.user, s.busy) == (UserTurn.AWAITING_REPLY, False)  # the server's VAD creates the reply
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), now=2.1)
    assert (s.state.user, s.state.response) == (UserTurn.IDLE, ResponsePhase.ACTIVE)
    playing = s.feed(server.audio("r1", "a1", 500))
    assert [type(a) for a in playing if not isinstance(a, Record) or isinstance(a, AgentStartedSpeaking)] == [AgentStartedSpeaking, Play]
    assert s.state.playback is Playback.PLAYING
    assert s.feed(server.audio("r1", "a1", 500))[-1] == Play("a1", server.audio("r1", "a1", 500)["delta"])
    done = s.feed({"type": "response.output_audio.done", "event_id": "e1", "response_id": "r1", "item_id": "a1", "output_index": 0, "content_index": 0})
    assert done == [AudioComplete("a1")]
    s.feed(server.response_done("r1"), now=2.5)
    assert s.state.response is ResponsePhase.IDLE and s.state.playback is Playback.PLAYING
    assert _records(s.playback_finished("a1", 3.1)) == [AgentStoppedSpeaking()]
    assert s.state == States(Connection.LIVE, ResponsePhase.IDLE, UserTurn.IDLE, Playback.SILENT)


def test_a_barge_in_stops_playback_through_the_stopping_state(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(server.session_updated(), server.response_created("r1"), server.message_added("r1", "a1"), server.audio("r1", "a1", 1000))
    s.feed(server.speech_started(), now=1.0)
    assert (s.state.playback, s.state.user, s.busy) == (Playback.STOPPING, UserTurn.SPEAKING, True)
    assert _records(s.playback_stopped("a1", 400, 1.01))[0] == AgentStoppedSpeaking()
    assert s.state.playback is Playback.SILENT


def test_the_connection_state_is_the_cores_and_is_reported_as_records(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(server.session_updated())
    assert s.connection_lost("reset by peer", 5.0) == [ConnectionLost("connection lost (reset by peer); reconnecting")]
    assert s.state.connection is Connection.RECONNECTING
    assert [a for a in s.reconnected(6.0) if isinstance(a, Record)] == [ConnectionRestored("reconnected: session re-sent, 0 history items re-seeded")]
    assert s.state.connection is Connection.LIVE
    s.end("ctrl-c", 7.0)
    s.end("ctrl-c", 7.1)
    assert s.state.connection is Connection.CLOSED


def test_audio_the_service_plays_is_neither_played_nor_truncated_by_us(make_session, server, h):
    s = make_session(output=Output.AUDIO_REMOTE)
    s.start(0.0)
    s.feed(server.session_updated(), server.speech_started(), server.speech_stopped(), now=1.0)
    reply = s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.audio("r1", "a1", 1000),
                   server.transcript_delta("r1", "a1", "Hello there"), now=1.2)
    assert not [a for a in reply if isinstance(a, Play)]
    started = s.feed({"type": "output_audio_buffer.started", "event_id": "e1", "response_id": "r1"}, now=1.5)
    assert _records(started) == [AgentStartedSpeaking(None)]
    assert h.records(started, "latency")[0]["first_output_delay"] == 0.5  # heard by the caller when the service starts playing
    assert s.state.playback is Playback.PLAYING
    cut = s.feed(server.speech_started("user_2"), now=1.8)
    assert h.steps(cut) == []  # the service cancels, clears its buffer and truncates the item itself
    cleared = s.feed({"type": "output_audio_buffer.cleared", "event_id": "e2", "response_id": "r1"}, now=1.81)
    assert _records(cleared) == [AgentStoppedSpeaking()]
    s.feed(server.response_done("r1", "cancelled"), now=1.9)
    assert not s.busy and s.state.playback is Playback.SILENT


def test_mic_audio_goes_in_through_the_core_and_stops_once_it_ended(make_session, server, h):
    s = make_session()
    s.start(0.0)
    appended = s.user_audio(b"\x01\x00\x02\x00", 1.0)
    assert h.sent(appended) == [{"type": "input_audio_buffer.append", "audio": "AQACAA==", "event_id": "evt_s1_2"}]
    s.end("done", 2.0)
    s.end("done", 2.1)
    assert s.user_audio(b"\x01\x00", 2.2) == []
