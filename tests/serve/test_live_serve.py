"""`runner serve` on a GPT-Live target with aiortc browsers, in a loopback-only network namespace (tests/netns.py)."""

from tests.netns import run_cases


def test_live_serve_calls_in_a_loopback_namespace() -> None:
    run_cases("tests/serve/live_serve_cases.py", timeout=300)
