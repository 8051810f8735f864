"""Guardrail policies: the list under `guardrails` -> `Guardrail`s, with kind-specific checks."""

from __future__ import annotations

import re
from typing import Any, Callable

from .model import MODERATION_CATEGORIES, Guardrail, RegexPattern
from .report import Reporter, did_you_mean
from .source import PathKey

_KIND_KEYS = {
    "regex": ("patterns", "words"),
    "moderation": ("model", "thresholds"),
    "classifier": ("model", "categories", "instructions"),
}


def build_guardrails(data: dict[str, Any], reporter: Reporter, ok: Callable[[PathKey], bool]) -> dict[str, Guardrail]:
    """The policies under `guardrails`, each once; broken or ill-fitting ones are left out."""
    guardrails: dict[str, Guardrail] = {}
    raw_list = data.get("guardrails")
    if not isinstance(raw_list, list):
        return guardrails
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_list):
        path = ("guardrails", index)
        if not ok(path):
            continue
        name = raw["name"]
        if name in first_seen:
            line = reporter.position(("guardrails", first_seen[name], "name"))[0]
            reporter.error(path + ("name",), f"guardrail '{name}' is defined twice", f"the first is at line {line}")
            continue
        first_seen[name] = index
        if _check_kind_keys(raw, path, reporter):
            guardrails[name] = _guardrail(raw, path, reporter)
    return guardrails


def _check_kind_keys(raw: dict[str, Any], path: PathKey, reporter: Reporter) -> bool:
    """Settings must fit the kind; False when the policy cannot be used."""
    kind = raw["kind"]
    fits = True
    for other, keys in _KIND_KEYS.items():
        for key in keys:
            if key in raw and key not in _KIND_KEYS[kind]:
                reporter.error(path + (key,), f"'{key}' does not apply to a {kind} guardrail (it is for {other})", key=True)
                fits = False
    if kind == "regex" and "patterns" not in raw and "words" not in raw:
        reporter.error(path + ("kind",), "a regex guardrail needs patterns or words")
        fits = False
    if kind == "classifier" and "instructions" not in raw:
        reporter.error(path + ("kind",), "a classifier guardrail needs instructions saying what is off limits")
        fits = False
    for category in raw.get("thresholds", {}) if kind == "moderation" else ():
        if category not in MODERATION_CATEGORIES:
            hint = did_you_mean(category, MODERATION_CATEGORIES) or "the categories are " + ", ".join(MODERATION_CATEGORIES)
            reporter.error(path + ("thresholds", category), f"unknown moderation category '{category}'", hint, key=True)
            fits = False
    if kind == "classifier" and "NONE" not in raw.get("categories", ("NONE",)):
        reporter.warning(path + ("categories",), "categories do not include NONE, so every check trips")
    return fits


def _guardrail(raw: dict[str, Any], path: PathKey, reporter: Reporter) -> Guardrail:
    kind = raw["kind"]
    patterns = []
    for index, item in enumerate(raw.get("patterns", ())):
        where = path + ("patterns", index, "pattern")
        if check_pattern(item["pattern"], where, reporter):
            patterns.append(RegexPattern(item["pattern"], item["category"], reporter.span(where)))
    settings: dict[str, Any] = {}
    if kind == "moderation" and "model" in raw:
        settings["moderation_model"] = raw["model"]
    if kind == "classifier" and "model" in raw:
        settings["classifier_model"] = raw["model"]
    if "categories" in raw:
        settings["categories"] = tuple(raw["categories"])
    for key in ("hint", "refusal", "instructions", "action", "on_error", "check_every_chars"):
        if key in raw:
            settings[key] = raw[key]
    return Guardrail(
        name=raw["name"],
        kind=kind,
        checks=tuple(raw.get("checks", ("assistant",))),
        applies_to_all=raw.get("global", False),
        timeout=float(raw.get("timeout", 2.0)),
        patterns=tuple(patterns),
        words={category: tuple(words) for category, words in raw.get("words", {}).items()},
        thresholds={category: float(score) for category, score in raw.get("thresholds", {}).items()},
        span=reporter.span(path + ("name",)),
        **settings,
    )


def check_pattern(pattern: str, path: PathKey, reporter: Reporter) -> bool:
    """Report a regular expression that does not compile, at the offending character when possible."""
    try:
        re.compile(pattern)
    except re.error as exc:
        line, col = reporter.position(path)
        style = reporter.document.styles.get(path) if reporter.document else None
        if exc.pos is not None and _written_as_is(pattern, style):
            col += exc.pos + (1 if style else 0)
        reporter.at(line, col, path, f"pattern does not compile: {exc.msg}")
        return False
    return True


def _written_as_is(text: str, style: str | None) -> bool:
    """True when a one-line scalar's characters in the file are exactly its value (no escapes)."""
    if "\n" in text:
        return False
    if style is None:
        return True
    return style == "'" and "'" not in text or style == '"' and "\\" not in text and '"' not in text
