"""`runner serve --workers 2` for real: two forked workers on one port over one simulator; SIGTERM drains both.

The simulator runs in the test (as `python -m runner.sim` would, with the carrier's side
of SIP calls reachable from here); the server is a real process reached by real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from runner.sim import Simulator
from runner.sim.sip_calls import ring
from runner.sim.webhooks import WebhookSender, new_secret
from tests.serve.test_sip import eventually, run, said, speak, write_project

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = ("OPENAI_API_KEY", "LOG_LEVEL", "RATE_LIMIT_RPM", "RUNNER_DATABASE_URL", "MAX_CONCURRENT_SESSIONS")


class Worker:
    """A `runner serve` process: its stderr lines as they come (JSON event lines parsed), its URL once it serves."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.url = ""
        self._changed = asyncio.Condition()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            async with self._changed:
                self.lines.append(raw.decode().rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def line(self, predicate: Any, what: str, timeout: float = 30) -> str:
        """The first stderr line that satisfies `predicate` (waiting for it)."""
        async def found() -> str:
            async with self._changed:
                while True:
                    match = next((line for line in self.lines if predicate(line)), None)
                    if match is not None:
                        return match
                    if self._reader.done():
                        raise AssertionError(f"the server exited ({self.process.returncode}) before {what}:\n" + "\n".join(self.lines[-30:]))
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(found(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}:\n" + "\n".join(self.lines[-30:])) from None

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines of one event."""
        found = []
        for line in self.lines:
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == name:
                    found.append(record)
        return found

    async def exited(self, timeout: float = 60) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return code


@contextlib.asynccontextmanager
async def runner_serve(agents: Path, sim: Simulator, *flags: str, **environ: str) -> AsyncIterator[Worker]:
    """`runner serve --offline` over the test's simulator; killed if the test leaves it running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runner", "serve", str(agents), "--offline", "--simulator-url", sim.ws_base_url, "--simulator-rest-url", sim.http_base_url,
        *flags, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT,
        env={**{key: value for key, value in os.environ.items() if key not in HIDDEN}, "LOG_LEVEL": "info", **environ},
    )
    worker = Worker(process)
    try:
        serving = await worker.line(lambda line: line.startswith("runner: serving "), "the serving line")
        worker.url = serving.split(" on ", 1)[1].split(" ", 1)[0].rstrip("/")
        yield worker
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def beating_pids(state_dir: Path) -> set[int]:
    """The workers that have said they are alive in the SQLite store."""
    path = state_dir / "call-claims.sqlite3"
    if not path.exists():
        return set()
    with contextlib.closing(sqlite3.connect(path)) as db:
        with contextlib.suppress(sqlite3.OperationalError):  # the tables are made as the first worker starts
            return {pid for (pid,) in db.execute("SELECT pid FROM workers")}
    return set()


def test_two_workers_share_one_port_and_sigterm_drains_both_then_exits_0(tmp_path: Path) -> None:
    agents = write_project(tmp_path / "project")
    secret = new_secret()

    async def body() -> None:
        async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
            async with runner_serve(agents, sim, "--workers", "2", "--port", "0", "--session-dir", str(tmp_path / "sessions"), "--drain-timeout", "60",
                                    OPENAI_WEBHOOK_SECRET=secret) as server:
                assert server.lines[0].endswith(" with 2 workers; open it in a browser, or POST an SDP offer to /calls"), server.lines[0]
                pids = set()
                for index in (1, 2):
                    started = await server.line(lambda line, index=index: line.startswith(f"runner: worker {index} started (pid "), f"worker {index}")
                    pids.add(int(started.rsplit(" ", 1)[1].rstrip(")")))
                assert len(pids) == 2 and server.process.pid not in pids
                await eventually(lambda: beating_pids(tmp_path / "project" / "state") == pids, "both workers in the shared store", timeout=30)
                webhook = WebhookSender(f"{server.url}/openai/webhook", secret)
                async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                    call = await ring(sim, webhook, caller="+15550199", pace=20)
                    await eventually(lambda: said(call), "the greeting", timeout=30)
                    (listed,) = (await http.get("/admin/calls")).json()["calls"]
                    assert listed["call_id"] == call.id and listed["pid"] in pids
                    server.process.send_signal(signal.SIGTERM)
                    await server.line(lambda line: '"draining: waiting up to 60 s' in line or "draining: waiting up to 60 s" in line, "the drain")
                    await speak(sim, call, tmp_path, "who am i")
                    await eventually(lambda: "You are calling from +15550199." in said(call), "the tool's answer during the drain", timeout=30)
                    await call.caller_leaves()
                assert await server.exited() == 0
                assert server.lines[-1] == "runner: stopped; every worker ended its calls and wrote their session folders"
                stopped = server.events("server.stopped")
                assert {line["pid"] for line in stopped} == pids
                assert sorted(sum(line["sessions"].values()) for line in stopped) == [0, 1]
        (folder,) = (tmp_path / "sessions").iterdir()
        report = json.loads((folder / "report.json").read_text())
        assert [tool["name"] for tool in report["tool_calls"]] == ["whoami"] and report["end_reason"] == "call ended"

    run(body, timeout=120)


def test_a_worker_that_dies_is_started_again_and_the_port_keeps_answering(tmp_path: Path) -> None:
    agents = write_project(tmp_path / "project")

    async def body() -> None:
        async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
            async with runner_serve(agents, sim, "--workers", "2", "--port", "0", "--session-dir", str(tmp_path / "sessions")) as server:
                first = await server.line(lambda line: line.startswith("runner: worker 1 started (pid "), "worker 1")
                victim = int(first.rsplit(" ", 1)[1].rstrip(")"))
                os.kill(victim, signal.SIGKILL)
                again = await server.line(lambda line: line.startswith("runner: worker 1 started (pid ") and line != first, "worker 1 started again")
                assert int(again.rsplit(" ", 1)[1].rstrip(")")) != victim
                assert any(f"worker 1 (pid {victim}) exited with -9" in line for line in server.lines)
                async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                    for _ in range(4):  # each a new connection: the kernel may hand any of them to either worker
                        async with httpx.AsyncClient(base_url=server.url, timeout=20) as fresh:
                            assert (await fresh.get("/healthz")).status_code == 200
                    assert (await http.get("/readyz")).status_code == 200
                server.process.send_signal(signal.SIGTERM)
                assert await server.exited() == 0

    run(body, timeout=120)


def test_the_simulator_urls_go_together_and_with_offline(tmp_path: Path) -> None:
    agents = write_project(tmp_path / "project")
    environ = {key: value for key, value in os.environ.items() if key not in HIDDEN}
    for flags in (["--offline", "--simulator-url", "ws://127.0.0.1:1/v1"], ["--simulator-url", "ws://127.0.0.1:1/v1", "--simulator-rest-url", "http://127.0.0.1:2/v1"]):
        result = subprocess.run([sys.executable, "-m", "runner", "serve", str(agents), *flags], capture_output=True, text=True, cwd=ROOT, env=environ, timeout=60)
        assert (result.returncode, result.stderr) == (2, "runner: --simulator-url and --simulator-rest-url go together, with --offline "
                                                         "(the two URLs python -m runner.sim prints)\n"), flags
