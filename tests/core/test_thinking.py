"""The thinking sound's cue: on while a tool runs or a handoff is under way, off the moment audio arrives."""

from runner.config.model import Limits
from runner.core import Output, Play, RunTool
from runner.core.records import ThinkingStarted, ThinkingStopped


def cues(actions):
    """The cue records and the actions around them that matter here, in order."""
    return [type(a).__name__ for a in actions if isinstance(a, (ThinkingStarted, ThinkingStopped, Play, RunTool))]


def test_a_tool_call_starts_the_cue_and_the_replys_first_audio_stops_it_before_it_plays(make_session, server):
    s = make_session()
    s.start(0.0)
    s.user_text("My number is 555", 1.0)
    s.feed(server.response_created("r1"), now=1.1)
    dispatched = s.feed(server.call("r1", "c1", "authenticate_user"))
    assert cues(dispatched) == ["RunTool", "ThinkingStarted"]
    assert [a for a in dispatched if isinstance(a, ThinkingStarted)] == [ThinkingStarted("router")]
    assert cues(s.feed(server.response_done("r1"))) == []
    assert cues(s.tool_done("c1", "{}", error=None, duration=1.5, now=2.6)) == []  # still waiting for the reply's audio
    reply = s.feed(*server.spoken_reply("r2", "m2", "You're verified."), now=3.0)
    assert cues(reply) == ["ThinkingStopped", "Play"]
    assert s.state.playback.value == "playing"


def test_the_filler_stops_the_cue_and_it_resumes_when_the_filler_is_done_and_the_tool_still_runs(make_session, server):
    s = make_session(limits=Limits(filler_after=2.0))
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), server.response_done("r1"), now=1.0)
    s.tick(3.0)  # the filler is asked for
    filler = s.feed(server.response_created("r2"), server.message_added("r2", "m2"), server.audio("r2", "m2", 500), now=3.2)
    assert cues(filler) == ["ThinkingStopped", "Play"]
    assert cues(s.feed(server.message_done("r2", "m2"), server.response_done("r2"), now=3.3)) == ["ThinkingStarted"]
    s.tool_done("c1", "{}", error=None, duration=4.0, now=5.0)
    assert cues(s.feed(*server.spoken_reply("r3", "m3", "Done."), now=5.5)) == ["ThinkingStopped", "Play"]


def test_a_handoff_cues_the_thinking_sound_until_the_new_agent_speaks(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "transfer_to_billing", '{"reason": "a bill"}'), now=1.0)
    handed = s.feed(server.response_done("r1"))
    assert [type(a).__name__ for a in handed if type(a).__name__ in ("Handoff", "ThinkingStarted")] == ["Handoff", "ThinkingStarted"]
    assert [a for a in handed if isinstance(a, ThinkingStarted)] == [ThinkingStarted("billing")]
    assert cues(s.feed(*server.spoken_reply("r2", "m2", "Billing here."), now=2.0)) == ["ThinkingStopped", "Play"]


def test_a_reply_with_no_audio_and_nothing_owed_stops_the_cue(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), server.response_done("r1"), now=1.0)
    s.tool_done("c1", "{}", error=None, duration=0.5, now=1.5)
    s.feed(server.response_created("r2"), now=1.6)
    assert cues(s.feed(server.response_done("r2", "failed"), now=1.7)) == ["ThinkingStopped"]


def test_hanging_up_while_a_tool_runs_stops_the_cue(make_session, server):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), now=1.0)
    assert [type(a).__name__ for a in s.hang_up("bye", 1.5)] == ["ThinkingStopped", "EndSession"]


def test_no_cue_where_the_service_plays_the_audio_or_there_is_none(make_session, server):
    for output in (Output.AUDIO_REMOTE, Output.TEXT):
        s = make_session(output=output)
        s.start(0.0)
        actions = s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), server.response_done("r1"), now=1.0)
        actions += s.tool_done("c1", "{}", error=None, duration=2.0, now=3.0)
        assert not [a for a in actions if isinstance(a, (ThinkingStarted, ThinkingStopped))], output
