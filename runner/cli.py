"""The `runner` command line: parse, call the library, render, exit (0 ok, 1 failed, 2 usage).

Only click and the standard library are imported here at start-up: validate, compile
and graph have a 300 ms budget, so each command imports what it needs when it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NoReturn, TextIO

import click

from runner import __version__

if TYPE_CHECKING:
    from runner.config import LoadResult, Problem
    from runner.config.model import Config

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_FOR_END_REASON = {"interrupted": 130, "terminated": 143}  # 128 + SIGINT, 128 + SIGTERM
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


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


def _configure_logging(verbose: int, log_level: str | None) -> None:
    """The `runner` loggers' level: warnings by default, -v info, -vv debug, or --log-level."""
    if log_level is not None:
        level = getattr(logging, log_level.upper())
    else:
        level = (logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG
    package = logging.getLogger("runner")
    package.handlers = [handler for handler in package.handlers if not isinstance(handler, _StderrHandler)]
    package.addHandler(_StderrHandler())
    package.setLevel(level)


def _colour_wanted() -> bool | None:
    """False when NO_COLOR is set and not empty (no-color.org); None lets click decide (terminals only)."""
    return False if os.environ.get("NO_COLOR") else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runner")
@click.option("-v", "--verbose", count=True, help="Log more to stderr: -v info, -vv debug.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), metavar="LEVEL", help=f"Log level for stderr ({', '.join(LOG_LEVELS)}); overrides -v.")
def main(verbose: int, log_level: str | None) -> None:
    """Describe a team of voice agents in agents.yaml and run it on the OpenAI Realtime API."""
    _configure_logging(verbose, log_level)


def _fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then exit: the whole error report for usage mistakes."""
    click.echo(f"runner: {message}", err=True)
    raise click.exceptions.Exit(code)


@contextlib.contextmanager
def _machine_output(enabled: bool) -> Iterator[TextIO]:
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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _load(file: str, *, import_code: bool = True) -> LoadResult:
    """Load FILE, turning a path that is not a readable file into a usage error."""
    path = Path(file)
    if not path.exists():
        _fail(f"{file}: no such file", EXIT_USAGE)
    if path.is_dir():
        _fail(f"{file}: is a folder, expected an agents file", EXIT_USAGE)
    from runner.config import load

    return load(file, import_code=import_code)


def _problem_summary(file: str, errors: int, warnings: int) -> str:
    parts = [_plural(errors, "error")] if errors else []
    if warnings:
        parts.append(_plural(warnings, "warning"))
    return f"{file}: {', '.join(parts)}"


def _valid_summary(file: str, config: Config, warnings: int) -> str:
    counts = ", ".join(
        [_plural(len(config.agents), "agent"), _plural(len(config.tools), "tool"), _plural(len(config.guardrails), "guardrail")]
    )
    tail = f", {_plural(warnings, 'warning')}" if warnings else ""
    return f"{file}: valid ({counts}){tail}"


def _config_or_exit(file: str) -> Config:
    """The config of a valid FILE; otherwise its problems on stderr and exit 1. Warnings go to stderr too."""
    result = _load(file)
    for problem in result.problems:
        click.echo(problem.format(), err=True)
    if result.config is None or not result.ok():
        click.echo(_problem_summary(file, len(result.errors), len(result.warnings)), err=True)
        raise click.exceptions.Exit(EXIT_FAILED)
    return result.config


@main.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--no-import", is_flag=True, help="Do not import the tools' Python code.")
def validate(file: str, as_json: bool, strict: bool, no_import: bool) -> None:
    """Check FILE and print every problem, one per line: file:line:col: path: message."""
    stdout = click.get_current_context().with_resource(_machine_output(as_json))
    result = _load(file, import_code=not no_import)
    problems = result.problems
    if strict:
        problems = [dataclasses.replace(problem, severity="error") for problem in problems]
    errors = sum(1 for problem in problems if problem.severity == "error")
    warnings = len(problems) - errors
    valid = errors == 0 and result.config is not None
    if as_json:
        report = _validate_report(file, result.config if valid else None, problems, errors=errors)
        click.echo(json.dumps(report, indent=2), file=stdout)
    else:
        for problem in problems:
            click.echo(problem.format())
        summary = _valid_summary(file, result.config, warnings) if valid else _problem_summary(file, errors, warnings)
        click.echo(summary)
    raise click.exceptions.Exit(0 if valid else EXIT_FAILED)


def _validate_report(file: str, config: Config | None, problems: list[Problem], *, errors: int) -> dict[str, Any]:
    """The `--json` shape: counts, every problem as `Problem.to_json()`, and the config's size when valid."""
    return {
        "file": file,
        "valid": config is not None,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": [problem.to_json() for problem in problems],
        "agents": len(config.agents) if config else None,
        "tools": len(config.tools) if config else None,
        "guardrails": len(config.guardrails) if config else None,
    }


@main.command()
@click.option("--write", "target", metavar="DIR|FILE", help="Write agents.schema.json into DIR, or next to your agents FILE (or to a .json path).")
def schema(target: str | None) -> None:
    """Print the JSON Schema of agents.yaml (draft-07, for editors), or write it with --write."""
    from runner.config import SCHEMA_PATH

    text = Path(SCHEMA_PATH).read_text(encoding="utf-8")
    if target is None:
        click.echo(text, nl=False)
        return
    from runner.atomic import WriteError, write_bytes

    output = _schema_destination(target)
    try:
        write_bytes(output, text.encode("utf-8"))
    except WriteError as error:
        _fail(str(error), EXIT_FAILED)
    click.echo(f"wrote {output}")
    click.echo(f"point the first line of an agents file in {output.parent} at it: # yaml-language-server: $schema=./{output.name}")


def _schema_destination(target: str) -> Path:
    """A folder gets agents.schema.json; so does the folder of an agents file; a .json path is taken as is."""
    path = Path(target)
    if path.is_dir():
        return path / "agents.schema.json"
    if path.suffix.lower() == ".json":
        return path
    if path.is_file():
        return path.parent / "agents.schema.json"
    _fail(f"--write {target}: no such folder or file (give a folder, your agents file, or a path ending in .json)", EXIT_USAGE)


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            _fail(f"--var expects NAME=VALUE, got {pair!r}", EXIT_USAGE)
        overrides[name] = value
    return overrides


def _check_agent_name(file: str, config: Config, name: str) -> None:
    if name in config.agents:
        return
    close = difflib.get_close_matches(name, list(config.agents), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "agents: " + ", ".join(config.agents)
    _fail(f"{file}: unknown agent {name!r} ({hint})", EXIT_USAGE)


@main.command(name="compile")
@click.argument("file")
@click.option("--agent", "agent_name", metavar="NAME", help="Only this agent.")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="Set a template variable (repeatable).")
@click.option("--text", is_flag=True, help="Compile for text output (as `runner run --text`).")
@click.option("--jsonl", is_flag=True, help="One compact event per line instead of one JSON object.")
def compile_command(file: str, agent_name: str | None, pairs: tuple[str, ...], text: bool, jsonl: bool) -> None:
    """Print the session.update event sent for each agent: one JSON object keyed by agent, in file order.

    The start agent's event is the session's first (it sets the voice); the others are
    the events sent on a handoff to them, which keep the session's voice. With --jsonl,
    each event is one line (in the same order), ready to send as it is.
    """
    from runner.compile import CompileError, compile_config, session_update_event
    from runner.config import resolve_variables

    overrides = _parse_vars(pairs)
    config = _config_or_exit(file)
    if agent_name is not None:
        _check_agent_name(file, config, agent_name)
    values, variable_errors = resolve_variables(config, overrides)
    if variable_errors:
        for message in variable_errors:
            click.echo(f"runner: {message}", err=True)
        raise click.exceptions.Exit(EXIT_USAGE)
    try:
        compiled = compile_config(config, values=values, modality="text" if text else None)
    except CompileError as error:
        for message in error.messages:
            click.echo(f"runner: {file}: {message}", err=True)
        raise click.exceptions.Exit(EXIT_FAILED) from None
    events = {
        name: session_update_event(agent, handoff=name != config.start)
        for name, agent in compiled.items()
        if agent_name is None or name == agent_name
    }
    if jsonl:
        for event in events.values():
            click.echo(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    else:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))


@main.command()
@click.argument("file")
@click.option("--format", "text_format", type=click.Choice(["mermaid", "dot"]), help="Text format (default mermaid).")
@click.option("--output", "-o", metavar="PATH", help="Write here; .svg, .png and .pdf are rendered with Graphviz.")
def graph(file: str, text_format: str | None, output: str | None) -> None:
    """Print the handoff graph: the start agent marked, each agent's tools listed."""
    from runner import graph as handoff_graph

    image = output is not None and Path(output).suffix.lower().lstrip(".") in handoff_graph.IMAGE_FORMATS
    if image and text_format == "mermaid":
        _fail(f"--format mermaid cannot be rendered to {output}: images are drawn from the dot graph", EXIT_USAGE)
    config = _config_or_exit(file)
    if image:
        try:
            handoff_graph.render_image(handoff_graph.dot(config), Path(output))
        except handoff_graph.RenderError as error:
            _fail(str(error), EXIT_FAILED)
        return
    chosen = text_format or _format_from_suffix(output)
    text = handoff_graph.dot(config) if chosen == "dot" else handoff_graph.mermaid(config)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror}", EXIT_FAILED)


