"""The fake Twilio keeps a phone line's clock, so a busy test process cannot stretch a call.

The bench runs a hundred fake callers per process; when its event loop fell behind, the
fake's playback slept 20 ms after each late wake-up and drifted, so callers were still
"playing" the answer when they hung up and the bench counted the call as failed. Here a
tiny Media Streams server sends a burst of audio with marks, the caller's loop is
blocked for a while mid-playback, and the line must still end on time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.serve.fake_twilio import FRAME_BYTES, FRAME_MS, FakeTwilioCall, serve_app

FRAMES = 50  # one second of the agent's audio
BLOCKED_S = 0.3


def line_server(sent: asyncio.Event) -> Starlette:
    """Answers the voice webhook with a <Stream>, then sends one second of audio, a mark after each frame."""

    async def voice(request: Request) -> Response:
        host = request.headers["host"]
        return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://{host}/media"/></Connect></Response>',
                        media_type="text/xml")

    async def media(websocket: WebSocket) -> None:
        await websocket.accept()
        stream_sid = ""
        async for text in websocket.iter_text():
            message = json.loads(text)
            if message["event"] == "start":
                stream_sid = message["streamSid"]
                for index in range(FRAMES):
                    payload = base64.b64encode(bytes([index]) * FRAME_BYTES).decode("ascii")
                    await websocket.send_text(json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}))
                    await websocket.send_text(json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": f"m{index}"}}))
                sent.set()

    return Starlette(routes=[Route("/twilio/voice", voice, methods=["POST"]), WebSocketRoute("/media", media)])


def test_a_blocked_event_loop_does_not_stretch_playback() -> None:
    async def body() -> None:
        sent = asyncio.Event()
        async with serve_app(line_server(sent)) as base_url:
            call = FakeTwilioCall(base_url, "token")
            assert await call.dial()
            await asyncio.wait_for(sent.wait(), 10)
            await call.wait_for(lambda: len(call.heard) >= 1)
            first_heard = call.heard[0][0]
            time.sleep(BLOCKED_S)  # the process is busy: the fake's loop wakes up late
            await call.wait_for(lambda: len(call.heard) == FRAMES and len(call.echoes) == FRAMES, timeout=10)
            finished = asyncio.get_running_loop().time()
            await call.hang_up()
        playing = finished - first_heard
        assert playing < (FRAMES - 1) * FRAME_MS / 1000 + BLOCKED_S / 2, f"{FRAMES} frames took {playing:.2f} s to play after the first"
        assert [frame[0] for _, frame in call.heard] == list(range(FRAMES))
        assert [name for name, cleared in call.echoes] == [f"m{index}" for index in range(FRAMES)]
        assert not any(cleared for _, cleared in call.echoes)

    asyncio.run(body())
