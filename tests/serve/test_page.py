"""The web client in headless Chromium, run in a network namespace with loopback only (tests/netns.py)."""

from tests.netns import run_cases


def test_the_page_in_chromium_in_a_loopback_namespace() -> None:
    run_cases("tests/serve/page_cases.py", timeout=300)
