"""The real sounddevice path against the headless PulseAudio (tests/audio/conftest.py).

The app plays into the null sink `spk`, whose monitor parecord captures; the test plays
into `micsink`, which the app's default source `mic` hears. Null sinks at 24 kHz are
bit-exact, so what arrives can be compared sample by sample.
"""

import asyncio
import subprocess
import threading
import wave

import numpy as np
import pytest

from runner.audio.capture import DeviceInput
from runner.audio.devices import list_devices, select_device
from runner.audio.output import DeviceOutput
from runner.audio.playback import Player
from runner.audio.wav import WavWriter
from tests.audio.helpers import played_reaches
from tests.headless_audio import SpeakerCapture, speaker_capture
from tests.waits import wait_until

pytestmark = pytest.mark.usefixtures("headless_pulse")


def noise(ms: int, seed: int = 1) -> bytes:
    """Non-zero noise: the start and end of the captured audio are unambiguous."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1000, 8000, ms * 24) * rng.choice([-1, 1], ms * 24)
    return x.astype("<i2").tobytes()


def audible(path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        captured = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    nonzero = np.flatnonzero(captured)
    assert nonzero.size, "nothing reached the speaker"
    return captured[nonzero[0] : nonzero[-1] + 1]


def quiet_after_sound(capture: SpeakerCapture, ms: int) -> bool:
    """The speaker played something and has been silent for the last `ms` since."""
    recorded = capture.recorded()
    sounding = np.flatnonzero(recorded)
    return sounding.size > 0 and recorded.size - sounding[-1] > ms * 24


def test_the_headless_devices_are_listed_and_selectable():
    names = [device.name for device in list_devices()]
    assert names == ["pulse", "default"]
    assert select_device("puls", "output") == 0
    assert select_device(None, "input") == 1


def test_played_audio_reaches_the_speaker_complete_and_bit_exact(tmp_path):
    audio = noise(1000)
    finished = []
    heard_in_full = threading.Event()

    def on_item_finished(item: str) -> None:
        finished.append(item)
        heard_in_full.set()

    player = Player(cushion_ms=60, on_item_finished=on_item_finished)
    output = DeviceOutput(player)
    with speaker_capture(tmp_path / "spk.wav"):
        output.start()
        player.feed("item_1", audio[:4000])  # below the cushion: waits
        player.feed("item_1", audio[4000:])
        player.end_item("item_1")
        assert heard_in_full.wait(timeout=10), "item_1 was not reported heard in full within 10 s"
        output.close()
    assert finished == ["item_1"]
    heard = audible(tmp_path / "spk.wav")
    assert heard.tobytes() == audio
    assert player.stats("item_1").played_ms == 1000


def test_stop_mid_item_reports_the_milliseconds_that_reached_the_speaker(tmp_path):
    audio = noise(3000, seed=2)
    reached, on_played = played_reaches(24 * 700)
    player = Player(cushion_ms=60, on_played=on_played)
    output = DeviceOutput(player)
    with speaker_capture(tmp_path / "spk.wav") as capture:
        output.start()
        player.feed("item_2", audio)
        assert reached.wait(timeout=10), "700 ms of item_2 were not played within 10 s"
        item, played_ms = player.stop(fade_ms=10)
        wait_until(lambda: quiet_after_sound(capture, 200), 10, "the speaker to fall silent for 200 ms after the stop")
        output.close()
    heard = audible(tmp_path / "spk.wav")
    heard_ms = len(heard) * 1000 / 24000
    assert item == "item_2"
    assert abs(played_ms - heard_ms) <= 40, (played_ms, heard_ms)
    source = np.frombuffer(audio, "<i2")
    unfaded = len(heard) - 240
    assert np.array_equal(heard[:unfaded], source[:unfaded])  # then a 10 ms fade, then nothing
    assert np.all(np.abs(heard[unfaded:]) <= np.abs(source[unfaded : len(heard)]))


def test_the_microphone_captures_what_is_played_into_it(tmp_path):
    speech = noise(1500, seed=3)
    with WavWriter(tmp_path / "speech.wav") as writer:
        writer.write(speech)

    async def capture():
        mic = DeviceInput(block_ms=20)
        mic.start()
        feeder = subprocess.Popen(["paplay", "-d", "micsink", str(tmp_path / "speech.wav")])
        blocks = []
        while len(blocks) < 100:  # 2 s
            blocks.append(await asyncio.wait_for(mic.read(), timeout=5))
        feeder.wait(timeout=10)
        mic.close()
        return blocks, mic

    blocks, mic = asyncio.run(capture())
    assert {len(block.pcm) for block in blocks} == {960}
    stamps = np.array([block.captured_at for block in blocks])
    assert np.allclose(np.diff(stamps), 0.02, atol=0.015)  # stamped on one steady clock
    recorded = np.frombuffer(b"".join(block.pcm for block in blocks), "<i2").astype(np.float64)
    reference = np.frombuffer(speech, "<i2").astype(np.float64)
    start = int(np.flatnonzero(recorded)[0])
    segment = recorded[start : start + len(reference)]
    assert np.corrcoef(segment, reference[: len(segment)])[0, 1] > 0.99
    assert mic.overflows == 0
