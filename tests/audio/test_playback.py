"""The jitter buffer's accounting: cushion, underruns, stop with fade, finished items."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.audio.playback import Player


class Clock:
    """A hand-driven monotonic clock: the Player takes its clock as a parameter."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tone(ms: int, start: int = 0) -> bytes:
    """`ms` of non-zero, position-unique int16 samples (so any loss or shift shows)."""
    n = ms * 24
    return (np.arange(start, start + n) % 20000 + 1).astype("<i2").tobytes()


def frames(pcm: bytes) -> int:
    return len(pcm) // 2


def test_playback_waits_for_the_cushion_then_plays_the_exact_audio():
    player = Player(cushion_ms=60, clock=Clock())
    audio = tone(100)
    player.feed("a", audio[: 40 * 48])
    assert player.pull(480) == bytes(960)  # 40 ms buffered < 60 ms cushion: silence
    assert player.stats("a").played_frames == 0
    player.feed("a", audio[40 * 48 :])
    played = b"".join(player.pull(480) for _ in range(5))
    assert played == audio
    assert player.stats("a").played_ms == 100


def test_an_item_shorter_than_the_cushion_starts_once_it_has_ended():
    player = Player(cushion_ms=60, clock=Clock())
    player.feed("a", tone(30))
    assert player.pull(480) == bytes(960)
    player.end_item("a")
    assert player.pull(480) == tone(20)


def test_an_underrun_plays_silence_and_the_utterance_continues_without_a_new_cushion():
    player = Player(cushion_ms=60, clock=Clock())
    player.feed("a", tone(70))
    player.pull(480 * 3)  # 60 ms
    block = player.pull(480)  # 10 ms left
    assert block == tone(70)[60 * 48 :] + bytes(10 * 48)
    assert player.underrun_frames == 240
    player.feed("a", tone(10, start=5000))
    assert player.pull(240) == tone(10, start=5000)  # no cushion wait mid-utterance
    assert player.stats("a").played_frames == 80 * 24


def test_the_next_utterance_waits_for_a_cushion_again():
    player = Player(cushion_ms=60, clock=Clock())
    player.feed("a", tone(20))
    player.end_item("a")
    player.pull(480)
    player.feed("b", tone(40))
    assert player.pull(480) == bytes(960)
    player.feed("b", tone(20))
    assert player.pull(480) == tone(40)[:960]


def test_back_to_back_items_play_seamlessly_and_are_counted_apart():
    player = Player(cushion_ms=0, clock=Clock())
    player.feed("a", tone(30))
    player.end_item("a")
    player.feed("b", tone(30, start=9000))
    played = player.pull(480) + player.pull(480) + player.pull(480)
    assert played == tone(30) + tone(30, start=9000)
    assert (player.stats("a").played_ms, player.stats("b").played_ms) == (30, 30)


def test_stop_fades_the_next_samples_drops_the_queue_and_reports_what_will_be_heard():
    player = Player(cushion_ms=0, clock=Clock())
    audio = tone(1000)
    player.feed("a", audio)
    player.pull(480 * 10)  # 200 ms handed to the device
    assert player.stop(fade_ms=10) == ("a", 210)
    block = np.frombuffer(player.pull(480), "<i2")
    source = np.frombuffer(audio, "<i2")[4800:5040]
    ramp = 1 - np.arange(1, 241) / 240
    assert np.array_equal(block[:240], np.round(source * ramp).astype("<i2"))
    assert block[239] == 0 and not block[240:].any()
    assert player.pull(480) == bytes(960)  # the rest was dropped
    player.feed("a", tone(100))  # late audio of the stopped item is ignored
    assert player.pull(480) == bytes(960)
    assert player.queued_ms == 0


def test_stop_with_less_queued_than_the_fade_counts_only_what_exists():
    player = Player(cushion_ms=0, clock=Clock())
    player.feed("a", tone(25))
    player.pull(480)
    assert player.stop(fade_ms=10) == ("a", 25)


def test_stop_when_nothing_is_audible_returns_none():
    clock = Clock()
    player = Player(cushion_ms=60, clock=clock)
    assert player.stop() == (None, 0)
    player.feed("a", tone(40))  # still waiting for the cushion: nothing was heard
    assert player.stop() == (None, 0)
    assert player.pull(480) == bytes(960)


