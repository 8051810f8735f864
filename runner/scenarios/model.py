"""Scenarios as frozen dataclasses: what the loader builds and the player runs.

Every step keeps its `Span` so a failure can say "scenarios/x.yaml:12:7" about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config.model import Span
from ..config.problems import Problem


@dataclass(frozen=True, slots=True)
class Fixtures:
    """Data for the tools' SQLite database, applied after the config's setup hook."""

    file: str  # relative to the scenario's state dir
    sql: Path | None = None  # absolute
    rows: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DbCheck:
    query: str
    rows: tuple[Any, ...] | None = None  # lists (by position) or mappings (by column)
    count: int | None = None


@dataclass(frozen=True, slots=True)
class OutputCheck:
    """What a tool's result must look like (in a `tool` step or an `expect.tool_output`)."""

    name: str | None = None
    output: Any = None
    has_output: bool = False  # `output: null` is a real expectation
    contains: tuple[str, ...] = ()
    error: bool | str | None = None
    db: DbCheck | None = None


@dataclass(frozen=True, slots=True)
class ToolCallCheck:
    name: str
    args: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HandoffCheck:
    to: str
    source: str | None = None
    refused: bool = False


@dataclass(frozen=True, slots=True)
class ReplyCheck:
    contains: tuple[str, ...] = ()
    regex: str | None = None
    not_contains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GuardrailCheck:
    policy: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Expect:
    """Assertions on what happened since the previous expect step."""

    agent: str | None = None
    handoff: HandoffCheck | None = None
    tool_calls: tuple[ToolCallCheck, ...] = ()
    tool_outputs: tuple[OutputCheck, ...] = ()
    reply: ReplyCheck | None = None
    no_tool_call: tuple[str, ...] | bool = False  # True: none at all; names: none of these
    guardrail: GuardrailCheck | None = None
    db: DbCheck | None = None
    within: float | None = None  # seconds; a latency budget, reported apart from correctness


@dataclass(frozen=True, slots=True)
class Step:
    """One step; exactly one of the kind fields is set (`tool` may carry `tool_expect`)."""

    span: Span
    user: str | None = None
    user_audio: Path | None = None
    model: tuple[Mapping[str, Any], ...] = ()  # simulator script actions
    tool: Mapping[str, Any] | None = None  # {"name", "args"}
    tool_expect: OutputCheck | None = None
    wait: float | None = None
    expect: Expect | None = None

    @property
    def kind(self) -> str:
        for name in ("user", "user_audio", "tool", "wait", "expect"):
            if getattr(self, name) is not None:
                return name
        return "model"

    def describe(self) -> str:
        """The step as one short line, for failure reports."""
        if self.user is not None:
            return f"user: {self.user}"
        if self.user_audio is not None:
            return f"user_audio: {self.user_audio.name}"
        if self.tool is not None:
            return f"tool: {self.tool['name']}"
        if self.wait is not None:
            return f"wait: {self.wait:g}s"
        if self.expect is not None:
            return "expect"
        return f"model: {len(self.model)} action(s)"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    file: str  # the scenario file as the user named it
    config: Path  # absolute path of the agents file
    steps: tuple[Step, ...]
    span: Span
    start: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    fixtures: Fixtures | None = None
    problems: tuple[Problem, ...] = ()  # names its config does not define: the scenario fails without running
