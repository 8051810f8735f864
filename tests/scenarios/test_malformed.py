"""Malformed scenario files: every problem located like `runner validate`'s, and nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.scenarios import load_scenarios
from tests.scenarios.helpers import REPO, runner_test

MALFORMED = """\
config: {agents}
scenarios:
  - name: one
    stepz: []
  - name: two
    steps:
      - user: hi
        wait: 1s
      - expect: {{agnet: router}}
      - expect: {{reply: {{regex: "("}}}}
      - wait: soon
      - model: {{say: hi, call: {{name: x}}}}
      - tool: {{name: authenticate_user}}
        expect: {{output: {{}}, bogus: 1}}
  - name: three
    config: nowhere.yaml
    steps: [{{user: hi}}]
"""


def test_a_malformed_file_gives_every_located_error_and_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(MALFORMED.format(agents=REPO / "agents.yaml"), encoding="utf-8")
    result = runner_test("bad.yaml", cwd=tmp_path, temp=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "bad.yaml:3:3: scenarios[0]: missing required key 'steps'",
        "bad.yaml:4:5: scenarios[0].stepz: unknown key 'stepz' (did you mean 'steps'?)",
        "bad.yaml:7:9: scenarios[1].steps[0]: a step is one kind, got user and wait (only `tool` may carry an `expect`)",
        "bad.yaml:9:18: scenarios[1].steps[1].expect.agnet: unknown key 'agnet' (did you mean 'agent'?)",
        "bad.yaml:10:33: scenarios[1].steps[2].expect.reply.regex: not a valid regular expression: missing ), unterminated subpattern at position 0",
        "bad.yaml:11:15: scenarios[1].steps[3].wait: 'soon' is not valid: write a duration such as 500ms, 2s or 1.5",
        "bad.yaml:12:16: scenarios[1].steps[4].model: a model action is one of say, call, calls, handoff; got say and call (one action per response: make it a list)",
        "bad.yaml:14:30: scenarios[1].steps[5].expect.bogus: unknown key 'bogus'",
        f"bad.yaml:16:13: scenarios[2].config: no agents file at {tmp_path / 'nowhere.yaml'}",
        "runner: 9 errors in the scenario files; nothing was run",
    ]
    assert not list(tmp_path.glob("**/sessions")), "a session folder means something ran"


def _problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "agents.yaml").symlink_to(REPO / "agents.yaml")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    return [problem.format() for problem in load_scenarios([str(tmp_path / "s.yaml")]).problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1:1: the file is empty (a scenario file starts with scenarios:)"),
        ("scenarios: [\n", "2:1: invalid YAML: did not find expected node content (while parsing a flow node at line 2)"),
        ("- a\n", "1:1: the top level must be a mapping with a 'scenarios' list"),
        ("config: agents.yaml\nscenarios: []\n", "2:12: scenarios: must not be empty"),
        (
            "config: agents.yaml\nscenarios:\n  - {name: a, steps: [{user: hi}]}\n  - {name: a, steps: [{user: hi}]}\n",
            "4:12: scenarios[1].name: duplicate scenario name 'a' (the first is at line 3)",
        ),
        (
            "scenarios:\n  - {name: a, steps: [{user: hi}]}\n",
            "2:3: scenarios[0]: missing required key 'config' (or a file-level config for every scenario)",
        ),
        (
            "config: agents.yaml\nscenarios:\n  - name: a\n    steps:\n      - expect: {db: {query: SELECT 1}}\n",
            "5:9: scenarios[0].steps[0]: a db expectation needs the scenario's `database: {file: ...}` to know which database to query",
        ),
        (
            "config: agents.yaml\nscenarios:\n  - name: a\n    database: {file: techcorp.db, sql: missing.sql}\n    steps: [{user: hi}]\n",
            "4:40: scenarios[0].database.sql: no such file: {tmp}/missing.sql",
        ),
        (
            "config: agents.yaml\nscenarios:\n  - name: a\n    database: {file: ../../../../x.db}\n    steps: [{user: hi}]\n",
            "4:22: scenarios[0].database.file: '../../../../x.db' is outside the scenario's state folder (write a path inside it, or an absolute path)",
        ),
        (
            "config: agents.yaml\nscenarios:\n  - name: a\n    steps: [{user_audio: hello.wav}]\n",
            "4:26: scenarios[0].steps[0].user_audio: no such file: {tmp}/hello.wav",
        ),
    ],
)
def test_located_problems(tmp_path: Path, text: str, expected: str) -> None:
    assert _problems(tmp_path, text) == [f"{tmp_path / 's.yaml'}:{expected.replace('{tmp}', str(tmp_path))}"]


def test_an_agents_file_with_errors_is_reported_at_the_config_key(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("version: 1\nagents: {}\nstart: nobody\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_text("config: broken.yaml\nscenarios:\n  - {name: a, steps: [{user: hi}]}\n", encoding="utf-8")
    problems = [problem.format() for problem in load_scenarios([str(tmp_path / "s.yaml")]).problems]
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 's.yaml'}:1:9: config: the agents file has errors: {tmp_path / 'broken.yaml'}:")
    assert "run `runner validate broken.yaml`" in problems[0]


def test_a_folder_without_scenario_files_is_a_located_problem(tmp_path: Path) -> None:
    assert [problem.format() for problem in load_scenarios([str(tmp_path)]).problems] == [f"{tmp_path}:1:1: no scenario files (*.yaml) in this folder"]


def test_the_published_schema_is_draft_07_and_the_example_files_follow_it() -> None:
    from jsonschema import Draft7Validator

    from runner.config.source import decode, parse
    from runner.scenarios import SCHEMA_PATH, scenarios_schema

    Draft7Validator.check_schema(scenarios_schema())
    assert (REPO / "schemas" / "scenarios.schema.json").resolve() == SCHEMA_PATH
    validator = Draft7Validator(scenarios_schema())
    for file in sorted((REPO / "scenarios").glob("*.yaml")):
        assert list(validator.iter_errors(parse(decode(file.read_bytes())).data)) == [], file
