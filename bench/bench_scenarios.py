"""How fast `runner test` plays scenarios offline, and what the scenario layer adds per step.

1. The example suite through the real console script (`runner test scenarios/`), median
   wall time of several runs: scenarios per second and the ratio to the 10 s target.
2. In-process: the fixed cost of one scenario (fresh state dir, setup hook, simulator,
   session) from a one-turn scenario.
3. Overhead per step: a 100-turn scenario (each turn a `user` step and an `expect` with
   reply, tool and agent checks) against the same 100 turns typed straight into
   `open_session`'s driver with no scenario machinery; the difference divided by the
   scenario's 200 steps.  On a busy machine that difference is within the noise of the
   session itself, so the expect step's own work is also timed directly: checking a
   recorded handoff-and-tool turn (agent, handoff, tool_call, tool_output, reply), and a
   `db` query on the example database.

    .venv/bin/python bench/bench_scenarios.py
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runner.config import load
from runner.host.conversation import RunOptions, open_session
from runner.core.actions import Record
from runner.scenarios import load_scenarios, play_all
from runner.scenarios.expectations import check_db, check_expect
from runner.scenarios.model import DbCheck, Expect, HandoffCheck, OutputCheck, ReplyCheck, ToolCallCheck

REPO = Path(__file__).resolve().parents[1]
RUNNER = Path(sys.executable).parent / "runner"
SUITE_TARGET_S = 10.0
SUITE_RUNS = 3
TURNS = 100
REPEATS = 5
CHECKS = 20_000
EXPECT = Expect(
    agent="support",
    handoff=HandoffCheck("support", "router"),
    tool_calls=(ToolCallCheck("search_knowledge_base", {"category": "connectivity"}),),
    tool_outputs=(OutputCheck(name="search_knowledge_base", contains=("KB-101",)),),
    reply=ReplyCheck(contains=("Our guide",), regex=r"Does that fix it\?$", not_contains=("Globex",)),
)


def suite_seconds() -> tuple[float, int]:
    """Median wall time of `runner test scenarios/` and the number of scenarios it ran."""
    times, count = [], 0
    for _ in range(SUITE_RUNS):
        started = time.perf_counter()
        result = subprocess.run([str(RUNNER), "test", "scenarios/"], cwd=REPO, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            sys.exit(f"the example suite failed:\n{result.stdout}{result.stderr}")
        count = int(result.stdout.splitlines()[-1].split()[0])
    return statistics.median(times), count


def scenario_file(folder: Path, turns: int) -> Path:
    steps = "".join(
        '      - user: "hmm"\n'
        "      - expect: {agent: router, no_tool_call: true, reply: {contains: \"didn't catch\", not_contains: Globex}}\n"
        for _ in range(turns)
    )
    file = folder / f"turns-{turns}.yaml"
    file.write_text(f"config: {REPO / 'agents.yaml'}\nscenarios:\n  - name: turns {turns}\n    steps:\n{steps}", encoding="utf-8")
    return file


def play_seconds(file: Path, root: Path) -> float:
    loaded = load_scenarios([str(file)])
    assert not loaded.problems, [problem.format() for problem in loaded.problems]
    configs = {path: result.config for path, result in loaded.configs.items() if result.config is not None}
    started = time.perf_counter()
    [result] = asyncio.run(play_all(loaded.scenarios, configs, root))
    elapsed = time.perf_counter() - started
    assert result.passed, result.failures
    return elapsed


async def _typed_turns(root: Path, turns: int) -> float:
    config = load(REPO / "agents.yaml").config
    assert config is not None
    config = dataclasses.replace(config, state_dir=root / "state")
    started = time.perf_counter()
    async with open_session(config, RunOptions(offline=True, text=True, session_dir=root / "sessions")) as live:
        for _ in range(turns):
            await live.driver.say("hmm")
            await live.driver.wait_idle(60)
    return time.perf_counter() - started


async def _recorded_turn(root: Path) -> tuple[list[Record], Path]:
    """The records of one routed turn (handoff, knowledge-base search, reply) and the database."""
    config = load(REPO / "agents.yaml").config
    assert config is not None
    config = dataclasses.replace(config, state_dir=root / "state")
    records: list[Record] = []
    async with open_session(config, RunOptions(offline=True, text=True, session_dir=root / "sessions"), on_record=lambda r, t: records.append(r)) as live:
        await live.driver.say("my wifi keeps disconnecting")
        await live.driver.wait_idle(60)
    return records, config.state_dir / "techcorp.db"


def check_microseconds(root: Path) -> tuple[float, float]:
    """Per expect step: the record checks, and one db query."""
    records, database = asyncio.run(_recorded_turn(root))
    assert check_expect(EXPECT, records, active_agent="support", database=None) == []
    started = time.perf_counter()
    for _ in range(CHECKS):
        check_expect(EXPECT, records, active_agent="support", database=None)
    records_us = (time.perf_counter() - started) / CHECKS * 1e6
    query = DbCheck("SELECT tier FROM customers WHERE id = 'CUST-1001'", rows=(["gold"],))
    assert check_db(query, database) == []
    started = time.perf_counter()
    for _ in range(CHECKS // 10):
        check_db(query, database)
    return records_us, (time.perf_counter() - started) / (CHECKS // 10) * 1e6


def main() -> None:
    suite, count = suite_seconds()
    print(f"example suite: {count} scenarios in {suite:.2f} s = {count / suite:.1f} scenarios/s; target {SUITE_TARGET_S:g} s, ratio {suite / SUITE_TARGET_S:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        one = scenario_file(base, 1)
        fixed = statistics.median(play_seconds(one, base / f"one-{i}") for i in range(REPEATS))
        print(f"one-turn scenario (state dir, setup, simulator, session): {fixed * 1000:.1f} ms")
        many = scenario_file(base, TURNS)
        played_runs, typed_runs = [], []
        for i in range(REPEATS):  # interleaved, so machine load drifts through both alike
            played_runs.append(play_seconds(many, base / f"many-{i}"))
            typed_runs.append(asyncio.run(_typed_turns(base / f"typed-{i}", TURNS)))
        played, typed = statistics.median(played_runs), statistics.median(typed_runs)
        steps = 2 * TURNS
        overhead = (played - typed) / steps
        print(f"{TURNS} turns as a scenario: {played * 1000:.0f} ms; typed into the driver: {typed * 1000:.0f} ms; ratio {played / typed:.2f}")
        print(f"scenario overhead per step, end to end: {overhead * 1e6:.0f} µs ({steps} steps; within the session's own noise when near 0)")
        records_us, db_us = check_microseconds(base / "checks")
        print(f"expect step's own work: {records_us:.1f} µs for agent+handoff+tool_call+tool_output+reply; {db_us:.0f} µs per db query")


if __name__ == "__main__":
    main()
