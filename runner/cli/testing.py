"""`runner test`: scripted conversations against the simulator or the live API."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from .app import EXIT_FAILED, EXIT_USAGE, TARGET_OPTION, fail, machine_output, main, plural

@main.command(name="test")
@click.argument("paths", nargs=-1, required=True, metavar="PATHS...")
@click.option("--live", is_flag=True, help="Run the user turns against the real Realtime API (model: steps are skipped).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True, help="Run each scenario N times and report pass rates.")
@click.option("-k", "pattern", metavar="PATTERN", help="Only scenarios whose name contains PATTERN.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
    help="Run N scenarios at once, each with its own state folder; results are still listed in file order.",
)
@click.option("--junit-xml", "junit_xml", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML results here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
@TARGET_OPTION
def test_command(
    paths: tuple[str, ...], live: bool, repeat: int, pattern: str | None, jobs: int, junit_xml: Path | None, as_json: bool, target: str | None
) -> None:
    """Run the scenarios in PATHS (files or folders), offline on the simulator unless --live."""
    from runner.scenarios import load_scenarios, pass_rates, result_lines, run_scenarios, select, summary_line, to_json, write_junit

    stdout = click.get_current_context().with_resource(machine_output(as_json))
    loaded = load_scenarios(paths)
    if loaded.errors:
        for problem in loaded.problems:
            click.echo(problem.format(), err=True)
        fail(f"{plural(len(loaded.errors), 'error')} in the scenario files; nothing was run", EXIT_FAILED)
    chosen = select(loaded.scenarios, pattern)
    if not chosen:
        fail(f"no scenario matches -k {pattern!r}", EXIT_USAGE)
    api_key = os.environ.get("OPENAI_API_KEY") if live else None
    if live and not api_key:
        fail("--live needs OPENAI_API_KEY set; without it, run offline (drop --live)", EXIT_USAGE)
    configs = {path: result.config for path, result in loaded.configs.items() if result.config is not None}
    if target is not None:
        configs = _retargeted(configs, target)
    show = (lambda result: None) if as_json else (lambda result: click.echo("\n".join(result_lines(result, repeat))))
    results = run_scenarios(chosen, configs, repeat=repeat, live=live, api_key=api_key, jobs=jobs, on_result=show)
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
            click.echo(f"{plural(misses, 'latency budget')} missed (reported apart from correctness)")
        click.echo(summary_line(results))
    if junit_problem is not None:
        fail(junit_problem, EXIT_FAILED)
    raise click.exceptions.Exit(0 if all(result.passed for result in results) else EXIT_FAILED)


def _retargeted(configs: dict[Path, Any], target: str) -> dict[Path, Any]:
    """Each agents file loaded again for `target`, so its own checks for that target apply."""
    from runner.config import load

    retargeted = {}
    for path in configs:
        result = load(path, target=target)
        if result.config is None:
            for problem in result.errors:
                click.echo(problem.format(), err=True)
            fail(f"{path} cannot run on --target {target}; nothing was run", EXIT_FAILED)
        retargeted[path] = result.config
    return retargeted
