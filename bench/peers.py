"""The clients the session benchmarks time: a bare websocket floor, runner, openai-agents, pipecat.

Each peer is `async with peer(ws_url) as talk:` one text conversation over the simulator
(bench/sim_process.py), where `await talk(text)` sends one typed user turn and returns
once the agent's final spoken reply of that turn is done.  All of them run the same
two-agent project: triage and billing, each with the no-op tool `noop` and a handoff to
the other.  A peer is built once per process (config loaded, agents defined) and opens
as many conversations as asked; `await close_peer(peer)` releases what it keeps between
them (runner's host).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncContextManager, AsyncIterator, Awaitable, Callable

from sim_process import AGENTS, MODEL, instructions

Talk = Callable[[str], Awaitable[None]]
Peer = Callable[[str], AsyncContextManager[Talk]]
REPLY_TIMEOUT = 30.0
API_KEY = "sk-sim"

CONFIG = f"""\
version: 1
name: bench
model: {MODEL}
start: {AGENTS[0]}
session:
  output_modality: text
agents:
  {AGENTS[0]}:
    description: Sorts out what the caller needs.
    instructions: {instructions(AGENTS[0])}
    tools: [noop]
    handoffs: [{AGENTS[1]}]
  {AGENTS[1]}:
    description: Answers billing questions.
    instructions: {instructions(AGENTS[1])}
    tools: [noop]
    handoffs: [{AGENTS[0]}]
tools:
  noop:
    description: Does nothing.
    parameters: {{type: object, properties: {{}}, additionalProperties: false}}
    python: bench_tools:noop
