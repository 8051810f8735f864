"""Client events on their way to the socket: one bounded queue, one sender at a time, in order.

The queue is our backlog towards the service: it grows only while the socket does not
take frames as fast as we make them (a slow or stalled link). Past `bound`, microphone
audio is dropped (it is worthless seconds late, and the core keeps no account of it),
with a notice when dropping starts and one with the count once the backlog has cleared.
Everything else is still queued, since the protocol depends on it, up to twice the bound;
past that the link is not moving and the conversation ends ("connection backlogged")
rather than hold more.
"""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any, Callable, Protocol, Sequence

from ..core.records import Notice, Record
from .errors import ConnectionLost

MAX_OUTGOING = 500  # client events queued for the socket before microphone audio is dropped
AUDIO_APPEND = "input_audio_buffer.append"
DRAIN_ROUNDS = 200  # flushes (5 ms apart) a closing conversation gives what is still queued


class Sender(Protocol):
    async def send_texts(self, texts: Sequence[str]) -> None: ...


class OutgoingHooks(Protocol):
    """Where sent frames and the queue's notices are reported (the driver's `Hooks`)."""

    on_record: Callable[[Record, float], None]
    on_event: Callable[[str, dict[str, Any], float], None]
    on_frame: Callable[[str, dict[str, Any], str, float], None]


class Outgoing:
    """The bounded queue of client events and its flush, shared by every task that makes events."""

    def __init__(self, connection: Sender, *, connected: asyncio.Event, hooks: OutgoingHooks, now: Callable[[], float],
                 backlogged: Callable[[str], None], after_flush: Callable[[], None], bound: int = MAX_OUTGOING) -> None:
        self._connection = connection
        self._connected = connected
        self._hooks = hooks
        self._now = now
        self._backlogged = backlogged  # called with the message when twice the bound is waiting
        self._after_flush = after_flush
        self.bound = bound
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._ready = asyncio.Event()
        self.flushing = False
        self._audio_dropped = 0  # microphone chunks dropped in the current backlog

    def __bool__(self) -> bool:
        """Events are waiting to be sent."""
        return bool(self._events)

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being sent."""
        return not self._events and not self.flushing

    def put(self, event: dict[str, Any]) -> None:
        """Queue a client event for the socket, within the bound (see the module's docstring)."""
        backlog = len(self._events)
        if backlog >= self.bound:
            if event.get("type") == AUDIO_APPEND:
                if not self._audio_dropped:
                    self._hooks.on_record(Notice(f"the connection to the service is behind ({backlog} client events waiting): microphone audio is dropped until it catches up"), self._now())
                self._audio_dropped += 1
                return
            if backlog >= 2 * self.bound:
                self._backlogged(f"the service is not taking client events: {backlog} are waiting to be sent")
                return
        self._events.append(event)

    def wake_writer(self) -> None:
        """Events were queued by code that does not flush itself: the writer task sends them."""
        if self._events:
            self._ready.set()

    def discard(self) -> None:
        """Drop events queued for a lost socket (with no await before the core re-sends what matters)."""
        self._events.clear()

    async def flush(self) -> None:
        """Send the queued client events, in order, from whichever task gets here first.

        Only one task sends at a time; the others return at once and their events go out
        with the active sender's, in queue order.  Flushing from the task that produced
        the events saves a hop through the writer task on the hot path (tool outputs).
        """
        if self.flushing:
            return
        self.flushing = True
        events, hooks = self._events, self._hooks
        try:
            while events:
                batch: list[str] = []
                while events:
                    event = events.popleft()
                    if not self._connected.is_set():
                        # Meant for a socket that is gone (a tool or tick answered during the
                        # outage): the new socket knows nothing of it, and the core re-sends
                        # what still matters when it hears `reconnected`.
                        continue
                    text = json.dumps(event)
                    now = self._now()
                    hooks.on_frame("out", event, text, now)
                    hooks.on_event("out", event, now)
                    batch.append(text)
                if not batch:
                    continue
                try:
                    await self._connection.send_texts(batch)  # what was queued together goes out in one write
                except ConnectionLost:
                    # The reader notices the same loss and reconnects; the core re-sends
                    # what matters from its own state, so these events are not retried.
                    continue
        finally:
            self.flushing = False
            if self._audio_dropped and not events:
                dropped, self._audio_dropped = self._audio_dropped, 0
                hooks.on_record(Notice(f"the connection caught up; {dropped} microphone audio chunks were dropped meanwhile"), self._now())
            self._after_flush()

    async def writer(self) -> None:
        """The backstop sender for events applied by code that does not flush itself."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            await self.flush()

    async def drain(self) -> None:
        """Send what is still queued before closing (bounded; nothing if the socket is gone)."""
        for _ in range(DRAIN_ROUNDS):
            if not self._connected.is_set() or self.idle:
                return
            await self.flush()
            await asyncio.sleep(0.005)
