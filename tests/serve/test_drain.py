"""The SIGTERM drain of a real `runner serve` with aiortc browsers, in a loopback-only namespace (tests/netns.py)."""

from tests.netns import run_cases


def test_drain_in_a_loopback_namespace() -> None:
    run_cases("tests/serve/drain_cases.py", timeout=300)
