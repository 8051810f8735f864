"""The simulated model's decisions: scripted actions first, then the rule file, then the config.

Given what the conversation looks like when a response is requested (the latest
user text, the active agent, the tools on offer, the tool output just received),
decide what the response holds: something to say, or tool calls. A rule file's
rules are exact scripts; when none applies, `config_brain` decides from the tools'
descriptions and schemas as a model would. Each decision comes with its reason.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import jinja2

from . import config_brain
from .config_brain import Decision
from .outputs import Call, Output, Say
from .rule_file import TEMPLATES, AgentMarker, Rule, RuleSet, ToolCall

TRANSFER_PREFIX = "transfer_to_"
MAX_MODEL_TURNS = 8  # consecutive tool-driven turns before the model gives up and talks




@dataclass(slots=True)
class Turn:
    """What the model sees when asked for a response."""

    user_text: str
    instructions: str
    tools: frozenset[str]
    tool_choice: Any = "auto"
    after_tool: str | None = None  # the tool whose output came last, None after a user turn
    output: Any = None  # that output, parsed from JSON when it is JSON
    facts: dict[str, Any] = field(default_factory=dict)  # every call's arguments and outputs, merged
    model_turns: int = 0  # responses since the last user turn
    response_instructions: str = ""  # `response.create`'s own instructions, when it has some
    opening: bool = False  # nobody has said anything yet: the agent speaks first
    # what the config brain reads beneath the rules (runner/sim/config_brain.py)
    tool_specs: tuple[Mapping[str, Any], ...] = ()  # the session's tools, whole
    user_texts: tuple[str, ...] = ()  # every user turn, oldest first
    context_texts: tuple[str, ...] = ()  # user turns since the last local tool's output
    outputs: tuple[Any, ...] = ()  # local tool outputs, oldest first
    last_assistant: str = ""
    calls_since_user: tuple[tuple[str, str], ...] = ()


def parse_script_action(action: Mapping[str, Any]) -> tuple[Output, ...]:
    """One scripted response: `{"say": text}`, `{"call": {name, args}}` or `{"calls": [...]}`."""
    if not isinstance(action, Mapping) or len(action) != 1:
        raise ValueError(f"a scripted action is one of {{say}}, {{call}}, {{calls}}; got {action!r}")
    kind, value = next(iter(action.items()))
    if kind == "say" and isinstance(value, str):
        return (Say(value),)
    if kind == "call":
        return (_scripted_call(value),)
    if kind == "calls" and isinstance(value, list) and value:
        return tuple(_scripted_call(item) for item in value)
    raise ValueError(f"a scripted action is one of {{say: text}}, {{call: {{name, args}}}}, {{calls: [...]}}; got {action!r}")


def _scripted_call(value: Any) -> Call:
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or set(value) - {"name", "args"}:
        raise ValueError(f"a scripted call is {{name: str, args: mapping}}; got {value!r}")
    args = value.get("args", {})
    if not isinstance(args, Mapping):
        raise ValueError(f"scripted call '{value['name']}': args must be a mapping; got {args!r}")
    return Call(value["name"], json.dumps(dict(args)))


def active_agent(rules: RuleSet, instructions: str, tools: frozenset[str]) -> str | None:
    """The agent this session config belongs to, as far as the rule file can tell."""
    for name, marker in rules.agents.items():
        if _marker_matches(marker, instructions, tools):
            return name
    if rules.agents:
        return None
    for name in _rule_agent_names(rules):
        if TRANSFER_PREFIX + name not in tools and re.search(rf"\b{re.escape(name)}\b", instructions, re.IGNORECASE):
            return name
    return None


def _marker_matches(marker: AgentMarker, instructions: str, tools: frozenset[str]) -> bool:
    if marker.tool is not None and marker.tool not in tools:
        return False
    if marker.instructions is not None and not marker.instructions.search(instructions):
        return False
    return True


def _rule_agent_names(rules: RuleSet) -> list[str]:
    return list(dict.fromkeys(rule.agent for rule in rules.rules if rule.agent))


GOODBYE = "Thank you for calling. Goodbye!"
_EXACT_SENTENCE = re.compile(r'exactly this sentence[^"]*"([^"]+)"', re.IGNORECASE)


def _obeyed(instructions: str) -> str | None:
    """What a compliant model says for a one-off instruction: a quoted exact sentence, or a goodbye."""
    exact = _EXACT_SENTENCE.search(instructions)
    if exact:
        return exact[1]
    return GOODBYE if "goodbye" in instructions.lower() else None


def decide(rules: RuleSet, turn: Turn) -> tuple[Output, ...]:
    """What the model does on this turn."""
    return decide_explained(rules, turn).outputs


def decide_explained(rules: RuleSet, turn: Turn) -> Decision:
    """What the model does on this turn, and why: the rules first, then the config brain beneath them."""
    agent = active_agent(rules, turn.instructions, turn.tools)
    context = {"user": turn.user_text, "agent": agent or "", "output": turn.output, "facts": turn.facts}
    if turn.tool_choice == "none":
        obeyed = _obeyed(turn.response_instructions)
        text = obeyed or _render(rules.filler, context) or rules.filler
        return Decision((Say(text),), "tools are off for this response: " + ("did what its instructions ask" if obeyed else "said the filler"))
    if turn.opening and (exact := _EXACT_SENTENCE.search(turn.response_instructions)):
        return Decision((Say(exact[1]),), "said the exact sentence the response's instructions give")
    if turn.model_turns >= MAX_MODEL_TURNS:
        return Decision((Say(_render(rules.default, context) or rules.default),), f"{MAX_MODEL_TURNS} responses in a row without the user: stopped")
    user_turn = turn.after_tool is None or _is_successful_transfer(turn.after_tool, turn.output)
    for rule in rules.rules:
        outputs = _apply(rule, turn, agent, user_turn, context)
        if outputs:
            return Decision(outputs, f"rule at {rule.where} matched" if rule.where else "a rule matched")
    if turn.after_tool is None and turn.opening:
        own = _scripted(rules, "greeting", agent, context)
        if own is not None:
            return Decision((Say(own),), "greeted with the rule file's greeting")
        if agent is None and turn.instructions.strip():
            return Decision((Say(config_brain.greeting(turn.instructions)),), "greeted with the instructions' first sentence")
        return Decision((Say(_render(rules.greeting, context) or rules.greeting),), "greeted with the rule file's greeting")
    if not user_turn:
        return config_brain.after_tool(turn.after_tool or "the tool", turn.output)
    decision = config_brain.respond(_conversation(turn), handoffs_allowed=turn.after_tool is None)
    if decision.outputs:
        return decision
    if turn.after_tool is None:
        return Decision((Say(_render(rules.default, context) or rules.default),), f"{decision.why}; said the default reply")
    own = _scripted(rules, "after_transfer", agent, context)
    if own is not None:
        return Decision((Say(own),), f"handed over, {decision.why}; said the rule file's line for a new agent")
    if agent is None and turn.instructions.strip():
        return Decision((Say(config_brain.greeting(turn.instructions)),), f"handed over, {decision.why}; greeted as the new agent")
    return Decision((Say(_render(rules.after_transfer, context) or "How can I help?"),), f"handed over, {decision.why}; greeted as the new agent")


def _conversation(turn: Turn) -> config_brain.Conversation:
    return config_brain.Conversation(
        instructions=turn.instructions, tools=turn.tool_specs, user_texts=turn.user_texts or (turn.user_text,),
        context_texts=turn.context_texts, outputs=turn.outputs, facts=turn.facts, last_assistant=turn.last_assistant,
        calls_since_user=turn.calls_since_user,
    )


def fill_history(turn: Turn, items: list[dict[str, Any]], user_text: Callable[[dict[str, Any]], str]) -> None:
    """What the config brain reads of the conversation: the user's turns, the tools' outputs, the agent's last words."""
    names = {item["call_id"]: item["name"] for item in items if item["type"] == "function_call"}
    user_texts: list[str] = []
    context: list[str] = []
    outputs: list[Any] = []
    calls: list[tuple[str, str]] = []
    for item in items:
        if item["type"] == "message" and item["role"] == "user":
            text = user_text(item)
            user_texts.append(text)
            context.append(text)
            calls = []
        elif item["type"] == "message" and item["role"] == "assistant":
            turn.last_assistant = " ".join(part.get("text") or part.get("transcript") or "" for part in item.get("content") or [])
        elif item["type"] == "function_call":
            calls.append((item["name"], item["arguments"]))
        elif item["type"] == "function_call_output" and not names.get(item["call_id"], "").startswith(TRANSFER_PREFIX):
            outputs.append(parse_output(item["output"]))
            context = []
    turn.user_texts, turn.context_texts, turn.outputs, turn.calls_since_user = tuple(user_texts), tuple(context), tuple(outputs), tuple(calls)


