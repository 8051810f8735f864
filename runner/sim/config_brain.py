"""A simulated model built from the session config alone, for projects nobody wrote rules for.

It reads what a real model reads: the instructions, and each tool's name, description
and parameter schema (a handoff is the `transfer_to_<agent>` tool runner compiles, its
description the edge's or the target's). On a user turn it ranks every tool's
description against the user's words (BM25, `ranking.py`): a handoff wins when its
target fits better than anything the agent can do itself; a tool is called when its
required arguments can be filled from the conversation (`slots.py`), and otherwise the
first missing one is asked for by its description. After a tool it says what the tool
returned. Every decision carries a one-line reason, so `--explain` and the event log
can say why. Deterministic: the same conversation gets the same decisions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .outputs import Call, Output, Say
from .ranking import Ranked, rank
from .slots import Filled, fill

TRANSFER_PREFIX = "transfer_to_"
MIN_SCORE = 0.4  # below this a description does not fit what was said
EVIDENCE_WEIGHT = 1.0  # per argument whose shape (id, phone, enum, ...) appears in the latest words
PENDING_BONUS = 0.5  # the tool whose argument was just asked for
MENTION_BONUS = 1.0  # the user named the target agent
ANSWER_FILLER = re.compile(r"^(?:(?:sure|yes|yeah|ok|okay|well|so|um|uh|please)\b[,.]?\s*)*(?:(?:it's|it is|that's|that is|my [\w ]{1,30}? is|the [\w ]{1,30}? is)\s+)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do, and why in one line (empty `outputs`: nothing fits; the caller falls back)."""

    outputs: tuple[Output, ...]
    why: str


@dataclass(frozen=True, slots=True)
class Conversation:
    """What the config brain reads from the conversation, oldest first."""

    instructions: str
    tools: Sequence[Mapping[str, Any]]
    user_texts: Sequence[str] = ()  # every user turn
    context_texts: Sequence[str] = ()  # user turns since the last local tool's output
    outputs: Sequence[Any] = ()  # local tool outputs
    facts: Mapping[str, Any] = field(default_factory=dict)
    last_assistant: str = ""  # what the agent said last, to know which question is being answered
    calls_since_user: Sequence[tuple[str, str]] = ()  # (name, arguments) already made this turn


def greeting(instructions: str) -> str:
    """The instructions' first sentence, turned to the caller: "You are X." becomes "Hello, this is X."."""
    first = re.split(r"(?<=[.!?])\s+", instructions.strip(), maxsplit=1)[0].strip()
    you_are = re.match(r"(?:you are|you're)\s+(.+?)[.!]?$", first, re.IGNORECASE)
    if you_are:
        return f"Hello, this is {you_are[1]}. How can I help?"
    return f"Hello! {first} How can I help?" if first else "Hello! How can I help?"


def after_tool(name: str, output: Any) -> Decision:
    """A reply that puts the tool's output in plain words."""
    return Decision((Say(describe_output(output)),), f"told the user what {name} returned")


def respond(conversation: Conversation, *, handoffs_allowed: bool) -> Decision:
    """The decision on a user turn; `handoffs_allowed` is false right after a handoff (no ping-pong)."""
    latest = conversation.user_texts[-1] if conversation.user_texts else ""
    functions = [tool for tool in conversation.tools if tool.get("type", "function") == "function"]
    candidates = [tool for tool in functions if handoffs_allowed or not tool["name"].startswith(TRANSFER_PREFIX)]
    if not latest.strip() or not candidates:
        return Decision((), "nothing to act on" if candidates else "the agent has no tools or handoffs")
    pending = _pending_question(conversation, functions)
    documents = {tool["name"]: _document(tool, conversation.instructions) for tool in candidates}
    specs = {tool["name"]: tool for tool in candidates}
    texts = [latest]
    if len(conversation.context_texts) > 1:
        texts.append(" ".join(conversation.context_texts))
    for text in texts:
        scored = [_score(item, specs[item.name], conversation, latest, pending) for item in rank(text, documents)]
        scored.sort(key=lambda entry: -entry.total)
        if scored and scored[0].total >= MIN_SCORE:
            return _act(scored, conversation, latest)
    return Decision((), f"nothing fits {_quote(latest)}: no tool or handoff description shares a word with it")


