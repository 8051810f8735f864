"""Reading WAVs of every common encoding, the resampler, and the always-valid writer."""

import signal
import struct
import subprocess
import queue
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from runner.audio.formats import PCMA, PCMU
from runner.audio.resample import resample
from runner.audio.wav import WavError, WavWriter, load_pcm, read_wav


def write_wav(path, data: bytes, *, rate: int, channels: int, bits: int, tag: int = 1, extensible: bool = False):
    """A hand-built RIFF file, so encodings the stdlib cannot write are covered too."""
    block_align = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block_align, block_align, bits, 22, bits, 0)
        fmt += struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)
    body = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 5) + b"abcde\x00"  # an odd-sized chunk with its pad byte
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    return path


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("bits", "tag", "encode"),
    [
        (8, 1, lambda x: np.round(x * 127 + 128).astype("u1").tobytes()),
        (16, 1, lambda x: np.round(x * 32767).astype("<i2").tobytes()),
        (24, 1, lambda x: b"".join(int(v).to_bytes(3, "little", signed=True) for v in np.round(x * 8388607))),
        (32, 1, lambda x: np.round(x * 2147483647).astype("<i4").tobytes()),
        (32, 3, lambda x: x.astype("<f4").tobytes()),
    ],
    ids=["u8", "s16", "s24", "s32", "f32"],
)
def test_every_sample_size_decodes_to_the_same_signal(tmp_path, bits, tag, encode):
    x = sine(440, 8000, 0.1)
    audio = read_wav(write_wav(tmp_path / "x.wav", encode(x), rate=8000, channels=1, bits=bits, tag=tag))
    assert (audio.rate, audio.channels, audio.samples.shape[0]) == (8000, 1, 800)
    tolerance = 1 / 100 if bits == 8 else 1e-4
    assert np.max(np.abs(audio.samples[:, 0] - x)) < tolerance


def test_extensible_stereo_is_read_and_mixed_down(tmp_path):
    left, right = sine(1000, 16000, 0.5), np.zeros(8000)
    interleaved = np.round(np.column_stack([left, right]) * 32767).astype("<i2").tobytes()
    path = write_wav(tmp_path / "x.wav", interleaved, rate=16000, channels=2, bits=16, extensible=True)
    pcm = np.frombuffer(load_pcm(path), "<i2") / 32768
    assert len(pcm) == 12000
    assert peak_frequency(pcm, 24000) == pytest.approx(1000, abs=3)
    assert np.sqrt(np.mean(pcm[1000:-1000] ** 2)) == pytest.approx(0.25 / np.sqrt(2), rel=0.01)


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000, 96000])
def test_resampled_sines_keep_frequency_and_level_with_little_distortion(rate):
    x = sine(1000, rate, 1.0)
    y = resample(x, rate, 24000)
    assert len(y) == 24000
    ideal = sine(1000, 24000, 1.0)
    middle = slice(1000, -1000)  # the filter's edges see zeros beyond the signal
    error = y[middle] - ideal[middle]
    snr_db = 10 * np.log10(np.mean(ideal[middle] ** 2) / np.mean(error**2))
    assert snr_db > 80


def test_frequencies_above_the_new_nyquist_are_removed_not_aliased():
    y = resample(sine(15000, 48000, 1.0), 48000, 24000)  # would alias to 9 kHz
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 1e-4


def test_speech_band_passes_flat_when_downsampling():
    y = resample(sine(9000, 44100, 1.0), 44100, 24000)  # 9 kHz: the top of the flat passband
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.001)


