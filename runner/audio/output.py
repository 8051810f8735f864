"""Speaker output: a sounddevice callback that pulls blocks from a `Player`.

The driver only talks to the `Player` (feed, end_item, stop); an output is the clock
that drains it. `DeviceOutput` is PortAudio's clock, `files.WavOutput` a file's.
"""

from __future__ import annotations

from typing import Any, Protocol

from runner.audio.capture import check_block_ms
from runner.audio.devices import load_sounddevice
from runner.audio.playback import Player


class AudioOutput(Protocol):
    """Something that drains a `Player` in real time (or as fast as it can)."""

    def start(self) -> None:
        """Begin pulling audio from the player."""

    def close(self) -> None:
        """Stop pulling; audio still queued in the player is not played."""


class DeviceOutput:
    """Play a `Player` through a PortAudio output device (`device=None`: the default)."""

    def __init__(self, player: Player, *, device: int | None = None, block_ms: int = 20) -> None:
        self._player = player
        self._frames = check_block_ms(block_ms, player.rate)
        self._device = device
        self._stream: Any = None
        self.underflows = 0  # blocks PortAudio reported as late (a gap was audible)

    @property
    def latency(self) -> float:
        """Seconds from handing a block to the device until it is heard (PortAudio's estimate)."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    def start(self) -> None:
        sd = load_sounddevice()
        self._stream = sd.RawOutputStream(
            samplerate=self._player.rate,  # the output format's; the host API converts to the device's
            channels=1,
            dtype="int16",
            blocksize=self._frames,
            device=self._device,
            latency="low",
            callback=self._callback,
        )
        self._stream.start()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status.output_underflow:
            self.underflows += 1
        latency = time_info.outputBufferDacTime - time_info.currentTime
        if time_info.outputBufferDacTime <= 0.0 or not 0.0 <= latency < 1.0:
            latency = self._stream.latency  # this host API gives no usable timestamps
        outdata[:] = self._player.pull(frames, latency)
