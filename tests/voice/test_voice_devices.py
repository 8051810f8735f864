"""The voice loop on real sounddevice streams: virtual mic → runner → simulator → virtual speaker.

Null sinks at 24 kHz are bit-exact, so what reached the speaker is compared with what the
simulator synthesized (`runner.sim.speech.synthesize`) sample by sample.
"""

from __future__ import annotations

import os
import pty
import termios
import wave

import numpy as np

from runner.sim.speech import synthesize
from tests.headless_audio import speaker_capture
from tests.voice.helpers import (
    CONFIG,
    FIXTURES,
    RULES,
    TIMEOUT,
    audio_bytes_sent,
    events,
    play_into_mic,
    read_mono,
    running,
    session_folder,
    spoken,
    wait_for_event,
    wait_for_reply_heard,
)
from tests.waits import wait_until

SHORT_REPLY = "Thanks for calling, how can I help?"
LONG_REPLY = (
    "Thanks for calling. I can help you with your internet connection, your bill or a new plan. "
    "Which one would it be today, and could you tell me a little more?"
)


def voiced_span(audio: np.ndarray) -> np.ndarray:
    nonzero = np.flatnonzero(audio)
    assert nonzero.size, "nothing reached the speaker"
    return audio[nonzero[0] : nonzero[-1] + 1]


def sounding_ms(recorded: np.ndarray) -> float:
    """Milliseconds recorded since the speaker first played something (0 before)."""
    sounding = np.flatnonzero(recorded)
    return (recorded.size - sounding[0]) / 24 if sounding.size else 0.0


def test_spoken_turn_reaches_the_simulator_and_its_reply_reaches_the_speaker_whole(tmp_path, pulse_env, speech_dir):
    said = spoken(speech_dir, "help", "Hello, I need some help with my internet, please.")
    reply = np.frombuffer(synthesize(SHORT_REPLY), "<i2")
    sessions = tmp_path / "s"
    with speaker_capture(tmp_path / "spk.wav", pulse_env):
        with running(["run", str(CONFIG), "--offline", "--rules", str(RULES), "--session-dir", str(sessions), "--record"], pulse_env) as runner:
            runner.wait_for_stderr("speak when ready")
            play_into_mic(said, pulse_env)
            wait_for_reply_heard(sessions)  # it plays out in real time
            assert runner.interrupt_and_wait() == 130, "\n".join(runner.stderr)
    folder = session_folder(sessions)
    assert audio_bytes_sent(folder) == reply.nbytes
    assert np.array_equal(voiced_span(read_mono(tmp_path / "spk.wav")), voiced_span(reply))
    assert runner.stdout == ["you: Hello there.", f"host: {SHORT_REPLY}"]
    assert not [e for e in events(folder) if e["event"]["type"] == "conversation.item.truncate"]
    with wave.open(str(folder / "recording.wav")) as recording:  # written as it went, closed on Ctrl-C
        assert (recording.getnchannels(), recording.getframerate()) == (2, 24000)
        stereo = np.frombuffer(recording.readframes(recording.getnframes()), "<i2").reshape(-1, 2)
    assert np.array_equal(voiced_span(stereo[:, 1]), voiced_span(reply))  # the agent, on the right, as heard
    spoken_at = np.flatnonzero(np.abs(stereo[:, 0]) > 1000)
    assert spoken_at.size and spoken_at[-1] < np.flatnonzero(stereo[:, 1])[0]  # the user, on the left, spoke first


