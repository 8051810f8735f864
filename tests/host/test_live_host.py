"""The example project on GPT-Live through the host: the offline simulator's Live endpoint, real tools, real files."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import runner
from runner.compile_live import live_client_event_problems
from tests.host.embedding import read_jsonl

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0


def _example(tmp_path: Path) -> Path:
    shutil.copy(REPO / "agents.yaml", tmp_path / "agents.yaml")
    shutil.copytree(REPO / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "agents.yaml"


def test_a_text_conversation_with_tools_and_a_handoff_on_gpt_live(tmp_path: Path) -> None:
    project = runner.load_project(_example(tmp_path), environ={}, target="live")

    async def main() -> tuple[runner.Conversation, list[runner.Record]]:
        records: list[runner.Record] = []
        async with runner.Host(project, transport=runner.SimulatorTransport("techcorp")) as host:
            async with host.open(state_dir=tmp_path / "state", text=True) as conv:
                assert await conv.wait_idle(WAIT)  # the greeting
                for line in ("My phone is (555) 123-4567", "I have a question about my invoice", "Can I get a refund for invoice INV-2001?"):
                    await conv.send_text(line)
                    assert await conv.wait_idle(WAIT)
            async for record in conv.records():
                records.append(record)
        return conv, records

    conv, records = asyncio.run(main())
    assert [record.data["name"] for record in records if record.kind == "tool_result"] == ["authenticate_user", "lookup_invoice", "request_refund"]
    assert [(record.data["from"], record.data["to"], record.data["success"]) for record in records if record.kind == "handoff"] == [("router", "billing", True)]
    replies = [(record.data["agent"], record.data["text"]) for record in records if record.kind == "assistant"]
    assert replies[0][0] == "router" and replies[-1][0] == "billing"
    assert "approved" in replies[-1][1]
    events = read_jsonl(conv.folder / "events.jsonl")
    sent = [line["event"] for line in events if line.get("dir") == "out"]
    assert sent[0]["type"] == "session.start"
    for event in sent:
        assert live_client_event_problems(event) == [], event
    assert [event["type"] for event in sent if event["type"].startswith("session.") and event["type"] != "session.start"] == [
        "session.commentary.append", "session.update", "session.instructions.append", "session.close",
    ]
    report = json.loads((conv.folder / "report.json").read_text())
    assert (report["model"], report["final_agent"], report["end_reason"]) == ("gpt-live-1", "billing", "session closed")
    assert report["usage"]["seconds"] > 0 and report["usage"]["responses"] >= 5


def test_runner_run_offline_text_target_live(tmp_path: Path) -> None:
    path = _example(tmp_path)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "runner"), "run", path.name, "--offline", "--text", "--target", "live"],
        cwd=tmp_path, input="My phone is (555) 123-4567\n", capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "authenticate_user" in done.stdout
    assert "router: Thanks, Alex, you're verified." in done.stdout
    assert "runner: session ended (session closed)" in done.stderr


def test_a_dropped_socket_becomes_a_new_live_session_seeded_with_the_text_history(tmp_path: Path) -> None:
    project = runner.load_project(_example(tmp_path), environ={}, target="live")

    async def main() -> tuple[runner.Conversation, list[runner.Record]]:
        records: list[runner.Record] = []
        # The greeting takes 119 server events (its words and its audio, in 100 ms chunks); the 124th is inside the first delegation, after its call.
        async with runner.Host(project, transport=runner.SimulatorTransport("techcorp", drop_after_events=124)) as host:
            async with host.open(state_dir=tmp_path / "state", text=True) as conv:
                assert await conv.wait_idle(WAIT)
                await conv.send_text("My phone is (555) 123-4567")
                assert await conv.wait_idle(WAIT)
            async for record in conv.records():
                records.append(record)
        return conv, records

    conv, records = asyncio.run(main())
    assert conv.outcome is not None and conv.outcome.reconnects == 1
    notices = [record.data["message"] for record in records if record.kind == "notice"]
    assert notices[-2:] == [
        "connection lost (the connection dropped without a close frame); reconnecting",
        "reconnected: a new GPT-Live session, seeded with the conversation so far",
    ]
    assert [record.data["text"] for record in records if record.kind == "assistant"][-1] == "Thanks, Alex, you're verified. How can I help you today?"
    starts = [line["event"] for line in read_jsonl(conv.folder / "events.jsonl") if line.get("dir") == "out" and line["event"]["type"] == "session.start"]
    assert len(starts) == 2 and "input" not in starts[0]["session"]
    assert [(item["role"], item["content"][0]["text"][:20]) for item in starts[1]["session"]["input"]] == [
        ("assistant", "Thanks for calling T"), ("user", "My phone is (555) 12"), ("developer", "The authenticate_use"),
    ]
    for event in starts:
        assert live_client_event_problems(event) == []
