"""`runner serve` end to end with aiortc browsers (run by tests/serve/test_serve.py in a loopback-only namespace)."""

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

from runner.host.project import load_project
from runner.host.transports import OFFLINE_API_KEY, SimulatorTransport
from runner.serve import create_app
from tests.host.embedding import write_project
from tests.netns import require_loopback_only
from tests.served import on_uvicorn
from tests.webrtc_peer import BrowserPeer

require_loopback_only()
ROOT = Path(__file__).resolve().parents[2]


def run(body: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, SimulatorTransport]]:
    """The app on uvicorn in this event loop, over the offline simulator with the project's rules."""
    agents = write_project(tmp_path / "project")
    transport = SimulatorTransport(tmp_path / "project" / "rules.yaml")
    app = create_app(load_project(agents, environ={}), transport, session_dir=tmp_path / "sessions", **options)
    async with on_uvicorn(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        yield http, transport


async def dial(http: httpx.AsyncClient, peer: BrowserPeer, **variables: str) -> str:
    answer = await http.post("/calls", content=await peer.offer(), headers={"Content-Type": "application/sdp"}, params=variables)
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("application/sdp")
    assert OFFLINE_API_KEY not in answer.text and OFFLINE_API_KEY not in str(answer.headers)
    await peer.accept(answer.text)
    return answer.headers["location"].rsplit("/", 1)[-1]


def session_folder(tmp_path: Path) -> Path:
    folders = list((tmp_path / "sessions").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def events_of(folder: Path) -> list[dict[str, Any]]:
    """The events the conversation sent ("out") and received ("in"), in order."""
    return [json.loads(line)["event"] for line in (folder / "events.jsonl").read_text().splitlines()]


def test_a_call_speech_in_a_tool_on_the_server_reply_audio_out_then_hangup(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            peer = BrowserPeer()
            call_id = await dial(http, peer, customer="C-7")
            call = transport.simulator.calls.get(call_id)
            assert call.session.listeners.sidebands, "the sideband is attached before the answer is returned"
            await peer.wait_for("session.created")
            transport.simulator.expect_user_audio("who am i")
            peer.microphone.say("who am i")
            await peer.wait_for("input_audio_buffer.committed")
            done = await peer.wait_for(lambda event: event["type"] == "response.output_audio_transcript.done" and "You are C-7" in event["transcript"])
            await peer.wait_for("output_audio_buffer.stopped")
            await peer.wait_heard(500)
            assert (await http.get("/healthz")).json() == {"calls": 1}
            hung = await http.post(f"/calls/{call_id}/hangup")
            assert hung.status_code == 200 and hung.json() == {"call_id": call_id, "ended": True}
            assert transport.simulator.calls.get(call_id) is None
            assert (await http.post(f"/calls/{call_id}/hangup")).json() == {"error": f"no active call {call_id!r}"}
            await peer.close()
        folder = session_folder(tmp_path)
        outputs = [event for event in events_of(folder) if event.get("type") == "conversation.item.create"]
        assert any(json.loads(event["item"]["output"])["customer"] == "C-7" for event in outputs if event["item"]["type"] == "function_call_output")
        transcript = (folder / "transcript.md").read_text()
        report = json.loads((folder / "report.json").read_text())
        assert report["end_reason"] == "hung up by the caller", report
        assert [call["name"] for call in report["tool_calls"]] == ["whoami"], report["tool_calls"]
        assert done["transcript"] in transcript

    run(body)


def test_concurrent_calls_each_get_their_own_conversation_and_session_folder(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            peers = {customer: BrowserPeer() for customer in ("C-1", "C-2", "C-3")}
            call_ids = dict(zip(peers, await asyncio.gather(*(dial(http, peer, customer=customer) for customer, peer in peers.items()))))
            assert len(set(call_ids.values())) == 3 and (await http.get("/healthz")).json() == {"calls": 3}
            for customer, peer in peers.items():
                await peer.wait_for("session.created")
                peer.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "who am i"}]}})
                peer.send({"type": "response.create"})
            for customer, peer in peers.items():
                await peer.wait_for(lambda event: event["type"] == "response.output_audio_transcript.done" and f"You are {customer}" in event["transcript"])
            await asyncio.gather(*(http.post(f"/calls/{call_id}/hangup") for call_id in call_ids.values()))
            for peer in peers.values():
                await peer.close()
        outputs = {}
        for folder in (tmp_path / "sessions").iterdir():
            report = json.loads((folder / "report.json").read_text())
            assert report["end_reason"] == "hung up by the caller"
            results = [event for event in events_of(folder) if event.get("type") == "conversation.item.create" and event["item"]["type"] == "function_call_output"]
            outputs[folder.name] = [json.loads(event["item"]["output"])["customer"] for event in results]
        assert sorted(outputs.values()) == [["C-1"], ["C-2"], ["C-3"]]

    run(body)