"""


def noop() -> str:
    """Does nothing."""
    return "ok"


def write_project(folder: Path, *, async_tool: bool = False) -> Path:
    """The runner project on disk: agents.yaml and its tool module.

    runner runs a plain `def` tool on a worker thread, so that a tool that blocks (a
    database, a `requests` call) cannot stop every other conversation in the process; an
    `async def` tool runs on the event loop.  openai-agents calls a sync tool inline on the
    loop and pipecat's handlers are coroutines, so `runner-async` is the like-for-like row
    and `runner` shows what the thread hop costs."""
    (folder / "agents.yaml").write_text(CONFIG, encoding="utf-8")
    keyword = "async def" if async_tool else "def"
    (folder / "bench_tools.py").write_text(f'{keyword} noop() -> str:\n    return "ok"\n', encoding="utf-8")
    return folder / "agents.yaml"


# --- runner: the one adapter to switch to runner's embedding API -------------------------


def load_runner_project(config_path: Path) -> Any:
    """Load and validate the project once per process (tool modules imported once)."""
    import runner

    try:
        return runner.load_project(config_path)
    except runner.ProjectError as error:
        raise SystemExit(f"bench config is invalid: {error}") from None


class RunnerPeer:
    """Runner conversations through the public embedding API: one Host for every conversation
    the client process holds, opened with the first and kept until `aclose`, as a server
    embedding runner keeps its host (its transport's `AsyncOpenAI` is built once, not once
    per burst of conversations)."""

    def __init__(self, project: Any, session_dir: Path) -> None:
        self.project = project
        self.session_dir = session_dir
        self._host: Any = None
        self._lock = asyncio.Lock()

    async def _acquire(self, base_url: str) -> Any:
        import runner

        async with self._lock:
            if self._host is None:
                host = runner.Host(self.project, transport=runner.OpenAITransport(api_key=API_KEY, base_url=base_url), max_conversations=100_000)
                await host.__aenter__()
                self._host = host
            return self._host

    async def aclose(self) -> None:
        """Close the host (once every conversation is over)."""
        if self._host is not None:
            host, self._host = self._host, None
            await host.__aexit__(None, None, None)

    @asynccontextmanager
    async def __call__(self, ws_url: str) -> AsyncIterator[Talk]:
        host = await self._acquire(ws_url.replace("ws://", "http://").removesuffix("/realtime"))
        # records=False: this client waits with wait_idle and never reads records(), as a server would not
        async with host.open(session_dir=self.session_dir, text=True, records=False) as conversation:

            async def talk(text: str) -> None:
                await conversation.send_text(text)
                if not await conversation.wait_idle(timeout=REPLY_TIMEOUT):
                    raise TimeoutError(f"runner: no reply to {text!r} within {REPLY_TIMEOUT} s")

            yield talk


def runner_peer(folder: Path) -> Peer:
    return RunnerPeer(load_runner_project(write_project(folder)), folder / "sessions")


def runner_async_peer(folder: Path) -> Peer:
    return RunnerPeer(load_runner_project(write_project(folder, async_tool=True)), folder / "sessions")


# --- the floor ---------------------------------------------------------------------------


def session_tools(agent: str) -> list[dict[str, Any]]:
    other = AGENTS[1 - AGENTS.index(agent)]
    return [{"type": "function", "name": name, "description": name, "parameters": {"type": "object", "properties": {}}} for name in ("noop", f"transfer_to_{other}")]


@asynccontextmanager
async def bare_conversation(ws_url: str) -> AsyncIterator[Talk]:
    """A raw websockets client with no tool and no logic, answering at once: the simulator's and the socket's share."""
    import websockets

    async with websockets.connect(f"{ws_url}?model={MODEL}", additional_headers={"Authorization": f"Bearer {API_KEY}"}, compression=None) as ws:
        agent = AGENTS[0]

        async def update() -> None:
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], "instructions": instructions(agent), "tools": session_tools(agent)}}))

        await update()

        async def talk(text: str) -> None:
            nonlocal agent
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))
            await ws.send(json.dumps({"type": "response.create"}))
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
                if event["type"] == "response.function_call_arguments.done":
                    if event["name"] != "noop":
                        agent = event["name"].removeprefix("transfer_to_")
                        await update()
                    await ws.send(json.dumps({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": event["call_id"], "output": "ok"}}))
                elif event["type"] == "response.done":
                    output = event["response"]["output"]
                    if output and output[0]["type"] == "message":
                        return
                    await ws.send(json.dumps({"type": "response.create"}))

        yield talk


def bare_peer(folder: Path) -> Peer:
    return bare_conversation


# --- openai-agents -----------------------------------------------------------------------


def openai_agents_peer(folder: Path) -> Peer:
    from agents import function_tool
    from agents.realtime import RealtimeAgent, RealtimeRunner

    tool = function_tool(noop)
    triage = RealtimeAgent(name=AGENTS[0], instructions=instructions(AGENTS[0]), tools=[tool])
    billing = RealtimeAgent(name=AGENTS[1], instructions=instructions(AGENTS[1]), tools=[tool], handoffs=[triage])
    triage.handoffs = [billing]

    @asynccontextmanager
    async def conversation(ws_url: str) -> AsyncIterator[Talk]:
        runner = RealtimeRunner(triage, config={"model_settings": {"output_modalities": ["text"]}})  # one per session: it owns its model's connection
        session = await runner.run(model_config={"api_key": API_KEY, "url": f"{ws_url}?model={MODEL}"})
        async with session:
            replies: asyncio.Queue[None] = asyncio.Queue()

            async def listen() -> None:
                async for event in session:
                    if event.type == "raw_model_event" and event.data.type == "raw_server_event" and event.data.data.get("type") == "response.done":
                        output = event.data.data["response"].get("output") or []
                        if output and output[0].get("type") == "message":
                            replies.put_nowait(None)

            listener = asyncio.create_task(listen())

            async def talk(text: str) -> None:
                await session.send_message(text)
                await asyncio.wait_for(replies.get(), REPLY_TIMEOUT)

            try:
                yield talk
            finally:
                listener.cancel()

    return conversation


def pipecat_peer(folder: Path) -> Peer:
    from pipecat_peer import pipecat_peer as build  # its own module: it is the longest, and needs the pipecat extra

    return build(folder)


async def close_peer(peer: Peer) -> None:
    """Release what a peer keeps between its conversations (only runner keeps something: its host)."""
    closing = getattr(peer, "aclose", None)
    if closing is not None:
        await closing()


PEERS: dict[str, Callable[[Path], Peer]] = {"bare": bare_peer, "runner": runner_peer, "runner-async": runner_async_peer, "openai-agents": openai_agents_peer, "pipecat": pipecat_peer}
