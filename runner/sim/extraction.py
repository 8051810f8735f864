"""Fill any JSON Schema from a transcript, deterministically: the simulator's structured answers.

Post-call analysis asks the Responses API for one object holding a summary, the
project's structured data and a success verdict. The simulator has no model, so it
fills each property from what the text plainly says: a phone number for a property
named like `phone`, a name after "I'm" or "this is", an id such as INV-2001, an enum
value the text mentions. What it cannot find is the empty value of its type, so a
test can tell filled from guessed.
"""

from __future__ import annotations

import re
from typing import Any

_USER_LINE = re.compile(r"^user: (.+)$", re.MULTILINE)
_AGENT_LINE = re.compile(r"^([A-Za-z0-9_-]+): (.+)$", re.MULTILINE)
_FINDERS = (  # (words in the property name, what to look for in the text)
    (("phone",), re.compile(r"\(?\b\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b")),
    (("email",), re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (("invoice", "order", "ticket", "account", "id"), re.compile(r"\b[A-Z]{2,5}-\d+\b")),
    (("name",), re.compile(r"\b(?:I'm|I am|this is|my name is)\s+([A-Z][a-z]+)")),
)


def filled(schema: dict[str, Any], text: str) -> Any:
    """A value of `schema` taken from `text` (a transcript as `speaker: words` lines)."""
    return _value(schema, "", text)


def _value(schema: Any, name: str, text: str) -> Any:
    if not isinstance(schema, dict):
        return None
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [branch for branch in schema[key] if isinstance(branch, dict) and branch.get("type") != "null"]
            return _value(branches[0] if branches else {}, name, text)
    if "enum" in schema:
        return _mentioned(schema["enum"], text)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), None)
    if kind == "object":
        return {key: _value(sub, key, text) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        item = _value(schema.get("items", {}), name, text)
        return [item] if item not in (None, "", [], {}) else []
    if kind == "string":
        return _string(name.lower(), text)
    if kind in ("integer", "number"):
        return schema.get("maximum", schema.get("minimum", len(_USER_LINE.findall(text))))
    if kind == "boolean":
        return "handoff" in text if any(word in name for word in ("escalat", "transfer", "handoff")) else True
    return None


def _mentioned(choices: list[Any], text: str) -> Any:
    """The first choice the text mentions as a word, else the first choice."""
    for choice in choices:
        if isinstance(choice, str) and re.search(rf"(?<!\w){re.escape(choice)}(?!\w)", text, re.IGNORECASE):
            return choice
    return choices[0] if choices else None


def _string(name: str, text: str) -> str:
    if "summary" in name:
        return _summary(text)
    if "rationale" in name or "reason" in name:
        return f"The transcript has {len(_USER_LINE.findall(text))} caller turns."
    for words, pattern in _FINDERS:
        if any(word in name for word in words):
            found = pattern.search(text)
            return (found.group(1) if pattern.groups else found.group()) if found else ""
    first = _USER_LINE.search(text)
    return first.group(1) if first else ""


def _summary(text: str) -> str:
    first = _USER_LINE.search(text)
    replies = [match for match in _AGENT_LINE.finditer(text) if match.group(1) != "user"]
    if first is None:
        return "The caller said nothing."
    said = f'The caller said "{first.group(1)}".'
    if not replies:
        return said
    return f'{said} The last reply was from {replies[-1].group(1)}: "{replies[-1].group(2)}"'
