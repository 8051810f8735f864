"""The shape of the server events the core reads, checked before any handler runs.

As in h11, a peer's bad event and our own bug are told apart: an event lacking a field
the core relies on (or holding one of the wrong type) is the server's error, reported as
`malformed_event` and ignored; any exception a handler raises after this check is a bug
in the core and propagates.
"""

from __future__ import annotations

from typing import Any

# Per event type: (dotted path, accepted types, required).  Optional fields may be absent
# or null; required ones must be present with one of the types.
_Field = tuple[str, tuple[type, ...], bool]
_TEXT_DELTA: tuple[_Field, ...] = (("item_id", (str,), True), ("delta", (str,), True), ("response_id", (str,), False))
_TEXT_DONE: tuple[_Field, ...] = (("item_id", (str,), True), ("transcript", (str,), False), ("text", (str,), False), ("response_id", (str,), False))
_ITEM: tuple[_Field, ...] = (("item", (dict,), True), ("item.id", (str,), True), ("item.content", (list,), False))
SHAPES: dict[str, tuple[_Field, ...]] = {
    "response.output_audio.delta": _TEXT_DELTA,
    "response.output_audio_transcript.delta": _TEXT_DELTA,
    "response.output_text.delta": _TEXT_DELTA,
    "response.output_audio_transcript.done": _TEXT_DONE,
    "response.output_text.done": _TEXT_DONE,
    "response.created": (("response", (dict,), True), ("response.id", (str,), True)),
    "response.output_item.added": (*_ITEM, ("response_id", (str,), False)),
    "response.output_item.done": _ITEM,
    "response.function_call_arguments.done": (
        ("call_id", (str,), True), ("name", (str,), True), ("arguments", (str,), False), ("response_id", (str,), False),
    ),
    "response.done": (
        ("response", (dict,), True), ("response.id", (str,), False), ("response.status", (str,), False),
        ("response.usage", (dict,), False), ("response.status_details", (dict,), False),
        ("response.status_details.error", (dict,), False),
    ),
    "conversation.item.added": _ITEM,
    "conversation.item.created": _ITEM,
    "conversation.item.done": _ITEM,
    "conversation.item.input_audio_transcription.completed": (("item_id", (str,), True), ("transcript", (str,), False)),
    "conversation.item.input_audio_transcription.failed": (("error", (dict,), False),),
    "output_audio_buffer.started": (("response_id", (str,), False),),
    "conversation.item.truncated": (("item_id", (str,), True), ("audio_end_ms", (int,), True)),
    "input_audio_buffer.dtmf_event_received": (("event", (str,), True),),
    "error": (("error", (dict,), False),),
}
_MISSING = object()


class MalformedEvent(Exception):
    """A server event the core cannot use: the peer's mistake, reported and ignored."""


# The same table with each path split once: check_shape runs on every server event.
_COMPILED: dict[str, tuple[tuple[str, tuple[str, ...], tuple[type, ...], bool], ...]] = {
    kind: tuple((path, tuple(path.split(".")), types, required) for path, types, required in fields) for kind, fields in SHAPES.items()
}


def check_shape(event: dict[str, Any]) -> None:
    """Raise MalformedEvent naming the first field of `event` that is missing or of the wrong type."""
    for path, keys, types, required in _COMPILED.get(event.get("type"), ()):  # type: ignore[arg-type]
        if len(keys) == 1:
            value = event.get(keys[0])
        else:
            value = _lookup(event, keys)
        if value is _MISSING or value is None:
            if required:
                raise MalformedEvent(f"{path!r} is missing")
            continue
        if not isinstance(value, types):
            wanted = " or ".join(_NAMES[kind] for kind in types)
            raise MalformedEvent(f"{path!r} is {type(value).__name__}, not {wanted}")


def _lookup(event: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = event
    for key in keys:
        if not isinstance(value, dict):
            return _MISSING  # the parent's own check reports it
        value = value.get(key, _MISSING)
    return value


_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer"}
