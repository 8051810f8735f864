"""The simulator's own check of GPT-Live client events: what the service would refuse, and how.

The SDK's Live types (`openai.types.live.ClientEvent`) are the published schema, but they
accept unknown keys while the service's objects are strict, and they cannot say that the
appends' `delegation_id` is required even when null. Written apart from the runner's
check (`runner.compile_live.live_client_event_problems`) so neither confirms the other.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Union, get_args

import pydantic

from .client_events import Refusal, _location, _relevant, _unknown_keys

APPENDS = ("session.instructions.append", "session.thinking.append", "session.commentary.append")


@lru_cache(maxsize=1)
def _live_client_events() -> pydantic.TypeAdapter:
    from openai.types.live import ClientEvent

    members = get_args(get_args(ClientEvent)[0])
    return pydantic.TypeAdapter(Annotated[Union[members], pydantic.Field(discriminator="type")])


def live_refusal(event: dict[str, Any]) -> Refusal | None:
    """The first reason GPT-Live would refuse `event`; None when it is a valid client event."""
    try:
        parsed = _live_client_events().validate_python(event)
    except pydantic.ValidationError as error:
        details = _relevant(error.errors())
        first = details[0]
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            return Refusal("invalid_value", "type", f"Invalid value at 'type': {event.get('type')!r} is not a GPT-Live client event type.")
        location = _location(first["loc"][1:])
        code = "missing_required_parameter" if first["type"] == "missing" else "invalid_value"
        return Refusal(code, location, f"Invalid value at '{location}': {first['msg']}")
    unknown = _unknown_keys(parsed, "")
    if unknown:
        return Refusal("unknown_parameter", unknown[0], f"Unknown parameter: '{unknown[0]}'")
    if event["type"] in APPENDS and "delegation_id" not in event:
        return Refusal("missing_required_parameter", "delegation_id", "Missing required parameter: 'delegation_id' (send null for session-wide context).")
    return None
