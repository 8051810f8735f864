"""Servers that misbehave at the connection level: the runner ends with a reason and a
report instead of hanging or reconnecting forever.

Each fault is a small GA WebSocket server on 127.0.0.1 written here; the in-process
tests shorten the setup deadline and the reconnect delays through `RunOptions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest
import websockets

from runner.config import load
from runner.config.model import Config
from runner.host.conversation import LiveSession, RunOptions, open_session
from tests.threaded_websocket import serving

CONFIG = """\
version: 1
name: tiny
model: gpt-realtime-2.1
start: solo
tools:
  lookup:
    description: Look something up.
    parameters: {type: object, properties: {}}
    python: tools_here:lookup
agents:
  solo:
    description: The only agent.
    instructions: Answer briefly.
    tools: [lookup]
"""
TOOLS = """\
def lookup():
    return {"found": True}
"""
QUICK_RECONNECTS = (0.01, 0.01, 0.01)
Handler = Callable[[Any], Awaitable[None]]


def _project(folder: Path) -> Config:
    (folder / "agents.yaml").write_text(CONFIG, encoding="utf-8")
    (folder / "tools_here.py").write_text(TOOLS, encoding="utf-8")
    config = load(folder / "agents.yaml").config
    assert config is not None
    return config


def _created(ws: Any) -> Awaitable[None]:
    return ws.send(json.dumps({"type": "session.created", "event_id": "evt_1", "session": {"type": "realtime", "model": "gpt-realtime-2.1"}}))


def _session_folder(parent: Path) -> Path:
    folders = list(parent.iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def _report(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


async def _silent(ws: Any) -> None:
    """Accepts the socket and never says a word (but lets it close)."""
    await ws.wait_closed()


async def _talk_to(handler: Handler, config: Config, folder: Path, **options: Any) -> LiveSession:
    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        run = RunOptions(text=True, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", session_dir=folder / "sessions", **options)
        async with open_session(config, run) as live:
            await live.driver.wait_ended()
    return live


@pytest.mark.parametrize("how", ["close 1011", "drop tcp"])
def test_a_server_that_keeps_closing_after_session_created_ends_after_one_outage_budget(tmp_path: Path, how: str) -> None:
    config = _project(tmp_path)
    connections = 0

    async def created_then_gone(ws: Any) -> None:
        nonlocal connections
        connections += 1
        await _created(ws)
        if how == "close 1011":
            await ws.close(1011, "internal error")
        else:
            ws.transport.abort()

    live = asyncio.run(asyncio.wait_for(_talk_to(created_then_gone, config, tmp_path, reconnect_delays=QUICK_RECONNECTS), 30))
    why = "the server closed the connection (code 1011: internal error)" if how == "close 1011" else "the connection dropped without a close frame"
    assert live.outcome.reason == "connection lost"
    assert live.outcome.fatal_error == f"the server keeps closing the connection right after session.created ({why})"
    assert (connections, live.outcome.reconnects) == (4, 3)
    report = _report(live.folder)
    assert (report["end_reason"], report["fatal_error"], report["reconnects"]) == ("connection lost", live.outcome.fatal_error, 3)


def test_a_silent_server_ends_the_setup_at_its_deadline(tmp_path: Path) -> None:
    config = _project(tmp_path)

    live = asyncio.run(asyncio.wait_for(_talk_to(_silent, config, tmp_path, setup_timeout=0.5), 30))
    assert live.outcome.reason == "setup timed out"
    assert live.outcome.fatal_error == "the server did not confirm the session within 0.5 s (no session.updated)"
    assert _report(live.folder)["end_reason"] == "setup timed out"


async def _configures_then_calls_for_a_ghost_response(ws: Any) -> None:
    """Answers each response.create with a function call for a response it never created, then a reply."""
    async for message in ws:
        event = json.loads(message)
        if event["type"] == "session.update":
            await ws.send(json.dumps({"type": "session.updated", "event_id": "evt_u", "session": event["session"]}))
        elif event["type"] == "response.create":
            frames: list[dict[str, Any]] = [
                {"type": "response.function_call_arguments.done", "event_id": "evt_g", "response_id": "resp_ghost", "item_id": "item_g",
                 "output_index": 0, "call_id": "call_ghost", "name": "lookup", "arguments": "{}"},
                {"type": "response.created", "event_id": "evt_c", "response": {"id": "resp_1", "object": "realtime.response", "status": "in_progress", "output": []}},
                {"type": "response.output_text.delta", "event_id": "evt_d", "response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0, "delta": "Hi."},
                {"type": "response.output_text.done", "event_id": "evt_t", "response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0, "text": "Hi."},
                {"type": "response.done", "event_id": "evt_e", "response": {"id": "resp_1", "object": "realtime.response", "status": "completed", "output": []}},
            ]
            for frame in frames:
                await ws.send(json.dumps(frame))


def test_a_function_call_for_a_response_never_created_does_not_wedge_the_session(tmp_path: Path) -> None:
    config = _project(tmp_path)

    async def talk() -> tuple[LiveSession, bool]:
        async with websockets.serve(_configures_then_calls_for_a_ghost_response, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            options = RunOptions(text=True, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", session_dir=tmp_path / "sessions")
            async with open_session(config, options) as live:
                await live.driver.say("hello")
                idle = await live.driver.wait_idle(timeout=10)
        return live, idle

    live, idle = asyncio.run(asyncio.wait_for(talk(), 60))
    assert idle is True
    entries = [json.loads(line) for line in (live.folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    outputs = [e for e in entries if e["dir"] == "out" and e["event"].get("item", {}).get("type") == "function_call_output"]
    assert outputs == []
    notices = [json.loads(line) for line in (live.folder / "transcript.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"kind": "notice", "message": "function call 'call_ghost' (lookup) for response 'resp_ghost', which is not in progress, ignored"} in [
        {key: value for key, value in entry.items() if key != "t"} for entry in notices
    ]
    assert _report(live.folder)["tool_calls"] == []


# -- the CLI, as a subprocess ---------------------------------------------------------


@contextlib.contextmanager
def _serving(handler: Handler) -> Iterator[tuple[int, threading.Event]]:
    """A fault server on its own thread (the runner under test is another process);
    yields its port and an event set once the runner's session.update arrived."""
    asked = threading.Event()

    async def noticing(ws: Any) -> None:
        async def note() -> None:
            async for message in ws:
                if json.loads(message).get("type") == "session.update":
                    asked.set()
        watcher = asyncio.ensure_future(note())
        try:
            await handler(ws)
        finally:
            watcher.cancel()

    with serving(noticing) as port:
        yield port, asked


