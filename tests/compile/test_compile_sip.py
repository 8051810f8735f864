"""The SIP profile: no audio formats (the carrier negotiates G.711), none of the VAD knobs the service refuses on SIP."""

from __future__ import annotations

from dataclasses import replace

from runner.compile import compile_config, session_update_event
from runner.config.model import SessionSettings, TurnDetection
from runner.protocol import client_event_problems


def _server_vad_config(make_config):
    config = make_config()
    turn = TurnDetection(type="server_vad", threshold=0.6, prefix_padding_ms=300, silence_duration_ms=700, idle_timeout_ms=6000)
    return replace(config, session=SessionSettings(turn_detection=turn, input_format="audio/pcmu", output_format="audio/pcmu"))


def test_sip_sessions_have_no_audio_format_and_no_refused_vad_knobs(make_config):
    compiled = compile_config(_server_vad_config(make_config), channel="sip")
    for agent in compiled.values():
        for session in (agent.session, agent.handoff_session):
            audio = session["audio"]
            assert "format" not in audio["input"] and "format" not in audio["output"], session
            assert audio["input"]["turn_detection"] == {"type": "server_vad", "idle_timeout_ms": 6000, "create_response": True, "interrupt_response": True}
        assert client_event_problems(session_update_event(agent)) == []
        assert client_event_problems(session_update_event(agent, handoff=True)) == []
    assert compiled["front"].session["audio"]["output"]["voice"] == "marin"


def test_other_channels_keep_their_formats(make_config):
    compiled = compile_config(_server_vad_config(make_config))
    audio = compiled["front"].session["audio"]
    assert audio["input"]["format"] == {"type": "audio/pcmu"} and audio["output"]["format"] == {"type": "audio/pcmu"}
    assert audio["input"]["turn_detection"]["threshold"] == 0.6


def test_on_sip_the_start_agent_answers_the_call_even_when_it_was_not_told_to_speak_first(make_config):
    config = make_config()
    assert compile_config(config)["front"].greeting is None
    assert compile_config(config, channel="sip")["front"].greeting == {}
    greeter = replace(config, agents={**config.agents, "front": replace(config.agents["front"], speaks_first=True, greeting="Say hello.")})
    assert compile_config(greeter, channel="sip")["front"].greeting == compile_config(greeter)["front"].greeting


def test_a_channel_that_transfers_calls_keeps_its_audio_format_and_only_sip_changes_the_profile(make_config):
    config = _server_vad_config(make_config)
    plain, phone = compile_config(config), compile_config(config, audio_format="audio/pcmu", transfers_calls=True)
    assert [agent.transfers_calls for agent in plain.values()] == [False] * len(plain)
    assert [agent.transfers_calls for agent in phone.values()] == [True] * len(phone)
    assert [agent.transfers_calls for agent in compile_config(config, channel="sip").values()] == [True] * len(phone)
    for name, agent in phone.items():
        assert (agent.session, agent.handoff_session, agent.greeting) == (plain[name].session, plain[name].handoff_session, plain[name].greeting)
    assert phone["front"].session["audio"]["output"]["format"] == {"type": "audio/pcmu"}
