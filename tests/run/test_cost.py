"""The session's estimated cost in report.json, and the warning when the model has no listed price."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.core.pricing import price_for

UNPRICED_WARNING = "  · model 'gpt-realtime-9' has no listed price: report.json's cost_usd stays null"


def _report(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


def test_the_example_session_has_a_cost_and_no_price_warning(project: Path, e2e: Any) -> None:
    finished = e2e.run_runner(project, ["run", "agents.yaml", "--offline", "--text"], "hello\n")
    assert finished.returncode == 0, finished.stderr
    usage = _report(finished.session)["usage"]
    assert usage["model"] == "gpt-realtime-2.1"
    assert isinstance(usage["cost_usd"], float) and usage["cost_usd"] > 0
    assert "no listed price" not in finished.stdout + finished.stderr


def test_an_unpriced_model_is_one_warning_line_at_the_start(project: Path, e2e: Any) -> None:
    config = project / "agents.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.count("model: gpt-realtime-2.1\n") == 1
    config.write_text(text.replace("model: gpt-realtime-2.1\n", "model: gpt-realtime-9\n"), encoding="utf-8")
    assert price_for("gpt-realtime-9") is None
    finished = e2e.run_runner(project, ["run", "agents.yaml", "--offline", "--text"], "hello\nthanks\n")
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0] == UNPRICED_WARNING
    assert lines.count(UNPRICED_WARNING) == 1
    assert _report(finished.session)["usage"]["cost_usd"] is None