def _is_successful_transfer(tool: str, output: Any) -> bool:
    return tool.startswith(TRANSFER_PREFIX) and not (isinstance(output, dict) and "error" in output)


def _apply(rule: Rule, turn: Turn, agent: str | None, user_turn: bool, context: dict[str, Any]) -> tuple[Output, ...]:
    if rule.after_tool is not None:
        if turn.after_tool not in rule.after_tool:
            return ()
    elif not user_turn:
        return ()
    if rule.agent is not None and rule.agent != agent:
        return ()
    match = rule.when.search(turn.user_text) if rule.when is not None else None
    if rule.when is not None and match is None:
        return ()
    context = {**context, "match": _match_values(match)}
    if rule.say is not None:
        text = _render(rule.say, context)
        return (Say(text),) if text is not None else ()
    if rule.transfer is not None:
        name = TRANSFER_PREFIX + rule.transfer
        return (Call(name, json.dumps({"reason": turn.user_text or "caller request"})),) if name in turn.tools else ()
    if any(call.name not in turn.tools for call in rule.calls):
        return ()
    calls = [_render_call(call, context) for call in rule.calls]
    if any(call is None for call in calls):
        return ()
    return tuple(call for call in calls if call is not None)


def _match_values(match: re.Match[str] | None) -> dict[Any, Any]:
    if match is None:
        return {}
    values: dict[Any, Any] = {index: group for index, group in enumerate([match.group(0), *match.groups()])}
    values.update(match.groupdict())
    return values


