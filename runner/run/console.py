"""Console rendering of what the core records: streamed replies and one-line breadcrumbs.

Colours come from click, which drops them when the output is not a terminal, so
piped output and test captures are plain text; `colour=False` (NO_COLOR) drops them in
a terminal too.  With a prompt attached (`--text` in a terminal) every write first
erases the prompt and every complete line redraws it, so replies never tear the line
being typed, and typed lines are not repeated (the terminal already shows them).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Protocol, TextIO

import click

from ..core.actions import Record

_AGENT_COLOURS = ("cyan", "green", "magenta", "yellow", "blue", "bright_cyan", "bright_green", "bright_magenta")


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Prompt(Protocol):
    def hide(self) -> None: ...
    def show(self) -> None: ...


class Console:
    """Writes a readable conversation to a stream; one method per record kind."""

    def __init__(self, agents: list[str], *, stream: TextIO | None = None, show_events: bool = False, colour: bool | None = None) -> None:
        self._colours = {name: _AGENT_COLOURS[index % len(_AGENT_COLOURS)] for index, name in enumerate(agents)}
        self._stream = stream
        self._show_events = show_events
        self._colour = colour
        self._open_item: str | None = None  # an assistant reply being streamed on the current line
        self._status_shown = False  # the live status line occupies the current line
        self._prompt: Prompt | None = None
        self._renderers: dict[str, Callable[[dict[str, Any]], None]] = {
            "user": self._user,
            "assistant_delta": self._assistant_delta,
            "assistant": self._assistant,
            "interrupted": self._interrupted,
            "tool_call": self._tool_call,
            "tool_result": self._tool_result,
            "handoff": self._handoff,
            "guardrail": self._guardrail,
            "error": self._error,
            "notice": self._notice,
        }

    def attach_prompt(self, prompt: Prompt) -> None:
        """Write around this prompt from now on; the lines it reads are not echoed again."""
        self._prompt = prompt

    def _echo(self, text: str, *, newline: bool = True, **style: Any) -> None:
        self._clear_status()
        if self._prompt is not None:
            self._prompt.hide()
        click.echo(click.style(text, **style) if style else text, file=self._stream, nl=newline, color=self._colour)
        if self._prompt is not None and newline and self._open_item is None:
            self._prompt.show()

    def _end_open_line(self) -> None:
        if self._open_item is not None:
            self._open_item = None
            self._echo("")

    def _agent_label(self, agent: str) -> str:
        return click.style(f"{agent}:", fg=self._colours.get(agent, "white"), bold=True)

    @property
    def shows_status(self) -> bool:
        """True when a status line would be drawn (the output is a terminal)."""
        return (self._stream or sys.stdout).isatty()

    def status(self, text: str | None) -> None:
        """Redraw the live status line in place (terminals only); None removes it.

        It is drawn only between lines, never over a reply being streamed, and any other
        output clears it first, so it never mixes with the conversation.
        """
        if text is None or self._open_item is not None or not self.shows_status:
            self._clear_status()
            return
        stream = self._stream or sys.stdout
        stream.write("\r\x1b[K")
        click.echo(click.style(text, dim=True), file=stream, nl=False, color=self._colour)
        self._status_shown = True

    def _clear_status(self) -> None:
        if self._status_shown:
            stream = self._stream or sys.stdout
            stream.write("\r\x1b[K")
            self._status_shown = False

    def record(self, record: Record, t: float) -> None:
        renderer = self._renderers.get(record.kind)
        if renderer is not None:
            renderer(record.data)

    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        """With --events: one dim line per event name (audio appends left out: too many)."""
        if not self._show_events or event.get("type") == "input_audio_buffer.append":
            return
        self._end_open_line()
        arrow = "→" if direction == "out" else "←"
        self._echo(f"  {t:8.3f} {arrow} {event.get('type')}", dim=True)

    # -- renderers -------------------------------------------------------------
    def _user(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        if self._prompt is None:
            self._echo(f"{click.style('you:', bold=True)} {data.get('text', '')}")

    def _assistant_delta(self, data: dict[str, Any]) -> None:
        item = data.get("item_id")
        if self._open_item != item:
            self._end_open_line()
            self._echo(f"{self._agent_label(data.get('agent', '?'))} ", newline=False)
            self._open_item = item
        self._echo(data.get("delta", ""), newline=False)

    def _assistant(self, data: dict[str, Any]) -> None:
        if self._open_item == data.get("item_id"):
            self._end_open_line()
            return
        self._end_open_line()
        self._echo(f"{self._agent_label(data.get('agent', '?'))} {data.get('text', '')}")

    def _interrupted(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        heard = data.get("heard_ms")
        detail = f" after {heard} ms" if heard is not None else ""
        self._echo(f"  ⏹ {data.get('agent', 'agent')} interrupted{detail}", fg="yellow")

    def _tool_call(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        self._echo(f"  ↳ {data.get('name')}({_short(data.get('arguments', ''), 60)})", dim=True)

    def _tool_result(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        duration = data.get("duration")
        took = f" in {duration * 1000:.0f} ms" if isinstance(duration, (int, float)) else ""
        if data.get("error"):
            self._echo(f"  ✗ {data.get('name')} failed{took}: {_short(data['error'])}", fg="red")
        else:
            self._echo(f"  ✓ {data.get('name')}{took}: {_short(data.get('output', ''))}", dim=True)

    def _handoff(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        reason = f" ({_short(data['reason'], 60)})" if data.get("reason") else ""
        if data.get("success", True):
            self._echo(f"  ⇢ handoff {data.get('from')} → {data.get('to')}{reason}", fg="blue")
        else:
            self._echo(f"  ✗ handoff {data.get('from')} → {data.get('to')} refused: {data.get('error', '')}", fg="red")

    def _guardrail(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        category = f" [{data['category']}]" if data.get("category") else ""
        self._echo(f"  ⚑ guardrail {data.get('policy')}{category}: {data.get('action', 'tripped')}", fg="red")

    def _error(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        code = f" {data['code']}" if data.get("code") else ""
        self._echo(f"  ! error{code}: {data.get('message', '')}", fg="red")

    def _notice(self, data: dict[str, Any]) -> None:
        self._end_open_line()
        self._echo(f"  · {data.get('message', '')}", fg="yellow")

    def close(self) -> None:
        self._end_open_line()
