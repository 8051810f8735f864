"""The deployment test: two `runner serve` workers on one PostgreSQL store behind HAProxy, one drained mid-test.

Everything is real and on 127.0.0.1: a PostgreSQL cluster (Debian's package), one
simulator (in this process, as the shared Realtime service and the carrier's side of
the calls), two worker processes with a port each, and HAProxy (round robin, health
check on /readyz, so a draining worker leaves the pool). The calls are SIP calls: a
signed webhook each, greeted, "who am i", the tool's answer, hang-up.

- wave 1: 20 webhooks, 10 of them delivered twice at once (round robin sends the two
  copies to different workers), and 25 more calls; all of them held open;
- SIGTERM one worker; once HAProxy has it down, wave 2: 25 new calls;
- then every caller finishes their call.

Pass: every call has its whole transcript in exactly one session folder, no webhook was
accepted twice, every wave-2 call went to the other worker, the drained worker exited 0,
and each worker's session totals (live /metrics, or its `server.stopped` line once it is
gone) agree with its session folders.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from runner.sim import Simulator
from runner.sim.sip_calls import SimSipCall, ring
from runner.sim.webhooks import WebhookSender, incoming_call_event, new_secret
from tests.serve.postgres import postgres_url
from tests.serve.test_ops import samples
from tests.serve.test_sip import eventually, run, said, speak, write_project
from tests.serve.test_workers_cli import Worker, runner_serve

HAPROXY = Path("/usr/sbin/haproxy")
PAIRS, SINGLES, WAVE = 10, 10, 25  # wave 1: 20 webhooks (10 twice) + 25 calls; wave 2: 25 calls
__all__ = ["postgres_url"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def haproxy_config(port: int, stats: Path, workers: dict[str, str]) -> str:
    servers = "\n".join(f"    server {name} {url.removeprefix('http://')}" for name, url in workers.items())
    return f"""global
    maxconn 2000
    stats socket {stats} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter 100ms fastinter 100ms downinter 200ms fall 1 rise 1
frontend calls
    bind 127.0.0.1:{port}
    default_backend workers
backend workers
    balance roundrobin
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


async def server_states(stats: Path) -> dict[str, str]:
    """HAProxy's view of each worker, `UP L7OK` say: its state and the last check's result (from `show stat` on its stats socket)."""
    reader, writer = await asyncio.open_unix_connection(str(stats))
    writer.write(b"show stat\n")
    await writer.drain()
    text = (await reader.read()).decode()
    writer.close()
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {row["svname"]: f"{row['status']} {row['check_status']}" for row in rows if row["pxname"] == "workers" and row["svname"] not in ("FRONTEND", "BACKEND")}


async def until_states(stats: Path, wanted: dict[str, str], what: str) -> None:
    states: dict[str, str] = {}
    for _ in range(1500):  # polls 20 ms apart: HAProxy's checks emit no event we could wait on
        with contextlib.suppress(OSError):
            states = await server_states(stats)
            if all(states.get(name, "").startswith(state) for name, state in wanted.items()):
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"HAProxy never had {what}: {states}")


@contextlib.asynccontextmanager
async def haproxy(tmp_path: Path, workers: dict[str, str]) -> AsyncIterator[tuple[str, Path]]:
    port, stats = free_port(), tmp_path / "haproxy.sock"
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(port, stats, workers))
    log = (tmp_path / "haproxy.log").open("wb")
    process = await asyncio.create_subprocess_exec(str(HAPROXY), "-db", "-f", str(config), stdout=log, stderr=subprocess.STDOUT)
    try:
        await until_states(stats, {name: "UP L7OK" for name in workers}, "every worker up and checked")
        yield f"http://127.0.0.1:{port}", stats
    finally:
        process.terminate()
        await process.wait()
        log.close()


