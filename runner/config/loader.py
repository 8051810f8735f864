"""`load()`: an agents file in, a Config and every located problem out.

Stages: bytes -> UTF-8 text -> values with positions (source.py) -> JSON Schema
(schema.py) -> dataclasses (build.py) -> checks across the config (checks.py,
templates.py, binding_checks.py).  Each stage reports what it finds and the next
one still runs when it safely can, so one run shows every mistake.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .analysis import check_webhook
from .binding_checks import PythonChecker, check_http, check_local_mcp, check_mcp
from .build import Builder
from .checks import Names, check_formats, check_graph, check_parameters, check_references, check_usage
from .model import Config, HttpBinding, LocalMcpBinding, McpBinding, PythonBinding
from .problems import Problem
from .report import Reporter
from .schema import check_document
from .source import SourceError, decode, parse
from .templates import check_instructions

MAX_FILE_BYTES = 16 << 20  # far above any real agents file, far below what would exhaust memory


@dataclass
class LoadResult:
    """What `load` found: the config when there is no error, and every problem."""

    config: Config | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "warning"]

    def ok(self, strict: bool = False) -> bool:
        """No errors, and with `strict` no warnings either."""
        return not (self.errors or strict and self.warnings)


def load(path: str | os.PathLike[str], *, import_code: bool = True, environ: Mapping[str, str] | None = None) -> LoadResult:
    """Read and check an agents file; never raises for bad input.

    `import_code=False` skips importing the python bindings' modules (`--no-import`).
    `environ` is where `${ENV}` references are looked up (default: os.environ).
    """
    shown = os.fspath(path)
    reporter = Reporter(shown)
    try:
        with open(shown, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)  # a device such as /dev/zero never ends
    except OSError as exc:
        reporter.at(1, 1, (), f"cannot read the file: {exc.strerror or exc}")
        return LoadResult(None, reporter.problems)
    if len(raw) > MAX_FILE_BYTES:
        reporter.at(1, 1, (), f"cannot read the file: it is larger than {MAX_FILE_BYTES >> 20} MiB, too large for an agents file")
        return LoadResult(None, reporter.problems)
    try:
        document = parse(decode(raw))
    except SourceError as exc:
        reporter.source(exc.problem)
        return LoadResult(None, reporter.problems)
    reporter.document = document
    for problem in document.problems:
        reporter.source(problem)
    data = document.data
    if not isinstance(data, dict):
        line, col = document.position(())
        reporter.at(line, col, (), "the top level must be a mapping with keys such as version, start and agents")
        return LoadResult(None, reporter.sorted())
    broken = check_document(data, reporter)
    config = Builder(data, reporter, Path(shown).resolve(), broken).build()
    names = Names(data)
    complete = not any(path[:1] in (("agents",), ("tools",), ("guardrails",)) for path in broken)
    _check(config, names, reporter, complete, import_code, os.environ if environ is None else environ)
    problems = reporter.sorted()
    failed = any(problem.severity == "error" for problem in problems)
    return LoadResult(None if failed else config, problems)


def _check(config: Config, names: Names, reporter: Reporter, complete: bool, import_code: bool, environ: Mapping[str, str]) -> None:
    check_references(config, names, reporter)
    if complete:
        check_graph(config, reporter)
        check_formats(config, reporter)
        check_usage(config, names, reporter)
    for agent in config.agents.values():
        check_instructions(agent, config.variables, reporter)
    python = PythonChecker(config.base_dir, reporter)
    valid_parameters: set[str] = set()
    for tool in config.tools.values():
        parameters_valid = check_parameters(tool, reporter, valid_parameters)
        binding = tool.binding
        if isinstance(binding, PythonBinding) and import_code:
            python.check_tool(tool, compare_parameters=parameters_valid)
        elif isinstance(binding, HttpBinding):
            check_http(tool, environ, reporter, compare_parameters=parameters_valid)
        elif isinstance(binding, McpBinding):
            check_mcp(tool, environ, reporter)
        elif isinstance(binding, LocalMcpBinding):
            check_local_mcp(tool, environ, reporter)
    if import_code:
        python.check_setup(config)
    if config.analysis is not None:
        check_webhook(config.analysis, environ, reporter)

