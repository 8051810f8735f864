"""Shared helpers for the config tests: write agents files, load them, read problems as lines."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from runner.config import load

FIXTURES = Path(__file__).parent / "fixtures"

MINIMAL = """\
version: 1
start: greeter
agents:
  greeter:
    description: Greets callers.
    instructions: Say hello.
"""


def _lines(path: Path | str, **options: object) -> list[str]:
    shown = str(path)
    lines = []
    for problem in load(shown, **options).problems:
        line = problem.format()
        assert line.startswith(shown + ":"), line
        lines.append(line[len(shown) + 1 :])
    return lines


@pytest.fixture
def minimal() -> str:
    """The smallest valid agents file: one agent, nothing else."""
    return MINIMAL


@pytest.fixture
def fixture_lines() -> Callable[..., list[str]]:
    """Problems of a file under fixtures/, formatted, without the leading file name."""
    return lambda name, **options: _lines(FIXTURES / name, **options)


@pytest.fixture
def text_lines(tmp_path: Path) -> Callable[..., list[str]]:
    """Problems of YAML text written to agents.yaml in a fresh folder, formatted, without the file name."""

    def check(text: str, **options: object) -> list[str]:
        path = tmp_path / "agents.yaml"
        path.write_text(text, encoding="utf-8")
        return _lines(path, **options)

    return check


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text to agents.yaml in a fresh folder and return its path."""

    def write_text(text: str, name: str = "agents.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write_text
