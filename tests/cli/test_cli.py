"""`runner validate | schema | compile | graph` through the real console script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from runner.protocol import client_event_problems

REPO = Path(__file__).resolve().parents[2]
PROBLEM_LINE = re.compile(r"^[^:]+:\d+:\d+: \S")


def _events(text: str) -> list[dict]:
    """The session.update events of `runner compile`'s one JSON document, in file order."""
    return list(json.loads(text).values())


# validate


def test_validate_valid_project(runner):
    done = runner("validate", "shop/agents.yaml")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "shop/agents.yaml: valid (3 agents, 2 tools, 1 guardrail)\n"


def test_validate_example_project(runner):
    done = runner("validate", "agents.yaml", cwd=REPO)
    assert done.returncode == 0, done.stdout
    assert done.stdout == "agents.yaml: valid (5 agents, 10 tools, 3 guardrails)\n"


def test_validate_prints_warnings_and_still_passes(runner):
    done = runner("validate", "unreachable.yaml")
    assert done.returncode == 0
    *problems, summary = done.stdout.splitlines()
    assert len(problems) == 1
    assert problems[0].startswith("unreachable.yaml:") and ": warning: " in problems[0]
    assert summary == "unreachable.yaml: valid (2 agents, 0 tools, 0 guardrails), 1 warning"


def test_strict_turns_warnings_into_errors(runner):
    done = runner("validate", "--strict", "unreachable.yaml")
    assert done.returncode == 1
    problem, summary = done.stdout.splitlines()
    assert PROBLEM_LINE.match(problem) and "warning" not in problem
    assert summary == "unreachable.yaml: 1 error"


def test_validate_prints_every_error_then_a_summary(runner):
    done = runner("validate", "broken.yaml")
    assert done.returncode == 1
    *problems, summary = done.stdout.splitlines()
    assert len(problems) == 2
    assert all(PROBLEM_LINE.match(line) and line.startswith("broken.yaml:") for line in problems)
    assert "'ordres'" in problems[0] or "'ordres'" in problems[1]
    assert "'lookup_order'" in problems[0] or "'lookup_order'" in problems[1]
    assert summary == "broken.yaml: 2 errors"


def test_validate_json_report(runner):
    done = runner("validate", "--json", "broken.yaml")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert {key: report[key] for key in ("file", "valid", "errors", "warnings", "agents", "tools", "guardrails")} == {
        "file": "broken.yaml", "valid": False, "errors": 2, "warnings": 0, "agents": None, "tools": None,
        "guardrails": None,
    }
    assert len(report["problems"]) == 2
    for problem in report["problems"]:
        assert set(problem) == {"file", "line", "col", "path", "message", "hint", "severity"}
        assert problem["file"] == "broken.yaml" and problem["severity"] == "error"


def test_validate_json_report_of_a_valid_project(runner):
    report = json.loads(runner("validate", "--json", "shop/agents.yaml").stdout)
    assert report == {
        "file": "shop/agents.yaml", "valid": True, "errors": 0, "warnings": 0, "problems": [], "agents": 3,
        "tools": 2, "guardrails": 1,
    }


def test_no_import_skips_user_code(runner):
    imported = runner("validate", "missing_module.yaml")
    assert imported.returncode == 1
    assert "no_such_tools_module" in imported.stdout
    skipped = runner("validate", "--no-import", "missing_module.yaml")
    assert skipped.returncode == 0
    assert skipped.stdout == "missing_module.yaml: valid (1 agent, 1 tool, 0 guardrails)\n"


def test_missing_file_is_a_usage_error(runner):
    done = runner("validate", "nope.yaml")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "runner: nope.yaml: no such file\n")


def test_folder_is_a_usage_error(runner):
    done = runner("compile", "shop")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "runner: shop: is a folder, expected an agents file\n")


def test_unknown_option_is_a_usage_error(runner):
    done = runner("validate", "--bogus", "broken.yaml")
    assert done.returncode == 2
    assert done.stderr.endswith("Error: No such option '--bogus'.\n")


def test_every_yaml_under_tests_validates_without_a_traceback(runner):
    files = sorted((REPO / "tests").rglob("*.yaml"))
    assert len(files) >= 5
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda file: runner("validate", str(file), cwd=REPO), files))
    for file, done in zip(files, results):
        assert "Traceback" not in done.stdout + done.stderr, file
        assert done.returncode in (0, 1), (file, done.stderr)


# schema


def test_schema_prints_the_published_schema(runner):
    done = runner("schema")
    assert done.returncode == 0
    published = (REPO / "runner" / "schemas" / "agents.schema.json").read_text()
    assert done.stdout == published
    assert json.loads(done.stdout)["$schema"] == "http://json-schema.org/draft-07/schema#"


# compile


def test_compile_prints_one_event_per_agent_in_file_order(runner):
    done = runner("compile", "shop/agents.yaml")
    assert (done.returncode, done.stderr) == (0, "")
    events = _events(done.stdout)
    assert [event["session"]["instructions"].split(" of ")[0].split(" for ")[0] for event in events] == [
        "You are the front desk", "You answer order questions", "You handle returns",
    ]
    assert events[0]["session"]["audio"]["output"]["voice"] == "marin"
    assert all("voice" not in event["session"]["audio"]["output"] for event in events[1:])
    for event in events:
        assert event["type"] == "session.update"
        assert client_event_problems(event) == []
    assert [tool["name"] for tool in events[0]["session"]["tools"]] == [
        "lookup_order", "transfer_to_orders", "transfer_to_returns",
    ]


