"""Regex guardrails: patterns and word lists compiled once, searched incrementally.

The session re-checks a growing reply every N characters, so `RegexPolicy.find`
can resume near where the previous check stopped instead of rescanning the whole
text: each rule knows the longest text it can match, and only matches that could
reach past the already-scanned prefix are looked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _constants as sre_constants  # CPython's regex parser: the only way to know a pattern's shape
from re import _parser as sre_parser
from typing import Any

from runner.config.model import Guardrail

_FLAGS = re.IGNORECASE
_PHRASE_GAP = r"\s{1,16}"
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)  # possessive repeats never backtrack


@dataclass(frozen=True, slots=True)
class RegexHit:
    """Where a rule matched: `matched` is the text quoted in the verdict's rationale."""

    category: str
    matched: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Rule:
    category: str
    regex: re.Pattern[str]
    max_width: int | None  # longest possible match; None when unbounded


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used in a regex guardrail, or None when it can.

    Checks run inline on the event loop, so a pattern that can backtrack
    exponentially (a repetition inside a repetition, like `(a+)+`) or that matches
    the empty string (it would trip on every text) is refused up front.
    """
    try:
        parsed = sre_parser.parse(pattern, _FLAGS)
    except re.error as error:
        return f"invalid regular expression: {error.msg} at position {error.pos}"
    if parsed.getwidth()[0] == 0:
        return "matches the empty string, so it would trip on every text"
    if _nested_unbounded_repeat(parsed, inside_unbounded=False):
        return "has an unbounded repetition inside another (like '(a+)+'), which can take exponential time"
    return None


def _nested_unbounded_repeat(node: Any, *, inside_unbounded: bool) -> bool:
    if isinstance(node, sre_parser.SubPattern):
        for op, argument in node:
            if op in _REPEATS:
                _low, high, body = argument
                unbounded = high == sre_constants.MAXREPEAT
                if unbounded and inside_unbounded:
                    return True
                if _nested_unbounded_repeat(body, inside_unbounded=inside_unbounded or unbounded):
                    return True
            elif _nested_unbounded_repeat(argument, inside_unbounded=inside_unbounded):
                return True
        return False
    if isinstance(node, (list, tuple)):
        return any(_nested_unbounded_repeat(child, inside_unbounded=inside_unbounded) for child in node)
    return False


def _max_width(pattern: str) -> int | None:
    high = sre_parser.parse(pattern, _FLAGS).getwidth()[1]
    return None if high >= sre_constants.MAXREPEAT else high


def _word_list_pattern(words: tuple[str, ...]) -> str:
    """Whole words or phrases, longest first.

    A phrase's words may be separated by up to 16 whitespace characters (spaces,
    line breaks): a bound keeps the rule's longest match finite, so incremental
    scans resume close to the end instead of rescanning the whole reply.
    Look-arounds instead of `\\b` so entries that start or end with punctuation
    ("100%", "C++") still need a non-word character (or the text's edge) around them.
    """
    phrases = sorted((_PHRASE_GAP.join(re.escape(part) for part in word.split()) for word in words), key=len, reverse=True)
    return r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)"


class RegexPolicy:
    """One regex guardrail's rules, compiled once (case-insensitive)."""

    def __init__(self, policy: Guardrail) -> None:
        rules: list[_Rule] = []
        for entry in policy.patterns:
            problem = pattern_problem(entry.pattern)
            if problem:
                raise ValueError(f"guardrail '{policy.name}': pattern {entry.pattern!r} {problem}")
            rules.append(_Rule(entry.category, re.compile(entry.pattern, _FLAGS), _max_width(entry.pattern)))
        for category, words in policy.words.items():
            if not words or any(not word.strip() for word in words):
                raise ValueError(f"guardrail '{policy.name}': word list '{category}' is empty or has an empty entry")
            pattern = _word_list_pattern(words)
            rules.append(_Rule(category, re.compile(pattern, _FLAGS), _max_width(pattern)))
        if not rules:
            raise ValueError(f"guardrail '{policy.name}': a regex policy needs at least one pattern or word list")
        self.name = policy.name
        self._rules = tuple(rules)

    def find(self, text: str, *, scanned: int = 0, settled_only: bool = False) -> RegexHit | None:
        """The earliest hit in `text` (ties go to the rule listed first), or None.

        `scanned`: length of a prefix of `text` an earlier call already searched
        without a hit; only matches that could extend past it are looked for, so
        checking a growing text costs about its new part.
        `settled_only`: ignore a match that touches the end of `text`, because the
        next delta may extend the word ("Hooli" is the start of "Hooligans"); the
        check on the complete text must not set it.
        """
        best: RegexHit | None = None
        for rule in self._rules:
            start = 0 if rule.max_width is None else max(0, scanned - rule.max_width)
            match = rule.regex.search(text, start)
            while match is not None and settled_only and match.end() == len(text):
                match = rule.regex.search(text, match.start() + 1)
            if match is not None and (best is None or match.start() < best.start):
                best = RegexHit(rule.category, match.group(), match.start(), match.end())
        return best
