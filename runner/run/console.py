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
from typing import Any, Protocol, TextIO

import click

from ..core.records import (
    AssistantDelta, AssistantMessage, ErrorReported, GuardrailTripped, Handoff, Interrupted, Notice, Record, ToolFinished, ToolStarted,
    UserMessage,
)

_AGENT_COLOURS = ("cyan", "green", "magenta", "yellow", "blue", "bright_cyan", "bright_green", "bright_magenta")


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Prompt(Protocol):
    def hide(self) -> None: ...
    def show(self) -> None: ...


SIMULATOR_DECISION = "simulator_decision"  # runner/sim/responses.py's metadata key


class Console:
    """Writes a readable conversation to a stream, matching on each record's type."""

    def __init__(self, agents: list[str], *, stream: TextIO | None = None, show_events: bool = False, explain: bool = False, colour: bool | None = None) -> None:
        self._colours = {name: _AGENT_COLOURS[index % len(_AGENT_COLOURS)] for index, name in enumerate(agents)}
        self._stream = stream
        self._show_events = show_events
        self._explain = explain  # the simulator's reason for each response (its metadata), shown under it
        self._colour = colour
        self._open_item: str | None = None  # an assistant reply being streamed on the current line
        self._status_shown = False  # the live status line occupies the current line
        self._prompt: Prompt | None = None

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
        match record:
            case UserMessage(text=text):
                self._user(text)
            case AssistantDelta(agent=agent, item_id=item_id, delta=delta):
                self._assistant_delta(agent, item_id, delta)
            case AssistantMessage(agent=agent, item_id=item_id, text=text):
                self._assistant(agent, item_id, text)
            case Interrupted(agent=agent, heard_ms=heard_ms):
                self._end_open_line()
                detail = f" after {heard_ms} ms" if heard_ms is not None else ""
                self._echo(f"  ⏹ {agent} interrupted{detail}", fg="yellow")
            case ToolStarted(name=name, arguments=arguments):
                self._end_open_line()
                self._echo(f"  ↳ {name}({_short(arguments, 60)})", dim=True)
            case ToolFinished():
                self._tool_result(record)
            case Handoff():
                self._handoff(record)
            case GuardrailTripped(policy=policy, category=category, action=action):
                self._end_open_line()
                shown = f" [{category}]" if category else ""
                self._echo(f"  ⚑ guardrail {policy}{shown}: {action}", fg="red")
            case ErrorReported(code=code, message=message):
                self._end_open_line()
                self._echo(f"  ! error{f' {code}' if code else ''}: {message}", fg="red")
            case Notice(message=message):
                self._end_open_line()
                self._echo(f"  · {message}", fg="yellow")

    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        """With --events: one dim line per event name (audio appends left out: too many); with --explain, the simulator's reasons."""
        if self._explain and event.get("type") == "response.done" and (why := (event["response"].get("metadata") or {}).get(SIMULATOR_DECISION)):
            self._end_open_line()
            self._echo(f"  ? why: {why}", dim=True)
        if not self._show_events or event.get("type") == "input_audio_buffer.append":
            return
        self._end_open_line()
        arrow = "→" if direction == "out" else "←"
        self._echo(f"  {t:8.3f} {arrow} {event.get('type')}", dim=True)

    # -- renderers -------------------------------------------------------------
    def _user(self, text: str) -> None:
        self._end_open_line()
        if self._prompt is None:
            self._echo(f"{click.style('you:', bold=True)} {text}")

    def _assistant_delta(self, agent: str, item_id: str, delta: str) -> None:
        if self._open_item != item_id:
            self._end_open_line()
            self._echo(f"{self._agent_label(agent)} ", newline=False)
            self._open_item = item_id
        self._echo(delta, newline=False)

    def _assistant(self, agent: str, item_id: str | None, text: str) -> None:
        if self._open_item == item_id:
            self._end_open_line()
            return
        self._end_open_line()
        self._echo(f"{self._agent_label(agent)} {text}")

    def _tool_result(self, result: ToolFinished) -> None:
        self._end_open_line()
        took = f" in {result.duration * 1000:.0f} ms" if result.duration is not None else ""
        if result.error:
            self._echo(f"  ✗ {result.name} failed{took}: {_short(result.error)}", fg="red")
        else:
            self._echo(f"  ✓ {result.name}{took}: {_short(result.output or '')}", dim=True)

    def _handoff(self, handoff: Handoff) -> None:
        self._end_open_line()
        reason = f" ({_short(handoff.reason, 60)})" if handoff.reason else ""
        if handoff.success:
            self._echo(f"  ⇢ handoff {handoff.source} → {handoff.target}{reason}", fg="blue")
        else:
            self._echo(f"  ✗ handoff {handoff.source} → {handoff.target} refused: {handoff.error or ''}", fg="red")

    def close(self) -> None:
        self._end_open_line()