class Line:
    """One caller: a number of its own (so its folder can be found by the tool's answer) and the deliveries of its webhook."""

    def __init__(self, number: int) -> None:
        self.caller = f"+1555{number:07d}"
        self.call: SimSipCall | None = None
        self.answers: list[httpx.Response] = []

    @property
    def answer(self) -> str:
        return f"You are calling from {self.caller}."

    @property
    def served_by(self) -> str:
        """The worker that accepted the call."""
        (accepted,) = [answer for answer in self.answers if answer.json().get("accepted")]
        return accepted.headers["x-served-by"]

    async def dial(self, sim: Simulator, balancer: str, secret: str, copies: int = 1) -> None:
        """Ring, and deliver the webhook through the balancer `copies` times at once (one delivery id, as a retry has); wait for the greeting."""
        sender = WebhookSender(f"{balancer}/openai/webhook", secret)
        self.call = call = await ring(sim, sender, caller=self.caller, pace=20, deliver=False)
        event = incoming_call_event(call.id, call.sip_headers)
        delivery = f"wh_{call.id}"
        self.answers = list(await asyncio.gather(*(sender.send(event, webhook_id=delivery) for _ in range(copies))))
        assert [answer.status_code for answer in self.answers] == [200] * copies, [answer.text for answer in self.answers]
        await eventually(lambda: said(call) and self.heard(said(call)[0]), f"{self.caller}'s greeting, played to the end", timeout=45)

    async def finish(self, sim: Simulator, folder: Path) -> None:
        assert self.call is not None
        await speak(sim, self.call, folder, "who am i")
        await eventually(lambda: self.heard(self.answer), f"{self.caller}'s answer, played to the end", timeout=45)
        await self.call.caller_leaves()

    def heard(self, text: str) -> bool:
        """The line played `text` to the end (so the transcript has it as heard when the caller hangs up)."""
        assert self.call is not None
        sent = self.call.session.sent
        done = [index for index, event in enumerate(sent) if event["type"] == "response.output_audio_transcript.done" and event["transcript"] == text]
        return bool(done) and any(event["type"] == "output_audio_buffer.stopped" for event in sent[done[0]:])


def folders_by_answer(sessions: Path) -> dict[str, list[dict[str, Any]]]:
    """Each session folder's transcript, keyed by the tool's answer it holds."""
    found: dict[str, list[dict[str, Any]]] = {}
    for folder in sessions.iterdir() if sessions.exists() else ():
        lines = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
        answers = [line["text"] for line in lines if line["kind"] == "assistant" and line["text"].startswith("You are calling from ")]
        assert len(answers) == 1, (folder, lines)
        found[answers[0]] = lines
    return found


async def listed_everywhere(http: httpx.AsyncClient, urls: list[str], call_ids: set[str]) -> None:
    """/admin/calls at each URL lists exactly these calls, from both workers (each writes its list a moment after a call opens)."""
    for url in urls:
        listed: list[dict[str, Any]] = []
        for _ in range(500):
            listed = (await http.get(f"{url}/admin/calls")).json()["calls"]
            if {view["call_id"] for view in listed} == call_ids:
                break
            await asyncio.sleep(0.02)
        assert sorted(view["call_id"] for view in listed) == sorted(call_ids), url
        assert len({view["pid"] for view in listed}) == 2, "both workers' calls"


