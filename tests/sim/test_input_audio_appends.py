"""The simulator's shortcut for plain appends: it skips the schema walk only where the schema accepts.

`plain_append` lets `input_audio_buffer.append` events through unparsed (50 a second per
call); every event it takes must be one the SDK's schema takes, and every other event
must still be refused as the service refuses it.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.sim.client_events import refusal
from runner.sim.input_audio import plain_append

AUDIO = "//////////8="

TAKEN = [
    {"type": "input_audio_buffer.append", "audio": AUDIO},
    {"type": "input_audio_buffer.append", "audio": AUDIO, "event_id": "evt_1"},
    {"type": "input_audio_buffer.append", "audio": ""},
]
LEFT_TO_THE_SCHEMA = [
    ({"type": "input_audio_buffer.append", "audio": AUDIO, "format": "pcm16"}, "unknown_parameter", "format"),
    ({"type": "input_audio_buffer.append", "audio": 5}, "invalid_value", "audio"),
    ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio"),
    ({"type": "input_audio_buffer.append", "audio": AUDIO, "event_id": 7}, "invalid_value", "event_id"),
    ({"type": "input_audio_buffer.commit", "audio": AUDIO}, "unknown_parameter", "audio"),
]


@pytest.mark.parametrize("event", TAKEN)
def test_a_plain_append_is_one_the_schema_accepts(event: dict[str, Any]) -> None:
    assert plain_append(event)
    assert refusal(event) is None


@pytest.mark.parametrize(("event", "code", "param"), LEFT_TO_THE_SCHEMA)
def test_anything_else_is_left_to_the_schema_and_refused(event: dict[str, Any], code: str, param: str) -> None:
    assert not plain_append(event)
    refused = refusal(event)
    assert refused is not None and (refused.code, refused.param) == (code, param)
