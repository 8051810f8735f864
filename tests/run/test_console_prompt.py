"""The console writes around an attached prompt: erased before any output, redrawn after a complete line."""

from __future__ import annotations

import io

from runner.core.actions import Record
from runner.run.console import Console


class ScreenWithPrompt:
    """The terminal as the console and a prompt share it: one log of writes and prompt moves."""

    def __init__(self) -> None:
        self.screen = io.StringIO()
        self.log: list[str] = []

    def hide(self) -> None:
        self.log.append(f"{self.screen.getvalue()!r} hide")

    def show(self) -> None:
        self.log.append(f"{self.screen.getvalue()!r} show")


def test_a_streamed_reply_hides_the_prompt_once_and_shows_it_after_the_line() -> None:
    terminal = ScreenWithPrompt()
    console = Console(["desk"], stream=terminal.screen, colour=False)
    console.attach_prompt(terminal)
    console.record(Record("user", {"text": "hello", "item_id": "u1"}), 0.0)
    console.record(Record("assistant_delta", {"agent": "desk", "item_id": "a1", "delta": "Hi "}), 0.1)
    console.record(Record("assistant_delta", {"agent": "desk", "item_id": "a1", "delta": "there."}), 0.2)
    console.record(Record("assistant", {"agent": "desk", "item_id": "a1", "text": "Hi there."}), 0.3)
    console.record(Record("notice", {"message": "connection lost"}), 0.4)
    assert terminal.screen.getvalue() == "desk: Hi there.\n  · connection lost\n"  # the typed line is not repeated
    assert terminal.log == [
        "'' hide", "'desk: ' hide", "'desk: Hi ' hide", "'desk: Hi there.' hide", "'desk: Hi there.\\n' show",
        "'desk: Hi there.\\n' hide", "'desk: Hi there.\\n  · connection lost\\n' show",
    ]