def test_an_item_still_in_the_device_buffer_is_audible_until_its_last_sample_is_heard():
    clock = Clock()
    player = Player(cushion_ms=0, clock=clock)
    player.feed("b", tone(20))
    player.end_item("b")
    player.pull(480, latency=0.040)
    clock.now += 0.030  # the last sample is heard at +60 ms
    assert player.stop() == ("b", 20)


def test_finished_is_reported_once_the_last_sample_is_heard_not_when_handed():
    clock = Clock()
    finished: list[str] = []
    player = Player(cushion_ms=0, clock=clock, on_item_finished=finished.append)
    player.feed("a", tone(20))
    player.end_item("a")
    player.pull(480, latency=0.040)  # heard from +40 ms to +60 ms
    clock.now += 0.020
    player.pull(480, latency=0.040)
    assert finished == []
    clock.now += 0.040
    player.pull(480, latency=0.040)
    assert finished == ["a"]
    clock.now += 0.020
    player.pull(480, latency=0.040)
    assert finished == ["a"]
    assert player.stop() == (None, 0)


def test_end_item_after_the_audio_was_heard_reports_at_once():
    clock = Clock()
    finished: list[str] = []
    player = Player(cushion_ms=0, clock=clock, on_item_finished=finished.append)
    player.feed("a", tone(20))
    player.pull(480)
    clock.now += 0.5
    player.end_item("a")
    assert finished == ["a"]


def test_a_stopped_item_is_never_reported_finished():
    clock = Clock()
    finished: list[str] = []
    player = Player(cushion_ms=0, clock=clock, on_item_finished=finished.append)
    player.feed("a", tone(100))
    player.pull(480)
    player.stop()
    player.end_item("a")
    clock.now += 1
    player.pull(480)
    assert finished == []


def test_first_sample_time_includes_the_block_offset_and_output_latency():
    clock = Clock()
    player = Player(cushion_ms=0, clock=clock)
    player.feed("a", tone(10))
    player.end_item("a")
    clock.now = 200.0
    player.feed("b", tone(10))
    player.pull(480, latency=0.040)  # a fills the first 10 ms, b starts 10 ms into the block
    assert player.stats("a").first_heard_at == pytest.approx(200.040)
    assert player.stats("b").first_heard_at == pytest.approx(200.050)
    assert player.stats("b").first_fed_at == 200.0


def test_on_played_sees_every_audible_block_with_its_heard_time_and_no_idle_silence():
    clock = Clock()
    played: list[tuple[bytes, float]] = []
    player = Player(cushion_ms=0, clock=clock, on_played=lambda pcm, at: played.append((pcm, at)))
    player.pull(480)
    player.feed("a", tone(20))
    player.pull(480, latency=0.040)
    player.stop()
    assert played == [(tone(20), clock.now + 0.040)]


def test_odd_length_audio_is_rejected_with_the_item_named():
    player = Player()
    with pytest.raises(ValueError) as excinfo:
        player.feed("item_7", b"\x01\x02\x03")
    assert str(excinfo.value) == "PCM16 audio for item 'item_7' has an odd length (3 bytes)"


def test_a_negative_cushion_is_rejected():
    with pytest.raises(ValueError) as excinfo:
        Player(cushion_ms=-5)
    assert str(excinfo.value) == "cushion_ms must be >= 0, got -5"


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=20),
    pulls=st.lists(st.integers(min_value=1, max_value=1200), min_size=1, max_size=40),
    cushion_ms=st.integers(min_value=0, max_value=120),
)
def test_every_fed_frame_comes_out_once_in_order_whatever_the_block_sizes(chunks, pulls, cushion_ms):
    player = Player(cushion_ms=cushion_ms, clock=Clock())
    audio = (np.arange(sum(chunks)) % 30000 + 1).astype("<i2").tobytes()
    offset = 0
    out = []
    for i, size in enumerate(chunks):
        player.feed("a", audio[offset * 2 : (offset + size) * 2])
        offset += size
        out.append(player.pull(pulls[i % len(pulls)]))
    player.end_item("a")
    out.extend(player.pull(480) for _ in range(sum(chunks) // 480 + 1))
    heard = np.frombuffer(b"".join(out), "<i2")
    assert heard[heard != 0].tobytes() == audio
    assert player.stats("a").played_frames == sum(chunks)
