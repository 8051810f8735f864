"""Scenario files in, `Scenario`s and located problems out (never raises for bad input).

The same machinery as `runner validate`: YAML with positions (runner.config.source),
the published JSON Schema with plain messages (runner.config.schema), `Problem` lines
`file:line:col: path: message`.  Files a scenario points at (the agents file, SQL
fixtures, audio) must exist, and the agents file must load cleanly, before anything runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft7Validator

from ..config import LoadResult, Problem, load
from ..config.report import Reporter
from ..config.schema import report_error
from ..config.source import PathKey, SourceError, decode, parse
from .names import name_problems
from .model import DbCheck, Expect, Fixtures, GuardrailCheck, HandoffCheck, OutputCheck, ReplyCheck, Scenario, Step, ToolCallCheck

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "scenarios.schema.json"
STEP_KINDS = ("user", "user_audio", "model", "tool", "wait", "expect")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")


@lru_cache(maxsize=1)
def scenarios_schema() -> dict[str, Any]:
    """The schema published at schemas/scenarios.schema.json."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def _validator(definition: str | None = None) -> Draft7Validator:
    schema = scenarios_schema()
    if definition is None:
        return Draft7Validator(schema)
    return Draft7Validator({"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]})


@dataclass
class ScenarioSet:
    """Every scenario of the files given, the configs they use, and every problem found."""

    scenarios: list[Scenario] = field(default_factory=list)
    configs: dict[Path, LoadResult] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity == "error"]


def scenario_files(paths: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """The files named, with folders expanded to their *.yaml / *.yml files (sorted)."""
    files: list[str] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                problems.append(Problem(given, 1, 1, "", "no scenario files (*.yaml) in this folder"))
            files.extend(str(p) for p in found)
        elif path.is_file():
            files.append(given)
        else:
            problems.append(Problem(given, 1, 1, "", "no such file or folder"))
    return files, problems


def load_scenarios(paths: Iterable[str]) -> ScenarioSet:
    """Read every scenario file under `paths` and the agents files they name."""
    files, problems = scenario_files(paths)
    result = ScenarioSet(problems=problems)
    for file in files:
        _FileLoader(file, result).load()
    return result


def parse_duration(value: Any) -> float:
    """Seconds from a number or a "500ms" / "2s" string (already schema-checked)."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(value)
    assert match is not None, "the schema admits only durations matching _DURATION"
    number = float(match.group(1))
    return number / 1000 if match.group(2) == "ms" else number


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class _FileLoader:
    def __init__(self, file: str, result: ScenarioSet) -> None:
        self.file = file
        self.base = Path(file).resolve().parent
        self.result = result
        self.reporter = Reporter(file)

    def load(self) -> None:
        try:
            document = parse(decode(Path(self.file).read_bytes()))
        except OSError as exc:
            self.reporter.at(1, 1, (), f"cannot read the file: {exc.strerror or exc}")
        except SourceError as exc:
            empty = exc.problem.message == "the file is empty"
            self.reporter.source(dataclasses.replace(exc.problem, hint="a scenario file starts with scenarios:") if empty else exc.problem)
        else:
            self.reporter.document = document
            for problem in document.problems:
                self.reporter.source(problem)
            self._check(document.data)
        self.result.problems.extend(self.reporter.sorted())

    def _check(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.reporter.error((), "the top level must be a mapping with a 'scenarios' list")
            return
        broken: list[PathKey] = []
        for error in _validator().iter_errors(data):
            report_error(error, self.reporter, (), broken=broken)
        if not isinstance(data.get("scenarios"), list) or any(path[:1] in ((), ("config",)) for path in broken):
            return
        default_config = data.get("config")
        first_line: dict[str, int] = {}
        for index, raw in enumerate(data["scenarios"]):
            mine = [path[2:] for path in broken if path[:2] == ("scenarios", index)]
            if any(path[:1] != ("steps",) or len(path) < 2 for path in mine):
                continue  # its schema errors are reported; building it would only repeat them
            name_path = ("scenarios", index, "name")
            line = self.reporter.position(name_path)[0]
            if first_line.setdefault(raw["name"], line) != line:
                self.reporter.error(name_path, f"duplicate scenario name {raw['name']!r}", f"the first is at line {first_line[raw['name']]}")
            broken_steps = {path[1] for path in mine}
            scenario = self._scenario(raw, ("scenarios", index), default_config, broken_steps)
            if scenario is not None:
                self.result.scenarios.append(scenario)

    def _scenario(self, raw: dict[str, Any], path: PathKey, default_config: str | None, broken_steps: set[Any]) -> Scenario | None:
        config_text = raw.get("config", default_config)
        if config_text is None:
            self.reporter.error(path, "missing required key 'config' (or a file-level config for every scenario)", key=True)
            return None
        config_path = self._config(config_text, path + ("config",) if "config" in raw else ("config",))
        steps = [None if index in broken_steps else self._step(step, path + ("steps", index)) for index, step in enumerate(raw["steps"])]
        fixtures = self._fixtures(raw["database"], path + ("database",)) if "database" in raw else None
        if config_path is None or any(step is None for step in steps):
            return None
        if fixtures is None:
            for index, step in enumerate(steps):
                if step is not None and _queries_db(step):
                    self.reporter.error(path + ("steps", index), "a db expectation needs the scenario's `database: {file: ...}` to know which database to query")
                    return None
        variables = {name: value if isinstance(value, str) else json.dumps(value) for name, value in raw.get("variables", {}).items()}
        names = Reporter(self.file, self.reporter.document)
        config = self.result.configs[config_path].config
        assert config is not None, "_config returns a path only for an agents file that loaded"
        name_problems(raw, path, config, variables, names)
        return Scenario(
            name=raw["name"],
            file=self.file,
            config=config_path,
            steps=tuple(step for step in steps if step is not None),
            span=self.reporter.span(path),
            start=raw.get("start"),
            variables=variables,
            fixtures=fixtures,
            problems=tuple(names.sorted()),
        )

    def _config(self, text: str, path: PathKey) -> Path | None:
        config_path = (self.base / text).resolve()
        if config_path not in self.result.configs:
            if not config_path.is_file():
                self.reporter.error(path, f"no agents file at {config_path}")
                return None
            self.result.configs[config_path] = load(config_path)
        loaded = self.result.configs[config_path]
        if loaded.config is None:
            first = loaded.errors[0].format() if loaded.errors else "it could not be read"
            more = f" (and {len(loaded.errors) - 1} more; run `runner validate {text}`)" if len(loaded.errors) > 1 else ""
            self.reporter.error(path, f"the agents file has errors: {first}{more}")
            return None
        return config_path

    def _file(self, text: str, path: PathKey) -> Path | None:
        found = (self.base / text).resolve()
        if not found.is_file():
            self.reporter.error(path, f"no such file: {found}")
            return None
        return found

    def _step(self, raw: dict[str, Any], path: PathKey) -> Step | None:
        kinds = [kind for kind in STEP_KINDS if kind in raw]
        if kinds == ["tool", "expect"]:
            kinds = ["tool"]
        if len(kinds) != 1:
            message = "a step needs one of: " + ", ".join(STEP_KINDS) if not kinds else f"a step is one kind, got {' and '.join(kinds)}"
            self.reporter.error(path, message, "only `tool` may carry an `expect`" if len(kinds) > 1 else None)
            return None
        kind = kinds[0]
        span = self.reporter.span(path, key=False)
        if kind == "user":
            return Step(span, user=raw["user"])
        if kind == "user_audio":
            audio = self._file(raw["user_audio"], path + ("user_audio",))
            return None if audio is None else Step(span, user_audio=audio)
        if kind == "model":
            many = isinstance(raw["model"], list)
            actions = raw["model"] if many else [raw["model"]]
            for index, action in enumerate(actions):
                if len(action) != 1:
                    where = path + (("model", index) if many else ("model",))
                    got = " and ".join(action) or "nothing"
                    self.reporter.error(where, f"a model action is one of say, call, calls, handoff; got {got}", "one action per response: make it a list")
                    return None
            return Step(span, model=tuple(_script_action(action) for action in actions))
        if kind == "wait":
            return Step(span, wait=parse_duration(raw["wait"]))
        if kind == "tool":
            tool_expect = None
            if "expect" in raw:
                if not self._valid(raw["expect"], "output_check", path + ("expect",)):
                    return None
                tool_expect = _output_check(raw["expect"])
            return Step(span, tool={"name": raw["tool"]["name"], "args": raw["tool"].get("args", {})}, tool_expect=tool_expect)
        if not self._valid(raw["expect"], "expect", path + ("expect",)) or not self._regex_compiles(raw["expect"], path + ("expect",)):
            return None
        return Step(span, expect=_expect(raw["expect"]))

    def _fixtures(self, raw: dict[str, Any], path: PathKey) -> Fixtures | None:
        database = raw["file"]
        if not os.path.isabs(database) and os.path.normpath(database).split(os.sep)[0] == os.pardir:
            self.reporter.error(
                path + ("file",), f"'{database}' is outside the scenario's state folder", "write a path inside it, or an absolute path"
            )
        sql = self._file(raw["sql"], path + ("sql",)) if "sql" in raw else None
        rows = {table: tuple(items) for table, items in raw.get("rows", {}).items()}
        return Fixtures(file=raw["file"], sql=sql, rows=rows)

    def _regex_compiles(self, expect: dict[str, Any], path: PathKey) -> bool:
        reply = expect.get("reply")
        if not isinstance(reply, dict) or "regex" not in reply:
            return True
        try:
            re.compile(reply["regex"])
        except re.error as exc:
            self.reporter.error(path + ("reply", "regex"), f"not a valid regular expression: {exc}")
            return False
        return True

    def _valid(self, value: Any, definition: str, path: PathKey) -> bool:
        errors = list(_validator(definition).iter_errors(value))
        for error in errors:
            report_error(error, self.reporter, path)
        return not errors


def _queries_db(step: Step) -> bool:
    return (step.expect is not None and step.expect.db is not None) or (step.tool_expect is not None and step.tool_expect.db is not None)


def _script_action(action: dict[str, Any]) -> dict[str, Any]:
    """A scenario's model action as a simulator script action (a handoff is a transfer call)."""
    if "handoff" not in action:
        return action
    target = action["handoff"]
    to, reason = (target, "scenario") if isinstance(target, str) else (target["to"], target.get("reason", "scenario"))
    return {"call": {"name": f"transfer_to_{to}", "args": {"reason": reason}}}


def _db(raw: dict[str, Any] | None) -> DbCheck | None:
    if raw is None:
        return None
    rows = tuple(raw["rows"]) if "rows" in raw else None
    return DbCheck(query=raw["query"], rows=rows, count=raw.get("count"))


def _output_check(raw: dict[str, Any]) -> OutputCheck:
    return OutputCheck(
        name=raw.get("name"),
        output=raw.get("output"),
        has_output="output" in raw,
        contains=_texts(raw.get("contains")),
        error=raw.get("error"),
        db=_db(raw.get("db")),
    )


def _expect(raw: dict[str, Any]) -> Expect:
    handoff = raw.get("handoff")
    if isinstance(handoff, str):
        handoff = {"to": handoff}
    reply = raw.get("reply")
    if isinstance(reply, str):
        reply = {"contains": reply}
    guardrail = raw.get("guardrail")
    if isinstance(guardrail, str):
        guardrail = {"policy": guardrail}
    calls = raw.get("tool_call", [])
    outputs = raw.get("tool_output", [])
    no_call = raw.get("no_tool_call", False)
    return Expect(
        agent=raw.get("agent"),
        handoff=None if handoff is None else HandoffCheck(handoff["to"], handoff.get("from"), handoff.get("refused", False)),
        tool_calls=tuple(ToolCallCheck(c["name"], c.get("args")) for c in (calls if isinstance(calls, list) else [calls])),
        tool_outputs=tuple(_output_check(o) for o in (outputs if isinstance(outputs, list) else [outputs])),
        reply=None if reply is None else ReplyCheck(_texts(reply.get("contains")), reply.get("regex"), _texts(reply.get("not_contains"))),
        no_tool_call=no_call if isinstance(no_call, bool) else _texts(no_call),
        guardrail=None if guardrail is None else GuardrailCheck(guardrail["policy"], guardrail.get("category")),
        db=_db(raw.get("db")),
        within=None if "within" not in raw else parse_duration(raw["within"]),
    )
