"""Rendering scenario runs: console lines, a JSON document, JUnit XML for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from .player import RunResult


def _label(result: RunResult, repeat: int) -> str:
    suffix = f" #{result.attempt}" if repeat > 1 else ""
    return f"{result.scenario.file}::{result.scenario.name}{suffix}"


def result_lines(result: RunResult, repeat: int = 1) -> list[str]:
    """One line for the run, then for a failure: where, the step, what was expected and what happened."""
    status = "PASS" if result.passed else "FAIL"
    steps = "1 step" if result.steps_run == 1 else f"{result.steps_run} steps"
    lines = [f"{status} {_label(result, repeat)} ({result.duration:.2f}s, {steps})"]
    for miss in result.latency_misses:
        lines.append(f"  latency: {miss}")
    for failure in result.failures:
        lines.append(f"  at {failure.where} ({failure.step})")
        lines += [f"    {problem}" for problem in failure.problems]
        if failure.transcript:
            lines.append("    what happened:")
            lines += [f"      {line}" for line in failure.transcript]
    if not result.passed and result.artifacts is not None:
        lines.append(f"  artifacts: {result.artifacts}")
    return lines


def pass_rates(results: list[RunResult]) -> list[str]:
    """`name: 4/5 passed (80%)` per scenario, for --repeat."""
    by_scenario: dict[str, list[RunResult]] = defaultdict(list)
    for result in results:
        by_scenario[_label(result, 1)].append(result)
    lines = []
    for label, runs in by_scenario.items():
        passed = sum(run.passed for run in runs)
        lines.append(f"{label}: {passed}/{len(runs)} passed ({100 * passed / len(runs):.0f}%)")
    return lines


def summary_line(results: list[RunResult]) -> str:
    """The closing line CI reads: exactly `N passed, N failed`."""
    passed = sum(result.passed for result in results)
    return f"{passed} passed, {len(results) - passed} failed"


def to_json(results: list[RunResult]) -> dict[str, Any]:
    passed = sum(result.passed for result in results)
    return {
        "passed": passed,
        "failed": len(results) - passed,
        "latency_misses": sum(len(result.latency_misses) for result in results),
        "runs": [
            {
                "file": result.scenario.file,
                "name": result.scenario.name,
                "attempt": result.attempt,
                "passed": result.passed,
                "seconds": round(result.duration, 4),
                "steps_run": result.steps_run,
                "failures": [
                    {"where": f.where, "step": f.step, "problems": f.problems, "transcript": f.transcript} for f in result.failures
                ],
                "latency_misses": result.latency_misses,
                "artifacts": None if result.artifacts is None else str(result.artifacts),
            }
            for result in results
        ],
    }


def write_junit(results: list[RunResult], path: Path, repeat: int = 1) -> None:
    """One testsuite per scenario file, one testcase per run; latency misses go to system-out."""
    suites: dict[str, list[RunResult]] = defaultdict(list)
    for result in results:
        suites[result.scenario.file].append(result)
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(sum(not r.passed for r in results)))
    for file, runs in suites.items():
        suite = ET.SubElement(
            root, "testsuite", name=file, tests=str(len(runs)), failures=str(sum(not r.passed for r in runs)), errors="0",
            time=f"{sum(r.duration for r in runs):.3f}",
        )
        for run in runs:
            name = run.scenario.name + (f" #{run.attempt}" if repeat > 1 else "")
            case = ET.SubElement(suite, "testcase", classname=file, name=name, time=f"{run.duration:.3f}")
            if not run.passed:
                first = run.failures[0]
                failure = ET.SubElement(case, "failure", message=f"{first.where}: {first.problems[0]}")
                failure.text = "\n".join(result_lines(run, repeat)[1:])
            if run.latency_misses:
                ET.SubElement(case, "system-out").text = "\n".join(f"latency: {miss}" for miss in run.latency_misses)
    ET.indent(root)
    path.write_text(ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n", encoding="utf-8")
