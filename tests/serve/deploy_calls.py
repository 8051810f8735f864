"""What the deployment test (test_deploy.py) runs: HAProxy in front of the workers, and two kinds of callers.

- `haproxy(...)`: HAProxy on a free port, round robin over the workers, a health check on
  `/readyz` every 100 ms, `X-Served-By` on every answer, its view read on the stats socket;
- `SipLine`: a SIP call: the simulator rings, the signed webhook goes through the
  balancer (once, or twice at once), greeted, "who am i", the tool's answer, hang-up;
- `TwilioLine`: a fake Twilio call (tests/serve/fake_twilio.py): the voice webhook and the
  Media Stream through the balancer, the same conversation, hang-up.

Every caller has a number of its own, which the tool reads back ("You are calling from
+1555..."), so each session folder names its caller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import json
import math
import socket
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import yaml

from runner.sim import Simulator
from runner.sim.sip_calls import SimSipCall, ring
from runner.sim.webhooks import WebhookSender, incoming_call_event
from tests.serve.fake_twilio import FRAME_BYTES, FakeTwilioCall
from tests.serve.test_ops import samples
from tests.serve.test_sip import said, speak, write_project
from tests.serve.test_twilio import speech

HAPROXY = Path("/usr/sbin/haproxy")
TWILIO_TOKEN = "twilio-deploy-auth-token"
WAIT = 60  # for any one step of a call, on a loaded machine


def write_deploy_project(folder: Path) -> Path:
    """The SIP test's phone desk, speaking first on any line, its instructions naming the caller (so a simulator session names it too)."""
    path = write_project(folder)
    project = yaml.safe_load(path.read_text())
    project["agents"]["desk"].update(speaks_first=True, instructions="Desk. You answer it for {{ caller_number }}.")
    project["session"] = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


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
    timeout check 5s
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


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Poll a condition of the simulator's (which wakes nobody) every 50 ms: cheap enough for 70 calls at once on 2 cores."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {WAIT} s waiting for {what}")
        await asyncio.sleep(0.05)


class SipLine:
    """One SIP caller and the deliveries of its webhook."""

    channel = "sip"

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
        self.answers = list(await asyncio.gather(*(sender.send(event, webhook_id=f"wh_{call.id}") for _ in range(copies))))
        assert [answer.status_code for answer in self.answers] == [200] * copies, [answer.text for answer in self.answers]
        await until(lambda: bool(said(call)) and self._played(said(call)[0]), f"{self.caller}'s greeting, played to the end")

    async def finish(self, sim: Simulator, folder: Path) -> None:
        assert self.call is not None
        await speak(sim, self.call, folder, "who am i")
        await until(lambda: self._played(self.answer), f"{self.caller}'s answer, played to the end")
        await self.call.caller_leaves()

    def greeting(self) -> str:
        assert self.call is not None
        return said(self.call)[0]

    def _played(self, text: str) -> bool:
        """The line played `text` to the end (so the transcript has it whole when the caller hangs up)."""
        assert self.call is not None
        sent = self.call.session.sent
        done = [index for index, event in enumerate(sent) if event["type"] == "response.output_audio_transcript.done" and event["transcript"] == text]
        return bool(done) and any(event["type"] == "output_audio_buffer.stopped" for event in sent[done[0]:])


