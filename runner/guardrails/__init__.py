"""Guardrail backends: regex, moderation and classifier checks behind one `check` call."""

from runner.guardrails.checker import GuardrailChecker
from runner.guardrails.regex import RegexHit, RegexPolicy, pattern_problem
from runner.config.model import MODERATION_CATEGORIES
from runner.guardrails.remote import classifier_instructions
from runner.guardrails.verdict import Verdict

__all__ = [
    "GuardrailChecker",
    "MODERATION_CATEGORIES",
    "RegexHit",
    "RegexPolicy",
    "Verdict",
    "classifier_instructions",
    "pattern_problem",
]
