"""Workers share what must be shared through the store: the rate limit and the admin view's list of calls.

Two apps on one store (a SQLite file, or a real PostgreSQL) stand for two workers: a
client's new calls count once across both, and each app's /admin/calls lists the other's
calls, naming the worker that holds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from runner.serve.server import Server
from runner.serve.settings import ServeOptions
from runner.serve.shared import shared_of
from tests.host.embedding import write_project
from tests.serve.postgres import postgres_url
from tests.serve.test_ops import WAIT, run
from tests.served import on_uvicorn

SDP = {"Content-Type": "application/sdp"}
__all__ = ["postgres_url"]


@pytest.fixture(params=["sqlite", "postgres"])
def environ(request: pytest.FixtureRequest) -> dict[str, str]:
    """The workers' environment: none (the SQLite file in the project's state folder) or RUNNER_DATABASE_URL."""
    if request.param == "sqlite":
        return {}
    return {"RUNNER_DATABASE_URL": request.getfixturevalue("postgres_url")}


@contextlib.asynccontextmanager
async def worker(tmp_path: Path, environ: dict[str, str], **options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Server]]:
    """One app on uvicorn in this loop; every app of a test shares the project, its state folder and the store."""
    agents = tmp_path / "project" / "agents.yaml"
    if not agents.exists():
        write_project(tmp_path / "project")
    transport = SimulatorTransport(tmp_path / "project" / "rules.yaml")
    app = create_app(load_project(agents, environ=environ), transport, session_dir=tmp_path / "sessions", options=ServeOptions(**options))
    async with on_uvicorn(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        yield http, app.state.server


async def until_listed(http: httpx.AsyncClient, session_ids: list[str], what: str) -> list[dict[str, Any]]:
    """/admin/calls once it lists exactly these sessions: another worker writes its list a moment after a call opens or closes."""
    for _ in range(500):
        calls = (await http.get("/admin/calls")).json()["calls"]
        if [view["session_id"] for view in calls] == session_ids:
            return calls
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}: {calls}")


async def _clear_of_a_minute_boundary(margin: float = 5.0) -> None:
    """The limiter counts in fixed one-minute windows: four calls that straddle a boundary are counted in two."""
    into_the_minute = time.time() % 60
    if into_the_minute > 60 - margin:
        await asyncio.sleep(60 - into_the_minute + 0.1)


def test_a_clients_new_calls_are_counted_once_across_workers(tmp_path: Path, environ: dict[str, str]) -> None:
    async def body() -> None:
        async with worker(tmp_path, environ, rate_limit_rpm=3) as (first, _), worker(tmp_path, environ, rate_limit_rpm=3) as (second, _):
            await _clear_of_a_minute_boundary()
            answers = [await http.post("/calls", content=b"", headers=SDP) for http in (first, second, first, second)]
            assert [answer.status_code for answer in answers] == [400, 400, 400, 429], "the fourth call in the minute is one too many in all"
            assert answers[3].json()["error"].startswith("too many new calls from 127.0.0.1: at most 3 a minute; retry in ")

    run(body)


def test_the_admin_view_on_any_worker_lists_every_workers_calls_and_names_the_one_holding_a_call(tmp_path: Path, environ: dict[str, str]) -> None:
    async def body() -> None:
        async with worker(tmp_path, environ) as (first, first_server), worker(tmp_path, environ) as (second, second_server):
            assert (await first.get("/admin/calls")).json() == {"calls": []}
            there = shared_of(second_server).board.worker
            async with second_server.running_host.open(variables={"customer": "C-4"}, text=True, channel="twilio") as conversation:
                await conversation.send_text("who am i")
                assert await conversation.wait_idle(WAIT)
                (seen_here,) = await until_listed(first, [conversation.id], "the other worker's call")
                assert {key: seen_here[key] for key in ("session_id", "call_id", "channel", "agent", "worker", "pid", "transcript")} == {
                    "session_id": conversation.id, "call_id": None, "channel": "twilio", "agent": "desk", "worker": there, "pid": os.getpid(),
                    "transcript": None}
                (seen_there,) = (await second.get("/admin/calls")).json()["calls"]
                assert seen_there["worker"] == there and seen_there["transcript"][0] == {"role": "user", "text": "who am i"}
                refused = await first.post(f"/admin/calls/{conversation.id}/hangup")
                assert refused.status_code == 409
                assert refused.json() == {"error": f"call {conversation.id!r} is on worker {there} (pid {os.getpid()}): send the hangup to that worker",
                                          "worker": there, "pid": os.getpid()}
                hangup = asyncio.ensure_future(second.post(f"/admin/calls/{conversation.id}/hangup"))
                await asyncio.wait_for(conversation.driver.wait_ended(), WAIT)
            assert (await hangup).json()["ended"] is True
            await until_listed(first, [], "the closed call to leave the shared list")
            assert first_server is not second_server

    run(body)


def test_without_its_database_a_worker_still_serves_refuses_new_calls_it_cannot_count_and_lists_its_own_calls(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    environ = {"RUNNER_DATABASE_URL": f"postgresql://runner@127.0.0.1:{port}/shared?connect_timeout=2"}

    async def body() -> None:
        async with worker(tmp_path, environ, rate_limit_rpm=5) as (http, server):
            refused = await http.post("/calls", content=b"", headers=SDP)
            assert (refused.status_code, refused.headers["retry-after"]) == (503, "5")
            assert refused.json()["error"].startswith("new calls are refused: the rate limit cannot be counted: "
                                                      "the shared database (RUNNER_DATABASE_URL) cannot be reached: ")
            async with server.running_host.open(variables={"customer": "C-4"}, text=True, channel="browser") as conversation:
                (listed,) = (await http.get("/admin/calls")).json()["calls"]
                assert listed["session_id"] == conversation.id and listed["worker"] == shared_of(server).board.worker
                conversation.stop_now("done")

    run(body)
