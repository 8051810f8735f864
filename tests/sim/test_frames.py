"""The simulator's frame writer keeps websockets' flow control: a client slower than the sender holds it back."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from runner.sim.frames import send_text

FRAME = "x" * 65536
FRAMES = 400  # 26 MB: far past what the socket and the transport's high-water mark hold
WRITE_LIMIT = 65536


def test_frames_arrive_in_order_and_a_client_slower_than_the_sender_holds_it_back() -> None:
    async def scenario() -> tuple[list[int], int]:
        buffered: list[int] = []

        async def handler(ws: ServerConnection) -> None:
            for index in range(FRAMES):
                await send_text(ws, f"{index:04d}{FRAME}")
                buffered.append(ws.transport.get_write_buffer_size())
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, compression=None, write_limit=WRITE_LIMIT) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None, max_queue=1) as client:
                received = [int((await client.recv())[:4]) for _ in range(FRAMES)]
        return received, max(buffered)

    received, most_buffered = asyncio.run(scenario())
    assert received == list(range(FRAMES))
    # written straight through without flow control, the frames would pile up in the
    # transport's buffer (26 MB); held back, it never holds more than its limit and a frame
    assert most_buffered <= WRITE_LIMIT + len(FRAME) + 16
