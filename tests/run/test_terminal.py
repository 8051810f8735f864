"""`runner run --text` in a real terminal (a pty): line editing, the prompt, colours, Ctrl-C.

The runner is started on the slave side of a pseudo-terminal, as a shell would start
it; the test types keys into the master side and reads what the terminal would show.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

WAIT = 60.0
SGR = re.compile(r"\x1b\[[0-9;]*m")  # a colour or bold/dim code


class Terminal:
    """A runner process on a pty, with everything it wrote collected as it comes."""

    def __init__(self, project: Path, args: list[str], env: dict[str, str], runner: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the runner, with the pty as its terminal
            try:
                os.chdir(project)
                os.execve(runner[0], [*runner, *args], env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self._output = bytearray()
        self._changed = threading.Condition()
        self._closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            with self._changed:
                if not chunk:
                    self._closed = True
                    self._changed.notify_all()
                    return
                self._output += chunk
                self._changed.notify_all()

    @property
    def raw(self) -> str:
        with self._changed:
            return self._output.decode("utf-8", errors="replace")

    @property
    def output(self) -> str:
        """What was written, without colour codes (offsets from `wait_for` index this)."""
        return SGR.sub("", self.raw)

    def wait_for(self, wanted: str, after: int = 0) -> int:
        """Wait until `wanted` appears at or after offset `after`; returns the offset just past it."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                text = SGR.sub("", self._output.decode("utf-8", errors="replace"))
                found = text.find(wanted, after)
                if found >= 0:
                    return found + len(wanted)
                remaining = deadline - time.monotonic()
                assert remaining > 0 and not self._closed, f"{wanted!r} never appeared; the terminal shows {text[after:]!r}"
                self._changed.wait(remaining)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode("utf-8"))

    def exit_code(self) -> int:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            with self._changed:
                self._changed.wait(0.05)
        raise AssertionError(f"the runner did not exit; the terminal shows {self.output!r}")

    def close(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminal(slow_project: Path, e2e: Any, request: pytest.FixtureRequest):
    environment = e2e.runner_env(TERM="xterm-256color", INPUTRC="/dev/null", **getattr(request, "param", {}))
    opened = Terminal(slow_project, ["run", "agents.yaml", "--offline", "--text", "--rules", "rules.yaml"], environment, e2e.RUNNER)
    try:
        yield opened
    finally:
        opened.close()


def _transcript(project: Path, e2e: Any, kind: str) -> list[str]:
    folder = e2e.session_folder(project)
    assert folder is not None
    return [entry["text"] for entry in e2e.read_jsonl(folder / "transcript.jsonl") if entry["kind"] == kind]


def test_arrow_keys_edit_the_line_and_the_edited_text_is_sent_once(terminal: Terminal, slow_project: Path, e2e: Any) -> None:
    ready = terminal.wait_for("you: ", terminal.wait_for("runner: talking to Slow desk"))
    terminal.type("I want a refnd")
    terminal.type("\x1b[D\x1b[D")  # two Left arrows: between "f" and "n"
    terminal.type("u\r")
    replied = terminal.wait_for("desk: Refunds are handled by billing.", ready)
    terminal.wait_for("you: ", replied)  # the prompt is back for the next line
    terminal.type("\x04")  # Ctrl-D on an empty line ends the session
    assert terminal.exit_code() == 0
    assert _transcript(slow_project, e2e, "user") == ["I want a refund"]
    shown = terminal.output
    assert "\x1b[D" not in shown and "^[[D" not in shown
    assert shown.count("I want a ref") == 1, shown  # the typed line only: no `you: …` repeat of it
    folder = e2e.session_folder(slow_project)
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["end_reason"] == "session closed"


def test_up_arrow_recalls_the_previous_line(terminal: Terminal, slow_project: Path, e2e: Any) -> None:
    ready = terminal.wait_for("you: ", terminal.wait_for("runner: talking to Slow desk"))
    terminal.type("hello\r")
    replied = terminal.wait_for("desk: Hi there, how can I help?", ready)
    terminal.wait_for("you: ", replied)
    terminal.type("\x1b[A again\r")  # Up: "hello", then " again" appended
    terminal.wait_for("desk: Hi there, how can I help?", replied)
    terminal.type("\x04")
    assert terminal.exit_code() == 0
    assert _transcript(slow_project, e2e, "user") == ["hello", "hello again"]


def test_keys_typed_during_a_reply_wait_for_the_prompt_instead_of_tearing_the_reply(terminal: Terminal, slow_project: Path, e2e: Any) -> None:
    ready = terminal.wait_for("you: ", terminal.wait_for("runner: talking to Slow desk"))
    terminal.type("do the slow thing\r")
    called = terminal.wait_for("  ↳ slow_lookup({})", ready)
    terminal.type("hel")  # while the tool runs and the reply is owed
    (slow_project / ".runner" / "release").touch()
    replied = terminal.wait_for("desk: The lookup found the answer.\r\n", called)
    redrawn = terminal.wait_for("you: hel", replied)  # the prompt, with what was typed ahead
    assert "hel" not in terminal.output[called:replied]
    terminal.type("lo\r")
    terminal.wait_for("desk: Hi there, how can I help?", redrawn)
    terminal.type("\x04")
    assert terminal.exit_code() == 0
    assert _transcript(slow_project, e2e, "user") == ["do the slow thing", "hello"]


@pytest.mark.parametrize(("terminal", "coloured"), [({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True)], indirect=["terminal"])
def test_no_color_turns_colour_off_in_a_terminal_and_ctrl_c_exits_130(terminal: Terminal, slow_project: Path, e2e: Any, coloured: bool) -> None:
    ready = terminal.wait_for("you: ", terminal.wait_for("runner: talking to Slow desk"))
    terminal.type("hello\r")
    replied = terminal.wait_for("Hi there, how can I help?", ready)
    terminal.wait_for("you: ", replied)
    terminal.type("\x03")  # Ctrl-C, through the terminal's own signal keys
    assert terminal.exit_code() == 130
    assert bool(SGR.search(terminal.raw)) is coloured, terminal.raw
    assert "runner: session ended (interrupted); artifacts in" in terminal.output
    assert _transcript(slow_project, e2e, "user") == ["hello"]
