"""Load and validate a simulator rule file, reporting located problems.

A rule file is user input like `agents.yaml`: every mistake is reported as
`file:line:col: path: message`, all at once, and nothing half-valid is used.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import yaml

from runner.config.problems import Problem

RULES_DIR = Path(__file__).parent / "rules"
TOP_KEYS = ("default", "user_transcript", "filler", "after_transfer", "greeting", "agents", "rules")
RULE_KEYS = ("when", "agent", "after_tool", "say", "call", "calls", "transfer")
ACTION_KEYS = ("say", "call", "calls", "transfer")
AGENT_MARKER_KEYS = ("tool", "instructions")
DEFAULT_GREETING = "Hello, you're speaking with {{ agent }}. How can I help?"

TEMPLATES = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class RuleFileError(Exception):
    """A rule file that cannot be used; `problems` says where and what."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(problem.format() for problem in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    args: dict[str, Any]  # values may be templates


@dataclass(frozen=True, slots=True)
class Rule:
    when: re.Pattern[str] | None
    agent: str | None
    after_tool: frozenset[str] | None  # None: the rule answers user turns
    say: str | None
    calls: tuple[ToolCall, ...]
    transfer: str | None
    where: str = ""  # file:line, for explanations


@dataclass(frozen=True, slots=True)
class AgentMarker:
    """How to recognise an agent from the session: a tool only it has, or its instructions."""

    tool: str | None
    instructions: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class RuleSet:
    source: str
    default: str
    user_transcript: str
    filler: str
    after_transfer: str
    agents: dict[str, AgentMarker]
    rules: tuple[Rule, ...]
    greeting: str = DEFAULT_GREETING  # an agent that speaks first with no rule for its opening turn
    # `user_transcript` given: every unexpected user audio turn is heard as exactly that (a script);
    # not given: the simulator transcribes the audio (runner/sim/hearing.py) and falls back to it
    scripted_hearing: bool = False