def test_load_five_spoken_calls_at_once_each_a_short_conversation_with_its_own_tool_result(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            customers = [f"C-{index}" for index in range(1, 6)]
            peers = {customer: BrowserPeer() for customer in customers}
            call_ids = dict(zip(customers, await asyncio.gather(*(dial(http, peers[customer], customer=customer) for customer in customers))))
            assert (await http.get("/healthz")).json() == {"calls": 5}

            async def converse(customer: str) -> None:
                peer = peers[customer]
                await peer.wait_for("session.created")
                transport.simulator.expect_user_audio("who am i")
                peer.microphone.say("who am i")
                await peer.wait_for(lambda event: event["type"] == "response.output_audio_transcript.done" and f"You are {customer};" in event["transcript"], timeout=30)
                await peer.wait_for("output_audio_buffer.stopped", timeout=30)
                await peer.wait_heard(500, timeout=30)
                hung = await http.post(f"/calls/{call_ids[customer]}/hangup")
                assert hung.status_code == 200, hung.text
                await peer.close()

            await asyncio.gather(*(converse(customer) for customer in customers))
            assert (await http.get("/healthz")).json() == {"calls": 0}
        answered = []
        for folder in (tmp_path / "sessions").iterdir():
            report = json.loads((folder / "report.json").read_text())
            assert (report["end_reason"], [call["name"] for call in report["tool_calls"]]) == ("hung up by the caller", ["whoami"]), report
            outputs = [event for event in events_of(folder) if event.get("type") == "conversation.item.create" and event["item"]["type"] == "function_call_output"]
            answered += [json.loads(event["item"]["output"])["customer"] for event in outputs]
        assert sorted(answered) == customers

    run(body, timeout=120)


def test_bad_offers_get_clear_errors_and_start_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            junk = await http.post("/calls", content="hello", headers={"Content-Type": "application/sdp"}, params={"customer": "C-1"})
            assert (junk.status_code, junk.json()) == (400, {"error": "the SDP offer is malformed: it must start with 'v=0', not 'hello'"})
            silent = BrowserPeer(audio=False)
            mute = await http.post("/calls", content=await silent.offer(), headers={"Content-Type": "application/sdp"}, params={"customer": "C-1"})
            assert (mute.status_code, mute.json()) == (400, {"error": "the SDP offer has no audio: add a microphone track or an audio transceiver before createOffer"})
            await silent.close()
            peer = BrowserPeer()
            unknown = await http.post("/calls", content=await peer.offer(), headers={"Content-Type": "application/sdp"})
            assert unknown.status_code == 400 and unknown.json()["error"].startswith("bad variables: ") and "customer" in unknown.json()["error"]
            await peer.close()
            wrong_type = await http.post("/calls", json={"sdp": "v=0"})
            assert wrong_type.status_code == 415
            assert transport.simulator.calls.active == {} and not (tmp_path / "sessions").exists()

    run(body)


def test_a_dropped_sideband_reattaches_by_call_id_and_keeps_the_history(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            peer = BrowserPeer()
            call_id = await dial(http, peer, customer="C-9")
            call = transport.simulator.calls.get(call_id)
            await peer.wait_for("session.created")
            transport.simulator.expect_user_audio("who am i")
            peer.microphone.say("who am i")
            await peer.wait_for(lambda event: event["type"] == "response.output_audio_transcript.done" and "You are C-9" in event["transcript"])
            await peer.wait_for("output_audio_buffer.stopped")
            before = [item["id"] for item in call.session.items]
            first = next(iter(call.session.listeners.sidebands))
            await call.drop_sidebands()
            for _ in range(200):
                if call.session.listeners.sidebands and first not in call.session.listeners.sidebands:
                    break
                await asyncio.sleep(0.05)
            assert call.session.listeners.sidebands and first not in call.session.listeners.sidebands, "the sideband re-attached"
            assert [item["id"] for item in call.session.items][: len(before)] == before
            transport.simulator.expect_user_audio("who am i")
            peer.microphone.say("who am i")
            await peer.wait_for(lambda event: event["type"] == "response.done" and event is not peer.events[-1] and sum(
                1 for seen in peer.events if seen["type"] == "response.output_audio_transcript.done" and "You are C-9" in seen["transcript"]) >= 2, timeout=20)
            await http.post(f"/calls/{call_id}/hangup")
            await peer.close()
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert [call["name"] for call in report["tool_calls"]] == ["whoami", "whoami"]
        assert "reconnected: session re-sent" in (session_folder(tmp_path) / "transcript.jsonl").read_text()

    run(body)


def test_a_browser_that_vanishes_mid_reply_is_hung_up_with_complete_artifacts(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            transport.simulator.calls.media_timeout = 1.0
            transport.simulator.expect_user_audio("who am i")
            browser = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.serve.vanishing_browser", str(http.base_url).rstrip("/"), "C-3", stdout=subprocess.PIPE, cwd=ROOT
            )
            call_id = (await browser.stdout.readline()).decode().split()[1]
            call = transport.simulator.calls.get(call_id)
            while (await browser.stdout.readline()).decode().strip() != "output_audio_buffer.started":
                pass
            browser.kill()  # gone mid-reply, without a word on the wire
            await browser.wait()
            await asyncio.wait_for(call.ended.wait(), 15)
            assert call.end_reason == "no media from the caller for 1 s"
            for _ in range(400):
                if (await http.get("/healthz")).json() == {"calls": 0}:
                    break
                await asyncio.sleep(0.05)
            assert (await http.get("/healthz")).json() == {"calls": 0}
            hangups = [seen for seen in transport.simulator.rest.requests if seen.path == f"/v1/realtime/calls/{call_id}/hangup"]
            assert len(hangups) == 1
        folder = session_folder(tmp_path)
        report = json.loads((folder / "report.json").read_text())
        assert (report["end_reason"], report["fatal_error"]) == ("call ended", None), report
        assert [call["name"] for call in report["tool_calls"]] == ["whoami"]
        types = [event["type"] for event in events_of(folder)]
        assert "response.created" in types
        assert (folder / "transcript.md").read_text().strip()


def test_a_call_the_service_ended_is_over_at_the_first_404_not_after_a_reconnect_loop(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, reconnect_delays=(0.25, 5.0, 5.0)) as (http, transport):
            peer = BrowserPeer()
            call_id = await dial(http, peer, customer="C-4")
            await peer.wait_for("session.created")
            started = asyncio.get_running_loop().time()
            await transport.simulator.calls.get(call_id).end("ended by the service")  # its sideband closes; re-attaching gets 404
            for _ in range(200):
                if (await http.get("/healthz")).json() == {"calls": 0}:
                    break
                await asyncio.sleep(0.02)
            assert (await http.get("/healthz")).json() == {"calls": 0}
            assert asyncio.get_running_loop().time() - started < 3, "over at the first 404, not after the whole reconnect budget"
            feed = await http.get(f"/calls/{call_id}/events")  # a page that subscribes late still gets the call, then its end
            assert feed.headers["content-type"].startswith("text/event-stream")
            messages = [block for block in feed.text.split("\n\n") if block.startswith("event: ")]
            entries = [json.loads(block.split("data: ", 1)[1]) for block in messages]
            assert entries[0] == {"kind": "call", "call_id": call_id, "agent": "desk"}
            seen = {(entry["direction"], entry["event"]["type"]) for entry in entries if entry["kind"] == "event"}
            assert {("out", "session.update"), ("in", "session.created"), ("in", "session.updated")} <= seen, seen
            assert messages[-1].startswith("event: end\n") and entries[-1] == {"kind": "end", "reason": "call ended", "error": None}
            assert (await http.get("/calls/rtc_nope/events")).json() == {"error": "no call 'rtc_nope'"}
            await peer.close()
        folder = session_folder(tmp_path)
        report = json.loads((folder / "report.json").read_text())
        assert (report["end_reason"], report["fatal_error"]) == ("call ended", None), report
        assert "reconnect failed" not in (folder / "transcript.jsonl").read_text()
        assert f"the call {call_id} is over (its sideband was refused with 404)" in (folder / "transcript.jsonl").read_text()
        assert (folder / "transcript.md").read_text().strip()

    run(body)


def test_a_call_that_ends_before_its_sideband_attaches_is_refused_as_over(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            transport.simulator.calls.media_timeout = 0.0  # the simulator ends each call the moment it is made
            peer = BrowserPeer()
            answer = await http.post("/calls", content=await peer.offer(), headers={"Content-Type": "application/sdp"}, params={"customer": "C-6"})
            assert answer.status_code in (201, 410), answer.text
            if answer.status_code == 410:
                assert answer.json()["error"].startswith("the call ended before its sideband attached"), answer.json()
            for _ in range(200):
                if (await http.get("/healthz")).json() == {"calls": 0}:
                    break
                await asyncio.sleep(0.02)
            assert (await http.get("/healthz")).json() == {"calls": 0}
            await peer.close()
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert (report["end_reason"], report["fatal_error"]) == ("call ended", None), report

    run(body)


def test_the_token_route_mints_a_short_client_secret_with_the_session_pinned(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, transport):
            minted = await http.post("/token", params={"customer": "C-2"})
            assert minted.status_code == 200, minted.text
            secret = minted.json()
            assert secret["value"].startswith("ek_") and OFFLINE_API_KEY not in minted.text
            assert [tool["name"] for tool in secret["session"]["tools"]] == ["whoami", "slow"]
            assert secret["session"]["instructions"] == "You serve C-2."
            request = [seen for seen in transport.simulator.rest.requests if seen.path == "/v1/realtime/client_secrets"][-1]
            assert request.headers["authorization"] == f"Bearer {OFFLINE_API_KEY}"
            assert minted.headers["cache-control"] == "no-store"

    run(body)


def test_runner_serve_offline_on_the_command_line(tmp_path: Path) -> None:
    async def body() -> None:
        agents = write_project(tmp_path / "project")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "runner", "serve", str(agents), "--offline", "--rules", str(tmp_path / "project" / "rules.yaml"),
            "--port", "0", "--session-dir", str(tmp_path / "sessions"), stderr=subprocess.PIPE, cwd=ROOT,
            env={key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"},
        )
        line = (await process.stderr.readline()).decode()
        assert "serving" in line and "(the offline simulator); open it in a browser" in line, line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert url.endswith("/"), url
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            for _ in range(100):
                try:
                    await http.get("/healthz")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            page = await http.get(url)
            assert page.status_code == 200 and '<button id="connect" type="button" class="primary">Connect</button>' in page.text
            peer = BrowserPeer()
            await dial(http, peer, customer="C-5")
            await peer.wait_for("session.created")
            process.send_signal(signal.SIGINT)  # shutdown hangs the open call up, and writes its report
            code = await asyncio.wait_for(process.wait(), 30)
            assert code == 0, (await process.stderr.read()).decode()
            await peer.close()
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert report["end_reason"] == "the server shut down"

    run(body)
