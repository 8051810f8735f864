"""WAV in and out: read PCM, float and G.711 WAVs as mono PCM16, write WAVs that stay valid.

`read_wav` parses RIFF itself (the stdlib `wave` module of 3.11 rejects float and
WAVE_FORMAT_EXTENSIBLE files, which are common). `WavWriter` rewrites the header sizes
after every write, so a recording is a valid file even after Ctrl-C, a crash or SIGKILL;
it writes PCM16, or μ-law/A-law for a session whose wire format is G.711.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from runner.audio import g711
from runner.audio.formats import PCM, AudioFormat
from runner.audio.pcm import SAMPLE_BYTES, SAMPLE_RATE
from runner.audio.resample import resample

_PCM = 0x0001
_FLOAT = 0x0003
_ALAW = 0x0006
_ULAW = 0x0007
_EXTENSIBLE = 0xFFFE
MAX_WAV_BYTES = 1 << 30  # about 90 minutes of 48 kHz stereo PCM16; a device such as /dev/zero never ends


class WavError(ValueError):
    """A WAV file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class WavAudio:
    """Decoded audio: float64 samples in -1..1, shape (frames, channels)."""

    rate: int
    samples: np.ndarray

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])


def read_wav(path: str | Path) -> WavAudio:
    """Decode a PCM (8/16/24/32-bit), float (32/64-bit) or G.711 WAV file of any rate and channels."""
    try:
        with open(path, "rb") as file:
            data = file.read(12)
            if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
                raise WavError(f"{path}: not a WAV file (no RIFF/WAVE header)")
            data += file.read(MAX_WAV_BYTES - 12 + 1)
    except OSError as exc:
        raise WavError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_WAV_BYTES:
        raise WavError(f"{path}: larger than {MAX_WAV_BYTES >> 30} GiB, too long to read as the user's audio")
    fmt, body = _chunks(path, data)
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the sub-format GUID starts with the tag
    if tag not in (_PCM, _FLOAT, _ALAW, _ULAW):
        raise WavError(
            f"{path}: unsupported WAV encoding (format tag 0x{tag:04x}); "
            "convert it to PCM first, e.g. `sox in.wav -b 16 out.wav`"
        )
    width = block_align // channels if channels else 0
    if rate == 0 or width == 0 or block_align % channels:
        raise WavError(f"{path}: invalid 'fmt ' chunk ({channels} channels, {rate} Hz, {block_align}-byte frames)")
    samples = _decode(path, body[: len(body) - len(body) % block_align], tag, bits, width)
    return WavAudio(rate=rate, samples=samples.reshape(-1, channels))


def to_pcm16_mono(audio: WavAudio, rate: int = SAMPLE_RATE) -> bytes:
    """Mix down to mono, resample to `rate` and quantise to PCM16 (clipped, rounded).

    A mono file already at `rate` comes out sample for sample as it went in.
    """
    mono = audio.samples[:, 0] if audio.channels == 1 else audio.samples.mean(axis=1)
    converted = resample(mono, audio.rate, rate)
    return np.clip(np.round(converted * 32768.0), -32768, 32767).astype("<i2").tobytes()


def load_pcm(path: str | Path, rate: int = SAMPLE_RATE) -> bytes:
    """A WAV file as the voice loop's audio: mono PCM16 at `rate` (the input format's)."""
    return to_pcm16_mono(read_wav(path), rate)


def _chunks(path: str | Path, data: bytes) -> tuple[bytes, bytes]:
    fmt = body = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, pos)
        content = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = content
        elif chunk_id == b"data":
            body = content  # a streaming writer's unfinished size is clipped to the file
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise WavError(f"{path}: no valid 'fmt ' chunk")
    if body is None:
        raise WavError(f"{path}: no 'data' chunk")
    return fmt, body


def _decode(path: str | Path, body: bytes, tag: int, bits: int, width: int) -> np.ndarray:
    if tag in (_ALAW, _ULAW):
        if width != 1:
            raise WavError(f"{path}: unsupported G.711 sample size ({bits} bits)")
        pcm16 = g711.pcm16_from_alaw(body) if tag == _ALAW else g711.pcm16_from_ulaw(body)
        return np.frombuffer(pcm16, dtype="<i2") / 32768.0
    if tag == _FLOAT:
        if width not in (4, 8):
            raise WavError(f"{path}: unsupported float sample size ({bits} bits)")
        return np.frombuffer(body, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
    if width == 1:
        return (np.frombuffer(body, dtype="u1").astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(body, dtype="<i2") / 32768.0
    if width == 3:
        raw = np.frombuffer(body, dtype="u1").reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        return np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)
    if width == 4:
        return np.frombuffer(body, dtype="<i4") / float(1 << 31)
    raise WavError(f"{path}: unsupported sample size ({bits} bits)")


class WavWriter:
    """A WAV written as it goes, valid at every moment.

    `write` takes PCM16 frames; the file stores them as PCM16, or as G.711 codes when
    `encoding` is μ-law or A-law (with the `fact` chunk such files need). After each
    `write` the sizes are rewritten and the data is flushed to the OS, so whatever
    happens to the process, the file holds a readable WAV of all completed writes.
    """

    def __init__(self, path: str | Path, *, channels: int = 1, rate: int = SAMPLE_RATE, encoding: AudioFormat = PCM) -> None:
        self.path = Path(path)
        self.channels = channels
        self.rate = rate
        self.encoding = encoding
        self.data_bytes = 0
        self._file: BinaryIO = open(self.path, "wb")
        self._file.write(self._header())
        self._file.flush()

    @property
    def frames(self) -> int:
        return self.data_bytes // (self.encoding.wire_bytes * self.channels)

    def write(self, pcm: bytes) -> None:
        """Append interleaved PCM16 frames and make the header match."""
        if len(pcm) % (SAMPLE_BYTES * self.channels):
            raise ValueError(f"{len(pcm)} bytes is not a whole number of {self.channels}-channel PCM16 frames")
        if not pcm:
            return
        data = self.encoding.encode(pcm)
        self._file.seek(0, 2)
        self._file.write(data)
        self.data_bytes += len(data)
        self._file.seek(0)
        self._file.write(self._header())
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _header(self) -> bytes:
        block_align = self.encoding.wire_bytes * self.channels
        bits = 8 * self.encoding.wire_bytes
        fmt = struct.pack("<HHIIHH", self.encoding.wav_tag, self.channels, self.rate, self.rate * block_align, block_align, bits)
        fact = b""
        if self.encoding.wav_tag != _PCM:  # non-PCM: a cbSize field, and the frame count in 'fact'
            fmt += struct.pack("<H", 0)
            fact = struct.pack("<4sII", b"fact", 4, self.data_bytes // block_align)
        body = b"WAVE" + struct.pack("<4sI", b"fmt ", len(fmt)) + fmt + fact + struct.pack("<4sI", b"data", self.data_bytes)
        return struct.pack("<4sI", b"RIFF", len(body) + self.data_bytes) + body
