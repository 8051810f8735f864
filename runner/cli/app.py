"""The `runner` command group and what its commands share: exit codes, one-line failures,
loading an agents file, logging to stderr, machine output."""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NoReturn, TextIO

import click

from runner import __version__

if TYPE_CHECKING:
    from runner.config import LoadResult
    from runner.config.model import Config

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_FOR_END_REASON = {"interrupted": 130, "terminated": 143}  # 128 + SIGINT, 128 + SIGTERM
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TARGET_OPTION = click.option("--target", type=click.Choice(["realtime", "live"]), help="The voice API to target (default: the file's target).")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted (click's test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("runner: %(levelname)s %(name)s: %(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(verbose: int, log_level: str | None) -> None:
    """The `runner` loggers' level: warnings by default, -v info, -vv debug, or --log-level."""
    if log_level is not None:
        level = getattr(logging, log_level.upper())
    else:
        level = (logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG
    package = logging.getLogger("runner")
    package.handlers = [handler for handler in package.handlers if not isinstance(handler, _StderrHandler)]
    package.addHandler(_StderrHandler())
    package.setLevel(level)


def colour_wanted() -> bool | None:
    """False when NO_COLOR is set and not empty (no-color.org); None lets click decide (terminals only)."""
    return False if os.environ.get("NO_COLOR") else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runner")
@click.option("-v", "--verbose", count=True, help="Log more to stderr: -v info, -vv debug.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), metavar="LEVEL", help=f"Log level for stderr ({', '.join(LOG_LEVELS)}); overrides -v.")
def main(verbose: int, log_level: str | None) -> None:
    """Describe a team of voice agents in agents.yaml and run it on the OpenAI Realtime API."""
    configure_logging(verbose, log_level)


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then exit: the whole error report for usage mistakes."""
    click.echo(f"runner: {message}", err=True)
    raise click.exceptions.Exit(code)


@contextlib.contextmanager
def machine_output(enabled: bool) -> Iterator[TextIO]:
    """Yield the stream for machine output; while enabled, other prints (tool code's) go to stderr.

    Process-wide, because tool calls print from their own threads too. Commands enter it
    with `ctx.with_resource`, so it lasts until the command returns or exits.
    """
    stdout = sys.stdout
    if not enabled:
        yield stdout
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield stdout


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def load_file(file: str, *, import_code: bool = True, target: str | None = None) -> LoadResult:
    """Load FILE (for `target`, when given, over the file's own), turning a path that is not a readable file into a usage error."""
    path = Path(file)
    if not path.exists():
        fail(f"{file}: no such file", EXIT_USAGE)
    if path.is_dir():
        fail(f"{file}: is a folder, expected an agents file", EXIT_USAGE)
    from runner.config import load

    return load(file, import_code=import_code, target=target)


def problem_summary(file: str, errors: int, warnings: int) -> str:
    parts = [plural(errors, "error")] if errors else []
    if warnings:
        parts.append(plural(warnings, "warning"))
    return f"{file}: {', '.join(parts)}"


def valid_summary(file: str, config: Config, warnings: int) -> str:
    counts = ", ".join(
        [plural(len(config.agents), "agent"), plural(len(config.tools), "tool"), plural(len(config.guardrails), "guardrail")]
    )
    tail = f", {plural(warnings, 'warning')}" if warnings else ""
    return f"{file}: valid ({counts}){tail}"


def config_or_exit(file: str, target: str | None = None) -> Config:
    """The config of a valid FILE; otherwise its problems on stderr and exit 1. Warnings go to stderr too."""
    result = load_file(file, target=target)
    for problem in result.problems:
        click.echo(problem.format(), err=True)
    if result.config is None or not result.ok():
        click.echo(problem_summary(file, len(result.errors), len(result.warnings)), err=True)
        raise click.exceptions.Exit(EXIT_FAILED)
    return result.config


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            fail(f"--var expects NAME=VALUE, got {pair!r}", EXIT_USAGE)
        overrides[name] = value
    return overrides


def check_agent_name(file: str, config: Config, name: str) -> None:
    if name in config.agents:
        return
    close = difflib.get_close_matches(name, list(config.agents), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "agents: " + ", ".join(config.agents)
    fail(f"{file}: unknown agent {name!r} ({hint})", EXIT_USAGE)

