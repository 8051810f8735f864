"""The simulated session's configuration: service defaults and partial updates.

`session.update` is a partial update: present fields change, absent ones stay,
`null` disables (turn detection, transcription, noise reduction), a turn
detection object is completed with that type's defaults, and an audio format is
replaced whole and reported in the service's shape (`rate` only for `audio/pcm`).
"""

from __future__ import annotations

import copy
from typing import Any

from runner.audio.formats import FORMATS, session_object

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_INSTRUCTIONS = (
    "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. "
    "Act like a human, but remember that you aren't a human."
)

TURN_DETECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "server_vad": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    },
    "semantic_vad": {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    },
}

PCM_24K = {"type": "audio/pcm", "rate": 24000}
_FORMAT_KEYS = ("audio.input.format", "audio.output.format")


def default_session(model: str) -> dict[str, Any]:
    """The full effective config a new session starts with (`session.created`)."""
    return {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": dict(PCM_24K),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(TURN_DETECTION_DEFAULTS["server_vad"]),
            },
            "output": {"format": dict(PCM_24K), "voice": "alloy", "speed": 1.0},
        },
    }


def merged(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`current` with a `session.update`'s `session` applied (neither is modified)."""
    result = copy.deepcopy(current)
    _merge_into(result, update, "")
    return result


def _merge_into(target: dict[str, Any], update: dict[str, Any], path: str) -> None:
    for key, value in update.items():
        where = f"{path}.{key}" if path else key
        if where == "audio.input.turn_detection" and isinstance(value, dict):
            defaults = TURN_DETECTION_DEFAULTS.get(value.get("type", ""), {})
            previous = target.get(key) or {}
            base = previous if previous.get("type") == value.get("type") else defaults
            target[key] = {**defaults, **base, **value}
        elif where in _FORMAT_KEYS and isinstance(value, dict) and value.get("type") in FORMATS:
            target[key] = session_object(FORMATS[value["type"]])
        elif where == "audio.input.noise_reduction" and isinstance(value, dict):
            target[key] = {"strength": 1.0, **(target.get(key) or {}), **value}
        elif isinstance(value, dict) and isinstance(target.get(key), dict) and key != "parameters":
            _merge_into(target[key], value, where)
        else:
            target[key] = copy.deepcopy(value)


def voice_of(session: dict[str, Any]) -> Any:
    return session["audio"]["output"]["voice"]


def turn_detection_of(session: dict[str, Any]) -> dict[str, Any] | None:
    return session["audio"]["input"]["turn_detection"]
