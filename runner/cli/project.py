"""`runner validate`, `schema`, `compile` and `graph`: what a project file says, without running it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .app import EXIT_FAILED, EXIT_USAGE, TARGET_OPTION, check_agent_name, config_or_exit, fail, load_file, machine_output, main, parse_vars, problem_summary, valid_summary

if TYPE_CHECKING:
    from runner.config import Problem
    from runner.config.model import Config

@main.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--no-import", is_flag=True, help="Do not import the tools' Python code.")
@TARGET_OPTION
def validate(file: str, as_json: bool, strict: bool, no_import: bool, target: str | None) -> None:
    """Check FILE and print every problem, one per line: file:line:col: path: message.

    With --target live, also what of it cannot carry over to GPT-Live.
    """
    stdout = click.get_current_context().with_resource(machine_output(as_json))
    result = load_file(file, import_code=not no_import, target=target)
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
        summary = valid_summary(file, result.config, warnings) if valid else problem_summary(file, errors, warnings)
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
        fail(str(error), EXIT_FAILED)
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
    fail(f"--write {target}: no such folder or file (give a folder, your agents file, or a path ending in .json)", EXIT_USAGE)


@main.command(name="compile")
@click.argument("file")
@click.option("--agent", "agent_name", metavar="NAME", help="Only this agent.")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="Set a template variable (repeatable).")
@click.option("--text", is_flag=True, help="Compile for text output (as `runner run --text`).")
@click.option("--jsonl", is_flag=True, help="One compact event per line instead of one JSON object.")
@TARGET_OPTION
def compile_command(file: str, agent_name: str | None, pairs: tuple[str, ...], text: bool, jsonl: bool, target: str | None) -> None:
    """Print the session.update event sent for each agent: one JSON object keyed by agent, in file order.

    The start agent's event is the session's first (it sets the voice); the others are
    the events sent on a handoff to them, which keep the session's voice. With --jsonl,
    each event is one line (in the same order), ready to send as it is.

    On GPT-Live (--target live) each agent has a list of events: the start agent's
    session.start (and, when it speaks first, the commentary append that opens the
    call); for the others, the session.update and instructions append of a handoff.
    """
    from runner.compile import CompileError, compile_config, session_update_event
    from runner.config import resolve_variables

    overrides = parse_vars(pairs)
    config = config_or_exit(file, target)
    if text and config.target == "live":
        fail("--text does not apply to GPT-Live: it always speaks (runner run --text shows its transcript)", EXIT_USAGE)
    if agent_name is not None:
        check_agent_name(file, config, agent_name)
    values, variable_errors = resolve_variables(config, overrides)
    if variable_errors:
        for message in variable_errors:
            click.echo(f"runner: {message}", err=True)
        raise click.exceptions.Exit(EXIT_USAGE)
    try:
        if config.target == "live":
            events = _live_events(config, values)
        else:
            compiled = compile_config(config, values=values, modality="text" if text else None)
            events = {name: session_update_event(agent, handoff=name != config.start) for name, agent in compiled.items()}
    except CompileError as error:
        for message in error.messages:
            click.echo(f"runner: {file}: {message}", err=True)
        raise click.exceptions.Exit(EXIT_FAILED) from None
    if agent_name is not None:
        events = {agent_name: events[agent_name]}
    if jsonl:
        for value in events.values():
            for event in value if isinstance(value, list) else [value]:
                click.echo(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    else:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))


def _live_events(config: Config, values: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each agent's GPT-Live events, in file order: the session's opening ones, or a handoff's."""
    from runner.compile_live import compile_live, greeting_event, handoff_events, session_start_event

    program = compile_live(config, values=values)
    events = {}
    for name, agent in program.agents.items():
        if name == program.start:
            greeting = greeting_event(agent)
            events[name] = [session_start_event(program)] + ([greeting] if greeting else [])
        else:
            events[name] = handoff_events(program, name)
    return events


@main.command()
@click.argument("file")
@click.option("--format", "text_format", type=click.Choice(["mermaid", "dot"]), help="Text format (default mermaid).")
@click.option("--output", "-o", metavar="PATH", help="Write here; .svg, .png and .pdf are rendered with Graphviz.")
def graph(file: str, text_format: str | None, output: str | None) -> None:
    """Print the handoff graph: the start agent marked, each agent's tools listed."""
    from runner import graph as handoff_graph

    image = output is not None and Path(output).suffix.lower().lstrip(".") in handoff_graph.IMAGE_FORMATS
    if image and text_format == "mermaid":
        fail(f"--format mermaid cannot be rendered to {output}: images are drawn from the dot graph", EXIT_USAGE)
    config = config_or_exit(file)
    if image:
        try:
            handoff_graph.render_image(handoff_graph.dot(config), Path(output))
        except handoff_graph.RenderError as error:
            fail(str(error), EXIT_FAILED)
        return
    chosen = text_format or _format_from_suffix(output)
    text = handoff_graph.dot(config) if chosen == "dot" else handoff_graph.mermaid(config)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}", EXIT_FAILED)


def _format_from_suffix(output: str | None) -> str:
    suffix = Path(output).suffix.lower() if output else ""
    return "dot" if suffix in (".dot", ".gv") else "mermaid"
