"""WAV files in place of the microphone and the speaker (`--input-wav`, `--output-wav`).

They have the interfaces of `DeviceInput` and `DeviceOutput`, so the voice loop runs the
same driver code against files: for scripted sessions, tests and CI without sound cards.
Real time paces like a device; fast mode goes as quickly as the data allows.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runner.audio.capture import MicBlock, check_block_ms
from runner.audio.formats import PCM, AudioFormat
from runner.audio.pcm import SAMPLE_BYTES, meter, rms
from runner.audio.playback import Player
from runner.audio.wav import WavWriter, load_pcm


class WavInput:
    """A WAV file as the microphone: converted to mono at `rate`, then read in blocks.

    `rate` is the input format's (24 kHz, 8 kHz for G.711); a mono file at that rate is
    sent sample for sample. The file is decoded in the constructor, so a bad file is
    reported before any connection is made. In real time, block k is delivered at
    start + k * block length.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        realtime: bool = True,
        block_ms: int = 20,
        rate: int = PCM.rate,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._pcm = load_pcm(path, rate)
        self._block_bytes = check_block_ms(block_ms, rate) * SAMPLE_BYTES
        self._realtime = realtime
        self._clock = clock
        self._started_at: float | None = None
        self._offset = 0
        self._closed = False
        self.level = 0.0

    @property
    def duration_ms(self) -> int:
        return len(self._pcm) * 1000 // (SAMPLE_BYTES * self.rate)

    def start(self) -> None:
        self._started_at = self._clock()

    async def read(self) -> MicBlock | None:
        if self._started_at is None:
            raise RuntimeError("WavInput.read() before start()")
        if self._closed or self._offset >= len(self._pcm):
            self.level = 0.0
            return None
        pcm = self._pcm[self._offset : self._offset + self._block_bytes]
        if self._realtime:
            due = self._started_at + self._offset / (SAMPLE_BYTES * self.rate)
            await asyncio.sleep(max(0.0, due - self._clock()))
        else:
            due = self._clock()
            await asyncio.sleep(0)  # let the rest of the loop run between blocks
        self._offset += len(pcm)
        self.level = meter(rms(pcm))
        return MicBlock(pcm, due)

    def close(self) -> None:
        self._closed = True


class WavOutput:
    """The speaker as a WAV file: what the listener would have heard, as it is played.

    Real time: a thread pulls one block per block length (silence included), like a
    device with no latency. Fast: audio is written as soon as the player has it, with
    no silence in between. The file is valid at every moment (see `WavWriter`). It is
    written in the session's output format (`encoding`, at the player's rate), so a
    μ-law reply lands in a μ-law WAV byte for byte.
    """

    def __init__(
        self, player: Player, path: str | Path, *, realtime: bool = True, block_ms: int = 20, encoding: AudioFormat = PCM
    ) -> None:
        self._player = player
        self._path = Path(path)
        self._encoding = encoding
        self._frames = check_block_ms(block_ms, player.rate)
        self._realtime = realtime
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: WavWriter | None = None

    def start(self) -> None:
        self._writer = WavWriter(self._path, rate=self._player.rate, encoding=self._encoding)
        pump = self._pump_realtime if self._realtime else self._pump_fast
        self._thread = threading.Thread(target=pump, args=(self._writer,), name="wav-output", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._writer is not None:
            self._writer.write(self._player.take_fade())  # a stop() just before close counted it as heard
            self._writer.close()
            self._writer = None

    def _pump_realtime(self, writer: WavWriter) -> None:
        block_seconds = self._frames / self._player.rate
        started = time.monotonic()
        blocks = 0
        while not self._stopping.wait(max(0.0, started + blocks * block_seconds - time.monotonic())):
            writer.write(self._player.pull(self._frames))
            blocks += 1

    def _pump_fast(self, writer: WavWriter) -> None:
        while not self._stopping.is_set():
            ready = self._player.wait_ready(timeout=0.02)
            if ready:
                writer.write(self._player.pull(min(ready, self._frames)))
            else:
                self._player.check_finished()
