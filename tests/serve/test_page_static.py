"""The web client's files as the app serves them: the page names the project, its own JS stays small."""

from __future__ import annotations

from pathlib import Path

import yaml
from starlette.testclient import TestClient

from runner.host.project import load_project
from runner.host.transports import MemoryTransport
from runner.serve import create_app
from runner.serve.page import STATIC
from tests.host.embedding import write_project


def client(tmp_path: Path, name: str) -> TestClient:
    agents = write_project(tmp_path / "project")
    project = yaml.safe_load(agents.read_text())
    agents.write_text(yaml.safe_dump({**project, "name": name}, sort_keys=False))
    return TestClient(create_app(load_project(agents, environ={}), MemoryTransport(lambda event, connection: [])))


def test_the_page_is_served_at_the_root_with_the_project_name_escaped(tmp_path: Path) -> None:
    page = client(tmp_path, "Desk <&> Co").get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Desk &lt;&amp;&gt; Co · runner</title>" in page.text and "{{project}}" not in page.text
    assert '<link rel="icon" href="data:,">' in page.text  # no favicon request: a 404 would be a console error


def test_its_script_style_and_worklet_are_served_and_its_own_javascript_is_under_50_kb(tmp_path: Path) -> None:
    http = client(tmp_path, "Desk")
    for name, kind in (("app.js", "javascript"), ("view.js", "javascript"), ("recorder.js", "javascript"), ("recorder-worklet.js", "javascript"), ("app.css", "text/css")):
        served = http.get(f"/static/{name}")
        assert served.status_code == 200 and kind in served.headers["content-type"], (name, served.headers)
        assert served.content == (STATIC / name).read_bytes()
    assert http.get("/static/nope.js").status_code == 404
    assert sum(path.stat().st_size for path in STATIC.glob("*.js")) < 50 * 1024


def test_every_browser_case_is_run_by_test_page() -> None:
    import ast

    from tests.serve.test_page import CASES

    module = ast.parse((Path(__file__).with_name("page_cases.py")).read_text())
    defined = [node.name for node in module.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    assert sorted(defined) == sorted(CASES)
