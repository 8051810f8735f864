"""A server that breaks the protocol ends the session with a clear error instead of hanging."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import websockets

from runner.config import load
from runner.host.conversation import LiveSession, RunOptions, open_session

CONFIG = """\
version: 1
name: tiny
model: gpt-realtime-2.1
start: solo
agents:
  solo:
    description: The only agent.
    instructions: Answer briefly.
"""


async def _configures_then_sends_garbage(ws: Any) -> None:
    """Applies session.update like the service, then answers anything else with a non-JSON frame."""
    async for message in ws:
        event = json.loads(message)
        if event["type"] == "session.update":
            await ws.send(json.dumps({"type": "session.updated", "session": event["session"]}))
        else:
            await ws.send("this is not json")


def test_a_frame_that_is_not_json_ends_the_session_with_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "agents.yaml").write_text(CONFIG, encoding="utf-8")
    config = load(tmp_path / "agents.yaml").config
    assert config is not None

    async def talk() -> tuple[LiveSession, bool]:
        async with websockets.serve(_configures_then_sends_garbage, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            options = RunOptions(text=True, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", session_dir=tmp_path / "sessions")
            async with open_session(config, options) as live:
                await live.driver.say("hello")
                idle = await live.driver.wait_idle(timeout=60)
        return live, idle

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        live, idle = asyncio.run(asyncio.wait_for(talk(), 90))
    assert idle is False and live.driver.ended
    assert live.outcome.reason == "failed"
    assert live.outcome.fatal_error == "the session stopped: the server sent a frame that is not a JSON event object: b'this is not json'"
    logged = [json.loads(line) for line in (live.folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    failures = [entry["event"] for entry in logged if entry["dir"] == "log"]
    assert [failure["type"] for failure in failures] == ["driver.failure"]
    assert "BadFrame" in failures[0]["text"]
    report = json.loads((live.folder / "report.json").read_text(encoding="utf-8"))
    assert report["end_reason"] == "failed" and report["fatal_error"] == live.outcome.fatal_error
    assert "never retrieved" not in caplog.text
