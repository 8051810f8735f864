"""Argument checks shared by the tools.

The model fills tool arguments, so a bad one is an expected event: it is reported as
`{"error": "..."}` with a message the model can act on, never raised to the runner.
"""

from __future__ import annotations

import functools
import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, ParamSpec, TypeVar

PHONE_PATTERN = re.compile(r"\(\d{3}\) \d{3}-\d{4}")
PHONE_EXAMPLE = "(555) 123-4567"
MAX_TEXT_LENGTH = 4000

P = ParamSpec("P")
R = TypeVar("R")


class BadArgument(Exception):
    """An argument the caller can fix; the message says which and what is expected."""


def reports_bad_arguments(function: Callable[P, R]) -> Callable[P, R | dict[str, str]]:
    """Turn `BadArgument` into an `{"error": message}` result (keeps the signature visible
    to `inspect.signature`, which the config validator compares with the YAML)."""

    @functools.wraps(function)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R | dict[str, str]:
        try:
            return function(*args, **kwargs)
        except BadArgument as problem:
            return {"error": str(problem)}

    return checked


def shown(value: Any) -> str:
    """A short JSON rendering of a bad value for error messages."""
    rendered = json.dumps(value, ensure_ascii=False, default=repr)
    return rendered if len(rendered) <= 60 else rendered[:57] + "..."


def text(name: str, value: Any) -> str:
    """A required, non-blank string, trimmed."""
    if not isinstance(value, str):
        raise BadArgument(f"{name} must be a string, got {shown(value)}.")
    trimmed = value.strip()
    if not trimmed:
        raise BadArgument(f"{name} must not be empty.")
    if len(trimmed) > MAX_TEXT_LENGTH:
        raise BadArgument(f"{name} is too long ({len(trimmed)} characters, at most {MAX_TEXT_LENGTH}).")
    return trimmed


def optional_text(name: str, value: Any) -> str | None:
    return None if value is None else text(name, value)


def identifier(name: str, value: Any, prefix: str, example: str) -> str:
    """An id such as CUST-1001: the prefix, a dash and digits (case of the prefix is forgiven)."""
    if not isinstance(value, str) or not re.fullmatch(rf"{prefix}-\d+", value.strip(), re.IGNORECASE):
        raise BadArgument(f"{name} must look like {example}, got {shown(value)}.")
    return value.strip().upper()


def phone(name: str, value: Any) -> str:
    if not isinstance(value, str) or not PHONE_PATTERN.fullmatch(value.strip()):
        raise BadArgument(f"{name} must be in the form {PHONE_EXAMPLE}, got {shown(value)}.")
    return value.strip()


def choice(name: str, value: Any, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise BadArgument(f"{name} must be one of {', '.join(allowed)}, got {shown(value)}.")
    return value


def whole_number(name: str, value: Any, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadArgument(f"{name} must be a whole number, got {shown(value)}.")
    if not minimum <= value <= maximum:
        raise BadArgument(f"{name} must be between {minimum} and {maximum}, got {value}.")
    return value


def positive_amount(name: str, value: Any) -> Decimal:
    """A money amount above zero, rounded to cents."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadArgument(f"{name} must be a number, got {shown(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadArgument(f"{name} must be a finite number, got {shown(value)}.")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise BadArgument(f"{name} is too large, got {shown(value)}.") from None
    if amount <= 0:
        raise BadArgument(f"{name} must be more than 0, got {shown(value)}.")
    return amount
