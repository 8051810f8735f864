"""One example call on the offline simulator with post-call analysis, and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import runner
from runner.sim.rest import Fault

REPO = Path(__file__).resolve().parents[2]
SECRET = "hook-secret-4f1a"
CALLER = ["Hi, I'm Alex, my phone is (555) 123-4567", "my wifi keeps disconnecting"]
ANALYSIS = """
analysis:
  summary: Say why the caller called and how it ended.
  structured_data:
    instructions: The caller's details.
    schema:
      type: object
      properties:
        caller_name: {type: string}
        phone: {type: string}
        team: {type: string, enum: [billing, support, sales]}
      required: [caller_name, phone, team]
      additionalProperties: false
  success: {type: category, categories: [resolved, escalated, abandoned], instructions: How did the call end?}
  webhook: {url: "${HOOK_URL}/calls", secret_env: HOOK_SECRET, attempts: %d, timeout: 5}
"""


@dataclass
class Hook:
    """A webhook receiver: answers each POST with the next status (the last one repeats)."""

    statuses: list[int]
    hold: asyncio.Event = field(default_factory=asyncio.Event)  # cleared: the answer waits for it
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    times: list[float] = field(default_factory=list)  # loop time each request arrived
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:] if line)}
        body = await reader.readexactly(int(headers["content-length"]))
        self.requests.append((headers | {"request-line": head[0]}, body))
        self.times.append(asyncio.get_running_loop().time())
        self.arrived.set()
        await self.hold.wait()
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


def write_project(tmp_path: Path, attempts: int, port: int) -> runner.Project:
    shutil.copytree(REPO / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "agents.yaml").write_text((REPO / "agents.yaml").read_text(encoding="utf-8") + ANALYSIS % attempts, encoding="utf-8")
    environ = {"HOOK_URL": f"http://127.0.0.1:{port}/hooks", "HOOK_SECRET": SECRET}
    return runner.load_project(tmp_path / "agents.yaml", environ=environ)


def call(
    tmp_path: Path, hook: Hook, *, attempts: int = 1, fault: Fault | None = None, hold: bool = False, grace: float | None = None
) -> tuple[Any, runner.Host, list[Any]]:
    """One example call, closed, its analysis finished; with the REST requests the simulator saw.

    `hold`: the webhook answers only once the test has seen the call end without it.
    `grace`: the host waits this long for the analysis at close, and the webhook never answers.
    """
    return asyncio.run(_talk(tmp_path, hook, attempts, fault, hold, grace))


async def _talk(tmp_path: Path, hook: Hook, attempts: int, fault: Fault | None, hold: bool, grace: float | None) -> tuple[Any, runner.Host, list[Any]]:
    server = await asyncio.start_server(hook.serve, "127.0.0.1", 0)
    hook.port = server.sockets[0].getsockname()[1]
    if not hold and grace is None:
        hook.hold.set()
    project = write_project(tmp_path, attempts, hook.port)
    host = runner.Host(project, transport=runner.SimulatorTransport())
    if grace is not None:
        host.after_call_grace = grace
    async with server, host:
        rest = host.transport.simulator.rest
        if fault is not None:
            rest.set_fault("responses", fault)
        async with host.open(variables={"company_name": "TechCorp"}, text=True) as conversation:
            await conversation.wait_idle()
            for line in CALLER:
                await conversation.send_text(line)
                await conversation.wait_idle()
        if hold:  # the call has ended while its webhook is still waiting for an answer
            await asyncio.wait_for(hook.arrived.wait(), 30)
            assert conversation.outcome is not None and host.open_count == 0
            assert not conversation.analysis.done()
            report = json.loads((conversation.folder / "report.json").read_text())
            assert report["end_reason"] == "session closed" and report["analysis"]["status"] == "completed"
            hook.hold.set()
    return conversation, host, rest.requests