def test_compile_example_project(runner):
    done = runner("compile", "agents.yaml", cwd=REPO)
    assert done.returncode == 0, done.stderr
    events = _events(done.stdout)
    assert len(events) == 5
    for event in events:
        assert client_event_problems(event) == []


def test_compile_one_agent_with_variables_for_text(runner):
    done = runner("compile", "shop/agents.yaml", "--agent", "returns", "--var", "company=Zeta", "--text")
    assert done.returncode == 0, done.stderr
    (event,) = _events(done.stdout)
    assert event["session"]["instructions"] == "You handle returns for Zeta."
    assert event["session"]["output_modalities"] == ["text"]


def test_compile_unknown_agent_suggests_the_closest(runner):
    done = runner("compile", "shop/agents.yaml", "--agent", "order")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "runner: shop/agents.yaml: unknown agent 'order' (did you mean 'orders'?)\n"


def test_compile_unknown_agent_lists_the_agents(runner):
    done = runner("compile", "shop/agents.yaml", "--agent", "zzz")
    assert done.stderr == "runner: shop/agents.yaml: unknown agent 'zzz' (agents: desk, orders, returns)\n"


def test_compile_malformed_var_is_a_usage_error(runner):
    done = runner("compile", "shop/agents.yaml", "--var", "company")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "runner: --var expects NAME=VALUE, got 'company'\n"


def test_compile_needs_required_variables(runner):
    missing = runner("compile", "required_variable.yaml")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr.startswith("runner: ") and "customer" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    given = runner("compile", "required_variable.yaml", "--var", "customer=Ada")
    assert given.returncode == 0
    assert _events(given.stdout)[0]["session"]["instructions"] == "Greet Ada by name."


def test_compile_undeclared_variable_is_a_usage_error(runner):
    done = runner("compile", "shop/agents.yaml", "--var", "colour=blue")
    assert (done.returncode, done.stdout) == (2, "")
    assert "colour" in done.stderr and "Traceback" not in done.stderr


def test_compile_invalid_config_prints_problems_and_fails(runner):
    done = runner("compile", "broken.yaml")
    assert (done.returncode, done.stdout) == (1, "")
    *problems, summary = done.stderr.splitlines()
    assert len(problems) == 2 and all(PROBLEM_LINE.match(line) for line in problems)
    assert summary == "broken.yaml: 2 errors"


def test_compile_shows_warnings_on_stderr_and_json_on_stdout(runner):
    done = runner("compile", "unreachable.yaml")
    assert done.returncode == 0
    assert len(_events(done.stdout)) == 2
    assert ": warning: " in done.stderr


# graph


def test_graph_prints_mermaid_by_default(runner):
    done = runner("graph", "shop/agents.yaml")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    a0(["desk (start)<br/>tools: lookup_order"]):::start' in lines
    assert '    a0 -->|"Anything about sending an order back."| a2' in lines


def test_graph_dot_format(runner):
    done = runner("graph", "shop/agents.yaml", "--format", "dot")
    assert done.returncode == 0
    assert done.stdout.startswith("digraph handoffs {\n")
    assert '    "desk" -> "returns" [label="Anything about sending an order\\nback."];' in done.stdout.splitlines()


def test_graph_output_renders_svg(runner, tmp_path):
    output = tmp_path / "graph.svg"
    done = runner("graph", "shop/agents.yaml", "--output", str(output))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "<svg" in output.read_text()


def test_graph_output_text_format_follows_the_suffix(runner, tmp_path):
    output = tmp_path / "graph.dot"
    done = runner("graph", "shop/agents.yaml", "-o", str(output))
    assert done.returncode == 0
    assert output.read_text() == runner("graph", "shop/agents.yaml", "--format", "dot").stdout


def test_graph_without_graphviz_fails_cleanly(runner, tmp_path):
    output = tmp_path / "graph.png"
    done = runner("graph", "shop/agents.yaml", "--output", str(output), path_env=str(tmp_path))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "runner: Graphviz's `dot` is not on PATH: install the graphviz package "
        f"(for example `apt-get install graphviz`) to render {output}\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_graph_refuses_mermaid_images(runner, tmp_path):
    done = runner("graph", "shop/agents.yaml", "--format", "mermaid", "--output", str(tmp_path / "g.png"))
    assert done.returncode == 2
    assert done.stderr == (
        f"runner: --format mermaid cannot be rendered to {tmp_path / 'g.png'}: images are drawn from the dot graph\n"
    )


def test_graph_of_an_invalid_config_fails(runner):
    done = runner("graph", "broken.yaml")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines()[-1] == "broken.yaml: 2 errors"


# start-up


def test_module_entry_point_and_version():
    done = subprocess.run([sys.executable, "-m", "runner", "--version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "runner, version 0.1.0\n")


def test_commands_do_not_import_heavy_libraries(fixtures):
    """validate, compile and graph have a 300 ms budget: openai, sounddevice, numpy and httpx stay out."""
    script = (
        "import sys\n"
        "from runner.cli import main\n"
        "for args in (['validate', 'shop/agents.yaml'], ['compile', 'shop/agents.yaml'], ['graph', 'shop/agents.yaml']):\n"
        "    main(args, standalone_mode=False)\n"
        "heavy = ('openai', 'sounddevice', 'numpy', 'httpx')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=fixtures, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_compile_reports_a_template_that_fails_to_render(runner):
    assert runner("validate", "unrenderable.yaml").returncode == 0
    done = runner("compile", "unrenderable.yaml", "--var", "seats=0")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "runner: unrenderable.yaml: agents.desk.instructions: cannot render: division by zero\n"
    assert runner("compile", "unrenderable.yaml", "--var", "seats=4").returncode == 0