def _format_from_suffix(output: str | None) -> str:
    suffix = Path(output).suffix.lower() if output else ""
    return "dot" if suffix in (".dot", ".gv") else "mermaid"


@main.command()
@click.argument("file")
@click.option("--text", is_flag=True, help="Type instead of talking; replies stream as text.")
@click.option("--offline", is_flag=True, help="Talk to the built-in simulator instead of the Realtime API.")
@click.option("--rules", "sim_rules", default="techcorp", show_default=True, metavar="NAME|PATH", help="Simulator rule set (with --offline).")
@click.option("--base-url", metavar="URL", help="API base URL (also OPENAI_BASE_URL), e.g. for Azure-style or compatible servers.")
@click.option("--session-dir", type=click.Path(file_okay=False, path_type=Path), help="Parent folder of the session folders (default: <state_dir>/sessions).")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="Set a template variable (repeatable).")
@click.option("--agent", "start", metavar="NAME", help="Start with this agent instead of the config's start.")
@click.option("--events", "show_events", is_flag=True, help="Also print every event name.")
@click.option("--no-guardrails", is_flag=True, help="Turn guardrail policies off for this run (also ENABLE_GUARDRAILS=false).")
@click.option("--sim-drop-after", type=int, metavar="N", hidden=True, help="Simulator drops the first connection after N events (reconnect testing).")
@click.option("--ptt", is_flag=True, help="Push-to-talk: press space to talk, press again (or let go) to send.")
@click.option("--half-duplex", is_flag=True, help="Mute the mic while the agent speaks (loudspeakers, noisy rooms).")
@click.option("--no-echo-gate", is_flag=True, help="Headphones: send the mic even while the agent speaks.")
@click.option("--input-device", metavar="INDEX|NAME", help="Microphone by index or part of its name (see --list-devices).")
@click.option("--output-device", metavar="INDEX|NAME", help="Speaker by index or part of its name (see --list-devices).")
@click.option("--list-devices", is_flag=True, is_eager=True, expose_value=False, callback=lambda ctx, param, value: _list_audio_devices(ctx) if value else None, help="List audio devices and exit (no FILE needed).")
@click.option("--input-wav", type=click.Path(dir_okay=False, path_type=Path), help="Read the user's audio from this WAV instead of the mic.")
@click.option("--output-wav", type=click.Path(dir_okay=False, path_type=Path), help="Write the agent's audio, as heard, to this WAV instead of the speaker.")
@click.option("--fast", is_flag=True, help="With WAV files: as fast as possible instead of real time.")
@click.option("--record", is_flag=True, help="Write recording.wav (you left, the agent right) in the session folder.")
@click.option("--cushion-ms", type=click.IntRange(0, 1000), default=60, show_default=True, help="Audio buffered before playback starts.")
def run(
    file: str,
    text: bool,
    offline: bool,
    sim_rules: str,
    base_url: str | None,
    session_dir: Path | None,
    pairs: tuple[str, ...],
    start: str | None,
    show_events: bool,
    no_guardrails: bool,
    sim_drop_after: int | None,
    ptt: bool,
    half_duplex: bool,
    no_echo_gate: bool,
    input_device: str | None,
    output_device: str | None,
    input_wav: Path | None,
    output_wav: Path | None,
    fast: bool,
    record: bool,
    cushion_ms: int,
) -> None:
    """Talk to the agents in FILE (text with --text; --offline needs no API key).

    Ctrl-C or SIGTERM ends the session after the pending reply (exit 130 or 143); a
    second one stops at once.
    """
    import asyncio

    config = _config_or_exit(file)
    if start is not None:
        _check_agent_name(file, config, start)
    if text and (ptt or half_duplex or no_echo_gate or input_device or output_device or input_wav or output_wav or record):
        _fail("audio options cannot be combined with --text", EXIT_USAGE)
    if fast and input_wav is None and output_wav is None:
        _fail("--fast only applies to --input-wav/--output-wav", EXIT_USAGE)
    if offline:
        _check_rules(sim_rules)
    _check_session_parent(session_dir, config)
    from runner.run.chat import run_text
    from runner.run.console import Console
    from runner.host.conversation import RunOptions, SetupError

    options = RunOptions(
        text=text,
        offline=offline,
        sim_rules=sim_rules,
        sim_drop_after_events=sim_drop_after,
        base_url=base_url,
        session_dir=session_dir,
        variables=_parse_vars(pairs),
        guardrails=not no_guardrails,
        start=start,
    )
    colour = _colour_wanted()
    console = Console(list(config.agents), show_events=show_events, colour=colour)
    summary: list[str] = []
    try:
        if text:
            folder, outcome = asyncio.run(run_text(config, options, console=console, colour=colour is not False))
        else:
            from runner.run.voice import VoiceOptions, run_voice

            voice = VoiceOptions(
                ptt=ptt,
                half_duplex=half_duplex,
                echo_gate=not no_echo_gate,
                input_device=input_device,
                output_device=output_device,
                input_wav=input_wav,
                output_wav=output_wav,
                fast=fast,
                record=record,
                cushion_ms=cushion_ms,
            )
            folder, outcome, summary = asyncio.run(run_voice(config, options, voice, console=console))
    except SetupError as error:
        _fail(str(error), EXIT_FAILED)
    except asyncio.CancelledError:
        _fail("stopped", EXIT_FAILED)
    for line in summary:
        click.echo(f"runner: {line}", err=True)
    click.echo(f"runner: session ended ({outcome.reason}); artifacts in {folder}", err=True)
    if outcome.fatal_error:
        _fail(outcome.fatal_error, EXIT_FAILED)
    if outcome.reason in EXIT_FOR_END_REASON:
        raise click.exceptions.Exit(EXIT_FOR_END_REASON[outcome.reason])


