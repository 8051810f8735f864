"""Turn whatever a tool returned into the string the model sees."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from pathlib import PurePath
from typing import Any, Mapping

ERROR_MESSAGE_MAX_CHARS = 500  # an exception message longer than this is cut in the output


class UnserialisableOutput(Exception):
    """The tool's return value has no sensible JSON form."""


def error_output(code: str, message: str, **fields: Any) -> str:
    """The JSON error object the model gets: `{"error": code, "message": ..., **fields}`."""
    return json.dumps({"error": code, "message": message, **fields}, ensure_ascii=False)


def safe_str(value: object) -> str:
    """`str(value)`, even for an object (a tool's exception, say) whose `__str__` fails."""
    try:
        return str(value)
    except Exception:
        return f"<the {'exception' if isinstance(value, BaseException) else type(value).__name__}'s message could not be read>"


def serialise(value: Any) -> str:
    """A string is passed through as it is; anything else becomes JSON.

    Common Python values are converted the way a reader would expect (dataclasses and
    pydantic models to objects, sets to lists, dates to ISO 8601, Decimal to a number).
    Any value that cannot be converted raises `UnserialisableOutput`, never anything else.
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=_jsonable, ensure_ascii=False, allow_nan=False)
    except UnserialisableOutput:
        raise
    except RecursionError:
        raise UnserialisableOutput("the value is nested too deeply to convert to JSON") from None
    except (ValueError, TypeError) as exc:  # NaN or infinity, a circular reference, keys that are not strings
        raise UnserialisableOutput(safe_str(exc)) from None
    except Exception as exc:  # a conversion hook (model_dump, tolist, iteration) of the value itself failed
        raise UnserialisableOutput(f"converting it to JSON raised {type(exc).__name__}: {safe_str(exc)}") from None


def cap(text: str, max_chars: int) -> str:
    """Cut `text` to at most `max_chars` characters, saying so.

    JSON stays valid: it is wrapped as `{"truncated": true, "total_chars": N, "partial": "..."}`
    holding the start of the original text. Plain text gets a marker line at the end.
    """
    if len(text) <= max_chars:
        return text
    if _looks_like_json(text):
        return _cap_json(text, max_chars)
    marker = f"\n[output truncated: first {{kept}} of {len(text)} characters shown]"
    kept = max_chars
    for _ in range(2):  # the marker's length depends on the count it shows; settles in two rounds
        kept = max(0, max_chars - len(marker.format(kept=kept)))
    return text[:kept] + marker.format(kept=kept)


def _looks_like_json(text: str) -> bool:
    if not text or text[0] not in '{["-0123456789tfn':
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _cap_json(text: str, max_chars: int) -> str:
    kept = max_chars
    while True:
        envelope = json.dumps({"truncated": True, "total_chars": len(text), "partial": text[:kept]}, ensure_ascii=False)
        excess = len(envelope) - max_chars
        if excess <= 0 or kept == 0:
            return envelope
        kept = max(0, kept - excess)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:  # mixed types: any stable order will do
            return sorted(value, key=repr)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        number = float(value)
        if math.isfinite(number):
            return number
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (PurePath, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise UnserialisableOutput(f"{len(value)} bytes of binary data cannot be sent to the model") from None
    model_dump = getattr(value, "model_dump", None)  # pydantic v2 models
    if callable(model_dump):
        return model_dump(mode="json")
    if isinstance(value, Mapping):
        return dict(value)
    to_list = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(to_list):
        return to_list()
    if hasattr(value, "__iter__") and hasattr(value, "__len__"):
        return list(value)  # deque, array.array, dict views
    raise UnserialisableOutput(f"a value of type {type(value).__name__} cannot be converted to JSON")