async def idle_metrics(http: httpx.AsyncClient, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A worker's metrics once it has no session open (its last calls' closing is not an event we can see from here)."""
    for _ in range(1000):
        metrics = samples((await http.get(f"{url}/metrics")).text)
        if sum(value for (name, _), value in metrics.items() if name == "runner_active_sessions") == 0:
            return metrics
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} still has sessions open")


def sessions_by_outcome(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[tuple[str, str], int]:
    """`runner_sessions_total` by (channel, outcome)."""
    return {(dict(labels)["channel"], dict(labels)["outcome"]): int(value) for (name, labels), value in metrics.items() if name == "runner_sessions_total"}


def test_two_workers_behind_haproxy_share_the_store_and_one_drains_without_losing_a_call(tmp_path: Path, postgres_url: str) -> None:
    agents = write_project(tmp_path / "project")
    secret = new_secret()
    environ = {"OPENAI_WEBHOOK_SECRET": secret, "RUNNER_DATABASE_URL": postgres_url}

    async def body() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sim = await stack.enter_async_context(Simulator(tmp_path / "project" / "rules.yaml"))
            workers: dict[str, Worker] = {}
            for name in ("w1", "w2"):
                workers[name] = await stack.enter_async_context(runner_serve(
                    agents, sim, "--port", "0", "--session-dir", str(tmp_path / name), "--drain-timeout", "60", **environ))
            balancer, stats = await stack.enter_async_context(haproxy(tmp_path, {name: worker.url for name, worker in workers.items()}))
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))

            lines = [Line(number) for number in range(PAIRS + SINGLES + 2 * WAVE)]
            wave1, wave2 = lines[: PAIRS + SINGLES + WAVE], lines[PAIRS + SINGLES + WAVE :]
            for index, line in enumerate(lines[: PAIRS + SINGLES]):  # one after another, so round robin alternates within each pair
                await line.dial(sim, balancer, secret, copies=2 if index < PAIRS else 1)
            for line in lines[:PAIRS]:
                assert len({answer.headers["x-served-by"] for answer in line.answers}) == 2, "the two copies reached different workers"
                assert sorted((answer.json() for answer in line.answers), key=len) == [
                    {"call_id": line.call.id, "duplicate": True}, {"call_id": line.call.id, "accepted": True, "agent": "desk"}]
            await asyncio.gather(*(line.dial(sim, balancer, secret) for line in wave1[PAIRS + SINGLES :]))
            assert {line.served_by for line in wave1} == {"w1", "w2"}
            await listed_everywhere(http, [worker.url for worker in workers.values()], {line.call.id for line in wave1 if line.call})

            drained, other = "w1", "w2"
            workers[drained].process.send_signal(signal.SIGTERM)
            await until_states(stats, {drained: "DOWN", other: "UP"}, f"{drained} out of the pool")
            await asyncio.gather(*(line.dial(sim, balancer, secret) for line in wave2))
            assert {line.served_by for line in wave2} == {other}, "every call during the drain went to the other worker"
            assert workers[drained].process.returncode is None, "the drained worker is still serving its calls"
            await listed_everywhere(http, [balancer], {line.call.id for line in lines if line.call})

            await asyncio.gather(*(line.finish(sim, tmp_path) for line in lines))
            assert await workers[drained].exited() == 0
            assert all(line.call is not None and line.call.accepts == 1 for line in lines), "no webhook accepted twice"
            live = await idle_metrics(http, workers[other].url)
            workers[other].process.send_signal(signal.SIGTERM)
            assert await workers[other].exited() == 0

        for name in ("w1", "w2"):
            folders = folders_by_answer(tmp_path / name)
            mine = [line for line in lines if line.served_by == name]
            assert sorted(folders) == sorted(line.answer for line in mine), f"{name}'s folders are its calls, each once"
            for line in mine:
                kinds = [(entry["kind"], entry.get("text") or entry.get("name")) for entry in folders[line.answer]]
                assert line.call is not None and kinds[:2] == [("assistant", said(line.call)[0]), ("user", "who am i")], kinds
                assert ("tool_result", "whoami") in kinds and ("assistant", line.answer) in kinds, kinds
        stopped = {event["pid"]: event["sessions"] for worker in workers.values() for event in worker.events("server.stopped")}
        held = {name: len(folders_by_answer(tmp_path / name)) for name in workers}
        assert stopped[workers[drained].process.pid] == {"sip/completed": held[drained]}, "the drained worker's totals, logged as it exited"
        assert sessions_by_outcome(live) == {("sip", "completed"): held[other]}, "the other worker's /metrics"
        assert stopped[workers[other].process.pid] == {"sip/completed": held[other]}
        assert held[drained] + held[other] == len(lines)

    run(body, timeout=150)