def _check_rules(name: str) -> None:
    """The simulator's rule set must load before anything is started or written."""
    from runner.sim.rule_file import RuleFileError, load_rules

    try:
        load_rules(name)
    except RuleFileError as error:
        for problem in error.problems:
            click.echo(problem.format(), err=True)
        raise click.exceptions.Exit(EXIT_USAGE) from None


def _check_session_parent(option: Path | None, config: Config) -> None:
    """The session folders' parent must be creatable: probe with a folder made and removed, so a failed run leaves nothing."""
    import tempfile

    parent = option if option is not None else config.state_dir / "sessions"
    shown, code = (f"--session-dir {option}", EXIT_USAGE) if option is not None else (f"session folder {parent}", EXIT_FAILED)
    existing = next(place for place in (parent, *parent.parents) if place.exists())
    if not existing.is_dir():
        _fail(f"{shown}: {existing} is a file, not a folder", code)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".runner-probe-", dir=existing))
    except OSError as error:
        _fail(f"{shown}: cannot create the folder: {error.strerror}", code)


def _list_audio_devices(ctx: click.Context) -> None:
    from runner.audio.devices import AudioDeviceError, format_devices, list_devices

    try:
        click.echo(format_devices(list_devices()))
    except AudioDeviceError as error:
        _fail(str(error), EXIT_FAILED)
    ctx.exit(0)