def _scripted(rules: RuleSet, key: str, agent: str | None, context: dict[str, Any]) -> str | None:
    """The rule file's own `greeting` / `after_transfer`, when it gives one that can be said here:
    one naming `{{ agent }}` cannot be said for an agent the file does not know."""
    if key not in rules.scripted_greetings:
        return None
    known = context if agent else {name: value for name, value in context.items() if name != "agent"}
    return _render(getattr(rules, key), known)


def _render(template: str, context: dict[str, Any]) -> str | None:
    """The rendered text, or None when it names something this turn does not have."""
    try:
        return _compiled(template).render(context)
    except (jinja2.UndefinedError, jinja2.TemplateError, TypeError, LookupError):
        return None


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> jinja2.Template:
    """A rule's template compiled once: compiling is most of rendering, and the same few rules answer every turn."""
    return TEMPLATES.from_string(template)


def _render_call(call: ToolCall, context: dict[str, Any]) -> Call | None:
    args: dict[str, Any] = {}
    for key, value in call.args.items():
        if isinstance(value, str):
            rendered = _render(value, context)
            if rendered is None:
                return None
            args[key] = _native(rendered) if _single_expression(value) else rendered
        else:
            args[key] = value
    return Call(call.name, json.dumps(args))


def _single_expression(template: str) -> bool:
    stripped = template.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1


def _native(text: str) -> Any:
    """`{{ match.qty }}` rendered as "2" becomes 2, so integer parameters stay integers."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def parse_output(text: str) -> Any:
    """A function_call_output's `output`: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def tool_result_since_user(items: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """(tool name, output) of the latest answered call after the last user message, read
    from the items alone: what a model sees as "that tool already ran and said this",
    also when a reply to it was cut short (a dropped connection asks for it again)."""
    names = {item["call_id"]: item["name"] for item in items if item["type"] == "function_call" and item.get("call_id")}
    for item in reversed(items):
        if item["type"] == "message" and item["role"] == "user":
            return None
        if item["type"] == "function_call_output" and item["call_id"] in names:
            return names[item["call_id"]], parse_output(item["output"])
    return None


def remember(facts: dict[str, Any], value: Any) -> None:
    """Merge the top-level fields of a call's arguments or output into the facts."""
    if isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                facts[key] = item
