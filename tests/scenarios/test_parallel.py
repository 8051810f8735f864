"""`runner test -j N`: scenarios run at once in one process, with the same results as one at a time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.scenarios.helpers import runner_test

MEETING_TOOL = """\
import time
from pathlib import Path

HERE = Path(__file__).parent


def meet(who: str, other: str) -> dict:
    '''Say `who` has arrived, then wait for `other`: only runs that overlap can meet.'''
    (HERE / f"{who}.arrived").write_text("")
    deadline = time.monotonic() + 20
    while not (HERE / f"{other}.arrived").exists():
        if time.monotonic() > deadline:
            return {"met": False}
        time.sleep(0.01)
    return {"met": True}
"""

AGENTS = """\
version: 1
name: meeting
model: gpt-realtime
start: solo
agents:
  solo:
    description: The only agent.
    instructions: Answer briefly.
    tools: [meet]
tools:
  meet:
    description: Wait for the other run.
    parameters: {type: object, properties: {who: {type: string}, other: {type: string}}, required: [who, other]}
    python: tools.meeting:meet
    timeout: 30
"""

SCENARIOS = """\
config: agents.yaml
scenarios:
  - name: first
    steps:
      - tool: {name: meet, args: {who: first, other: second}}
        expect: {output: {met: true}}
  - name: second
    steps:
      - tool: {name: meet, args: {who: second, other: first}}
        expect: {output: {met: true}}
"""


def without_timings(report: dict) -> dict:
    for run in report["runs"]:
        run.pop("seconds")
    return report


def test_the_example_suite_gives_the_same_results_with_four_jobs_as_with_one(example: Path, tmp_path: Path) -> None:
    serial = runner_test("scenarios", "--json", "-j", "1", cwd=example, temp=tmp_path)
    parallel = runner_test("scenarios", "--json", "-j", "4", cwd=example, temp=tmp_path)
    assert (serial.returncode, parallel.returncode) == (0, 0), serial.stderr + parallel.stderr
    serial_report, parallel_report = without_timings(json.loads(serial.stdout)), without_timings(json.loads(parallel.stdout))
    assert serial_report["failed"] == 0 and serial_report["passed"] == len(serial_report["runs"]) > 20
    assert parallel_report == serial_report


def test_jobs_really_overlap_and_are_listed_in_file_order(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tools").mkdir(parents=True)
    (project / "tools" / "__init__.py").write_text("")
    (project / "tools" / "meeting.py").write_text(MEETING_TOOL)
    (project / "agents.yaml").write_text(AGENTS)
    (project / "s.yaml").write_text(SCENARIOS)
    result = runner_test("s.yaml", "-j", "2", cwd=project, temp=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[0:2] for line in result.stdout.splitlines()[:2]] == [["PASS", "s.yaml::first"], ["PASS", "s.yaml::second"]]


def test_jobs_must_be_a_positive_number(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIOS)
    result = runner_test("s.yaml", "-j", "0", cwd=tmp_path, temp=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '-j' / '--jobs': 0 is not in the range x>=1." in result.stderr
