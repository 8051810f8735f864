"""SIGTERM during a WebSocket call: the socket is not closed with uvicorn's 1012, the call goes on.

The server is `runner serve`'s own server class in a subprocess, with a WebSocket text
channel added (tests/serve/websocket_server.py), signalled for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import websockets

from tests.host.embedding import write_project

ROOT = Path(__file__).resolve().parents[2]


def run(body: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, drain_timeout: float) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    write_project(tmp_path / "project")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.serve.websocket_server", str(tmp_path / "project"), str(tmp_path / "sessions"), str(drain_timeout),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    try:
        port = int((await process.stdout.readline()).decode().split()[1])
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(200):
                with contextlib.suppress(httpx.ConnectError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield process, port
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def until_draining(port: int) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(200):
            if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 503:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("/readyz never turned 503 after SIGTERM")


async def reply(socket: Any) -> str:
    return json.loads(await asyncio.wait_for(socket.recv(), 20))["text"]


def report_of(tmp_path: Path) -> dict[str, Any]:
    (folder,) = list((tmp_path / "sessions").iterdir())
    return json.loads((folder / "report.json").read_text())


def test_a_websocket_call_survives_sigterm_and_completes(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, drain_timeout=60) as (process, port):
            async with websockets.connect(f"ws://127.0.0.1:{port}/talk") as socket:
                await socket.send("who am i")
                assert (await reply(socket)).startswith("You are W-1")
                process.send_signal(signal.SIGTERM)
                await until_draining(port)
                await socket.send("who am i")
                assert (await reply(socket)).startswith("You are W-1"), "the call goes on during the drain"
                assert process.returncode is None
            code = await asyncio.wait_for(process.wait(), 30)
            assert code == 0, (await process.stderr.read()).decode()
        report = report_of(tmp_path)
        assert report["end_reason"] == "hung up by the caller"
        assert [call["name"] for call in report["tool_calls"]] == ["whoami", "whoami"]

    run(body)


def test_past_the_drain_timeout_the_websocket_call_hears_a_goodbye_and_closes_normally(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, drain_timeout=0.5) as (process, port):
            async with websockets.connect(f"ws://127.0.0.1:{port}/talk") as socket:
                await socket.send("who am i")
                assert (await reply(socket)).startswith("You are W-1")
                process.send_signal(signal.SIGTERM)
                goodbye = await reply(socket)
                assert goodbye
                with contextlib.suppress(websockets.ConnectionClosed):
                    await asyncio.wait_for(socket.recv(), 20)
                assert socket.close_code == 1000, (socket.close_code, socket.close_reason)
            code = await asyncio.wait_for(process.wait(), 30)
            assert code == 0, (await process.stderr.read()).decode()
        assert report_of(tmp_path)["end_reason"] == "the server is shutting down"

    run(body)
