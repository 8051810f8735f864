"""The simulator's own check of client events: what the service would refuse, and how.

The service parses every client event against its GA schema and rejects keys it does
not know.  The `openai` SDK's pydantic types are that schema as published, but they
accept unknown keys (`extra="allow"`), so this module parses with the SDK union and then
walks the parsed model for anything left in `model_extra`.  It is written here, apart
from the runner's own validator, so that a mistake in one cannot confirm itself in the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Union, get_args

import pydantic


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the service refuses one client event: its `error.code`, `error.param` and message."""

    code: str
    param: str | None
    message: str


@lru_cache(maxsize=1)
def _client_events() -> pydantic.TypeAdapter:
    """The SDK's client-event union, discriminated on `type` so errors point at one member."""
    from openai.types.realtime import RealtimeClientEvent

    members = get_args(get_args(RealtimeClientEvent)[0])
    return pydantic.TypeAdapter(Annotated[Union[members], pydantic.Field(discriminator="type")])


def refusal(event: dict[str, Any]) -> Refusal | None:
    """The first reason the service would refuse `event`; None when it is a valid client event."""
    try:
        parsed = _client_events().validate_python(event)
    except pydantic.ValidationError as error:
        return _invalid(error.errors(), event)
    unknown = _unknown_keys(parsed, "")
    if unknown:
        return Refusal("unknown_parameter", unknown[0], f"Unknown parameter: '{unknown[0]}'")
    return None


def _invalid(details: list[Any], event: dict[str, Any]) -> Refusal:
    details = _relevant(details)
    first = details[0]
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return Refusal("invalid_value", "type", f"Invalid value at 'type': {event.get('type')!r} is not a client event type.")
    location = _location(first["loc"][1:])
    if first["type"] == "missing":
        return Refusal("missing_required_parameter", location, f"Invalid value at '{location}': Field required")
    if first["type"] == "literal_error":
        allowed = [detail["ctx"]["expected"] for detail in details if detail["type"] == "literal_error" and _location(detail["loc"][1:]) == location]
        return Refusal("invalid_value", location, f"Invalid value at '{location}': Input should be {' or '.join(dict.fromkeys(allowed))}")
    return Refusal("invalid_value", location, f"Invalid value at '{location}': {first['msg']}")


def _relevant(details: list[Any]) -> list[Any]:
    """The errors of the union members the event meant: a member whose `type` or `role` tag
    does not match (a user message parsed as a system message) is not what the client sent."""
    wrong_kind = {detail["loc"][:-1] for detail in details if detail["type"] == "literal_error" and detail["loc"][-1] in ("type", "role") and _union_member(str(detail["loc"][-2]))}
    meant = [detail for detail in details if not any(detail["loc"][: len(member)] == member for member in wrong_kind)]
    return meant or details


def _location(parts: tuple[Any, ...]) -> str:
    """The dotted path of the offending key, without the union member names pydantic adds."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _union_member(part):
            path += f".{part}" if path else part
    return path or "type"


def _union_member(part: str) -> bool:
    """Member labels pydantic puts in error locations: class names, tagged-union tags, validators."""
    return part[:1].isupper() or part.startswith(("function-", "tagged-union[")) or part in {"str", "int", "float", "bool", "list", "dict", "literal"} or "." in part or part.startswith(("json-or-python[", "lax-or-strict["))


def _unknown_keys(value: Any, path: str) -> list[str]:
    """Every key the SDK types parsed into `model_extra`, as a dotted path, in document order."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        found += [f"{path}.{key}" if path else key for key in value.model_extra or {}]
        for name in type(value).model_fields:
            child = getattr(value, name, None)
            if child is not None:
                found += _unknown_keys(child, f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found += _unknown_keys(child, f"{path}[{index}]")
    return found
