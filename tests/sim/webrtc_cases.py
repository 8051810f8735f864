"""The simulator as a WebRTC peer (run by tests/sim/test_webrtc.py in a loopback-only namespace)."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from runner.sim import Simulator
from tests.netns import require_loopback_only
from tests.webrtc_peer import BrowserPeer

require_loopback_only()
KEY = "sk-test"


def run(body, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(body(), timeout))


async def start_call(sim: Simulator, peer: BrowserPeer, session: dict | None = None) -> str:
    client = AsyncOpenAI(api_key=KEY, base_url=sim.http_base_url, max_retries=0)
    raw = await client.realtime.calls.with_raw_response.create(sdp=await peer.offer(), session=session or {"type": "realtime"})
    assert raw.status_code == 201
    await peer.accept(raw.http_response.text)
    return raw.headers["location"].rsplit("/", 1)[-1]


def test_speech_in_reply_audio_and_events_out_and_a_sideband_on_the_same_session() -> None:
    async def body() -> None:
        async with Simulator("techcorp") as sim:
            peer = BrowserPeer()
            call_id = await start_call(sim, peer)
            await peer.wait_for("session.created")
            client = AsyncOpenAI(api_key=KEY, base_url=sim.http_base_url, websocket_base_url=sim.ws_base_url, max_retries=0)
            async with client.realtime.connect(call_id=call_id) as sideband:
                assert (await sideband.recv()).type == "session.created"
                await sideband.send_raw(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}}))
                while (await sideband.recv()).type != "session.updated":
                    pass
                await peer.wait_for("session.updated")
                sim.expect_user_audio("hello there")
                peer.microphone.say("hello there")
                await peer.wait_for("input_audio_buffer.speech_started")
                committed = await peer.wait_for("input_audio_buffer.committed")
                await peer.wait_for("output_audio_buffer.started")
                await peer.wait_for("response.done")
                await peer.wait_for("output_audio_buffer.stopped")
                await peer.wait_heard(300)
                assert not [event for event in peer.events if event["type"] == "response.output_audio.delta"]
                call = sim.calls.get(call_id)
                assert call.session.heard[committed["item_id"]] == "hello there"
                assert call.session.received[0]["session"]["instructions"] == "Be brief."

                await sideband.send_raw(json.dumps({"type": "response.create", "bogus": 1}))
                refused = await peer.wait_for("error")
                assert refused["error"]["code"] == "unknown_parameter" and refused["error"]["param"] == "bogus"
                peer.send({"type": "input_audio_buffer.clear", "extra": True})
                await peer.wait_for(lambda event: event["type"] == "error" and event["error"]["param"] == "extra")

                await client.realtime.calls.hangup(call_id)
                with pytest.raises(Exception):
                    while True:
                        await sideband.recv()
            assert sim.calls.get(call_id) is None
            with pytest.raises(openai.NotFoundError, match="not found"):
                await client.realtime.calls.hangup(call_id)
            await peer.close()

    run(body)


def test_bad_offers_and_unknown_calls_get_clear_errors() -> None:
    async def body() -> None:
        async with Simulator() as sim:
            client = AsyncOpenAI(api_key=KEY, base_url=sim.http_base_url, websocket_base_url=sim.ws_base_url, max_retries=0)
            with pytest.raises(openai.BadRequestError, match="must start with 'v=0'"):
                await client.realtime.calls.create(sdp="hello", session={"type": "realtime"})
            silent = BrowserPeer(audio=False)
            with pytest.raises(openai.BadRequestError, match=r"has no audio: add an audio track"):
                await client.realtime.calls.create(sdp=await silent.offer(), session={"type": "realtime"})
            await silent.close()
            peer = BrowserPeer()
            with pytest.raises(openai.BadRequestError, match="Unknown parameter: 'session.voices'"):
                await client.realtime.calls.create(sdp=await peer.offer(), session={"type": "realtime", "voices": "x"})
            await peer.close()
            with pytest.raises(openai.NotFoundError, match="Call with id 'rtc_nope' not found"):
                await client.realtime.calls.hangup("rtc_nope")
            async with httpx.AsyncClient(base_url=sim.http_base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
                missing = await http.post("/realtime/calls/rtc_nope/refer", json={})
                assert missing.status_code == 400 and missing.json()["error"]["message"] == "Missing required parameter: 'target_uri'."
                unknown = await http.post("/realtime/calls/rtc_nope/hangup", json={"force": True})
                assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "force"
            with pytest.raises(openai.NotFoundError):
                await client.realtime.calls.reject("rtc_nope", status_code=486)
            with pytest.raises(Exception, match="404"):
                async with client.realtime.connect(call_id="rtc_nope") as sideband:
                    await sideband.recv()
            assert sim.calls.active == {}

    run(body)


def test_a_caller_whose_media_stops_is_hung_up() -> None:
    async def body() -> None:
        async with Simulator(media_timeout=1.0) as sim:
            peer = BrowserPeer()
            call_id = await start_call(sim, peer)
            await peer.wait_for("session.created")
            call = sim.calls.get(call_id)
            await peer.pc.close()  # no goodbye on the wire that the test relies on: the media just stops
            await asyncio.wait_for(call.ended.wait(), 10)
            assert sim.calls.get(call_id) is None

    run(body)


def test_barge_in_cuts_the_playing_reply_and_the_service_truncates_it_at_what_was_heard() -> None:
    async def body() -> None:
        async with Simulator() as sim:
            long_reply = " ".join(["This reply goes on for a good long while."] * 6)  # about 20 s of speech
            sim.script([{"say": long_reply}])
            peer = BrowserPeer()
            call_id = await start_call(sim, peer)
            await peer.wait_for("session.created")
            peer.microphone.say("tell me everything")
            started = await peer.wait_for("output_audio_buffer.started")
            await peer.wait_heard(1000)
            peer.microphone.say("stop", lead_ms=0)
            cleared = await peer.wait_for("output_audio_buffer.cleared")
            truncated = await peer.wait_for("conversation.item.truncated")
            assert cleared["response_id"] == started["response_id"]
            call = sim.calls.get(call_id)
            item = next(item for item in call.session.items if item["id"] == truncated["item_id"])
            assert 1000 <= truncated["audio_end_ms"] < 10000
            assert len(item["content"][0]["transcript"]) < len(long_reply)
            kinds = [event["type"] for event in peer.events]
            assert "output_audio_buffer.stopped" not in kinds[: kinds.index("output_audio_buffer.cleared")]
            await peer.close()

    run(body)
