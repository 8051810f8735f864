"""SIGTERM drains a real `runner serve --offline` (run by tests/serve/test_drain.py in a loopback-only namespace).

A browser call is in flight when the signal comes: it goes on and completes, while
/readyz says 503 and new calls are refused; then the process exits 0 with every
artifact written. A call that outlasts --drain-timeout hears a goodbye instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from runner.serve.protect import DRAINING_MESSAGE
from tests.host.embedding import write_project
from tests.netns import require_loopback_only
from tests.serve.serve_cases import dial, events_of, run, session_folder
from tests.webrtc_peer import BrowserPeer

require_loopback_only()
ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def runner_serve(tmp_path: Path, *flags: str, **environ: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, httpx.AsyncClient]]:
    agents = write_project(tmp_path / "project")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runner", "serve", str(agents), "--offline", "--rules", str(tmp_path / "project" / "rules.yaml"),
        "--port", "0", "--session-dir", str(tmp_path / "sessions"), *flags, stderr=subprocess.PIPE, cwd=ROOT,
        env={**{key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "LOG_LEVEL", "RATE_LIMIT_RPM")}, **environ},
    )
    line = (await process.stderr.readline()).decode()
    assert "serving" in line, line
    url = line.split(" on ", 1)[1].split(" ", 1)[0]
    try:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            for _ in range(200):
                with contextlib.suppress(httpx.ConnectError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            yield process, http
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def until_draining(http: httpx.AsyncClient) -> httpx.Response:
    for _ in range(200):
        ready = await http.get("/readyz")
        if ready.status_code == 503:
            return ready
        await asyncio.sleep(0.05)
    raise AssertionError("/readyz never turned 503 after SIGTERM")


def ask_who(peer: BrowserPeer) -> None:
    peer.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "who am i"}]}})
    peer.send({"type": "response.create"})


def test_sigterm_lets_the_call_in_flight_finish_refuses_new_ones_and_exits_0(tmp_path: Path) -> None:
    async def body() -> None:
        async with runner_serve(tmp_path, "--drain-timeout", "60", LOG_LEVEL="info") as (process, http):
            peer = BrowserPeer()
            call_id = await dial(http, peer, customer="C-5")
            await peer.wait_for("session.created")
            process.send_signal(signal.SIGTERM)
            ready = await until_draining(http)
            assert ready.json() == {"ready": False, "reason": "draining: the server is shutting down and takes no new calls"}
            late = BrowserPeer()
            refused = await http.post("/calls", content=await late.offer(), headers={"Content-Type": "application/sdp"}, params={"customer": "C-6"})
            assert (refused.status_code, refused.json()) == (503, {"error": DRAINING_MESSAGE})
            await late.close()
            ask_who(peer)  # the call in flight still has its tools: the server's sideband runs them
            await peer.wait_for(lambda event: event["type"] == "response.output_audio_transcript.done" and "You are C-5" in event["transcript"])
            await peer.wait_for("output_audio_buffer.stopped")
            assert process.returncode is None, "the server waits for the call in flight"
            assert (await http.get("/healthz")).json() == {"calls": 1}
            hung = await http.post(f"/calls/{call_id}/hangup")
            assert hung.status_code == 200, hung.text
            code = await asyncio.wait_for(process.wait(), 30)
            stderr = (await process.stderr.read()).decode()
            assert code == 0, stderr
            await peer.close()
        logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        opened = [line for line in logged if line.get("event") == "session.opened"]
        closed = [line for line in logged if line.get("event") == "session.closed"]
        assert [(line["call_id"], line["level"]) for line in opened + closed] == [(call_id, "info"), (call_id, "info")], stderr
        assert opened[0]["session_id"] == closed[0]["session_id"] and closed[0]["reason"] == "hung up by the caller"
        assert any(line["message"] == "draining: waiting up to 60 s for the calls in flight (1) to end" for line in logged), stderr
        folder = session_folder(tmp_path)
        report = json.loads((folder / "report.json").read_text())
        assert report["end_reason"] == "hung up by the caller", report["end_reason"]
        assert [call["name"] for call in report["tool_calls"]] == ["whoami"]
        assert "You are C-5" in (folder / "transcript.md").read_text()

    run(body)


def test_a_call_past_the_drain_timeout_hears_a_goodbye_then_the_server_exits_0(tmp_path: Path) -> None:
    async def body() -> None:
        async with runner_serve(tmp_path, "--drain-timeout", "1") as (process, http):
            peer = BrowserPeer()
            await dial(http, peer, customer="C-7")
            await peer.wait_for("session.created")
            process.send_signal(signal.SIGTERM)
            await until_draining(http)
            code = await asyncio.wait_for(process.wait(), 30)
            assert code == 0, (await process.stderr.read()).decode()
            await peer.close()
        folder = session_folder(tmp_path)
        report = json.loads((folder / "report.json").read_text())
        assert report["end_reason"] == "the server is shutting down", report["end_reason"]
        goodbyes = [event for event in events_of(folder) if event.get("type") == "response.create" and "goodbye" in json.dumps(event).lower()]
        assert len(goodbyes) == 1, goodbyes
        assert any(event.get("type") == "response.done" for event in events_of(folder)[-20:])

    run(body)


def test_a_second_signal_ends_the_drain_at_once(tmp_path: Path) -> None:
    async def body() -> None:
        async with runner_serve(tmp_path, "--drain-timeout", "600") as (process, http):
            peer = BrowserPeer()
            await dial(http, peer, customer="C-8")
            await peer.wait_for("session.created")
            process.send_signal(signal.SIGTERM)
            await until_draining(http)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 30)
            assert code == 0, (await process.stderr.read()).decode()
            await peer.close()
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert report["end_reason"] == "the server is shutting down"

    run(body)

