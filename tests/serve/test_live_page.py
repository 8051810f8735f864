"""The web client on a GPT-Live target: the page says the target; in headless Chromium it sends no Realtime event."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from runner.host.project import load_project
from runner.host.transports import MemoryTransport
from runner.serve import create_app
from tests.host.embedding import write_project
from tests.netns import run_cases


def page_of(tmp_path: Path, target: str | None) -> str:
    agents = write_project(tmp_path / "project")
    app = create_app(load_project(agents, environ={}, target=target), MemoryTransport(lambda event, connection: []))
    return TestClient(app).get("/").text


def test_the_page_names_the_projects_target(tmp_path: Path) -> None:
    assert '<body data-target="live">' in page_of(tmp_path / "live", "live")
    assert '<body data-target="realtime">' in page_of(tmp_path / "realtime", None)


def test_the_page_on_gpt_live_in_chromium_in_a_loopback_namespace() -> None:
    run_cases("tests/serve/live_page_cases.py", timeout=180)
