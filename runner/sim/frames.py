"""Sending one server event as one WebSocket text frame, as cheaply as the connection allows.

The simulator sends every event in a frame of its own, written to the socket at once, as
the service does, so a client is timed against each event as it is produced.  Through
`ServerConnection.send` each frame also paid websockets' per-call machinery (an async
context manager, its checks, a drain): in the concurrency benchmark (about 30 frames a
turn) the simulator spent 5.9 and 4.8 ms of CPU a turn with it, 5.0 and 4.5 without,
and with 200 conversations it was the simulator, not the client being timed, that fell
behind.  When the connection is open and not under flow control, the frame is written
directly; otherwise (closing, the client reading slowly, a fragmented send) the library's
own `send` handles it, as does any other sink a simulated session speaks to (a call's
`Listeners`).
"""

from __future__ import annotations

from typing import Any

from websockets.asyncio.connection import Connection
from websockets.protocol import State


async def send_text(ws: Any, text: str) -> None:
    """Send `text` as one frame: written now when the socket can take it, else by `ws.send`."""
    if isinstance(ws, Connection) and ws.protocol.state is State.OPEN and not ws.paused and ws.fragmented_send_waiter is None and not ws.transport.is_closing():
        ws.protocol.send_text(text.encode())
        ws.send_data()
        return
    await ws.send(text)