@main.command(name="test")
@click.argument("paths", nargs=-1, required=True, metavar="PATHS...")
@click.option("--live", is_flag=True, help="Run the user turns against the real Realtime API (model: steps are skipped).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True, help="Run each scenario N times and report pass rates.")
@click.option("-k", "pattern", metavar="PATTERN", help="Only scenarios whose name contains PATTERN.")
@click.option("--junit-xml", "junit_xml", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML results here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def test_command(paths: tuple[str, ...], live: bool, repeat: int, pattern: str | None, junit_xml: Path | None, as_json: bool) -> None:
    """Run the scenarios in PATHS (files or folders), offline on the simulator unless --live."""
    import os

    from runner.scenarios import load_scenarios, pass_rates, result_lines, run_scenarios, select, summary_line, to_json, write_junit

    stdout = click.get_current_context().with_resource(_machine_output(as_json))
    loaded = load_scenarios(paths)
    if loaded.errors:
        for problem in loaded.problems:
            click.echo(problem.format(), err=True)
        _fail(f"{_plural(len(loaded.errors), 'error')} in the scenario files; nothing was run", EXIT_FAILED)
    chosen = select(loaded.scenarios, pattern)
    if not chosen:
        _fail(f"no scenario matches -k {pattern!r}", EXIT_USAGE)
    api_key = os.environ.get("OPENAI_API_KEY") if live else None
    if live and not api_key:
        _fail("--live needs OPENAI_API_KEY set; without it, run offline (drop --live)", EXIT_USAGE)
    configs = {path: result.config for path, result in loaded.configs.items() if result.config is not None}
    show = (lambda result: None) if as_json else (lambda result: click.echo("\n".join(result_lines(result, repeat))))
    results = run_scenarios(chosen, configs, repeat=repeat, live=live, api_key=api_key, on_result=show)
    junit_problem = None
    if junit_xml is not None:
        try:
            write_junit(results, junit_xml, repeat)
        except OSError as error:
            junit_problem = f"cannot write the JUnit report to {junit_xml}: {error.strerror or error}"
    if as_json:
        click.echo(json.dumps(to_json(results), indent=2), file=stdout)
    else:
        if repeat > 1:
            click.echo("\n".join(pass_rates(results)))
        misses = sum(len(result.latency_misses) for result in results)
        if misses:
            click.echo(f"{_plural(misses, 'latency budget')} missed (reported apart from correctness)")
        click.echo(summary_line(results))
    if junit_problem is not None:
        _fail(junit_problem, EXIT_FAILED)
    raise click.exceptions.Exit(0 if all(result.passed for result in results) else EXIT_FAILED)
