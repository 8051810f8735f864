"""Strict validation of GA Realtime client events.

The SDK's pydantic models accept unknown keys (`extra="allow"`) while the real
service rejects them, so validation here is the SDK union *plus* a walk that
reports every key that landed in `model_extra`.  Imports the SDK types lazily:
they are slow to import and only the simulator and tests need them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pydantic


@lru_cache(maxsize=1)
def _client_event_adapter() -> pydantic.TypeAdapter:
    from openai.types.realtime import RealtimeClientEvent

    return pydantic.TypeAdapter(_discriminated(RealtimeClientEvent))


def _discriminated(annotated: Any) -> Any:
    """Re-wrap the SDK union with a real pydantic discriminator for focused errors."""
    from typing import Annotated, Union, get_args

    union = get_args(annotated)[0]
    return Annotated[Union[get_args(union)], pydantic.Field(discriminator="type")]


def _extra_keys(value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}" if path else key)
        for name in type(value).model_fields:
            child = getattr(value, name, None)
            if child is not None:
                found += _extra_keys(child, f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found += _extra_keys(child, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, child in value.items():
            found += _extra_keys(child, f"{path}.{key}" if path else str(key))
    return found


def client_event_problems(event: dict[str, Any]) -> list[str]:
    """Every reason the service would refuse this client event; empty when valid.

    Each entry reads like the service's own wording: ``Unknown parameter: 'session.voice'``
    or ``Invalid value at 'session.type': ...``.
    """
    try:
        model = _client_event_adapter().validate_python(event)
    except pydantic.ValidationError as error:
        problems = []
        for detail in error.errors():
            location = ".".join(str(part) for part in detail["loc"][1:] if not _is_union_member(part))
            problems.append(f"Invalid value at '{location or 'type'}': {detail['msg']}")
        return problems
    return [f"Unknown parameter: '{key}'" for key in _extra_keys(model, "")]


def _is_union_member(part: Any) -> bool:
    """Union member names (class names, literal tags) that pydantic inserts in locations."""
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("function-"))
