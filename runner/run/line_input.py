"""Typed lines for `runner run --text`: readline in a terminal, plain lines from a pipe.

In a terminal the user gets a prompt, line editing and history (the stdlib `readline`,
run on a thread because it blocks).  The prompt is shown when the previous reply has
finished; anything written while a line is being typed (a late notice, a reply the
agent starts itself) makes the console erase the prompt first and redraw it, with what
was typed so far, once its line is complete (`hide` / `show`).  The terminal settings
are saved first and restored at the end, because readline may still be waiting for a
key when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
from typing import Any, AsyncIterator, Awaitable, Callable, TextIO

PROMPT = "you: "
_BOLD, _PLAIN = "\x1b[1m", "\x1b[0m"


async def _queued(start: Callable[[Callable[[str | None], None]], None]) -> AsyncIterator[str]:
    """Lines handed over by a reader thread; `None` ends them."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    start(lambda line: loop.call_soon_threadsafe(queue.put_nowait, line))
    while (line := await queue.get()) is not None:
        yield line


def lines_from(stream: TextIO) -> AsyncIterator[str]:
    """Lines of a blocking stream, read on a daemon thread so the event loop never blocks."""

    def start(put: Callable[[str | None], None]) -> None:
        def pump() -> None:
            try:
                for line in stream:
                    put(line.rstrip("\n"))
                put(None)
            except RuntimeError:  # the loop closed first (the session could not start): nobody is listening
                pass

        threading.Thread(target=pump, name="stdin-reader", daemon=True).start()

    return _queued(start)


def _redisplay_function() -> Callable[[], None] | None:
    """GNU readline's "the cursor is on a fresh line, draw prompt and line again", if reachable."""
    import readline

    try:
        library = ctypes.CDLL(readline.__file__)
        on_new_line = library.rl_on_new_line
    except (OSError, AttributeError):  # libedit, or a readline built without the symbol
        return None

    def redisplay() -> None:
        on_new_line()
        readline.redisplay()

    return redisplay


class TerminalLines:
    """A readline prompt on the terminal; the console calls `hide`/`show` around its output."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, colour: bool) -> None:
        import readline  # noqa: F401  (importing it is what gives input() editing and history)

        self._stdin = stdin
        self._stdout = stdout
        self._prompt = f"\001{_BOLD}\002you:\001{_PLAIN}\002 " if colour else PROMPT
        self._shown_prompt = f"{_BOLD}you:{_PLAIN} " if colour else PROMPT
        self._redisplay = _redisplay_function()
        self._reading = False  # readline is waiting for this line
        self._visible = False  # ... and its prompt is on screen
        self._lock = threading.Lock()
        self._saved_terminal: Any = None
        with contextlib.suppress(Exception):  # not every terminal-like stream has termios
            import termios

            self._saved_terminal = termios.tcgetattr(stdin.fileno())
        self._echo(False)

    def _echo(self, on: bool) -> None:
        """Between prompts keys typed ahead must not be echoed into the replies, and are kept
        as typed (not line-edited by the terminal, so an early Ctrl-D still reaches readline);
        readline echoes only when the terminal does, so echo is turned back on for each prompt.
        Line editing stays off even then: a Ctrl-D that arrived in canonical mode, just before
        readline set up its own raw mode, would reach it as a NUL byte, not as Ctrl-D, and the
        end of input would be lost."""
        if self._saved_terminal is None:
            return
        import termios

        settings = list(self._saved_terminal)
        settings[3] &= ~termios.ICANON
        if not on:
            settings[3] &= ~termios.ECHO
        with contextlib.suppress(termios.error):
            termios.tcsetattr(self._stdin.fileno(), termios.TCSANOW, settings)

    async def lines(self, ready: Callable[[], Awaitable[Any]]) -> AsyncIterator[str]:
        """Typed lines, each prompted for once `ready()` returns (the previous reply finished).

        Asking only then keeps the prompt from being drawn into a streaming reply; keys typed
        before it are held by the terminal (not echoed) and appear in the prompt.
        """
        loop = asyncio.get_running_loop()
        while True:
            await ready()
            answer: asyncio.Future[str | None] = loop.create_future()

            def deliver(line: str | None, answer: asyncio.Future[str | None] = answer) -> None:
                loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(line))

            # A daemon thread, not the loop's executor: one still blocked in readline when the
            # session ends must not keep the process from exiting.
            threading.Thread(target=self._read_line, args=(deliver,), name="readline", daemon=True).start()
            line = await answer
            if line is None:
                return
            yield line

    def _read_line(self, deliver: Callable[[str | None], None]) -> None:
        with self._lock:
            self._reading = self._visible = True
        self._echo(True)
        try:
            line: str | None = input(self._prompt)
        except EOFError:
            self._stdout.write("\n")
            line = None
        finally:
            self._echo(False)
            with self._lock:
                self._reading = self._visible = False
        deliver(line)

    def hide(self) -> None:
        """Erase the prompt line (before other output is written)."""
        with self._lock:
            if self._reading and self._visible:
                self._stdout.write("\r\x1b[K")
                self._stdout.flush()
                self._visible = False

    def show(self) -> None:
        """Draw the prompt and what has been typed so far again (after a complete line of output)."""
        import readline

        with self._lock:
            if not self._reading or self._visible:
                return
            self._stdout.flush()
            if self._redisplay is not None:
                self._redisplay()
            else:
                self._stdout.write(self._shown_prompt + readline.get_line_buffer())
                self._stdout.flush()
            self._visible = True

    def close(self) -> None:
        """Erase a prompt still waiting and give the terminal back as it was."""
        self.hide()
        if self._saved_terminal is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(self._stdin.fileno(), termios.TCSADRAIN, self._saved_terminal)
