"""WAV files as microphone and speaker, through the same interfaces as devices."""

import asyncio
import wave

import numpy as np
import pytest

from runner.audio.files import WavInput, WavOutput
from runner.audio.playback import Player
from runner.audio.wav import WavWriter
from tests.audio.helpers import played_reaches
from tests.waits import wait_until


def write_pcm_wav(path, pcm: bytes, *, rate: int = 24000) -> None:
    with WavWriter(path, rate=rate) as writer:
        writer.write(pcm)


def read_mono(path) -> bytes:
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes())


def ramp(frames: int) -> bytes:
    return (np.arange(frames) % 30000 + 1).astype("<i2").tobytes()


class StepClock:
    def __init__(self) -> None:
        self.now = 5.0

    def __call__(self) -> float:
        return self.now


async def read_all(source) -> list:
    source.start()
    blocks = []
    while (block := await source.read()) is not None:
        blocks.append(block)
    return blocks


def test_fast_input_yields_the_converted_file_in_blocks(tmp_path):
    write_pcm_wav(tmp_path / "in.wav", ramp(24000 * 2)[: 16000 * 2], rate=16000)  # 1 s at 16 kHz
    source = WavInput(tmp_path / "in.wav", realtime=False, block_ms=40)
    blocks = asyncio.run(read_all(source))
    assert [len(b.pcm) for b in blocks] == [1920] * 25
    assert source.duration_ms == 1000


def test_realtime_input_stamps_each_block_with_its_due_time(tmp_path):
    write_pcm_wav(tmp_path / "in.wav", ramp(24 * 50))
    clock = StepClock()
    source = WavInput(tmp_path / "in.wav", realtime=True, block_ms=20, clock=clock)
    blocks = asyncio.run(read_all(source))
    assert b"".join(b.pcm for b in blocks) == ramp(24 * 50)
    assert [b.captured_at for b in blocks] == pytest.approx([5.0, 5.02, 5.04])


def test_realtime_input_is_paced_by_the_clock(tmp_path):
    write_pcm_wav(tmp_path / "in.wav", ramp(24 * 100))
    source = WavInput(tmp_path / "in.wav", realtime=True)

    async def main():
        loop = asyncio.get_running_loop()
        started = loop.time()
        await read_all(source)
        return loop.time() - started

    assert asyncio.run(main()) >= 0.08  # the last of five 20 ms blocks is due at +80 ms


def test_block_length_outside_20_to_40_ms_is_rejected(tmp_path):
    write_pcm_wav(tmp_path / "in.wav", ramp(480))
    with pytest.raises(ValueError) as excinfo:
        WavInput(tmp_path / "in.wav", block_ms=100)
    assert str(excinfo.value) == "audio block length must be 20-40 ms, got 100"


def test_a_closed_input_ends(tmp_path):
    write_pcm_wav(tmp_path / "in.wav", ramp(24000))
    source = WavInput(tmp_path / "in.wav", realtime=False)

    async def main():
        source.start()
        first = await source.read()
        source.close()
        return first, await source.read()

    first, after_close = asyncio.run(main())
    assert first is not None and after_close is None
    assert source.level == 0.0


def test_the_level_meter_follows_the_latest_block(tmp_path):
    loud = np.full(480, 16384, dtype="<i2").tobytes()  # -6 dBFS
    write_pcm_wav(tmp_path / "in.wav", loud + bytes(960))
    source = WavInput(tmp_path / "in.wav", realtime=False)

    async def levels():
        source.start()
        return [(await source.read(), source.level)[1] for _ in range(2)]

    assert asyncio.run(levels()) == pytest.approx([0.9, 0.0], abs=0.001)


def test_fast_output_writes_exactly_what_was_heard_and_reports_finished_items_to_the_loop(tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        finished: asyncio.Queue[str] = asyncio.Queue()
        reached, on_played = played_reaches(24 * (250 + 100))
        player = Player(on_item_finished=lambda item: loop.call_soon_threadsafe(finished.put_nowait, item), on_played=on_played)
        output = WavOutput(player, tmp_path / "out.wav", realtime=False)
        output.start()
        player.feed("a", ramp(24 * 250))
        player.end_item("a")
        done = await asyncio.wait_for(finished.get(), timeout=5)
        player.feed("b", ramp(24 * 500))
        assert await asyncio.to_thread(reached.wait, 5), "100 ms of item b were not played within 5 s"
        stopped = player.stop()
        output.close()
        return done, stopped

    done, (item, played_ms) = asyncio.run(main())
    assert done == "a" and item == "b"
    written = read_mono(tmp_path / "out.wav")
    assert written[: 24 * 250 * 2] == ramp(24 * 250)
    assert len(written) == (250 + played_ms) * 24 * 2


@pytest.mark.parametrize("realtime", [False, True])
def test_an_output_closed_right_after_a_stop_still_writes_the_fade_it_reported_heard(tmp_path, realtime):
    """stop() counts its 10 ms fade as heard; a close() before the next pull must not drop it."""
    for attempt in range(5 if realtime else 20):  # the pump is mid-block at some stops, idle at others
        reached, on_played = played_reaches(24 * 100)
        player = Player(cushion_ms=0, on_played=on_played)
        output = WavOutput(player, tmp_path / f"out{attempt}.wav", realtime=realtime)
        output.start()
        player.feed("b", ramp(24 * 500))
        assert reached.wait(timeout=5), "100 ms of item b were not played within 5 s"
        _, played_ms = player.stop()
        output.close()
        written = read_mono(tmp_path / f"out{attempt}.wav")
        heard = written[written.index(ramp(1)) :]  # a realtime file may start with a silent block
        heard_bytes, unfaded = played_ms * 24 * 2, (played_ms - 10) * 24 * 2
        assert heard[:unfaded] == ramp(24 * 500)[:unfaded], attempt
        assert any(heard[unfaded:heard_bytes]) and not any(heard[heard_bytes:]), (attempt, played_ms, len(heard) / 48)
        assert len(heard) == heard_bytes or realtime, (attempt, played_ms, len(heard) / 48)  # realtime adds silence


def test_realtime_output_writes_silence_between_utterances_like_a_device(tmp_path):
    player = Player(cushion_ms=0)
    output = WavOutput(player, tmp_path / "out.wav", realtime=True)
    player.feed("a", ramp(24 * 40))
    player.end_item("a")
    output.start()
    wait_until(lambda: len(read_mono(tmp_path / "out.wav")) >= 24 * 100 * 2, 5, "100 ms written to out.wav")
    output.close()
    written = read_mono(tmp_path / "out.wav")
    assert written[: 24 * 40 * 2] == ramp(24 * 40)
    assert not any(written[24 * 40 * 2 :])
