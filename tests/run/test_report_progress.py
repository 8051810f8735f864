"""report.json is kept current during the session (within REPORT_EVERY seconds), not only written at the end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runner.config import load
from runner.host.artifacts import REPORT_EVERY
from runner.host.conversation import RunOptions, open_session
from tests.waits import wait_until


def _read_report(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


async def _report_with_responses(path: Path, responses: int) -> dict:
    """report.json once it counts `responses`: it is rebuilt at most every REPORT_EVERY seconds."""

    def counts() -> bool:
        return _read_report(path).get("usage", {}).get("responses") == responses

    await asyncio.to_thread(wait_until, counts, REPORT_EVERY + 5, f"report.json to count {responses} responses")
    return _read_report(path)


def test_the_report_is_refreshed_after_each_response_and_finalised_at_the_end(project: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TECHCORP_DB", str(tmp_path / "techcorp.db"))
    config = load(project / "agents.yaml").config
    assert config is not None
    options = RunOptions(text=True, offline=True, session_dir=tmp_path / "sessions")

    async def talk() -> tuple[dict, Path]:
        async with open_session(config, options, environ={}) as live:
            assert await live.driver.wait_idle(timeout=30)  # the router's greeting
            await live.driver.say("Hi, I'm Alex, my phone is (555) 123-4567")
            assert await live.driver.wait_idle(timeout=30)
            during = await _report_with_responses(live.folder / "report.json", 3)
        return during, live.folder

    during, folder = asyncio.run(talk())
    assert during["end_reason"] == "in progress" and during["ended"] is None
    assert [call["name"] for call in during["tool_calls"]] == ["authenticate_user"]
    assert during["usage"]["responses"] == 3  # the greeting, the tool call, then the reply
    final = json.loads((folder / "report.json").read_text())
    assert final["end_reason"] == "session closed" and final["ended"] is not None
    assert not (folder / "report.json.tmp").exists()