@dataclass(slots=True)
class _Scored:
    ranked: Ranked
    spec: Mapping[str, Any]
    total: float
    filled: Filled | None  # None for a handoff


def _score(ranked: Ranked, spec: Mapping[str, Any], conversation: Conversation, latest: str, pending: tuple[str, str] | None) -> _Scored:
    name = spec["name"]
    if name.startswith(TRANSFER_PREFIX):
        target = name.removeprefix(TRANSFER_PREFIX)
        mentioned = re.search(rf"\b{re.escape(target.replace('_', ' '))}\b", latest, re.IGNORECASE) is not None
        return _Scored(ranked, spec, ranked.score + MENTION_BONUS * mentioned, None)
    parameters = spec.get("parameters") or {}
    user_latest_first = list(reversed(conversation.user_texts))
    outputs = list(reversed(conversation.outputs))
    answering = pending[1] if pending is not None and pending[0] == name else None
    if answering is None:
        filled = fill(parameters, user_latest_first, conversation.facts, outputs)
        return _Scored(ranked, spec, ranked.score + EVIDENCE_WEIGHT * filled.evidence, filled)
    # the latest words answer the question asked: they are that argument, the rest comes from before
    filled = fill(parameters, user_latest_first[1:], conversation.facts, outputs)
    schema = (parameters.get("properties") or {}).get(answering) or {}
    answer = fill({"properties": {answering: schema}}, [latest], {}, [])
    if answering in answer.args:
        filled.args[answering] = answer.args[answering]
    elif schema.get("type", "string") == "string":
        filled.args[answering] = ANSWER_FILLER.sub("", latest).strip().rstrip(".!").strip()
    if answering in filled.args:
        filled.sources[answering] = "the answer to the question just asked"
        if answering in filled.missing:
            filled.missing.remove(answering)
    filled.args = {key: filled.args[key] for key in (parameters.get("properties") or {}) if key in filled.args}
    return _Scored(ranked, spec, ranked.score + PENDING_BONUS + EVIDENCE_WEIGHT * answer.evidence, filled)


def _act(scored: list[_Scored], conversation: Conversation, latest: str) -> Decision:
    best = scored[0]
    name = best.spec["name"]
    if best.filled is None:
        own = next((entry for entry in scored if entry.filled is not None), None)
        rival = f"; best own tool {own.spec['name']} {own.total:.2f}" if own else "; the agent has no tools of its own"
        target = name.removeprefix(TRANSFER_PREFIX)
        why = f"handed off to {target}: {_words(best.ranked)} matched its description (score {best.total:.2f}{rival})"
        return Decision((Call(name, json.dumps({"reason": latest.strip()[:200]})),), why)
    filled = best.filled
    reason = _words(best.ranked) + " matched its description" if best.ranked.matched else "the words fit its parameters"
    if filled.missing:
        missing = filled.missing[0]
        schema = (best.spec.get("parameters") or {}).get("properties", {}).get(missing, {})
        return Decision((Say(ask_for(missing, schema)),), f"chose {name} ({reason}) but {missing} is missing: asked for it")
    arguments = json.dumps(filled.args)
    if (name, arguments) in conversation.calls_since_user:
        return Decision((Say(describe_output(conversation.outputs[-1] if conversation.outputs else None)),), f"{name} already ran with these arguments: said what it returned")
    sources = "; ".join(f"{key}={value!r} ({filled.sources[key]})" for key, value in filled.args.items())
    return Decision((Call(name, arguments),), f"called {name}: {reason}" + (f"; {sources}" if sources else ""))


