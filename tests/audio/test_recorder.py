"""The stereo recording: both sides on one clock, written as it goes."""

import wave

import numpy as np

from runner.audio.playback import Player
from runner.audio.recorder import Recorder


def block(value: int, ms: int = 20) -> bytes:
    return np.full(ms * 24, value, dtype="<i2").tobytes()


def read_stereo(path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 24000, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)


def test_user_left_agent_right_each_at_its_time(tmp_path):
    recorder = Recorder(tmp_path / "rec.wav", origin=50.0)
    recorder.add_user(block(100), 50.0)
    recorder.add_user(block(101), 50.02)
    recorder.add_agent(block(200, ms=40), 50.5)
    recorder.close()
    stereo = read_stereo(tmp_path / "rec.wav")
    assert len(stereo) == 540 * 24
    assert (stereo[:480, 0] == 100).all() and (stereo[480:960, 0] == 101).all()
    assert not stereo[960:, 0].any()
    assert not stereo[:12000, 1].any() and (stereo[12000:, 1] == 200).all()


def test_jitter_within_the_snap_keeps_a_stream_contiguous_and_a_real_gap_stays(tmp_path):
    recorder = Recorder(tmp_path / "rec.wav", origin=0.0, snap_ms=30)
    recorder.add_user(block(1), 0.0)
    recorder.add_user(block(2), 0.027)  # 7 ms late: still right after the first block
    recorder.add_user(block(3), 0.2)  # a real gap (160 ms)
    recorder.close()
    left = read_stereo(tmp_path / "rec.wav")[:, 0]
    assert (left[:480] == 1).all() and (left[480:960] == 2).all()
    assert not left[960:4800].any() and (left[4800:5280] == 3).all()


def test_flush_writes_only_what_is_older_than_the_horizon_and_the_file_is_valid_meanwhile(tmp_path):
    recorder = Recorder(tmp_path / "rec.wav", origin=0.0, horizon_ms=500)
    for k in range(50):  # one second of user audio
        recorder.add_user(block(k + 1), k * 0.02)
    recorder.flush(now=1.0)
    assert recorder.frames_written == 12000
    partial = read_stereo(tmp_path / "rec.wav")
    assert len(partial) == 12000 and partial[11999, 0] == 25
    recorder.add_agent(block(7), 0.1)  # arrived after its place was written
    recorder.close()
    assert recorder.late_frames == 480
    stereo = read_stereo(tmp_path / "rec.wav")
    assert len(stereo) == 24000 and not stereo[:, 1].any()


def test_an_interrupted_reply_ends_where_playback_stopped(tmp_path):
    clock_now = [10.0]
    recorder = Recorder(tmp_path / "rec.wav", origin=10.0)
    player = Player(cushion_ms=0, clock=lambda: clock_now[0], on_played=recorder.add_agent)
    player.feed("a", block(1000, ms=1000))
    for _ in range(5):  # 100 ms heard
        player.pull(480)
        clock_now[0] += 0.02
    item, played_ms = player.stop(fade_ms=10)
    for _ in range(5):
        player.pull(480)
        clock_now[0] += 0.02
    recorder.close()
    right = read_stereo(tmp_path / "rec.wav")[:, 1]
    assert (item, played_ms) == ("a", 110)
    assert np.count_nonzero(right) == 110 * 24 - 1  # the fade's last sample is 0
    assert (right[:2400] == 1000).all()
    assert np.flatnonzero(right)[-1] == 110 * 24 - 2  # nothing after the fade was recorded
