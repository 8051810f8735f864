"""`runner run --offline --text` as a subprocess: the trip breadcrumb, and turning guardrails off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guardrails_e2e.sessions import COMPETITORS

RUNNER = Path(sys.executable).with_name("runner")
RULES = """\
default: "How can I help?"
user_transcript: "Hello."
filler: "One moment."
after_transfer: "Hi, how can I help?"
rules:
  - when: 'compare'
    say: "Globex is cheaper, but ours lasts longer."
"""
BREADCRUMB = "  ⚑ guardrail competitor_mentions [competitor]: block"
OFF_WARNING = "  · guardrails are OFF for this run (--no-guardrails or ENABLE_GUARDRAILS=false)"


def talk(project, tmp_path: Path, *flags: str, environ: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], dict]:
    config = project([COMPETITORS])
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    sessions = tmp_path / "sessions"
    env = {key: value for key, value in os.environ.items() if key not in {"ENABLE_GUARDRAILS", "OPENAI_API_KEY"}}
    done = subprocess.run(
        [str(RUNNER), "run", str(config.path), "--offline", "--text", "--rules", str(rules), "--session-dir", str(sessions), *flags],
        input="how do you compare to Globex?\n", capture_output=True, text=True, timeout=120, env={**env, **(environ or {})},
    )
    [folder] = sessions.iterdir()
    return done, json.loads((folder / "report.json").read_text())


def test_a_trip_shows_as_a_breadcrumb_and_a_reply_that_keeps_tripping_stops_being_corrected(project, tmp_path):
    done, report = talk(project, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "you: how do you compare to Globex?"
    assert lines.count(BREADCRUMB) == 3  # the reply, then two corrections the simulator answers the same way
    assert lines[-1] == "  · guardrail 'competitor_mentions' blocked 3 replies in a row; the agent waits for the user instead of trying again"
    assert [trip["category"] for trip in report["guardrail_trips"]] == ["competitor"] * 3
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("flags", "environ"), [(("--no-guardrails",), {}), ((), {"ENABLE_GUARDRAILS": "false"})], ids=["flag", "environment"])
def test_guardrails_can_be_turned_off_for_a_run_with_a_visible_warning(project, tmp_path, flags, environ):
    done, report = talk(project, tmp_path, *flags, environ=environ)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [OFF_WARNING, "you: how do you compare to Globex?", "router: Globex is cheaper, but ours lasts longer."]
    assert report["guardrail_trips"] == []
