"""What a Twilio caller has heard, from mark echoes: the conversation's audio sink on a Media Stream.

Twilio queues the audio we send and plays it in real time; the only playback truth is
the echo of a `mark` we send after it. So the agent's audio goes out in fixed 20 ms
frames (160 bytes of μ-law), each followed by a mark, and an item's heard position is
the position of its last echoed mark. Twilio also echoes the marks of audio a `clear`
dropped, which must not count as played: every mark name carries the playback
generation, and a barge-in starts a new one, so the echoes of cleared audio are ignored.

Sans-I/O: `send` is given each outbound frame's text, `on_item_played(item_id)` is
told when an item's last mark came back (the conversation's `audio_played`).

The thinking sound (the core's `ThinkingStarted`/`ThinkingStopped`, given to `on_record`)
goes out as unmarked frames paced by a timer (`call_later`), at most `THINKING_LEAD_FRAMES`
ahead of what Twilio plays, and only while no agent audio is unheard: so the agent's audio
waits behind 40 ms of it at most, and no mark, heard position or truncation counts it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..audio.formats import PCMU
from ..audio.thinking import ClipLoop, ThinkingSounds
from ..audio.wav import WavError
from ..core.records import Record, ThinkingStarted, ThinkingStopped
from . import twilio_media

if TYPE_CHECKING:
    from ..config.model import Config

logger = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of μ-law at 8 kHz
SILENCE = b"\xff"  # μ-law zero: pads an item's last frame to the full 20 ms
THINKING_LEAD_FRAMES = 2  # clip frames queued at Twilio ahead of the clock: covers timer jitter


def thinking_sounds(config: Config) -> ThinkingSounds | None:
    """Each agent's thinking clip at the phone's 8 kHz; a WAV that cannot be decoded is logged, and the call goes on without one."""
    try:
        return ThinkingSounds.for_config(config, PCMU.rate)
    except WavError as problem:
        logger.error("thinking_sound: %s; calls go on without it", problem)
        return None


@dataclass(slots=True)
class _ItemPlayback:
    sent_ms: int = 0  # audio sent to Twilio (whole frames)
    heard_ms: int = 0  # up to the last echoed mark
    partial: bytes = b""  # less than a frame, waiting for more
    complete: bool = False  # end_item came, and its last mark is out


@dataclass(frozen=True, slots=True)
class _SentMark:
    item_id: str
    position_ms: int  # the item's position once the audio before this mark has played
    last: bool


class MarkedPlayback:
    """The AudioOut of a Twilio call: play / end_item / stop, plus `acknowledge` for mark echoes."""

    def __init__(self, stream_sid: str, send: Callable[[str], None], on_item_played: Callable[[str], None], *,
                 sounds: ThinkingSounds | None = None, call_later: Callable[[float, Callable[[], None]], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream_sid = stream_sid
        self._sounds = sounds
        self._call_later = call_later
        self._clock = clock
        self._thinking: ClipLoop | None = None
        self._thinking_timer: Any = None
        self._thinking_origin = 0.0  # when the clip (re)started with nothing of the agent's unheard
        self._thinking_sent = 0  # clip frames sent since then
        self.thinking_frames = 0  # clip frames sent in all
        self._send = send
        self._on_item_played = on_item_played
        self.generation = 0
        self._sequence = 0
        self._items: dict[str, _ItemPlayback] = {}  # in playing order; an item leaves once heard in full or cut
        self._marks: dict[str, _SentMark] = {}  # this generation's marks not echoed yet
        self._cut: set[str] = set()  # items a barge-in stopped: the rest of their audio is dropped
        self.ignored_echoes = 0  # echoes of cleared audio (an earlier generation) or of names we never sent

    @property
    def pending_marks(self) -> int:
        """Marks of the current generation Twilio has not echoed: audio still queued or playing."""
        return len(self._marks)

    def play(self, item_id: str, audio: bytes) -> None:
        """Send `audio` (μ-law) in whole 20 ms frames, each followed by a mark (so what was heard is known to the frame)."""
        if item_id in self._cut:
            return
        item = self._items.setdefault(item_id, _ItemPlayback())
        buffered = item.partial + audio
        whole = len(buffered) - len(buffered) % FRAME_BYTES
        item.partial = buffered[whole:]
        for start in range(0, whole, FRAME_BYTES):
            self._frame(item, buffered[start : start + FRAME_BYTES])
            self._mark(item_id, item.sent_ms, last=False)

    def end_item(self, item_id: str) -> None:
        """The item's audio is complete: pad its last frame with silence and send its last mark."""
        item = self._items.get(item_id)
        if item_id in self._cut:
            return
        if item is None:  # no audio at all: nothing to wait for
            self._on_item_played(item_id)
            return
        if item.partial:
            self._frame(item, item.partial.ljust(FRAME_BYTES, SILENCE))
            item.partial = b""
        item.complete = True
        self._mark(item_id, item.sent_ms, last=True)

    def stop(self) -> tuple[str | None, int]:
        """Barge-in: `clear` Twilio's queue, drop the rest, and say what was heard of the item playing.

        `clear` is sent even when all audio was already sent (Twilio would play its whole
        queue otherwise); every mark still out belongs to the old generation from now on.
        """
        playing = next(iter(self._items), None)
        heard = self._items[playing].heard_ms if playing is not None else 0
        self._send(twilio_media.clear(self.stream_sid))
        self.generation += 1
        self._marks.clear()
        self._cut.update(self._items)
        self._items.clear()
        return playing, heard

    def on_record(self, record: Record, t: float) -> None:
        """The conversation's records: the thinking sound's cue starts and stops the clip."""
        if isinstance(record, ThinkingStarted):
            self.think(record.agent)
        elif isinstance(record, ThinkingStopped):
            self.stop_thinking()

    def think(self, agent: str) -> None:
        """Send `agent`'s clip, paced, in the silence until `stop_thinking` (nothing when it is off)."""
        clip = self._sounds.clip(agent) if self._sounds is not None else None
        if clip is None or self._thinking is not None:
            return
        self._thinking = ClipLoop(PCMU.encode(clip), sample_bytes=1)
        self._thinking_origin, self._thinking_sent = self._clock(), 0
        self._pace_thinking()

    def stop_thinking(self) -> None:
        self._thinking = None
        if self._thinking_timer is not None:
            self._thinking_timer.cancel()
            self._thinking_timer = None

    def _pace_thinking(self) -> None:
        """Keep the clip `THINKING_LEAD_FRAMES` ahead of the clock while no agent audio is unheard."""
        self._thinking_timer = None
        if self._thinking is None:
            return
        now = self._clock()
        if self._items:  # the agent's audio is queued or playing: it alone is heard; the clip resumes after it
            self._thinking_origin, self._thinking_sent = now, 0
        else:
            due = round((now - self._thinking_origin) * 1000, 3) // FRAME_MS + THINKING_LEAD_FRAMES
            while self._thinking_sent < due:
                self._send(twilio_media.media(self.stream_sid, self._thinking.take(FRAME_BYTES)))
                self._thinking_sent += 1
                self.thinking_frames += 1
        call_later = self._call_later or asyncio.get_running_loop().call_later
        self._thinking_timer = call_later(FRAME_MS / 1000, self._pace_thinking)

    def acknowledge(self, name: str) -> None:
        """A mark echo: what it stands for has played, unless it belongs to cleared audio."""
        sent = self._marks.pop(name, None)
        if sent is None:
            self.ignored_echoes += 1
            return
        item = self._items.get(sent.item_id)
        if item is None:
            return
        item.heard_ms = max(item.heard_ms, sent.position_ms)
        if sent.last:
            del self._items[sent.item_id]
            self._on_item_played(sent.item_id)

    def _frame(self, item: _ItemPlayback, frame: bytes) -> None:
        self._send(twilio_media.media(self.stream_sid, frame))
        item.sent_ms += FRAME_MS

    def _mark(self, item_id: str, position_ms: int, *, last: bool) -> None:
        self._sequence += 1
        name = f"g{self.generation}-{self._sequence}"
        self._marks[name] = _SentMark(item_id, position_ms, last)
        self._send(twilio_media.mark(self.stream_sid, name))
