"""Collecting located problems while a config is checked."""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from .model import Severity, Span
from .problems import Problem
from .source import Document, PathKey, SourceProblem


def format_path(path: PathKey) -> str:
    """`('agents', 'router', 'handoffs', 1)` -> `agents.router.handoffs[1]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(name: Any, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known name, when one is close enough."""
    if not isinstance(name, str):
        return None
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def describe(value: Any) -> str:
    """A value as the user wrote it, short enough for one line."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return "'" + shown.replace("\n", "\\n") + "'"
    return str(value)


class Reporter:
    """Turns paths inside the document into located `Problem`s for one file."""

    def __init__(self, file: str, document: Document | None = None) -> None:
        self.file = file
        self.document = document
        self.problems: list[Problem] = []

    def error(self, path: PathKey, message: str, hint: str | None = None, *, key: bool = False) -> None:
        self._add(path, message, hint, key, "error")

    def warning(self, path: PathKey, message: str, hint: str | None = None, *, key: bool = False) -> None:
        self._add(path, message, hint, key, "warning")

    def at(self, line: int, col: int, path: PathKey, message: str, hint: str | None = None, severity: Severity = "error") -> None:
        """A problem at an exact position, e.g. a line inside a template."""
        self.problems.append(Problem(self.file, line, col, format_path(path), message, hint, severity))

    def source(self, problem: SourceProblem) -> None:
        self.at(problem.line, problem.col, problem.path, problem.message, problem.hint)

    def span(self, path: PathKey, *, key: bool = False) -> Span:
        line, col = self.position(path, key=key)
        return Span(self.file, line, col)

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        return self.document.position(path, key=key) if self.document else (1, 1)

    def sorted(self) -> list[Problem]:
        """Problems in file order (stable for problems at the same place)."""
        return sorted(self.problems, key=lambda problem: (problem.line, problem.col))

    def _add(self, path: PathKey, message: str, hint: str | None, key: bool, severity: Severity) -> None:
        line, col = self.position(path, key=key)
        self.problems.append(Problem(self.file, line, col, format_path(path), message, hint, severity))
