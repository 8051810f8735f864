"""Playing scenarios: a fresh state dir and database each, the real session machinery, checks.

Each run goes through the embedding API (`runner.Host`) exactly as `runner run --text` does, offline on
the simulator (scripted `model:` steps) or live on the Realtime API (they are skipped).
A run's state folder reaches its tools through their context, never through process-wide
state, so runs can share the process and the event loop: `jobs` of them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..config.model import Config
from ..core.records import Record
from ..host.report import transcript_line
from .expectations import check_expect, check_output, latency_misses
from .model import Fixtures, Scenario, Step

if TYPE_CHECKING:
    from ..host.conversation import LiveSession

REPLY_TIMEOUT = 60.0  # seconds a user turn may take to be answered (tools included)


@dataclass
class StepFailure:
    """A step whose expectations did not hold, with what happened instead."""

    where: str  # file:line:col
    step: str  # the step as one line
    problems: list[str]
    transcript: list[str] = field(default_factory=list)  # what happened since the previous expect


@dataclass
class RunResult:
    """One run of one scenario."""

    scenario: Scenario
    attempt: int  # 1-based, for --repeat
    duration: float
    steps_run: int = 0
    failures: list[StepFailure] = field(default_factory=list)
    latency_misses: list[str] = field(default_factory=list)
    artifacts: Path | None = None  # the session folder, kept for failed runs

    @property
    def passed(self) -> bool:
        return not self.failures


class _Failed(Exception):
    """Stops a run at a step that cannot go on (no reply, a fixture that cannot load)."""

    def __init__(self, failure: StepFailure) -> None:
        super().__init__(failure.problems[0])
        self.failure = failure


def _where(scenario: Scenario, step: Step | None = None) -> str:
    span = step.span if step is not None else scenario.span
    return f"{span.file}:{span.line}:{span.col}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "scenario"


def apply_fixtures(fixtures: Fixtures, state_dir: Path) -> None:
    """Insert the fixture rows and run the fixture SQL on the scenario's database."""
    with contextlib.closing(sqlite3.connect(state_dir / fixtures.file)) as connection, connection:
        if fixtures.sql is not None:
            connection.executescript(fixtures.sql.read_text(encoding="utf-8"))
        for table, rows in fixtures.rows.items():
            for row in rows:
                columns = ", ".join(f'"{column}"' for column in row)
                marks = ", ".join("?" for _ in row)
                connection.execute(f'INSERT OR REPLACE INTO "{table}" ({columns}) VALUES ({marks})', [_sql_value(v) for v in row.values()])


def _sql_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


class Player:
    """Runs scenarios under `root`, a folder of its own per run (concurrent runs included)."""

    def __init__(self, configs: dict[Path, Config], root: Path, *, live: bool = False, api_key: str | None = None) -> None:
        self.configs = configs
        self.root = root
        self.live = live
        self.api_key = api_key

    async def play(self, scenario: Scenario, attempt: int = 1) -> RunResult:
        """One run; never raises for a failing scenario."""
        started = time.perf_counter()
        result = RunResult(scenario, attempt, 0.0)
        if scenario.problems:
            result.failures.append(StepFailure(_where(scenario), "scenario", [problem.format() for problem in scenario.problems]))
        else:
            work = self._new_folder(f"{_slug(scenario.name)}-{attempt}")
            try:
                await self._run(scenario, work, result)
            except _Failed as failed:
                result.failures.append(failed.failure)
            if result.passed:
                shutil.rmtree(work, ignore_errors=True)
                result.artifacts = None
        result.duration = time.perf_counter() - started
        return result

    def _new_folder(self, name: str) -> Path:
        """`root/name`, or `root/name-2`, ... when a run of a same-named scenario (another file's) has it."""
        self.root.mkdir(parents=True, exist_ok=True)
        candidate, number = self.root / name, 1
        while True:
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                number += 1
                candidate = self.root / f"{name}-{number}"

    async def _run(self, scenario: Scenario, work: Path, result: RunResult) -> None:
        from ..bindings import BindingError, run_setup
        from ..host.conversation import SetupError

        config = dataclasses.replace(self.configs[scenario.config], state_dir=work / "state")
        database = config.state_dir / scenario.fixtures.file if scenario.fixtures is not None else None
        try:
            run_setup(config)
        except BindingError as error:
            raise _Failed(StepFailure(_where(scenario), "setup", [str(error)])) from None
        if scenario.fixtures is not None:
            try:
                apply_fixtures(scenario.fixtures, config.state_dir)
            except (sqlite3.Error, OSError) as error:
                raise _Failed(StepFailure(_where(scenario), "database", [f"fixtures for {scenario.fixtures.file}: {error}"])) from None
        import runner

        records: list[Record] = []
        try:
            transport = runner.OpenAITransport(api_key=self.api_key) if self.live else runner.SimulatorTransport()
            async with runner.Host(runner.Project(config), transport=transport, max_conversations=1) as host, host.open(
                text=True, session_dir=work / "sessions", variables=scenario.variables, start=scenario.start, on_record=lambda record, t: records.append(record),
                records=False,
            ) as session:
                result.artifacts = session.folder
                await _Steps(scenario, session, records, database, self.live, result).run()
        except SetupError as error:
            raise _Failed(StepFailure(_where(scenario), "session", [str(error)])) from None


