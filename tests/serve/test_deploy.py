"""The deployment test: two `runner serve` workers on one PostgreSQL store behind HAProxy, one drained mid-test.

Everything is real and on 127.0.0.1: a PostgreSQL cluster (Debian's package), one
simulator (in this process: the shared Realtime service, and the carrier's side of the
SIP calls), a fake Twilio, two worker processes with a port each, and HAProxy (round
robin, a health check on /readyz, so a draining worker leaves the pool). Every call is
greeted, asks "who am i", hears the tool's answer, and hangs up (tests/serve/deploy_calls.py).

- 20 SIP webhooks, one after another, 10 of them delivered twice at once (round robin
  sends the two copies to different workers); then 25 Twilio calls at once; all held open;
- SIGTERM one worker; once HAProxy has it down, 25 more Twilio calls at once;
- then every caller finishes their call at once.

Pass: every call has its whole transcript in exactly one session folder, of the worker
that took it; no webhook was accepted twice; every call during the drain went to the
other worker; both workers exit 0; each worker's session totals by channel and outcome
(the live /metrics, and the `server.stopped` line each logs as it exits) agree with its
session folders.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
from pathlib import Path
from typing import Any

import httpx

from runner.serve.observe import OUTCOMES
from runner.sim import Simulator
from runner.sim.webhooks import new_secret
from tests.serve.deploy_calls import (
    TWILIO_TOKEN, SipLine, TwilioLine, haproxy, idle_metrics, listed_everywhere, sessions_by_answer, sessions_by_outcome, until_states,
    write_deploy_project)
from tests.serve.fake_twilio import FakeTwilioRest
from tests.serve.postgres import postgres_url
from tests.serve.test_sip import run
from tests.serve.test_workers_cli import Worker, runner_serve

PAIRS, SINGLES, WAVE = 10, 10, 25  # SIP: 20 webhooks, 10 of them twice; Twilio: 25 calls before the drain and 25 during it
__all__ = ["postgres_url"]


def test_two_workers_behind_haproxy_share_the_store_and_one_drains_without_losing_a_call(tmp_path: Path, postgres_url: str) -> None:
    agents = write_deploy_project(tmp_path / "project")
    secret = new_secret()

    async def body() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sim = await stack.enter_async_context(Simulator(tmp_path / "project" / "rules.yaml"))
            rest = await stack.enter_async_context(FakeTwilioRest().running())
            environ = {"OPENAI_WEBHOOK_SECRET": secret, "RUNNER_DATABASE_URL": postgres_url, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_API_BASE_URL": rest.base_url,
                       "TWILIO_INPUT_FRAMES": "5"}
            workers: dict[str, Worker] = {}
            for name in ("w1", "w2"):
                workers[name] = await stack.enter_async_context(runner_serve(
                    agents, sim, "--port", "0", "--session-dir", str(tmp_path / name), "--drain-timeout", "90", **environ))
            balancer, stats = await stack.enter_async_context(haproxy(tmp_path, {name: worker.url for name, worker in workers.items()}))
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))

            sip = [SipLine(number) for number in range(PAIRS + SINGLES)]
            before = [TwilioLine(number) for number in range(100, 100 + WAVE)]
            during = [TwilioLine(number) for number in range(200, 200 + WAVE)]
            lines: list[Any] = [*sip, *before, *during]
            for index, line in enumerate(sip):  # one after another, so round robin alternates within each pair
                await line.dial(sim, balancer, secret, copies=2 if index < PAIRS else 1)
            for line in sip[:PAIRS]:
                assert len({answer.headers["x-served-by"] for answer in line.answers}) == 2, "the two copies reached different workers"
                assert sorted((answer.json() for answer in line.answers), key=len) == [
                    {"call_id": line.call.id, "duplicate": True}, {"call_id": line.call.id, "accepted": True, "agent": "desk"}]
            await asyncio.gather(*(line.dial(sim, balancer, secret) for line in before))
            assert {line.served_by for line in sip} == {line.served_by for line in before} == {"w1", "w2"}
            await listed_everywhere(http, [worker.url for worker in workers.values()], [*sip, *before])

            drained, other = "w1", "w2"
            workers[drained].process.send_signal(signal.SIGTERM)
            await until_states(stats, {drained: "DOWN", other: "UP"}, f"{drained} out of the pool")
            await asyncio.gather(*(line.dial(sim, balancer, secret) for line in during))
            assert {line.served_by for line in during} == {other}, "every call during the drain went to the other worker"
            assert workers[drained].process.returncode is None, "the drained worker is still serving its calls"
            await listed_everywhere(http, [balancer], lines)

            await asyncio.gather(*(line.finish(sim, tmp_path) for line in lines))
            assert await workers[drained].exited() == 0
            assert all(line.call.accepts == 1 for line in sip), "no webhook accepted twice"
            live = await idle_metrics(http, workers[other].url)
            workers[other].process.send_signal(signal.SIGTERM)
            assert await workers[other].exited() == 0

        stopped = {event["pid"]: event["sessions"] for worker in workers.values() for event in worker.events("server.stopped")}
        for name, worker in workers.items():
            sessions = sessions_by_answer(tmp_path / name)
            mine = [line for line in lines if line.served_by == name]
            assert sorted(sessions) == sorted(line.answer for line in mine), f"{name}'s session folders are its calls, each once"
            for line in mine:
                kinds = [(entry["kind"], entry.get("text") or entry.get("name")) for entry in sessions[line.answer][0]]
                assert kinds[:2] == [("assistant", line.greeting()), ("user", "who am i")], kinds
                assert ("tool_result", "whoami") in kinds and ("assistant", line.answer) in kinds, kinds
            outcomes = collections.Counter((line.channel, OUTCOMES.get(sessions[line.answer][1], "completed")) for line in mine)
            assert stopped[worker.process.pid] == {f"{channel}/{outcome}": count for (channel, outcome), count in outcomes.items()}, name
            if name == other:
                assert sessions_by_outcome(live) == dict(outcomes), "the live /metrics of the worker still up"
        assert sum(len(sessions_by_answer(tmp_path / name)) for name in workers) == len(lines)

    run(body, timeout=180)
