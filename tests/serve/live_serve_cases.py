"""`runner serve` with a GPT-Live target: a browser's offer through `POST /v1/live/sessions`, the
sideband attached by the session's id (run by tests/serve/test_live_serve.py in a loopback-only namespace)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from runner.host.project import load_project
from runner.host.transports import OFFLINE_API_KEY, SimulatorTransport
from runner.serve import create_app
from tests.host.embedding import write_project
from tests.netns import require_loopback_only
from tests.served import on_uvicorn
from tests.webrtc_peer import BrowserPeer

require_loopback_only()


def run(body: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


@contextlib.asynccontextmanager
async def serving_live(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, SimulatorTransport]]:
    """The app on uvicorn in this event loop, the project on GPT-Live, over the offline simulator."""
    agents = write_project(tmp_path / "project")
    transport = SimulatorTransport(tmp_path / "project" / "rules.yaml")
    app = create_app(load_project(agents, environ={}, target="live"), transport, session_dir=tmp_path / "sessions")
    async with on_uvicorn(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        yield http, transport


def events_of(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def test_a_live_call_speech_in_a_tool_on_the_server_reply_audio_out_then_hangup(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving_live(tmp_path) as (http, transport):
            peer = BrowserPeer()
            answer = await http.post("/calls", content=await peer.offer(), headers={"Content-Type": "application/sdp"}, params={"customer": "C-7"})
            assert answer.status_code == 201, answer.text
            assert OFFLINE_API_KEY not in answer.text and OFFLINE_API_KEY not in str(answer.headers)
            await peer.accept(answer.text)
            call_id = answer.headers["location"].rsplit("/", 1)[-1]
            assert call_id.startswith("live_")
            call = transport.simulator.calls.get(call_id)
            assert call.session.listeners.sidebands, "the sideband is attached before the answer is returned"
            started = await peer.wait_for("session.started")
            assert "format" not in started["session"]["audio"]  # WebRTC negotiates it
            transport.simulator.expect_user_audio("who am i")
            peer.microphone.say("who am i")
            heard = await peer.wait_for("session.input_transcript.delta")
            assert heard["delta"] == "who am i"
            await peer.wait_for(lambda event: "C-7" in "".join(seen["delta"] for seen in peer.events if seen["type"] == "session.output_transcript.delta"))
            await peer.wait_heard(500)
            assert not [event for event in peer.events if event["type"] == "session.output_audio.delta"]  # the audio came on the track
            hung = await http.post(f"/calls/{call_id}/hangup")
            assert hung.status_code == 200 and hung.json() == {"call_id": call_id, "ended": True}
            assert transport.simulator.calls.get(call_id) is None
            await peer.close()
        [folder] = (tmp_path / "sessions").iterdir()
        sent = [line["event"] for line in events_of(folder) if line.get("dir") == "out"]
        assert "session.start" not in [event["type"] for event in sent]
        outputs = [event["item"] for event in sent if event["type"] == "response.item.create"]
        assert [json.loads(item["output"])["customer"] for item in outputs if item["type"] == "function_call_output"] == ["C-7"]
        assert sent[-1]["type"] == "session.close"
        report = json.loads((folder / "report.json").read_text())
        assert report["end_reason"] == "hung up by the caller", report
        assert [call["name"] for call in report["tool_calls"]] == ["whoami"]
        entries = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
        assert [entry["text"] for entry in entries if entry["kind"] == "user"] == ["who am i"]
        assert any(entry["kind"] == "assistant" and entry["text"].startswith("You are C-7") for entry in entries), [(e["kind"], e.get("text")) for e in entries]

    run(body)


def test_a_live_target_refuses_client_secrets_and_bad_offers_start_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving_live(tmp_path) as (http, transport):
            token = await http.post("/token", params={"customer": "C-7"})
            assert (token.status_code, token.json()) == (400, {"error": "GPT-Live has no client secrets: POST the browser's offer to /calls, and the server dials with its key"})
            refused = await http.post("/calls", content="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
                                      headers={"Content-Type": "application/sdp"}, params={"customer": "C-7"})
            assert refused.status_code == 400, refused.text
            assert transport.simulator.calls.active == {}

    run(body)