def test_barge_in_stops_playback_and_truncates_at_what_was_heard(tmp_path, pulse_env, speech_dir):
    said = spoken(speech_dir, "help", "Hello, I need some help with my internet, please.")
    again = spoken(speech_dir, "wait", "Wait, wait, one moment please.")
    reply = np.frombuffer(synthesize(LONG_REPLY), "<i2")
    sessions = tmp_path / "s"
    args = ["run", str(CONFIG), "--offline", "--rules", str(FIXTURES / "rules_long.yaml"), "--session-dir", str(sessions), "--no-echo-gate"]
    with speaker_capture(tmp_path / "spk.wav", pulse_env) as capture:
        with running(args, pulse_env) as runner:
            runner.wait_for_stderr("no echo gate")
            play_into_mic(said, pulse_env)
            wait_for_event(sessions, "response.output_audio.delta")
            wait_until(lambda: sounding_ms(capture.recorded()) >= 2000, TIMEOUT, "2 s of the reply at the speaker")
            play_into_mic(again, pulse_env)
            wait_for_event(sessions, "conversation.item.truncate")
            assert runner.interrupt_and_wait() == 130, "\n".join(runner.stderr)
    folder = session_folder(sessions)
    truncate = next(e["event"] for e in events(folder) if e["event"]["type"] == "conversation.item.truncate")
    first_item = next(e["event"]["item_id"] for e in events(folder) if e["event"]["type"] == "response.output_audio.delta")
    assert truncate["item_id"] == first_item
    captured = read_mono(tmp_path / "spk.wav")
    start = np.flatnonzero(captured)[0] - np.flatnonzero(reply)[0]
    heard = captured[start : start + reply.size]
    differs = np.flatnonzero(heard != reply[: heard.size])
    assert differs.size, "the whole reply played: no barge-in"
    # Playback fades out over 10 ms from where the capture first differs from the reply;
    # a cut inside a pause of the reply sounds the same anywhere in that pause.
    latest_ms = differs[0] / 24 + 10
    earliest_ms = (np.flatnonzero(heard[: differs[0]])[-1] + 1) / 24
    assert earliest_ms - 40 <= truncate["audio_end_ms"] <= latest_ms + 40, (truncate["audio_end_ms"], earliest_ms, latest_ms)
    assert 1500 < truncate["audio_end_ms"] < reply.size / 24 - 1000
    after = captured[start + differs[0] + 24 * 10 : start + differs[0] + 24 * 1000]
    assert np.count_nonzero(after) == 0  # stopped within one block: a second of silence follows the fade
    assert any("host interrupted after" in line for line in runner.stdout)


def test_push_to_talk_with_the_space_bar_through_a_terminal(tmp_path, pulse_env, speech_dir):
    said = spoken(speech_dir, "help", "Hello, I need some help with my internet, please.")
    reply = np.frombuffer(synthesize(SHORT_REPLY), "<i2")
    sessions = tmp_path / "s"
    controller, terminal = pty.openpty()
    before = termios.tcgetattr(terminal)
    try:
        with speaker_capture(tmp_path / "spk.wav", pulse_env):
            with running(["run", str(CONFIG), "--offline", "--rules", str(RULES), "--session-dir", str(sessions), "--ptt"], pulse_env, stdin=terminal) as runner:
                runner.wait_for_stderr("push-to-talk")  # printed once the terminal is in cbreak mode
                assert not termios.tcgetattr(terminal)[3] & termios.ECHO  # cbreak: keys are not echoed
                os.write(controller, b" ")
                wait_for_event(sessions, "input_audio_buffer.clear")  # the space was read: talking
                play_into_mic(said, pulse_env)
                os.write(controller, b" ")
                wait_for_reply_heard(sessions)
                assert runner.interrupt_and_wait() == 130, "\n".join(runner.stderr)
        after = termios.tcgetattr(terminal)
    finally:
        os.close(controller)
        os.close(terminal)
    assert after == before  # the terminal is restored after Ctrl-C
    folder = session_folder(sessions)
    sent = [e["event"] for e in events(folder) if e["dir"] == "out"]
    assert sent[0]["type"] == "session.update" and sent[0]["session"]["audio"]["input"]["turn_detection"] is None
    kinds = [e["type"] for e in sent if e["type"] != "input_audio_buffer.append"]
    assert kinds == ["session.update", "input_audio_buffer.clear", "input_audio_buffer.commit", "response.create"]
    appended_ms = sum(1 for e in sent if e["type"] == "input_audio_buffer.append") * 40
    assert appended_ms >= 2000  # the spoken sentence, sent while talking
    assert np.array_equal(voiced_span(read_mono(tmp_path / "spk.wav")), voiced_span(reply))


def test_devices_are_listed_and_a_wrong_choice_is_named(tmp_path, pulse_env):
    with running(["run", "--list-devices"], pulse_env) as lister:
        assert lister.wait() == 0
    assert [line.split("(")[0].strip() for line in lister.stdout] == ["0  pulse", "1  default"]
    with running(["run", str(CONFIG), "--offline", "--session-dir", str(tmp_path / "s"), "--input-device", "usb headset"], pulse_env) as runner:
        assert runner.wait() == 1
    assert runner.stderr == ["runner: no input device matches 'usb headset'; input devices: 'pulse', 'default'"]
