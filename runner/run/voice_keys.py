"""Push-to-talk on the space bar, read from the terminal without line buffering.

Terminals report key presses, never releases, so the space bar works two ways: tap it to
start talking and tap again to send, or hold it (the terminal's auto-repeat keeps sending
spaces) and let go to send. The terminal is put in cbreak mode (no echo, no line editing,
Ctrl-C still interrupts) and restored on every way out: normal exit, Ctrl-C, exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable, Iterator

REPEAT_GAP = 0.6  # s: a space this soon after the previous one is auto-repeat (covers the initial delay)
RELEASE_GAP = 0.2  # s: auto-repeat that stops for this long means the key was let go


class SpaceBar:
    """Turns a stream of space characters (with their times) into talk start/stop calls."""

    def __init__(self, *, on_press: Callable[[], None], on_release: Callable[[], None]) -> None:
        self._on_press = on_press
        self._on_release = on_release
        self.talking = False
        self._last_space: float | None = None
        self._held = False  # auto-repeat seen since the press: letting go sends

    def space(self, now: float) -> None:
        previous, self._last_space = self._last_space, now
        if previous is not None and now - previous < REPEAT_GAP:
            self._held = self._held or self.talking
            return
        self._held = False
        self.talking = not self.talking
        (self._on_press if self.talking else self._on_release)()

    def tick(self, now: float) -> None:
        """Notice the end of auto-repeat: a held key was let go."""
        if self._held and self._last_space is not None and now - self._last_space >= RELEASE_GAP:
            self._held = False
            self.talking = False
            self._on_release()


@contextlib.contextmanager
def cbreak_terminal(fd: int) -> Iterator[None]:
    """Keys arrive one by one without echo; the previous settings come back on exit."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class KeyReader:
    """Reads the terminal on the event loop and feeds spaces to a `SpaceBar`."""

    def __init__(self, fd: int, space_bar: SpaceBar, *, clock: Callable[[], float]) -> None:
        self._fd = fd
        self._space_bar = space_bar
        self._clock = clock

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self._fd, self._readable)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)

    def _readable(self) -> None:
        try:
            keys = os.read(self._fd, 64)
        except OSError:
            keys = b""
        if not keys:  # the terminal went away
            self.close()
            return
        for key in keys:
            if key == ord(" "):
                self._space_bar.space(self._clock())

    def tick(self) -> None:
        self._space_bar.tick(self._clock())
