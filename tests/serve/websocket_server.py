"""A `runner serve` process with one extra channel, a WebSocket text call, for the drain test.

`python -m tests.serve.websocket_server PROJECT_DIR SESSION_DIR DRAIN_TIMEOUT` serves the
project's app on uvicorn through `runner serve`'s own server class (its signal handling
and drain), plus `/talk`: each line the client sends is a user turn, each reply is sent
back as `{"agent": ..., "text": ...}`; the call ends when the client closes.
It prints `port N` once listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from runner.cli.serve import _server_class
from runner.core.records import AssistantMessage
from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from runner.serve.settings import ServeOptions


def main(project: Path, session_dir: Path, drain_timeout: float) -> None:
    app = create_app(load_project(project / "agents.yaml", environ={}), SimulatorTransport(project / "rules.yaml"),
                     session_dir=session_dir, options=ServeOptions(drain_timeout=drain_timeout))
    server = app.state.server

    async def talk(websocket: WebSocket) -> None:
        await websocket.accept()
        async with server.running_host.open(variables={"customer": "W-1"}, text=True, session_dir=session_dir, channel="twilio") as conversation:

            async def replies() -> None:
                async for record in conversation.records():
                    if isinstance(record, AssistantMessage) and record.text:
                        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                            await websocket.send_json({"agent": record.agent, "text": record.text})

            relay = asyncio.get_running_loop().create_task(replies())
            ended = asyncio.ensure_future(conversation.driver.wait_ended())
            while True:
                line = asyncio.ensure_future(websocket.receive_text())
                await asyncio.wait({line, ended}, return_when=asyncio.FIRST_COMPLETED)
                if ended.done():
                    line.cancel()
                    break
                try:
                    await conversation.send_text(line.result())
                except WebSocketDisconnect:
                    conversation.end_reason = "hung up by the caller"
                    conversation.stop_now("hung up by the caller")
                    break
        await relay
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(1000)

    app.router.routes.append(WebSocketRoute("/talk", talk))
    listener = socket.create_server(("127.0.0.1", 0))
    print("port", listener.getsockname()[1], flush=True)
    _server_class(uvicorn)(uvicorn.Config(app, log_level="warning", lifespan="on"), server, drain_timeout).run(sockets=[listener])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
