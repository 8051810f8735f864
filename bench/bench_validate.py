"""How long `runner validate` takes, and whether its cost grows linearly with the agents.

Generates synthetic projects (10, 100 and 500 agents, 4 tools each, every tool bound to a
function of a generated Python module, agents linked in a handoff ring plus a hub), then
times the real console script as a subprocess: the median wall time of several runs per
case, the example `agents.yaml` (also through `compile` and `graph`, which share the
300 ms budget), and bare start-up (`runner --help`).

    .venv/bin/python bench/bench_validate.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNNER = Path(sys.executable).parent / "runner"
TOOLS_PER_AGENT = 4
SIZES = (10, 100, 500)
RUNS = 7
TARGETS_MS = {"agents.yaml": 300.0, "compile agents.yaml": 300.0, "graph agents.yaml": 300.0, "500 agents": 1500.0}


def tools_module(agents: int) -> str:
    functions = [
        f"def tool_{agent}_{slot}(query: str, limit: int = 3) -> dict:\n"
        f"    return {{'agent': {agent}, 'slot': {slot}, 'query': query, 'limit': limit}}\n"
        for agent in range(agents)
        for slot in range(TOOLS_PER_AGENT)
    ]
    return '"""Generated tools for the validate benchmark."""\n\n\n' + "\n\n".join(functions)


def agents_file(agents: int) -> str:
    lines = [
        "version: 1",
        f"name: Synthetic {agents}",
        "start: agent_0",
        "variables:",
        "  company: {type: string, default: Acme}",
        "agents:",
    ]
    for agent in range(agents):
        targets = sorted({(agent + 1) % agents, (agent - 1) % agents, 0} - {agent})
        tools = ", ".join(f"tool_{agent}_{slot}" for slot in range(TOOLS_PER_AGENT))
        lines += [
            f"  agent_{agent}:",
            f"    description: Synthetic agent number {agent}.",
            "    instructions: |",
            f"      You are agent {agent} of {{{{ company }}}}.",
            "      Answer briefly and use your tools when they help.",
            f"    tools: [{tools}]",
            f"    handoffs: [{', '.join(f'agent_{target}' for target in targets)}]",
        ]
    lines.append("tools:")
    for agent in range(agents):
        for slot in range(TOOLS_PER_AGENT):
            lines += [
                f"  tool_{agent}_{slot}:",
                f"    description: Synthetic tool {slot} of agent {agent}.",
                "    parameters:",
                "      type: object",
                "      properties:",
                "        query: {type: string, description: What to look for.}",
                "        limit: {type: integer, minimum: 1, maximum: 10}",
                "      required: [query]",
                "      additionalProperties: false",
                f"    python: bench_tools:tool_{agent}_{slot}",
            ]
    return "\n".join(lines) + "\n"


def median_ms(args: list[str], cwd: Path, runs: int = RUNS) -> float:
    """Median wall time of the command; fails loudly if it does not succeed."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        timings.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return statistics.median(timings)


def main() -> None:
    results: dict[str, float] = {"runner --help": median_ms([str(RUNNER), "--help"], REPO)}
    results["agents.yaml"] = median_ms([str(RUNNER), "validate", "agents.yaml"], REPO)
    results["compile agents.yaml"] = median_ms([str(RUNNER), "compile", "agents.yaml"], REPO)
    results["graph agents.yaml"] = median_ms([str(RUNNER), "graph", "agents.yaml"], REPO)
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as folder:
        for size in SIZES:
            project = Path(folder) / f"agents_{size}"
            project.mkdir()
            (project / "bench_tools.py").write_text(tools_module(size))
            (project / "agents.yaml").write_text(agents_file(size))
            results[f"{size} agents"] = median_ms([str(RUNNER), "validate", "agents.yaml"], project)

    print(f"runner wall time, median of {RUNS} runs (validate unless named; {TOOLS_PER_AGENT} tools per synthetic agent)")
    print(f"{'case':<22}{'ms':>10}{'target ms':>12}  verdict")
    for case, ms in results.items():
        target = TARGETS_MS.get(case)
        verdict = ("ok" if ms < target else "OVER") if target else ""
        print(f"{case:<22}{ms:>10.1f}{(f'{target:.0f}' if target else '-'):>12}  {verdict}")

    base = results[f"{SIZES[0]} agents"]
    per_agent_100 = (results["100 agents"] - base) / (100 - SIZES[0])
    per_agent_500 = (results["500 agents"] - base) / (500 - SIZES[0])
    print(f"per-agent cost above the 10-agent run: 100 agents {per_agent_100:.2f} ms, 500 agents {per_agent_500:.2f} ms")
    print(f"ratio 500 vs 100: {per_agent_500 / per_agent_100:.2f} (1.00 = linear)")


if __name__ == "__main__":
    main()
