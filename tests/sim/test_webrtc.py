"""The simulator's WebRTC calls, run in a network namespace with loopback only (tests/netns.py)."""

from tests.netns import run_cases


def test_webrtc_calls_in_a_loopback_namespace() -> None:
    run_cases("tests/sim/webrtc_cases.py")
