"""`runner serve` with aiortc browsers, run in a network namespace with loopback only (tests/netns.py)."""

from tests.netns import run_cases


def test_serve_calls_in_a_loopback_namespace() -> None:
    run_cases("tests/serve/serve_cases.py", timeout=400)
