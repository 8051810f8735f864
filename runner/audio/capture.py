"""Microphone capture: mono PCM16 blocks at the input format's rate from a sounddevice callback to asyncio.

PortAudio calls back on its own thread; blocks are handed to the event loop with
`call_soon_threadsafe`, stamped with the time their first sample was captured so the
recorder and the echo gate can place them on the session clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from runner.audio.devices import load_sounddevice
from runner.audio.pcm import SAMPLE_RATE, frames_for_ms, meter, rms

MIN_BLOCK_MS = 20
MAX_BLOCK_MS = 40


@dataclass(frozen=True, slots=True)
class MicBlock:
    pcm: bytes
    captured_at: float  # clock() time of the block's first sample


class AudioInput(Protocol):
    """What the driver reads the user's audio from: a device or a WAV file."""

    level: float  # 0..1 meter value of the latest block

    def start(self) -> None:
        """Begin producing blocks; call from the event loop's thread."""

    async def read(self) -> MicBlock | None:
        """The next block, or None when the input has ended (files only)."""

    def close(self) -> None:
        """Stop producing blocks; a pending `read` returns None."""


def check_block_ms(block_ms: int, rate: int = SAMPLE_RATE) -> int:
    """The block length in frames at `rate`; the Realtime loop wants 20–40 ms blocks."""
    if not MIN_BLOCK_MS <= block_ms <= MAX_BLOCK_MS:
        raise ValueError(f"audio block length must be {MIN_BLOCK_MS}-{MAX_BLOCK_MS} ms, got {block_ms}")
    return frames_for_ms(block_ms, rate)


class DeviceInput:
    """Capture from a PortAudio input device (`device=None`: the default one).

    The stream is opened at `rate` (8 kHz for a G.711 session): the host API converts
    from the device's own rate, as it does for any application asking for telephone audio.
    """

    def __init__(
        self, *, device: int | None = None, block_ms: int = 20, rate: int = SAMPLE_RATE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self._frames = check_block_ms(block_ms, rate)
        self._device = device
        self._clock = clock
        self._queue: asyncio.Queue[MicBlock | None] = asyncio.Queue()
        self._deliver: Callable[..., object] = self._queue.put_nowait
        self._stream: Any = None
        self.level = 0.0
        self.overflows = 0  # blocks PortAudio reported as overflowed (audio was lost)

    def start(self) -> None:
        sd = load_sounddevice()
        self._deliver = partial(asyncio.get_running_loop().call_soon_threadsafe, self._queue.put_nowait)
        self._stream = sd.RawInputStream(
            samplerate=self.rate,
            channels=1,
            dtype="int16",
            blocksize=self._frames,
            device=self._device,
            latency="low",
            callback=self._callback,
        )
        self._stream.start()

    async def read(self) -> MicBlock | None:
        return await self._queue.get()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
            self._queue.put_nowait(None)

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = self._clock()
        if status.input_overflow:
            self.overflows += 1
        age = time_info.currentTime - time_info.inputBufferAdcTime
        if not 0.0 < age < 1.0:  # PortAudio gives no usable timestamps on this host API
            age = frames / self.rate + self._stream.latency
        pcm = bytes(indata)
        self.level = meter(rms(pcm))
        try:
            self._deliver(MicBlock(pcm, now - age))
        except RuntimeError:  # the loop closed while the stream was still running
            pass
