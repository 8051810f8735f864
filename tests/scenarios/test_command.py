"""`runner test` as CI calls it: selection, repeats with pass rates, JUnit XML, JSON, --live without a key."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.scenarios.helpers import REPO, runner_test

FAILING = f"""\
config: {REPO / 'agents.yaml'}
scenarios:
  - name: greets
    steps:
      - user: hmm
      - expect: {{reply: "didn't catch that"}}
  - name: wrong agent
    steps:
      - user: hmm
      - expect: {{agent: billing}}
"""


def test_repeat_and_selection_report_pass_rates_and_write_junit(tmp_path: Path) -> None:
    junit = tmp_path / "results.xml"
    result = runner_test("scenarios/", "-k", "hands off to a human", "--repeat", "2", "--junit-xml", str(junit), cwd=REPO, temp=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[:6]] == [
        "PASS scenarios/billing.yaml::billing hands off to a human #1",
        "PASS scenarios/billing.yaml::billing hands off to a human #2",
        "PASS scenarios/router.yaml::router hands off to a human #1",
        "PASS scenarios/router.yaml::router hands off to a human #2",
        "PASS scenarios/support.yaml::support hands off to a human #1",
        "PASS scenarios/support.yaml::support hands off to a human #2",
    ]
    assert lines[6:] == [
        "scenarios/billing.yaml::billing hands off to a human: 2/2 passed (100%)",
        "scenarios/router.yaml::router hands off to a human: 2/2 passed (100%)",
        "scenarios/support.yaml::support hands off to a human: 2/2 passed (100%)",
        "6 passed, 0 failed",
    ]
    root = ET.parse(junit).getroot()
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "6", "0")
    assert [suite.get("name") for suite in root] == ["scenarios/billing.yaml", "scenarios/router.yaml", "scenarios/support.yaml"]
    assert [case.get("name") for case in root[1]] == ["router hands off to a human #1", "router hands off to a human #2"]


def test_failures_in_junit_and_json(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(FAILING, encoding="utf-8")
    result = runner_test("s.yaml", "--json", "--junit-xml", "out.xml", cwd=tmp_path, temp=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"], report["latency_misses"]) == (1, 1, 0)
    greets, wrong = report["runs"]
    assert (greets["name"], greets["passed"], greets["failures"], greets["artifacts"]) == ("greets", True, [], None)
    assert wrong["failures"][0]["where"] == "s.yaml:10:9"
    assert wrong["failures"][0]["problems"] == ["expected agent 'billing' to be active; 'router' is"]
    assert Path(wrong["artifacts"], "report.json").is_file()
    case = ET.parse(tmp_path / "out.xml").getroot().find("testsuite/testcase[@name='wrong agent']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "s.yaml:10:9: expected agent 'billing' to be active; 'router' is"


def test_text_output_names_the_failure_and_closes_with_the_counts(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(FAILING, encoding="utf-8")
    result = runner_test("s.yaml", cwd=tmp_path, temp=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS s.yaml::greets (")
    assert lines[1].startswith("FAIL s.yaml::wrong agent (")
    assert lines[2:7] == [
        "  at s.yaml:10:9 (expect)",
        "    expected agent 'billing' to be active; 'router' is",
        "    what happened:",
        "      **user:** hmm",
        "      **router:** Sorry, I didn't catch that. Could you tell me a little more about what you need?",
    ]
    assert lines[7].startswith(f"  artifacts: {tmp_path / 'runner-test-'}")  # kept for inspection, inside the test's own folder
    assert lines[-1] == "1 passed, 1 failed"


def test_live_without_an_api_key_is_one_clear_line(tmp_path: Path) -> None:
    result = runner_test("scenarios/router.yaml", "--live", cwd=REPO, temp=tmp_path, unset=("OPENAI_API_KEY",))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "runner: --live needs OPENAI_API_KEY set; without it, run offline (drop --live)\n"


def test_a_pattern_that_selects_nothing_is_a_usage_error(tmp_path: Path) -> None:
    result = runner_test("scenarios/", "-k", "no such scenario", cwd=REPO, temp=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", "runner: no scenario matches -k 'no such scenario'\n")
