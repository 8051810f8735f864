"""The voice loop on GPT-Live with real sounddevice streams: virtual mic → runner → Live simulator → virtual speaker.

GPT-Live decides the turns: the terminal only streams the microphone in and plays what
comes back, so the reply that reaches the speaker must be the simulator's speech sample
for sample, and the caller's turn is ended by the simulated model, not by us.
"""

from __future__ import annotations

import numpy as np

from runner.sim.speech import speech_ms, synthesize
from tests.headless_audio import speaker_capture
from tests.voice.helpers import CONFIG, RULES, events, play_into_mic, read_mono, running, session_folder, spoken, wait_for_reply_heard
from tests.voice.test_voice_devices import SHORT_REPLY, voiced_span


def test_a_spoken_turn_on_live_reaches_the_simulator_and_its_reply_reaches_the_speaker_whole(tmp_path, pulse_env, speech_dir):
    said = spoken(speech_dir, "help", "Hello, I need some help with my internet, please.")
    reply = np.frombuffer(synthesize(SHORT_REPLY), "<i2")
    sessions = tmp_path / "s"
    with speaker_capture(tmp_path / "spk.wav", pulse_env) as speaker:
        with running(["run", str(CONFIG), "--offline", "--target", "live", "--rules", str(RULES), "--session-dir", str(sessions)], pulse_env) as runner:
            runner.wait_for_stderr("speak when ready")
            play_into_mic(said, pulse_env)
            wait_for_reply_heard(sessions)  # the message closes once its words have come; its audio is playing
            speaker.wait_recorded(speech_ms(SHORT_REPLY) + 300, after=speaker.recorded_bytes())
            assert runner.interrupt_and_wait() == 130, "\n".join(runner.stderr)
    folder = session_folder(sessions)
    received = [entry["event"] for entry in events(folder) if entry["dir"] == "in" and entry["event"]["type"] == "session.output_audio.delta"]
    assert sum(int(event["delta"].strip("<>").split()[0]) for event in received) == reply.nbytes
    assert np.array_equal(voiced_span(read_mono(tmp_path / "spk.wav")), voiced_span(reply))
    assert runner.stdout == ["you: Hello there.", f"host: {SHORT_REPLY}"]
    assert "(headphones: --no-echo-gate); Ctrl-C ends" in "\n".join(runner.stderr)
    sent = [entry["event"]["type"] for entry in events(folder) if entry["dir"] == "out"]
    assert set(sent) == {"session.start", "session.input_audio.append", "session.close"}, set(sent)