def _cli_project(tmp_path: Path) -> Path:
    _project(tmp_path)
    return tmp_path


def test_ctrl_d_during_setup_ends_the_session_with_a_report(tmp_path: Path, e2e: Any) -> None:
    """Standard input closed with nothing typed while the server has not confirmed the session."""
    project = _cli_project(tmp_path)
    with _serving(_silent) as (port, _):
        done = subprocess.run(
            [*e2e.RUNNER, "run", "agents.yaml", "--text", "--base-url", f"http://127.0.0.1:{port}/v1"],
            cwd=project, input="", capture_output=True, text=True, timeout=8, env=e2e.runner_env(OPENAI_API_KEY=e2e.FAKE_API_KEY),
        )
    folder = e2e.session_folder(project)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == f"runner: session ended (stopped during setup); artifacts in {folder}"
    assert _report(folder)["end_reason"] == "stopped during setup"


def test_ctrl_c_during_setup_is_honoured_the_first_time(tmp_path: Path, e2e: Any) -> None:
    project = _cli_project(tmp_path)
    with _serving(_silent) as (port, asked):
        process = subprocess.Popen(
            [*e2e.RUNNER, "run", "agents.yaml", "--text", "--base-url", f"http://127.0.0.1:{port}/v1"],
            cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=e2e.runner_env(OPENAI_API_KEY=e2e.FAKE_API_KEY),
        )
        try:
            assert asked.wait(30), "the runner never sent session.update"
            process.send_signal(signal.SIGINT)
            process.wait(timeout=8)
            stderr = process.stderr.read() if process.stderr else ""
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert _report(e2e.session_folder(project))["end_reason"] == "stopped during setup"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_names_the_url_and_still_writes_the_report(tmp_path: Path, e2e: Any) -> None:
    project = _cli_project(tmp_path)
    port = _closed_port()
    done = e2e.run_runner(project, ["run", "agents.yaml", "--text", "--base-url", f"http://127.0.0.1:{port}/v1"], "hello\n", OPENAI_API_KEY=e2e.FAKE_API_KEY)
    message = f"cannot connect to ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime-2.1: [Errno 111] Connect call failed ('127.0.0.1', {port})"
    assert (done.returncode, done.stderr) == (1, f"runner: {message}\n")
    report = _report(done.session)
    assert (report["end_reason"], report["fatal_error"]) == ("cannot connect", message)


def test_an_unresolvable_host_names_the_url_and_still_writes_the_report(tmp_path: Path, e2e: Any) -> None:
    project = _cli_project(tmp_path)
    done = e2e.run_runner(project, ["run", "agents.yaml", "--text"], "hello\n", OPENAI_API_KEY=e2e.FAKE_API_KEY, OPENAI_BASE_URL="https://nonexistent.invalid/v1")
    prefix = "runner: cannot connect to wss://nonexistent.invalid/v1/realtime?model=gpt-realtime-2.1: [Errno "
    assert done.returncode == 1 and done.stderr.startswith(prefix) and done.stderr.count("\n") == 1, done.stderr
    report = _report(done.session)
    assert (report["end_reason"], report["fatal_error"]) == ("cannot connect", done.stderr[len("runner: "):-1])


def test_voice_without_a_key_reports_the_key_before_the_audio_device(tmp_path: Path, e2e: Any) -> None:
    project = _cli_project(tmp_path)
    no_sound = {"PULSE_SERVER": f"unix:{tmp_path}/no-daemon", "OPENAI_API_KEY": None}
    done = e2e.run_runner(project, ["run", "agents.yaml"], "", **no_sound)
    assert (done.returncode, done.stderr) == (
        1, "runner: OPENAI_API_KEY is not set: export it to talk to the Realtime API, or use --offline for the built-in simulator.\n"
    )
    assert done.session is None

