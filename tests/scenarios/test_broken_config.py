"""A config change that breaks a flow makes the scenario covering that flow fail, readably."""

from __future__ import annotations

from pathlib import Path

from tests.scenarios.helpers import replace_once, runner_test


def _statuses(stdout: str) -> dict[str, str]:
    return {line.split(" ", 1)[1].rsplit(" (", 1)[0]: line.split(" ", 1)[0] for line in stdout.splitlines() if line.startswith(("PASS ", "FAIL "))}


def test_the_unbroken_copy_passes(example: Path) -> None:
    result = runner_test("scenarios/", cwd=example, temp=example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "35 passed, 0 failed"


def test_a_removed_handoff_fails_the_scenario_that_takes_that_edge(example: Path) -> None:
    replace_once(example / "agents.yaml", "    handoffs: [router, billing, human]\n\n  sales:", "    handoffs: [router, human]\n\n  sales:")
    result = runner_test("scenarios/support.yaml", cwd=example, temp=example)
    assert result.returncode == 1
    failed = [name for name, status in _statuses(result.stdout).items() if status == "FAIL"]
    assert failed == ["scenarios/support.yaml::support hands off to billing"]
    lines = result.stdout.splitlines()
    at = lines.index("  at scenarios/support.yaml:46:9 (expect)")
    assert lines[at + 1 : at + 3] == [
        "    expected agent 'billing' to be active; 'support' is",
        "    expected a handoff to billing from support; saw no handoff",
    ]
    assert lines[at + 3] == "    what happened:"
    assert lines[at + 4] == "      **user:** there is a strange charge on my bill"
    assert any(line.startswith("  artifacts: ") and Path(line.split(": ", 1)[1], "transcript.md").is_file() for line in lines)
    assert lines[-1] == "6 passed, 1 failed"


def test_a_changed_tool_query_fails_the_scenario_that_checks_its_result(example: Path) -> None:
    replace_once(example / "tools" / "sales.py", '"SELECT p.*, i.units, i.warehouse', '"SELECT p.*, 0 AS units, i.warehouse')
    result = runner_test("scenarios/sales.yaml", cwd=example, temp=example)
    assert result.returncode == 1
    failed = [name for name, status in _statuses(result.stdout).items() if status == "FAIL"]
    assert failed == ["scenarios/sales.yaml::stock changed by a fixture is what sales reports"]
    assert '    check_inventory: output does not include {"in_stock": true, "units_available": 7}; its output was' in result.stdout
    assert "    expected the reply to contain '7 units available'; it was: The TechCorp Phone X is out of stock" in result.stdout
    assert result.stdout.splitlines()[-1] == "7 passed, 1 failed"


def test_a_renamed_prompt_variable_fails_the_scenario_that_sets_it(example: Path) -> None:
    agents = example / "agents.yaml"
    replace_once(agents, "  refund_window_days:\n", "  refund_days:\n")
    replace_once(agents, "within {{ refund_window_days }} days", "within {{ refund_days }} days")
    result = runner_test("scenarios/billing.yaml", cwd=example, temp=example)
    assert result.returncode == 1
    failed = [name for name, status in _statuses(result.stdout).items() if status == "FAIL"]
    assert failed == ["scenarios/billing.yaml::the refund window comes from the config's refund_window_days"]
    lines = result.stdout.splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith("FAIL "))
    assert lines[at + 1 : at + 3] == [
        "  at scenarios/billing.yaml:30:5 (scenario)",
        "    scenarios/billing.yaml:32:16: scenarios[2].variables: 'refund_window_days' is not a declared variable (did you mean 'refund_days'?)",
    ]
    assert lines[-1] == "6 passed, 1 failed"