class _Steps:
    """The steps of one run against one open session."""

    def __init__(self, scenario: Scenario, session: LiveSession, records: list[Record], database: Path | None, live: bool, result: RunResult) -> None:
        self.scenario = scenario
        self.session = session
        self.records = records
        self.database = database
        self.live = live
        self.result = result
        self.mark = 0  # records before this index belong to earlier expect steps

    def _window(self) -> list[Record]:
        return self.records[self.mark :]

    def _failure(self, step: Step, problems: list[str]) -> StepFailure:
        lines = [line for record in self._window() if (line := transcript_line(record)) is not None]
        return StepFailure(_where(self.scenario, step), step.describe(), problems, lines)

    async def run(self) -> None:
        driver = self.session.driver
        await self._opening()
        for step in self.scenario.steps:
            self.result.steps_run += 1
            if driver.ended and step.kind in ("user", "user_audio", "wait"):
                raise _Failed(self._failure(step, ["the session already ended before this step (a policy or a limit ended it)"]))
            await self._step(step)
        if not self.live:
            left = 0
            while self.session.simulator.next_scripted_response() is not None:
                left += 1
            if left:
                last = self.scenario.steps[-1]
                self.result.failures.append(self._failure(last, [f"{left} scripted model action(s) were never used: fewer responses than the scenario scripted"]))

    async def _step(self, step: Step) -> None:
        driver = self.session.driver
        kind = step.kind
        if kind == "user":
            await driver.say(step.user)
            await self._settle(step)
        elif kind == "user_audio":
            raise _Failed(self._failure(step, ["user_audio needs voice mode, which runner test does not have yet; write the words as a `user:` step"]))
        elif kind == "model":
            if not self.live:
                self.session.simulator.script(step.model)
        elif kind == "wait":
            assert step.wait is not None
            await asyncio.sleep(step.wait)
            await self._settle(step)
        elif kind == "tool":
            await self._tool(step)
        else:
            assert step.expect is not None
            problems = check_expect(step.expect, self._window(), active_agent=self.session.core.active_agent, database=self.database)
            if problems:
                self.result.failures.append(self._failure(step, problems))
            if step.expect.within is not None:
                where = _where(self.scenario, step)
                self.result.latency_misses += [f"{where}: {miss}" for miss in latency_misses(step.expect.within, self._window())]
            self.mark = len(self.records)

    async def _opening(self) -> None:
        """Let a start agent that speaks first finish its greeting before the first step.

        The greeting belongs to an `expect` placed first; any other first step starts after it,
        so scenarios that are not about the greeting see only their own turns.
        """
        driver = self.session.driver
        if not await driver.wait_idle(REPLY_TIMEOUT) and not driver.ended:
            raise _Failed(StepFailure(_where(self.scenario), "greeting", [f"the start agent's greeting did not finish within {REPLY_TIMEOUT:g} s"]))
        steps = self.scenario.steps
        if not steps or steps[0].kind != "expect":
            self.mark = len(self.records)

    async def _settle(self, step: Step) -> None:
        if not await self.session.driver.wait_idle(REPLY_TIMEOUT) and not self.session.driver.ended:
            raise _Failed(self._failure(step, [f"no complete reply within {REPLY_TIMEOUT:g} s"]))

    async def _tool(self, step: Step) -> None:
        assert step.tool is not None
        driver = self.session.driver
        agent = self.session.core.active_agent
        result = await driver.tools.run(
            step.tool["name"], json.dumps(step.tool["args"]), call_id=f"scenario-step-{self.result.steps_run}", agent=agent, context=driver.hooks.make_context(agent)
        )
        if step.tool_expect is None:
            return
        problems = check_output(step.tool_expect, result.output, result.error, self.database)
        if problems:
            shown = result.output if len(result.output) <= 400 else result.output[:399] + "…"
            self.result.failures.append(StepFailure(_where(self.scenario, step), step.describe(), problems, [f"> tool `{step.tool['name']}` → {shown}"]))


async def play_all(
    scenarios: list[Scenario], configs: dict[Path, Config], root: Path, *, repeat: int = 1, live: bool = False, api_key: str | None = None,
    jobs: int = 1, on_result: Callable[[RunResult], None] = lambda result: None,
) -> list[RunResult]:
    """Every scenario `repeat` times, at most `jobs` runs at once, started in file order.

    Results come back, and `on_result` sees them, in file order too: a run that finishes
    early waits for the ones before it, so the output is the same whatever `jobs` is.
    """
    player = Player(configs, root, live=live, api_key=api_key)
    slots = asyncio.Semaphore(jobs)  # FIFO: runs start in the order they were queued

    async def run(scenario: Scenario, attempt: int) -> RunResult:
        async with slots:
            return await player.play(scenario, attempt)

    runs = [asyncio.create_task(run(scenario, attempt)) for scenario in scenarios for attempt in range(1, repeat + 1)]
    results: list[RunResult] = []
    try:
        for finished in runs:
            result = await finished
            on_result(result)
            results.append(result)
    finally:
        for pending in runs:
            pending.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
    return results


def select(scenarios: list[Scenario], pattern: str | None) -> list[Scenario]:
    """Scenarios whose name (or file::name) contains `pattern`, case-insensitive."""
    if not pattern:
        return scenarios
    wanted = pattern.lower()
    return [s for s in scenarios if wanted in s.name.lower() or wanted in f"{s.file}::{s.name}".lower()]


def run_scenarios(
    scenarios: list[Scenario], configs: dict[Path, Config], *, repeat: int = 1, live: bool = False, api_key: str | None = None,
    jobs: int = 1, on_result: Callable[[RunResult], None] = lambda result: None,
) -> list[RunResult]:
    """Play the scenarios (`jobs` at once) under a new `runner-test-*` temp folder, removed again when nothing failed."""
    root = Path(tempfile.mkdtemp(prefix="runner-test-"))
    results = asyncio.run(play_all(scenarios, configs, root, repeat=repeat, live=live, api_key=api_key, jobs=jobs, on_result=on_result))
    if all(result.passed for result in results):
        shutil.rmtree(root, ignore_errors=True)
    return results