def test_24k_mono_16bit_passes_through_bit_exact(tmp_path):
    x = np.round(sine(300, 24000, 0.2) * 32767).astype("<i2")
    path = write_wav(tmp_path / "x.wav", x.tobytes(), rate=24000, channels=1, bits=16)
    assert load_pcm(path) == x.tobytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello", "not a WAV file (no RIFF/WAVE header)"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no valid 'fmt ' chunk"),
    ],
)
def test_bad_files_are_reported_with_the_path(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(WavError) as excinfo:
        read_wav(path)
    assert str(excinfo.value) == f"{path}: {message}"


def test_an_impossible_format_is_reported(tmp_path):
    path = write_wav(tmp_path / "zero.wav", bytes(64), rate=8000, channels=0, bits=16)
    with pytest.raises(WavError) as excinfo:
        read_wav(path)
    assert str(excinfo.value) == f"{path}: invalid 'fmt ' chunk (0 channels, 8000 Hz, 0-byte frames)"


def test_compressed_wavs_are_reported_with_a_conversion_hint(tmp_path):
    path = write_wav(tmp_path / "adpcm.wav", bytes(64), rate=8000, channels=1, bits=4, tag=2)
    with pytest.raises(WavError) as excinfo:
        read_wav(path)
    assert str(excinfo.value) == (
        f"{path}: unsupported WAV encoding (format tag 0x0002); convert it to PCM first, e.g. `sox in.wav -b 16 out.wav`"
    )


def test_a_missing_file_is_reported_without_a_traceback(tmp_path):
    with pytest.raises(WavError) as excinfo:
        read_wav(tmp_path / "nope.wav")
    assert str(excinfo.value) == f"{tmp_path / 'nope.wav'}: cannot read: No such file or directory"


def test_the_writer_keeps_the_header_valid_after_every_write(tmp_path):
    path = tmp_path / "out.wav"
    with WavWriter(path, channels=2) as writer:
        with wave.open(str(path)) as empty:
            assert empty.getnframes() == 0
        writer.write(np.arange(200, dtype="<i2").tobytes())
        with wave.open(str(path)) as partial:  # read while the writer is still open
            assert (partial.getnchannels(), partial.getframerate(), partial.getnframes()) == (2, 24000, 100)
            assert partial.readframes(100) == np.arange(200, dtype="<i2").tobytes()


def test_the_writer_rejects_partial_frames(tmp_path):
    with WavWriter(tmp_path / "out.wav", channels=2) as writer, pytest.raises(ValueError) as excinfo:
        writer.write(b"\x00\x00")
    assert str(excinfo.value) == "2 bytes is not a whole number of 2-channel PCM16 frames"


WRITE_FOREVER = """
import sys
from runner.audio.wav import WavWriter
writer = WavWriter(sys.argv[1])
block = bytes(range(240)) * 8  # 1920 bytes: 40 ms
while writer.data_bytes < 200_000:
    writer.write(block)
print("written", flush=True)
while True:
    writer.write(block)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_file_being_written_is_valid_after_the_writer_is_killed(tmp_path, sig):
    path = tmp_path / "killed.wav"
    proc = subprocess.Popen([sys.executable, "-c", WRITE_FOREVER, str(path)], stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    assert lines.get(timeout=30) == "written\n"  # 200 kB are in, and it goes on writing
    proc.send_signal(sig)
    proc.wait(timeout=10)
    reader.join(timeout=10)
    proc.stdout.close()
    with wave.open(str(path)) as killed:
        n = killed.getnframes()
        data = killed.readframes(n)
    assert n >= 100_000 - 22
    assert n % 960 == 0  # whole writes only
    assert data == (bytes(range(240)) * 8) * (n // 960)
    # The kernel may have stored part of the write in flight (it stops at a page boundary
    # when SIGKILL arrives); the header never counts those bytes, so readers ignore them.
    assert len(data) <= path.stat().st_size - 44 <= len(data) + 1920


def test_a_ulaw_wav_is_written_as_g711_and_sox_reads_it(tmp_path: Path) -> None:
    pcm = (np.sin(np.arange(8000) / 5) * 12000).astype("<i2").tobytes()
    path = tmp_path / "reply.wav"
    with WavWriter(path, rate=8000, encoding=PCMU) as writer:
        writer.write(pcm[:3000])
        writer.write(pcm[3000:])
    data = path.read_bytes()
    assert data[-8000:] == PCMU.encode(pcm)  # the codes, one byte a sample, after the header
    info = subprocess.run(["sox", "--i", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Sample Rate    : 8000" in info and "u-law" in info and "8000 samples" in info
    assert load_pcm(path, rate=8000) == PCMU.decode(PCMU.encode(pcm))


def test_an_alaw_wav_from_sox_loads_sample_for_sample_at_its_own_rate(tmp_path: Path) -> None:
    source, alaw = tmp_path / "tone.wav", tmp_path / "tone-alaw.wav"
    with WavWriter(source, rate=8000) as writer:
        writer.write((np.sin(np.arange(4000) / 7) * 9000).astype("<i2").tobytes())
    subprocess.run(["sox", str(source), "-e", "a-law", str(alaw)], check=True)
    codes = alaw.read_bytes()[-4000:]
    assert PCMA.encode(load_pcm(alaw, rate=8000)) == codes
    assert len(load_pcm(alaw)) == 2 * 3 * 4000  # to 24 kHz when the session's input is PCM
