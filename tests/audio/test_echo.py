"""Echo gate and half-duplex on synthetic signals: what passes while the agent speaks."""

import numpy as np

from runner.audio.echo import EchoGate, HalfDuplex


def block(amplitude: float, ms: int = 20, freq: float = 300.0) -> bytes:
    """A sine block whose RMS is amplitude / sqrt(2)."""
    t = np.arange(ms * 24) / 24000
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def test_without_playback_every_block_passes_even_a_quiet_one():
    gate = EchoGate()
    assert gate.admit(block(50), 10.0)


def test_while_the_agent_is_audible_echo_is_blocked_and_a_louder_voice_passes():
    gate = EchoGate(margin_db=6.0)
    for k in range(10):
        gate.note_played(block(4000), 10.0 + k * 0.02)
    assert not gate.admit(block(4000, freq=500), 10.1)  # as loud as the playback: echo
    assert not gate.admit(block(7900, freq=500), 10.1)  # +5.9 dB: not clearly louder
    assert gate.admit(block(8000, freq=500), 10.1)  # +6 dB: the user talks over the agent


def test_the_gate_compares_with_the_loudest_recent_block_not_a_quiet_one():
    gate = EchoGate(margin_db=6.0, window_ms=300)
    gate.note_played(block(8000), 10.0)
    gate.note_played(block(100), 10.02)
    assert not gate.admit(block(8000), 10.04)  # the loud block's echo may still ring


def test_the_gate_opens_once_the_window_after_playback_has_passed():
    gate = EchoGate(window_ms=300)
    gate.note_played(block(8000), 10.0)  # heard until 10.02
    assert not gate.admit(block(1000), 10.30)
    assert gate.admit(block(1000), 10.33)


def test_playback_scheduled_after_the_mic_block_does_not_count():
    gate = EchoGate()
    gate.note_played(block(8000), 10.5)  # still in the device buffer, not heard yet
    assert gate.admit(block(1000), 10.0)


def test_half_duplex_mutes_the_mic_while_the_agent_is_audible_whatever_the_level():
    duplex = HalfDuplex(window_ms=200)
    assert duplex.admit(block(100), 10.0)
    duplex.note_played(block(100), 10.0)
    assert not duplex.admit(block(30000), 10.01)
    assert not duplex.admit(block(30000), 10.2)
    assert duplex.admit(block(100), 10.23)
