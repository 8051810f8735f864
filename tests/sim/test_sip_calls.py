"""The simulator's phone side: webhooks the SDK verifies, and the SIP verbs of the calls API through the SDK."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from runner.sim import Simulator
from runner.sim.sip_calls import ring
from runner.sim.webhooks import WebhookSender, incoming_call_event, new_secret, signed_headers
from tests.served import on_uvicorn


def test_the_sdk_verifies_what_the_simulator_signs() -> None:
    secret, other = new_secret(), new_secret()
    event = incoming_call_event("rtc_1", [("To", "<sip:+15550100@sip.api.openai.com>")])
    body = json.dumps(event).encode()
    client = OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    headers = signed_headers([secret], "wh_1", int(time.time()), body)
    parsed = client.webhooks.unwrap(body, headers, secret=secret)
    assert parsed.type == "realtime.call.incoming" and parsed.data.call_id == "rtc_1" and parsed.data.sip_headers[0].name == "To"
    rotated = signed_headers([other, secret], "wh_1", int(time.time()), body)
    client.webhooks.verify_signature(body, rotated, secret=secret)
    client.webhooks.verify_signature(body, signed_headers(["plain-secret"], "wh_2", int(time.time()), body), secret="plain-secret")
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(body, headers, secret=other)
    with pytest.raises(openai.InvalidWebhookSignatureError, match="too old"):
        client.webhooks.verify_signature(body, signed_headers([secret], "wh_3", int(time.time()) - 400, body), secret=secret)


def test_the_sip_verbs_are_checked_like_the_service() -> None:
    async def body() -> None:
        async with Simulator() as sim:
            client = AsyncOpenAI(api_key="sk-test", base_url=sim.http_base_url, websocket_base_url=sim.ws_base_url, max_retries=0)
            sender = WebhookSender("http://127.0.0.1:9/unused", new_secret())
            call = await ring(sim, sender, deliver=False)
            with pytest.raises(openai.NotFoundError):
                await client.realtime.calls.accept("rtc_nobody", type="realtime")
            with pytest.raises(openai.BadRequestError, match="not supported for SIP calls"):
                await client.realtime.calls.accept(call.id, type="realtime", audio={"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}})
            with pytest.raises(openai.BadRequestError, match="Unknown parameter"):
                await client.realtime.calls.accept(call.id, type="realtime", extra_body={"voice": "marin"})
            with pytest.raises(openai.BadRequestError, match="not answered"):
                await client.realtime.calls.refer(call.id, target_uri="tel:+15551234567")
            await client.realtime.calls.accept(call.id, type="realtime", instructions="Hello.")
            assert call.state == "accepted" and call.accepted_session == {"type": "realtime", "instructions": "Hello."}
            with pytest.raises(openai.BadRequestError, match="not ringing"):
                await client.realtime.calls.accept(call.id, type="realtime")
            with pytest.raises(openai.BadRequestError, match="already answered"):
                await client.realtime.calls.reject(call.id, status_code=486)
            with pytest.raises(openai.BadRequestError, match="target_uri"):
                await client.realtime.calls.refer(call.id, target_uri="+15551234567")
            await client.realtime.calls.refer(call.id, target_uri="tel:+15551234567")
            assert (call.state, call.referred_to) == ("referred", "tel:+15551234567")
            with pytest.raises(openai.NotFoundError):
                await client.realtime.calls.hangup(call.id)
            second = await ring(sim, sender, deliver=False)
            await client.realtime.calls.reject(second.id, status_code=486)
            assert (second.state, second.rejected_with) == ("rejected", 486)
            await client.close()

    asyncio.run(asyncio.wait_for(body(), 30))


def test_ring_delivers_a_signed_webhook_to_the_url() -> None:
    async def body() -> None:
        received: list[tuple[dict[str, str], bytes]] = []

        async def app(scope, receive, send) -> None:  # a one-route ASGI endpoint that records deliveries
            message = await receive()
            received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, message.get("body", b"")))
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        secret = new_secret()
        async with on_uvicorn(app, lifespan="off") as url, Simulator() as sim:
            call = await ring(sim, WebhookSender(f"{url}/openai/webhook", secret), to="+15550100", caller="+15550199")
        headers, payload = received[0]
        event = OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1").webhooks.unwrap(payload, headers, secret=secret)
        assert event.data.call_id == call.id
        assert [(header.name, header.value) for header in event.data.sip_headers][1] == ("To", "<sip:+15550100@sip.api.openai.com>")

    asyncio.run(asyncio.wait_for(body(), 30))
