"""The playback jitter buffer: assistant audio in, device-sized blocks out, exact accounting.

The session core decides barge-in and needs to know how many milliseconds of the
interrupted item the user actually heard. The `Player` knows, because every frame it
hands to the device passes through `pull`: it counts frames per item, starts a new
utterance only after a small cushion so network jitter does not cause crackles, and on
`stop` fades out, drops what is queued and returns `(item_id, played_ms)`.

While the core cues the thinking sound (`think(clip)` ... `stop_thinking()`), `pull` loops
that clip in the frames no assistant audio fills, and only while none is queued; it never
touches the accounting, so truncation and `played_ms` stay exactly the agent's.

`pull` is called by whatever drives the clock (a sounddevice callback, a WAV-writing
thread); the Player itself has no threads and no device, so it can be tested directly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from runner.audio.pcm import SAMPLE_BYTES, SAMPLE_RATE, frames_for_ms, ms_for_frames
from runner.audio.thinking import ClipLoop


@dataclass(slots=True)
class ItemStats:
    """Timing and accounting of one assistant item (times are `clock()` seconds)."""

    first_fed_at: float
    first_heard_at: float | None = None  # when its first sample reaches the listener
    received_frames: int = 0
    played_frames: int = 0  # handed to the output, including a stop's fade
    last_heard_at: float = 0.0  # when the last handed sample reaches the listener
    ended: bool = False  # no more audio will come for it
    stopped: bool = False  # dropped by stop(); later audio for it is ignored
    finished: bool = False  # fully heard and reported
    rate: int = SAMPLE_RATE  # frames per second of its audio (the output format's rate)

    @property
    def played_ms(self) -> int:
        return ms_for_frames(self.played_frames, self.rate)


class Player:
    """A callback-driven jitter buffer with per-item played-milliseconds accounting.

    Audio is PCM16 mono at `rate` (the session's output format: 24 kHz, or 8 kHz for
    G.711), so milliseconds count the samples of that rate. Thread-safe: `feed`, `end_item` and `stop` come from the driver's thread, `pull` from
    the audio thread. `on_item_finished(item_id)` and `on_played(pcm, heard_at)` run on
    whichever thread noticed (usually the audio thread), so they must only hand over,
    e.g. with `loop.call_soon_threadsafe`.
    """

    def __init__(
        self,
        *,
        cushion_ms: float = 60.0,
        rate: int = SAMPLE_RATE,
        on_item_finished: Callable[[str], None] | None = None,
        on_played: Callable[[bytes, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cushion_ms < 0:
            raise ValueError(f"cushion_ms must be >= 0, got {cushion_ms}")
        self.rate = rate
        self._cushion_frames = frames_for_ms(cushion_ms, rate)
        self._on_item_finished = on_item_finished
        self._on_played = on_played
        self._clock = clock
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._queue: deque[tuple[str, bytes]] = deque()  # (item_id, pcm), oldest first
        self._head_offset = 0  # bytes of the head chunk already handed out
        self._queued_frames = 0
        self._items: dict[str, ItemStats] = {}
        self._unfinished: dict[str, ItemStats] = {}  # not yet reported, not stopped
        self._playing = False  # past the cushion: keep going without waiting
        self._current: str | None = None  # the item whose frames were handed out last
        self._fade_tail = b""  # the faded frames stop() prepared for the next pull
        self.underrun_frames = 0  # silence handed out while an utterance was starved
        self._thinking: ClipLoop | None = None  # the thinking sound, while the core cues it
        self._thinking_since = 0.0
        self._thinking_frames = 0  # clip frames handed out since it started
        self.thinking_frames = 0  # clip frames handed out in all (never counted as any item's)

    # -- driver side -------------------------------------------------------------

    def feed(self, item_id: str, pcm: bytes) -> None:
        """Queue PCM16 audio of an assistant item (ignored if that item was stopped)."""
        if len(pcm) % SAMPLE_BYTES:
            raise ValueError(f"PCM16 audio for item {item_id!r} has an odd length ({len(pcm)} bytes)")
        with self._lock:
            item = self._item(item_id)
            if item.stopped or not pcm:
                return
            if item.ended:
                raise ValueError(f"audio for item {item_id!r} arrived after end_item()")
            self._queue.append((item_id, pcm))
            frames = len(pcm) // SAMPLE_BYTES
            self._queued_frames += frames
            item.received_frames += frames
            self._ready.notify_all()

    def end_item(self, item_id: str) -> None:
        """Say that all audio of `item_id` has been fed; it is reported once fully heard."""
        with self._lock:
            item = self._item(item_id)
            item.ended = True
            finished = self._collect_finished(self._clock())
            self._ready.notify_all()
        self._report_finished(finished)

    def stop(self, fade_ms: float = 10.0) -> tuple[str | None, int]:
        """Fade out over `fade_ms` (emitted in the next block), drop all queued audio.

        Returns the item the listener was hearing and how many milliseconds of it they
        will have heard: everything already handed to the output (it is in the device's
        buffer and will sound) plus the fade. `(None, 0)` when nothing was audible.
        """
        with self._lock:
            now = self._clock()
            audible = self._current
            if audible is not None and self._is_fully_heard(self._items[audible], now):
                audible = None
            if audible is not None:
                self._fade_tail = self._take_fade(audible, frames_for_ms(fade_ms, self.rate))
            for item_id, _ in self._queue:
                self._items[item_id].stopped = True
                self._unfinished.pop(item_id, None)
            self._queue.clear()
            self._head_offset = 0
            self._queued_frames = 0
            self._playing = False
            self._current = None
            if audible is None:
                return None, 0
            item = self._items[audible]
            item.stopped = True
            self._unfinished.pop(audible, None)
            return audible, item.played_ms

    def think(self, clip: bytes | None) -> None:
        """Loop `clip` (PCM16 at this rate) in the silence until `stop_thinking`; None: stay silent."""
        with self._lock:
            if clip and self._thinking is None:
                self._thinking = ClipLoop(clip)
                self._thinking_since, self._thinking_frames = self._clock(), 0
            self._ready.notify_all()

    def stop_thinking(self) -> None:
        with self._lock:
            self._thinking = None

    def take_fade(self) -> bytes:
        """The fade `stop()` counted as heard that no `pull` has handed out yet.

        An output that closes right after a stop writes it itself, so what it wrote
        matches the milliseconds `stop()` reported.
        """
        with self._lock:
            tail, self._fade_tail = self._fade_tail, b""
            heard_at = self._clock()
        if tail and self._on_played is not None:
            self._on_played(tail, heard_at)
        return tail

    def stats(self, item_id: str) -> ItemStats | None:
        """Accounting of one item, for latency metrics and benchmarks."""
        with self._lock:
            item = self._items.get(item_id)
            return None if item is None else replace(item)

    @property
    def queued_ms(self) -> int:
        """Milliseconds of audio waiting to be handed out."""
        with self._lock:
            return ms_for_frames(self._queued_frames, self.rate)

    # -- output side -------------------------------------------------------------

    def pull(self, frames: int, latency: float = 0.0) -> bytes:
        """The next `frames` frames for the output (silence where there is no audio).

        `latency` is how long after now the first frame of this block will be heard
        (PortAudio's output latency); it makes "played" mean "heard" in the timings.
        """
        out = bytearray(frames * SAMPLE_BYTES)
        with self._lock:
            now = self._clock()
            heard_at = now + latency
            filled = len(self._fade_tail) // SAMPLE_BYTES
            if filled:
                filled = min(filled, frames)
                out[: filled * SAMPLE_BYTES] = self._fade_tail[: filled * SAMPLE_BYTES]
                self._fade_tail = self._fade_tail[filled * SAMPLE_BYTES :]
            audible = filled > 0
            if not self._playing and self._can_start():
                self._playing = True
            if self._playing:
                filled = self._fill(out, filled, frames, heard_at)
                audible = audible or self._current is not None
                if filled < frames and self._playing:
                    self.underrun_frames += frames - filled
            if self._thinking is not None and not self._queue and not self._fade_tail and filled < frames:
                out[filled * SAMPLE_BYTES :] = self._thinking.take(frames - filled)
                self._thinking_frames += frames - filled
                self.thinking_frames += frames - filled
                audible = True
            finished = self._collect_finished(now)
        block = bytes(out)
        if audible and self._on_played is not None:
            self._on_played(block, heard_at)
        self._report_finished(finished)
        return block

    def check_finished(self) -> None:
        """Report items whose last sample has been heard by now.

        `pull` does this on every block; an output that stops pulling while idle (a file
        written as fast as possible) calls this instead.
        """
        with self._lock:
            finished = self._collect_finished(self._clock())
        self._report_finished(finished)

    def wait_ready(self, timeout: float) -> int:
        """Wait up to `timeout` s until `pull` has audio to give; return how many frames.

        For outputs without a clock of their own (writing a file as fast as possible).
        """
        with self._ready:
            self._ready.wait_for(lambda: self._ready_frames() > 0, timeout)
            return self._ready_frames()

    # -- internals (called with the lock held) -------------------------------------

    def _item(self, item_id: str) -> ItemStats:
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = self._unfinished[item_id] = ItemStats(first_fed_at=self._clock(), rate=self.rate)
        return item

    def _ready_frames(self) -> int:
        tail = len(self._fade_tail) // SAMPLE_BYTES
        if self._playing or self._can_start():
            return tail + self._queued_frames
        if self._thinking is not None and not self._queue:  # a file written as fast as it can: the clip in real time
            return tail + max(0, round((self._clock() - self._thinking_since) * self.rate) - self._thinking_frames)
        return tail

    def _can_start(self) -> bool:
        """A new utterance starts once the cushion is buffered, or all of it is."""
        if not self._queue:
            return False
        if self._queued_frames >= self._cushion_frames:
            return True
        return all(self._items[item_id].ended for item_id, _ in self._queue)

    def _fill(self, out: bytearray, filled: int, frames: int, heard_at: float) -> int:
        while filled < frames and self._queue:
            item_id, pcm = self._queue[0]
            start = self._head_offset
            n = min(frames - filled, (len(pcm) - start) // SAMPLE_BYTES)
            out[filled * SAMPLE_BYTES : (filled + n) * SAMPLE_BYTES] = pcm[start : start + n * SAMPLE_BYTES]
            item = self._items[item_id]
            if item.first_heard_at is None:
                item.first_heard_at = heard_at + filled / self.rate
            item.played_frames += n
            item.last_heard_at = heard_at + (filled + n) / self.rate
            self._current = item_id
            self._queued_frames -= n
            filled += n
            if start + n * SAMPLE_BYTES == len(pcm):
                self._queue.popleft()
                self._head_offset = 0
            else:
                self._head_offset = start + n * SAMPLE_BYTES
        if not self._queue and self._current is not None and self._items[self._current].ended:
            self._playing = False  # the utterance is over; the next one waits for a cushion
        return filled

    def _take_fade(self, item_id: str, fade_frames: int) -> bytes:
        """Up to `fade_frames` of the item's next queued audio, ramped down to zero."""
        parts: list[bytes] = []
        need = fade_frames * SAMPLE_BYTES
        offset = self._head_offset
        for queued_id, pcm in self._queue:
            if queued_id != item_id or need == 0:
                break
            part = pcm[offset : offset + need]
            parts.append(part)
            need -= len(part)
            offset = 0
        tail = np.frombuffer(b"".join(parts), dtype="<i2")
        if tail.size == 0:
            return b""
        ramp = 1.0 - (np.arange(1, tail.size + 1) / fade_frames)
        faded = np.round(tail * ramp).astype("<i2")
        item = self._items[item_id]
        item.played_frames += tail.size
        return faded.tobytes()

    def _is_fully_heard(self, item: ItemStats, now: float) -> bool:
        return item.ended and item.played_frames == item.received_frames and item.last_heard_at <= now

    def _collect_finished(self, now: float) -> list[str]:
        finished = [item_id for item_id, item in self._unfinished.items() if self._is_fully_heard(item, now)]
        for item_id in finished:
            self._unfinished.pop(item_id).finished = True
            if self._current == item_id:
                self._current = None
        return finished

    def _report_finished(self, finished: list[str]) -> None:
        if self._on_item_finished is not None:
            for item_id in finished:
                self._on_item_finished(item_id)