class TwilioLine:
    """One Twilio caller: its voice webhook and its Media Stream both go through the balancer (perhaps to different workers)."""

    channel = "twilio"

    def __init__(self, number: int) -> None:
        self.caller = f"+1555{number:07d}"
        self.call: FakeTwilioCall | None = None
        self.sim: Simulator | None = None
        self._sent: list[dict[str, Any]] | None = None  # what the simulator sent on this call's connection, once found
        self._scanned = 0
        self._said: list[str] = []
        self._replies = 0
        self._audio_bytes = 0
        self._marks = 0  # marks the server sent so far
        self._read = 0

    @property
    def answer(self) -> str:
        return f"You are calling from {self.caller}."

    @property
    def served_by(self) -> str:
        """The worker holding the call: the one that took the stream's upgrade."""
        assert self.call is not None and self.call._socket is not None
        return self.call._socket.response.headers["x-served-by"]

    async def dial(self, sim: Simulator, balancer: str, secret: str, copies: int = 1) -> None:
        self.sim = sim
        self.call = call = FakeTwilioCall(balancer, TWILIO_TOKEN, caller=self.caller, query={"caller_number": self.caller})
        assert await call.dial(), call.twiml
        await self._until(lambda: self._played(1), f"{self.caller}'s greeting, played to the end")

    async def finish(self, sim: Simulator, folder: Path) -> None:
        assert self.call is not None
        sim.expect_user_audio("who am i")
        self.call.say(speech("who am i"))
        await self._until(lambda: self._played(2) and self.answer in self._said, f"{self.caller}'s answer, played to the end")
        await self.call.hang_up()

    def greeting(self) -> str:
        return self._said[0]

    async def _until(self, predicate: Callable[[], bool], what: str) -> None:
        """Woken by the fake call's changes (each frame heard), checked at least twice a second (the simulator's side wakes nobody)."""
        assert self.call is not None
        deadline = asyncio.get_running_loop().time() + WAIT
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out after {WAIT} s waiting for {what}")
            with contextlib.suppress(asyncio.TimeoutError):
                await self.call.wait_for(predicate, timeout=0.5)

    def _played(self, replies: int) -> bool:
        """`replies` replies have been sent whole, the fake caller has heard every frame of them, and echoed every mark (so the server knows)."""
        assert self.call is not None
        self._catch_up()
        received = self.call.received
        self._marks += sum(message["event"] == "mark" for message in received[self._read :])
        self._read = len(received)
        return self._replies >= replies and len(self.call.heard) >= math.ceil(self._audio_bytes / FRAME_BYTES) and len(self.call.echoes) >= self._marks

    def _catch_up(self) -> None:
        """Read what the simulator sent on this call's connection since last time (found by the caller's number in its instructions)."""
        assert self.sim is not None
        if self._sent is None:
            for connection in self.sim.connections:
                updates = [event for event in connection.received[:5] if event["type"] == "session.update"]
                if updates and self.caller in updates[0]["session"].get("instructions", ""):
                    self._sent = connection.sent
            if self._sent is None:
                return
        for event in self._sent[self._scanned :]:
            if event["type"] == "response.output_audio.delta":
                self._audio_bytes += len(base64.b64decode(event["delta"]))
            elif event["type"] == "response.output_audio_transcript.done":
                self._said.append(event["transcript"])
            elif event["type"] == "response.done":
                self._replies += 1
        self._scanned = len(self._sent)


def sessions_by_answer(sessions: Path) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """Each session folder's transcript and end reason, keyed by the tool's answer it holds (its caller's number)."""
    found: dict[str, tuple[list[dict[str, Any]], str]] = {}
    for folder in sessions.iterdir() if sessions.exists() else ():
        lines = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
        answers = [line["text"] for line in lines if line["kind"] == "assistant" and line["text"].startswith("You are calling from ")]
        assert len(answers) == 1, (folder, lines)
        found[answers[0]] = (lines, json.loads((folder / "report.json").read_text())["end_reason"])
    return found


async def listed_everywhere(http: httpx.AsyncClient, urls: list[str], lines: list[Any]) -> None:
    """/admin/calls at each URL lists these calls, from both workers (each writes its list a moment after a call opens)."""
    sip_ids = sorted(line.call.id for line in lines if isinstance(line, SipLine))
    twilio = sum(isinstance(line, TwilioLine) for line in lines)
    for url in urls:
        listed: list[dict[str, Any]] = []
        for _ in range(1000):
            listed = (await http.get(f"{url}/admin/calls")).json()["calls"]
            if sorted(view["call_id"] for view in listed if view["channel"] == "sip") == sip_ids and sum(view["channel"] == "twilio" for view in listed) == twilio:
                break
            await asyncio.sleep(0.02)
        assert sorted(view["call_id"] for view in listed if view["channel"] == "sip") == sip_ids, url
        assert sum(view["channel"] == "twilio" for view in listed) == twilio, url
        assert len({view["pid"] for view in listed}) == 2, "both workers' calls"


async def idle_metrics(http: httpx.AsyncClient, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A worker's metrics once it has no session open (its last calls' closing is not an event we can see from here)."""
    for _ in range(1500):
        metrics = samples((await http.get(f"{url}/metrics")).text)
        if sum(value for (name, _), value in metrics.items() if name == "runner_active_sessions") == 0:
            return metrics
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} still has sessions open")


def sessions_by_outcome(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[tuple[str, str], int]:
    """`runner_sessions_total` by (channel, outcome)."""
    return {(dict(labels)["channel"], dict(labels)["outcome"]): int(value) for (name, labels), value in metrics.items() if name == "runner_sessions_total"}
