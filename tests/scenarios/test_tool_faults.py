"""`runner test` survives tools that misbehave: stuck past their timeout, raising exit, returning junk."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

TOOLS = '''
import sys
import time


def hang():
    time.sleep(3600)


def quick():
    return "quick"


def exit_three():
    sys.exit(3)


def interrupt():
    raise KeyboardInterrupt


def tuple_keys():
    return {(1, 2): "x"}


def deep_list():
    value = []
    for _ in range(100_000):
        value = [value]
    return value


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no words for it")


def unprintable():
    raise Unprintable()
'''

FAULTY = ("exit_three", "interrupt", "tuple_keys", "deep_list", "unprintable")


def _project(root: Path, tools: tuple[str, ...]) -> Path:
    """A one-agent project whose tools are the named functions of TOOLS (`hang` with a 1 s timeout)."""
    (root / "tools").mkdir()
    (root / "tools" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tools" / "faulty.py").write_text(TOOLS, encoding="utf-8")
    definitions = "".join(
        f"  {name}:\n    description: The fixture's {name}.\n    parameters: {{type: object, properties: {{}}}}\n"
        f"    python: tools.faulty:{name}\n" + ("    timeout: 1\n" if name == "hang" else "")
        for name in tools
    )
    agents = f"""\
        version: 1
        name: faults
        model: gpt-realtime-2.1
        start: solo
        agents:
          solo:
            description: The only agent.
            instructions: Answer briefly.
            tools: [{", ".join(tools)}]
        tools:
        """
    (root / "agents.yaml").write_text(textwrap.dedent(agents) + definitions, encoding="utf-8")
    return root


def _runner_test(cwd: Path, deadline: float) -> subprocess.CompletedProcess[str]:
    """`runner test s.yaml --json` in a fresh process; one still running at `deadline` raises TimeoutExpired."""
    command = [sys.executable, "-m", "runner", "test", "s.yaml", "--json"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=deadline, check=False)


def _scenario(root: Path, calls: list[tuple[str, str]]) -> None:
    """One scenario calling each tool in turn and expecting its output to contain the given text."""
    steps = "".join(
        f"      - model: {{call: {{name: {name}, args: {{}}}}}}\n"
        f"      - user: go\n"
        f"      - expect: {{tool_output: {{name: {name}, contains: {json.dumps(text)}}}}}\n"
        for name, text in calls
    )
    (root / "s.yaml").write_text(f"config: agents.yaml\nscenarios:\n  - name: faults\n    steps:\n{steps}", encoding="utf-8")


def test_the_process_exits_after_the_session_while_a_stuck_sync_tool_still_runs(tmp_path: Path) -> None:
    _scenario(_project(tmp_path, ("hang", "quick")), [("hang", '"error": "timeout"'), ("quick", "quick")])
    result = _runner_test(tmp_path, deadline=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["passed"] == 1


def test_tools_that_raise_exit_or_return_unencodable_values_leave_the_session_running(tmp_path: Path) -> None:
    expected = [
        ("exit_three", '"type": "SystemExit"'),
        ("interrupt", '"type": "KeyboardInterrupt"'),
        ("tuple_keys", '"error": "unserialisable_output"'),
        ("deep_list", '"error": "unserialisable_output"'),
        ("unprintable", '"type": "Unprintable"'),
        ("quick", "quick"),
    ]
    _scenario(_project(tmp_path, (*FAULTY, "quick")), expected)
    result = _runner_test(tmp_path, deadline=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["passed"], report["runs"][0]["failures"]) == (1, [])