def ask_for(name: str, schema: Mapping[str, Any]) -> str:
    """A question for one missing argument, by its description (or its name when it has none)."""
    description = str(schema.get("description") or "").strip().rstrip(".")
    if description:
        noun = description[0].lower() + description[1:] if not description[:2].isupper() else description
        noun = re.split(r"[;:]", noun)[0]
        if not re.match(r"(?:the|a|an|your|which|what|how|when|where)\b", noun):
            noun = f"the {noun}"
    else:
        noun = f"your {name.replace('_', ' ')}"
    if "enum" in schema:
        choices = [str(choice) for choice in schema["enum"]]
        return f"Could you tell me {noun}? It can be {', '.join(choices[:-1])} or {choices[-1]}." if len(choices) > 1 else f"Could you tell me {noun}?"
    return f"Could you tell me {noun}?"


def _pending_question(conversation: Conversation, functions: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(tool, parameter) when the agent's last words were the question `ask_for` asks for it."""
    said = conversation.last_assistant.strip()
    if not said:
        return None
    for tool in functions:
        for name, schema in ((tool.get("parameters") or {}).get("properties") or {}).items():
            if said == ask_for(name, schema if isinstance(schema, Mapping) else {}):
                return tool["name"], name
    return None


def _document(tool: Mapping[str, Any], instructions: str) -> str:
    """What a tool is for: its name's words and description; a handoff adds the instruction lines naming its target."""
    name = tool["name"]
    if name.startswith(TRANSFER_PREFIX):
        target = name.removeprefix(TRANSFER_PREFIX).replace("_", " ")
        lines = [line for line in instructions.splitlines() if re.search(rf"\b{re.escape(target)}\b", line, re.IGNORECASE)]
        return " ".join([target, str(tool.get("description") or ""), *lines])
    parameters = (tool.get("parameters") or {}).get("properties") or {}
    described = [f"{key.replace('_', ' ')} {value.get('description', '')}" for key, value in parameters.items() if isinstance(value, Mapping)]
    return " ".join([name.replace("_", " "), str(tool.get("description") or ""), *described, *_sentences_naming(name, instructions)])


def _sentences_naming(name: str, instructions: str) -> list[str]:
    """Instruction sentences that name a tool (`search_knowledge_base`, or "the knowledge base"): when to use it."""
    words = name.lower().split("_")
    phrases = [name.lower()] + [" ".join(words[index : index + 2]) for index in range(len(words) - 1)]
    sentences = re.split(r"(?<=[.!?])\s+|\n", instructions)
    return [sentence for sentence in sentences if any(re.search(rf"\b{re.escape(phrase)}\b", sentence, re.IGNORECASE) for phrase in phrases)]


def describe_output(output: Any) -> str:
    """A tool's output as one sentence: its fields in plain words."""
    if isinstance(output, dict):
        if "error" in output:
            return f"Sorry, that did not work: {_plain(output['error'])}."
        facts = [fact for key, value in output.items() if (fact := _fact(key, value))]
        return f"Here is what I found: {', '.join(facts[:6])}." if facts else "Done."
    if isinstance(output, list):
        records = [_record(item) for item in output[:3]]
        return f"I found {len(output)} result{'s' if len(output) != 1 else ''}" + (f": {'; '.join(records)}." if any(records) else ".")
    text = str(output or "").strip()
    return f"Done: {text[:80]}." if text else "Done."


def _fact(key: str, value: Any) -> str:
    label = key.replace("_", " ")
    if isinstance(value, bool):
        return f"{label} {'yes' if value else 'no'}"
    if isinstance(value, (str, int, float)):
        return f"{label} {_plain(value)}"
    if isinstance(value, list) and value:
        shown = "; ".join(_record(item) for item in value[:3])
        return f"{len(value)} {label}: {shown}"
    if isinstance(value, list):
        return f"no {label}"
    return ""


def _record(item: Any) -> str:
    if isinstance(item, dict):
        return ", ".join(_plain(value) for value in item.values() if isinstance(value, (str, int, float)) and not isinstance(value, bool))
    return _plain(item)


def _plain(value: Any) -> str:
    return str(value).rstrip(".")


def _words(ranked: Ranked) -> str:
    return ", ".join(_quote(word) for word in ranked.matched) if ranked.matched else "nothing"


def _quote(text: str) -> str:
    text = text.strip()
    return f"'{text[:60]}…'" if len(text) > 60 else f"'{text}'"
