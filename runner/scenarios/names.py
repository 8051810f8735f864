"""Names a scenario uses that its agents file must define: agents, tools, policies, variables.

A mismatch is not a malformed scenario file but a scenario that no longer fits its
config (an agent renamed, a variable dropped), so these problems fail that scenario,
located at the name, and leave the others to run.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..config import resolve_variables
from ..config.model import Config
from ..config.report import Reporter, did_you_mean
from ..config.source import PathKey


def name_problems(raw: dict[str, Any], path: PathKey, config: Config, variables: Mapping[str, str], reporter: Reporter) -> None:
    """Report every name in scenario `raw` (at `path`) that `config` does not define."""
    check = _NameCheck(config, reporter)
    if "start" in raw:
        check.agent(raw["start"], path + ("start",))
    _, errors = resolve_variables(config, variables)
    for message in errors:
        reporter.error(path + ("variables",), message)
    for index, step in enumerate(raw["steps"]):
        where = path + ("steps", index)
        if "tool" in step:
            check.tool(step["tool"]["name"], where + ("tool", "name"))
        elif isinstance(step.get("expect"), dict):
            check.expect(step["expect"], where + ("expect",))


class _NameCheck:
    def __init__(self, config: Config, reporter: Reporter) -> None:
        self.config = config
        self.reporter = reporter
        self.origin = config.path.name

    def _known(self, name: Any, known: Iterable[str], what: str, path: PathKey) -> None:
        names = list(known)
        if isinstance(name, str) and name not in names:
            self.reporter.error(path, f"no {what} named {name!r} in {self.origin}", did_you_mean(name, names))

    def agent(self, name: Any, path: PathKey) -> None:
        self._known(name, self.config.agents, "agent", path)

    def tool(self, name: Any, path: PathKey) -> None:
        self._known(name, self.config.tools, "tool", path)

    def expect(self, expect: dict[str, Any], path: PathKey) -> None:
        if "agent" in expect:
            self.agent(expect["agent"], path + ("agent",))
        handoff = expect.get("handoff")
        if isinstance(handoff, str):
            self.agent(handoff, path + ("handoff",))
        elif isinstance(handoff, dict):
            for key in ("to", "from"):
                if key in handoff:
                    self.agent(handoff[key], path + ("handoff", key))
        for key in ("tool_call", "tool_output"):
            value = expect.get(key)
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            for index, item in enumerate(items):
                self.tool(item.get("name"), path + ((key, index, "name") if isinstance(value, list) else (key, "name")))
        no_call = expect.get("no_tool_call")
        if isinstance(no_call, str):
            self.tool(no_call, path + ("no_tool_call",))
        elif isinstance(no_call, list):
            for index, name in enumerate(no_call):
                self.tool(name, path + ("no_tool_call", index))
        guardrail = expect.get("guardrail")
        policy = guardrail.get("policy") if isinstance(guardrail, dict) else guardrail
        if policy is not None:
            self._known(policy, self.config.guardrails, "guardrail policy", path + ("guardrail",))
