"""Checks that need the whole config: names, the handoff graph, voices, tool schemas."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from .model import Agent, Config, LocalMcpBinding, McpBinding, Tool
from .report import Reporter, did_you_mean
from .schema import meta_validator, report_error
from .source import PathKey

TRANSFER_PREFIX = "transfer_to_"
_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def check_references(config: Config, names: "Names", reporter: Reporter) -> None:
    """start, handoffs, tool and guardrail names must name something that exists."""
    if config.start and config.start not in names.agents:
        reporter.error(("start",), f"unknown agent '{config.start}'", did_you_mean(config.start, names.agents))
    for agent in config.agents.values():
        path: PathKey = ("agents", agent.name)
        seen: set[str] = set()
        for index, handoff in enumerate(agent.handoffs):
            where = path + ("handoffs", index)
            line, col = (handoff.span.line, handoff.span.col) if handoff.span else reporter.position(where)
            if handoff.target == agent.name:
                reporter.at(line, col, where, "an agent cannot hand off to itself")
            elif handoff.target not in names.agents:
                reporter.at(line, col, where, f"unknown agent '{handoff.target}'", did_you_mean(handoff.target, names.agents))
            elif handoff.target in seen:
                reporter.at(line, col, where, f"the handoff to '{handoff.target}' is listed twice")
            seen.add(handoff.target)
        for index, tool in enumerate(agent.tools):
            if tool not in names.tools:
                reporter.error(path + ("tools", index), f"unknown tool '{tool}'", did_you_mean(tool, names.tools))
        for index, policy in enumerate(agent.guardrails):
            if policy not in names.guardrails:
                reporter.error(path + ("guardrails", index), f"unknown guardrail '{policy}'", did_you_mean(policy, names.guardrails))
        edges = [handoff.target for handoff in agent.handoffs]
        for key, target in agent.dtmf.items():
            if target not in edges:
                reporter.error(path + ("dtmf", key), f"'{target}' is not a handoff of '{agent.name}' (a key press hands off like the agent would)", did_you_mean(target, edges))
    for number, target in config.sip_numbers.items():
        if target not in names.agents:
            reporter.error(("sip", "numbers", number), f"unknown agent '{target}'", did_you_mean(target, names.agents))
    for tool in names.tools:
        target = tool[len(TRANSFER_PREFIX) :] if tool.startswith(TRANSFER_PREFIX) else None
        if target in names.agents:
            reporter.error(("tools", tool), f"tool name '{tool}' clashes with the handoff tool generated for agent '{target}'", "rename the tool", key=True)


def check_graph(config: Config, reporter: Reporter) -> None:
    """Warnings about agents the conversation can never reach and voices it can never use."""
    start = config.agents.get(config.start)
    if start is None:
        return
    reached = _reachable(config, start)
    for agent in config.agents.values():
        if agent.name not in reached:
            reporter.warning(("agents", agent.name), f"agent '{agent.name}' cannot be reached from the start agent '{start.name}'", "add a handoff to it", key=True)
    first_voice = config.voice_for(start)
    for agent in config.agents.values():
        voice = config.voice_for(agent)
        if voice != first_voice and agent.name in reached:
            where: PathKey = ("agents", agent.name, "voice") if agent.voice else ("agents", agent.name)
            reporter.warning(
                where,
                f"voice '{voice}' will not be used: the session keeps the start agent's voice '{first_voice}'",
                "the Realtime API cannot change the voice after the first audio",
                key=not agent.voice,
            )


def _reachable(config: Config, start: Agent) -> set[str]:
    reached = {start.name}
    queue = deque([start])
    while queue:
        for handoff in queue.popleft().handoffs:
            target = config.agents.get(handoff.target)
            if target is not None and target.name not in reached:
                reached.add(target.name)
                queue.append(target)
    return reached


def check_formats(config: Config, reporter: Reporter) -> None:
    """Warnings where a handoff would switch the audio format mid-call.

    The handoff's `session.update` re-sends the target's formats, but the audio path
    (device or WAV rates, the codec, played-ms accounting) is set up once, for the start
    agent's formats: after such a handoff the replies would be played in the wrong format.
    """
    start = config.agents.get(config.start)
    if start is None:
        return
    kept = config.session_for(start)
    reached = _reachable(config, start)
    for agent in config.agents.values():
        if agent.name not in reached:
            continue
        for key in ("input_format", "output_format"):
            theirs, ours = getattr(config.session_for(agent), key), getattr(kept, key)
            if theirs == ours:
                continue
            written_here = agent.session is not None and getattr(agent.session, key) != getattr(config.session, key)
            where: PathKey = ("agents", agent.name, "session", key) if written_here else ("agents", agent.name)
            reporter.warning(
                where,
                f"{key} '{theirs}' differs from the start agent's '{ours}': a handoff to '{agent.name}' would switch formats mid-call, "
                f"while the audio path stays in '{ours}'",
                "give every agent the same input_format and output_format",
                key=not written_here,
            )


def check_usage(config: Config, names: "Names", reporter: Reporter) -> None:
    """Warnings about tools and guardrail policies that no agent uses."""
    used_tools = {tool for agent in config.agents.values() for tool in agent.tools}
    for name in config.tools:
        if name not in used_tools:
            reporter.warning(("tools", name), f"tool '{name}' is not used by any agent", "list it in an agent's tools", key=True)
    listed = {policy for agent in config.agents.values() for policy in agent.guardrails}
    for policy in config.guardrails.values():
        if not policy.applies_to_all and policy.name not in listed:
            where = ("guardrails", names.guardrails[policy.name], "name")
            reporter.warning(where, f"guardrail '{policy.name}' applies to no agent", "list it in an agent's guardrails or set global: true")


def check_parameters(tool: Tool, reporter: Reporter, known_valid: set[str]) -> bool:
    """A function tool's parameters must be a valid JSON Schema for an object; False when not.

    `known_valid` holds the canonical JSON of schemas already found valid: tools often
    share a schema, and meta-validation is the slowest check there is.
    """
    if isinstance(tool.binding, (McpBinding, LocalMcpBinding)):  # the server describes its tools
        return True
    path: PathKey = ("tools", tool.name, "parameters")
    parameters = tool.parameters
    canonical = json.dumps(parameters, sort_keys=True, default=str)
    if canonical not in known_valid:
        errors = list(meta_validator().iter_errors(parameters))
        for error in errors:
            _report_schema_error(error, reporter, path)
        if errors:
            return False
        known_valid.add(canonical)
    valid = True
    if parameters.get("type") != "object":
        where = path + ("type",) if "type" in parameters else path
        reporter.error(where, "parameters must have type: object", "the model passes arguments as one object", key="type" not in parameters)
        valid = False
    properties = parameters.get("properties", {})
    for index, name in enumerate(parameters.get("required", ())):
        if name not in properties:
            reporter.error(path + ("required", index), f"required '{name}' is not in properties", did_you_mean(name, properties))
            valid = False
    return valid


def _report_schema_error(error: Any, reporter: Reporter, path: PathKey) -> None:
    where = path + tuple(error.absolute_path)
    if where[-1:] == ("type",) and isinstance(error.instance, str) and error.instance not in _JSON_TYPES:
        reporter.error(where, f"'{error.instance}' is not a JSON Schema type", did_you_mean(error.instance, _JSON_TYPES) or "use " + ", ".join(_JSON_TYPES))
        return
    report_error(error, reporter, path, prefix="not a valid JSON Schema: ")


class Names:
    """Every agent, tool and policy name written in the file, built or not.

    References are checked against these, so a part left out for a schema error
    does not also show up as an unknown name.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        agents = data.get("agents")
        tools = data.get("tools")
        policies = data.get("guardrails")
        self.agents: dict[str, None] = dict.fromkeys(agents) if isinstance(agents, dict) else {}
        self.tools: dict[str, None] = dict.fromkeys(tools) if isinstance(tools, dict) else {}
        self.guardrails: dict[str, int] = {}  # name -> index of its first definition
        for index, policy in enumerate(policies if isinstance(policies, list) else ()):
            name = policy.get("name") if isinstance(policy, dict) else None
            if isinstance(name, str):
                self.guardrails.setdefault(name, index)
