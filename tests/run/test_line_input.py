"""The terminal settings around a prompt keep keys typed ahead as they were typed."""

from __future__ import annotations

import io
import os
import pty
import select
import termios

from runner.run.line_input import TerminalLines


def test_a_ctrl_d_typed_as_the_prompt_opens_reaches_readline_as_ctrl_d() -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(os.dup(slave), "r") as stdin:
            lines = TerminalLines(stdin, io.StringIO(), colour=False)
            lines._echo(True)  # the prompt's settings, before readline puts the terminal in its own raw mode
            assert termios.tcgetattr(slave)[3] & termios.ECHO  # readline echoes only when the terminal does
            os.write(master, b"\x04")
            readline_mode = termios.tcgetattr(slave)
            readline_mode[3] &= ~(termios.ICANON | termios.ECHO)
            termios.tcsetattr(slave, termios.TCSANOW, readline_mode)
            assert select.select([slave], [], [], 10)[0] == [slave]
            assert os.read(slave, 8) == b"\x04"
    finally:
        os.close(master)
        os.close(slave)