def resolve_rules_path(name_or_path: str | Path) -> Path:
    """A bundled rule set's name (`techcorp`) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return RULES_DIR / f"{name_or_path}.yaml"


def load_rules(name_or_path: str | Path) -> RuleSet:
    """Parse and check a rule file; raises `RuleFileError` listing every problem."""
    path = resolve_rules_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        bundled = ", ".join(sorted(p.stem for p in RULES_DIR.glob("*.yaml")))
        if path.parent == RULES_DIR and Path(name_or_path) != path:
            message = f"no rule file or bundled rule set named '{name_or_path}'"
        else:
            message = f"cannot read rule file: {error.strerror}"
        raise RuleFileError([Problem(str(name_or_path), 1, 1, "", message, hint=f"bundled rule sets: {bundled}")]) from None
    shown = str(name_or_path) if Path(name_or_path) == path else str(path)
    return parse_rules(text, shown)


def parse_rules(text: str, source: str) -> RuleSet:
    """Parse rule-file text; `source` names it in problems."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RuleFileError([Problem(source, line, col, "", f"invalid YAML: {getattr(error, 'problem', error)}")]) from None
    checker = _Checker(source)
    ruleset = checker.ruleset(root)
    if checker.problems:
        raise RuleFileError(sorted(checker.problems, key=lambda problem: (problem.line, problem.col)))
    assert ruleset is not None
    return ruleset


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | None, path: str, message: str, hint: str | None = None) -> None:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
        self.problems.append(Problem(self.source, line, col, path, message, hint))

    def mapping(self, node: yaml.Node, path: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, "expected a mapping")
            return None
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            where = f"{path}.{key}" if path else key
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                self.problem(key_node, where, f"unknown key '{key}'", f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}")
            else:
                entries[key] = value_node
        return entries

    def string(self, node: yaml.Node, path: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.problem(node, path, "expected a string")
            return None
        return node.value

    def template(self, node: yaml.Node, path: str) -> str | None:
        text = self.string(node, path)
        if text is not None:
            try:
                TEMPLATES.parse(text)
            except jinja2.TemplateSyntaxError as error:
                self.problem(node, path, f"invalid template: {error.message}")
                return None
        return text

    def regex(self, node: yaml.Node, path: str) -> re.Pattern[str] | None:
        text = self.string(node, path)
        if text is None:
            return None
        try:
            return re.compile(text, re.IGNORECASE)
        except re.error as error:
            self.problem(node, path, f"invalid regular expression: {error}")
            return None

    def ruleset(self, root: yaml.Node | None) -> RuleSet | None:
        if root is None:
            self.problem(None, "", "the rule file is empty", "it needs at least a 'rules' list")
            return None
        entries = self.mapping(root, "", TOP_KEYS)
        if entries is None:
            return None
        texts = {
            "default": "Sorry, I didn't catch that. Could you say it another way?",
            "user_transcript": "Hello.",
            "filler": "One moment, I'm working on that.",
            "after_transfer": "You're now speaking with {{ agent }}. How can I help?",
            "greeting": DEFAULT_GREETING,
        }
        for key in texts:
            if key in entries:
                texts[key] = self.template(entries[key], key) or texts[key]
        agents = self.agents(entries["agents"]) if "agents" in entries else {}
        rules: list[Rule] = []
        if "rules" not in entries:
            self.problem(root, "rules", "missing the 'rules' list")
        elif not isinstance(entries["rules"], yaml.SequenceNode):
            self.problem(entries["rules"], "rules", "expected a list of rules")
        else:
            for index, node in enumerate(entries["rules"].value):
                rule = self.rule(node, f"rules[{index}]", agents)
                if rule is not None:
                    rules.append(rule)
        return RuleSet(self.source, texts["default"], texts["user_transcript"], texts["filler"], texts["after_transfer"], agents, tuple(rules), texts["greeting"],
                       scripted_hearing="user_transcript" in entries)

    def agents(self, node: yaml.Node) -> dict[str, AgentMarker]:
        markers: dict[str, AgentMarker] = {}
        entries = self.mapping(node, "agents", tuple(_keys(node)))
        for name, value in (entries or {}).items():
            path = f"agents.{name}"
            fields = self.mapping(value, path, AGENT_MARKER_KEYS)
            if fields is None:
                continue
            if not fields:
                self.problem(value, path, "give 'tool' (a tool only this agent has) or 'instructions' (a pattern)")
                continue
            tool = self.string(fields["tool"], f"{path}.tool") if "tool" in fields else None
            pattern = self.regex(fields["instructions"], f"{path}.instructions") if "instructions" in fields else None
            markers[name] = AgentMarker(tool, pattern)
        return markers

    def rule(self, node: yaml.Node, path: str, agents: dict[str, AgentMarker]) -> Rule | None:
        fields = self.mapping(node, path, RULE_KEYS)
        if fields is None:
            return None
        actions = [key for key in ACTION_KEYS if key in fields]
        if len(actions) != 1:
            found = f"found {', '.join(actions)}" if actions else "found none"
            self.problem(node, path, f"a rule needs exactly one of say, call, calls, transfer ({found})")
            return None
        before = len(self.problems)
        when = self.regex(fields["when"], f"{path}.when") if "when" in fields else None
        agent = self.string(fields["agent"], f"{path}.agent") if "agent" in fields else None
        if agent is not None and agents and agent not in agents:
            self.problem(fields["agent"], f"{path}.agent", f"unknown agent '{agent}'", f"the 'agents' section names: {', '.join(agents)}")
        after_tool = self.names(fields["after_tool"], f"{path}.after_tool") if "after_tool" in fields else None
        say = self.template(fields["say"], f"{path}.say") if "say" in fields else None
        transfer = self.string(fields["transfer"], f"{path}.transfer") if "transfer" in fields else None
        calls: list[ToolCall] = []
        if "call" in fields:
            calls = [call for call in [self.call(fields["call"], f"{path}.call")] if call]
        elif "calls" in fields:
            if not isinstance(fields["calls"], yaml.SequenceNode) or not fields["calls"].value:
                self.problem(fields["calls"], f"{path}.calls", "expected a non-empty list of calls")
            else:
                calls = [c for i, n in enumerate(fields["calls"].value) if (c := self.call(n, f"{path}.calls[{i}]"))]
        if len(self.problems) > before:
            return None
        return Rule(when, agent, after_tool, say, tuple(calls), transfer, f"{self.source}:{node.start_mark.line + 1}")

    def names(self, node: yaml.Node, path: str) -> frozenset[str] | None:
        if isinstance(node, yaml.SequenceNode):
            names = [self.string(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            return frozenset(name for name in names if name)
        name = self.string(node, path)
        return frozenset([name]) if name else None

    def call(self, node: yaml.Node, path: str) -> ToolCall | None:
        fields = self.mapping(node, path, ("name", "args"))
        if fields is None:
            return None
        if "name" not in fields:
            self.problem(node, path, "a call needs a 'name'")
            return None
        name = self.string(fields["name"], f"{path}.name")
        args: dict[str, Any] = {}
        if "args" in fields:
            if not isinstance(fields["args"], yaml.MappingNode):
                self.problem(fields["args"], f"{path}.args", "expected a mapping of argument names to values")
                return None
            for key_node, value_node in fields["args"].value:
                if value_node.tag == "tag:yaml.org,2002:str":
                    self.template(value_node, f"{path}.args.{key_node.value}")
                args[key_node.value] = yaml.safe_load(yaml.serialize(value_node))
        return ToolCall(name, args) if name else None


def _keys(node: yaml.Node) -> list[str]:
    return [key.value for key, _ in node.value] if isinstance(node, yaml.MappingNode) else []
