"""The web client in headless Chromium: each case in a network namespace of its own with loopback only (tests/netns.py)."""

import pytest

from tests.netns import run_cases

CASES = (
    "test_a_spoken_call_barge_in_a_tool_on_the_server_and_a_handoff",
    "test_by_keyboard_at_phone_width_push_to_talk_over_pcmu_then_the_recording_and_hangup",
    "test_a_guardrail_trip_is_marked_on_the_reply_it_stopped",
)


@pytest.mark.parametrize("case", CASES)
def test_the_page_in_chromium_in_a_loopback_namespace(case: str) -> None:
    run_cases(f"tests/serve/page_cases.py::{case}", timeout=120)
