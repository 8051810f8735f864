"""The thinking sound in the Player: the clip fills silence only, and never counts as the agent's audio."""

import numpy as np

from runner.audio.playback import Player
from runner.audio.thinking import LEVEL, TONES_HZ, ClipLoop, builtin_clip, wav_clip
from runner.audio.wav import WavWriter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tone(ms: int) -> bytes:
    return (np.arange(ms * 24) % 20000 + 1).astype("<i2").tobytes()


def peak_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, "<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


def test_the_builtin_clip_is_two_soft_tones_after_a_quiet_lead_in_at_any_rate():
    for rate in (24000, 8000):
        clip = np.frombuffer(builtin_clip(rate), "<i2")
        assert clip.size == round(1.4 * rate) and np.abs(clip).max() <= LEVEL * 32767 + 1
        assert not clip[: round(0.3 * rate)].any()
        first = clip[round(0.32 * rate) : round(0.42 * rate)].tobytes()
        second = clip[round(0.54 * rate) : round(0.64 * rate)].tobytes()
        assert abs(peak_hz(first, rate) - TONES_HZ[0]) < 15 and abs(peak_hz(second, rate) - TONES_HZ[1]) < 15


def test_a_loud_wav_is_scaled_down_to_the_builtin_level(tmp_path):
    writer = WavWriter(tmp_path / "loud.wav", rate=16000)
    writer.write((np.sin(np.arange(16000) / 5) * 30000).astype("<i2").tobytes())
    writer.close()
    clip = np.frombuffer(wav_clip(str(tmp_path / "loud.wav"), 24000), "<i2")
    assert clip.size == 24000 and abs(int(np.abs(clip).max()) - round(LEVEL * 32767)) <= 1


def test_the_clip_loops_from_its_start():
    loop = ClipLoop(b"\x01\x00\x02\x00\x03\x00")
    assert loop.take(5) == b"\x01\x00\x02\x00\x03\x00\x01\x00\x02\x00"
    assert loop.take(1) == b"\x03\x00"


def test_the_clip_fills_the_silence_and_the_agents_audio_replaces_it_with_exact_accounting():
    clip = builtin_clip(24000)
    player = Player(cushion_ms=0, clock=Clock())
    player.think(clip)
    assert player.pull(480) == clip[:960]
    assert player.pull(480) == clip[960:1920]
    reply = tone(100)
    player.feed("a", reply)  # the agent's audio arrived: it plays alone
    assert b"".join(player.pull(480) for _ in range(3)) == reply[: 3 * 960]
    assert player.stop() == ("a", 70)  # what was heard of the reply and the stop's 10 ms fade, the clip not counted
    assert player.stats("a").played_frames == 70 * 24
    player.stop_thinking()
    player.pull(480)  # the fade
    assert player.pull(480) == bytes(960)
    assert player.thinking_frames == 960


def test_the_clip_waits_while_earlier_agent_audio_is_still_queued_and_off_gives_silence():
    player = Player(cushion_ms=0, clock=Clock())
    player.feed("a", tone(40))
    player.end_item("a")
    player.think(builtin_clip(24000)[: 480 * 2 * 10] or None)
    assert player.pull(480) == tone(20)  # the filler's audio still plays
    assert player.pull(960)[:960] == tone(40)[960:]  # then the clip follows in the same block
    assert player.thinking_frames == 480 and player.stats("a").played_frames == 40 * 24
    quiet = Player(cushion_ms=0, clock=Clock())
    quiet.think(None)  # thinking_sound: off
    assert quiet.pull(480) == bytes(960) and quiet.thinking_frames == 0


def test_a_file_written_as_fast_as_it_can_gets_the_clip_in_real_time():
    clock = Clock()
    player = Player(clock=clock)
    player.think(builtin_clip(24000))
    assert player.wait_ready(0.0) == 0
    clock.now += 0.5
    assert player.wait_ready(0.0) == 12000
    player.pull(12000)
    assert player.wait_ready(0.0) == 0


def test_each_agent_gets_its_own_clip_decoded_once_at_the_sinks_rate(tmp_path):
    from runner.audio.thinking import ThinkingSounds
    from runner.config import load

    writer = WavWriter(tmp_path / "keys.wav", rate=16000)
    writer.write((np.arange(1600) % 200).astype("<i2").tobytes())
    writer.close()
    (tmp_path / "agents.yaml").write_text(
        "version: 1\nstart: a\nagents:\n"
        "  a: {description: A., instructions: Hi., handoffs: [b, c]}\n"
        "  b: {description: B., instructions: Hi., thinking_sound: off}\n"
        "  c: {description: C., instructions: Hi., thinking_sound: keys.wav}\n"
    )
    sounds = ThinkingSounds.for_config(load(tmp_path / "agents.yaml").config, 8000)
    assert sounds.clip("a") == builtin_clip(8000) and sounds.clip("b") is None
    assert sounds.clip("c") == wav_clip(str(tmp_path / "keys.wav"), 8000) and len(sounds.clip("c")) == 800 * 2
