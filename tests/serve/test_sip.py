"""Phone calls through the SIP endpoint, end to end: the simulator rings, signs the webhook and plays the line.

Each test runs `runner serve`'s app on uvicorn over one simulator (as workers share one
Realtime service); the simulator's calls API records what was accepted, rejected,
transferred and hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import textwrap
import time
import wave
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import uvicorn
import yaml

from runner.host.project import load_project
from runner.host.transports import OFFLINE_API_KEY, BaseTransport
from runner.serve import create_app
from runner.sim import Simulator
from runner.sim.sip_calls import SimSipCall, ring
from runner.sim.speech import SAMPLE_RATE, synthesize
from runner.sim.webhooks import WebhookSender, incoming_call_event, new_secret

PERSON = "tel:+15551234567"
TOOLS = '''
def whoami(context) -> dict:
    return {"caller": context.variables["caller_number"]}
'''
RULES = """
default: "I can only say who you are."
greeting: "Thanks for calling the desk."
filler: "Connecting you to a colleague now."
rules:
  - when: 'who am i'
    call: {name: whoami, args: {}}
  - after_tool: whoami
    say: "You are calling from {{ output.caller }}."
  - when: 'a person'
    transfer: person
  - when: 'pressed 5'
    say: "You pressed five."
"""


def write_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "phone_tools.py").write_text(textwrap.dedent(TOOLS))
    (folder / "rules.yaml").write_text(RULES)
    project = {
        "version": 1, "name": "Phone desk", "start": "desk", "state_dir": str(folder / "state"),
        "variables": {"caller_number": {"type": "string", "default": "unknown"}},
        "sip": {"numbers": {"+15550122": "sales"}},
        "agents": {
            "desk": {"description": "Answers the line.", "instructions": "You answer the desk line.", "tools": ["whoami"],
                     "handoffs": ["person", "sales"], "dtmf": {"0": "person"}},
            "sales": {"description": "Sells.", "instructions": "You are sales.", "handoffs": ["desk"]},
            "person": {"description": "A colleague.", "instructions": "You put callers through to a colleague.", "transfer_to": PERSON, "handoffs": ["desk"]},
        },
        "tools": {"whoami": {"description": "Who is calling.", "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
                             "python": "phone_tools:whoami"}},
        "guardrails": [{"name": "farewell", "kind": "regex", "checks": ["user"], "global": True, "action": "end_session",
                        "words": {"farewell": ["goodbye"]}}],
    }
    path = folder / "agents.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


class SharedSimulator(BaseTransport):
    """Every app reaches the same simulator, as every worker reaches the same Realtime service."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._client: Any = None

    async def start(self) -> None:
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(api_key=OFFLINE_API_KEY, base_url=self.simulator.http_base_url, websocket_base_url=self.simulator.ws_base_url, max_retries=0)

    def connection(self, *, model: str, call_id: str | None = None) -> Any:
        from runner.host.transport import Transport

        return Transport(self._client, model=model, call_id=call_id)

    def rest_client(self) -> Any:
        return self._client


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, simulator: Simulator, secret: str, *, name: str = "app", environ: dict[str, str] | None = None,
                  draining: bool = False, **options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """One app on uvicorn in this loop (`draining`: as after a SIGTERM); yields an HTTP client and its webhook URL."""
    agents = tmp_path / "project" / "agents.yaml"
    if not agents.exists():
        write_project(tmp_path / "project")
    project = load_project(agents, environ={"OPENAI_WEBHOOK_SECRET": secret, **(environ or {})})
    app = create_app(project, SharedSimulator(simulator), session_dir=tmp_path / name / "sessions", reconnect_delays=(0.05,), **options)
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.02)
    app.state.server.draining = draining
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield http, f"{base}/openai/webhook"
    finally:
        server.should_exit = True
        await task


def run(body: Callable[[], Any], timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


async def eventually(predicate: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


def said(call: SimSipCall) -> list[str]:
    """What the agent said on the call, in order."""
    return [event["transcript"] for event in call.session.sent if event["type"] == "response.output_audio_transcript.done"]


def speech_wav(folder: Path, text: str) -> Path:
    """The simulated voice saying `text`, then a second of silence (so the line's VAD ends the turn)."""
    path = folder / f"{text.replace(' ', '_')}.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(synthesize(text) + bytes(2 * SAMPLE_RATE))
    return path


async def speak(sim: Simulator, call: SimSipCall, folder: Path, text: str) -> None:
    sim.expect_user_audio(text)
    await call.caller_says(speech_wav(folder, text), pace=8)


def report_of(tmp_path: Path, name: str = "app") -> dict[str, Any] | None:
    """The call's report once it is final (None before)."""
    folders = list((tmp_path / name / "sessions").iterdir()) if (tmp_path / name / "sessions").exists() else []
    assert len(folders) <= 1, folders
    path = folders[0] / "report.json" if folders else None
    report = json.loads(path.read_text()) if path is not None and path.exists() else None
    return report if report is not None and report.get("ended") else None


def claims_in(path: Path) -> list[str]:
    """The call ids claimed in a SQLite store (every worker's app opens it as it starts)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [key for (key,) in db.execute("SELECT key FROM call_claims")]


def formats_in(session: dict[str, Any]) -> list[str]:
    audio = session.get("audio") or {}
    return [direction for direction in ("input", "output") if "format" in (audio.get(direction) or {})]


@contextlib.asynccontextmanager
async def phone_line(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient, WebhookSender]]:
    """The project, a simulator with its rules, and one app whose webhook the simulator signs for."""
    write_project(tmp_path / "project")
    secret = new_secret()
    async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
        async with serving(tmp_path, sim, secret, **options) as (http, url):
            yield sim, http, WebhookSender(url, secret)


def test_a_signed_call_is_accepted_without_audio_formats_greets_first_and_runs_tools_on_the_sideband(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, to="+15550100", caller="+15550199", pace=20)
            assert webhook.deliveries[-1][2] == 200 and call.state == "accepted" and call.accepts == 1
            assert formats_in(call.accepted_session) == [], call.accepted_session
            detection = call.accepted_session["audio"]["input"]["turn_detection"]
            assert not {"threshold", "prefix_padding_ms", "silence_duration_ms"} & set(detection)
            updates = [event["session"] for event in call.session.received if event["type"] == "session.update"]
            assert updates and all(formats_in(update) == [] for update in updates), "the sideband must not force a format either"
            await eventually(lambda: said(call), "the greeting")
            assert said(call)[0] == "Thanks for calling the desk."
            await speak(sim, call, tmp_path, "who am i")
            await eventually(lambda: "You are calling from +15550199." in said(call), "the tool's answer")
            assert (await http.get("/healthz")).json() == {"calls": 1}
            await call.caller_leaves()
            await eventually(lambda: report_of(tmp_path), "the final report")
            assert (await http.get("/healthz")).json() == {"calls": 0}
        report = report_of(tmp_path)
        assert [tool["name"] for tool in report["tool_calls"]] == ["whoami"]
        assert report["end_reason"] == "call ended", "the caller hung up: the sideband closed and the call is gone"

    run(body)


def test_a_bad_or_stale_signature_is_400_and_nothing_happens(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, deliver=False)
            event = incoming_call_event(call.id, call.sip_headers)
            forged = await webhook.send(event, secret=new_secret())
            assert (forged.status_code, forged.json()) == (400, {"error": "invalid webhook: The given webhook signature does not match the expected signature"})
            stale = await webhook.send(event, timestamp=int(time.time()) - 301)
            assert (stale.status_code, stale.json()) == (400, {"error": "invalid webhook: Webhook timestamp is too old"})
            early = await webhook.send(event, timestamp=int(time.time()) + 600)
            assert (early.status_code, early.json()) == (400, {"error": "invalid webhook: Webhook timestamp is too new"})
            unsigned = await http.post("/openai/webhook", json=event)
            assert (unsigned.status_code, unsigned.json()) == (400, {"error": "invalid webhook: Could not find webhook-signature header"})
            assert call.state == "ringing" and call.accepts == 0 and not (tmp_path / "app").exists()
            assert claims_in(tmp_path / "project" / "state" / "call-claims.sqlite3") == [], "a refused webhook claims nothing"
            signed = await webhook.send(event)
            assert signed.status_code == 200 and signed.json() == {"call_id": call.id, "accepted": True, "agent": "desk"}

    run(body)


def test_during_a_rotation_either_secret_verifies(tmp_path: Path) -> None:
    old, new = new_secret(), new_secret()
    write_project(tmp_path / "project")

    async def body() -> None:
        async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
            async with serving(tmp_path, sim, f"{old}, {new}") as (http, url):
                for secret in (old, new):
                    call = await ring(sim, WebhookSender(url, secret))
                    assert call.state == "accepted", secret
                    await call.caller_leaves()

    run(body)


def test_a_duplicate_delivery_starts_one_call(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, deliver=False)
            event = incoming_call_event(call.id, call.sip_headers)
            answers = await asyncio.gather(webhook.send(event, webhook_id="wh_1"), webhook.send(event, webhook_id="wh_1"))
            retry = await webhook.send(event, webhook_id="wh_2")
            bodies = sorted((answer.json() for answer in (*answers, retry)), key=len)
            assert bodies == [{"call_id": call.id, "duplicate": True}, {"call_id": call.id, "duplicate": True},
                              {"call_id": call.id, "accepted": True, "agent": "desk"}]
            assert call.accepts == 1 and len(call.session.listeners.sidebands) == 1
            assert (await http.get("/healthz")).json() == {"calls": 1}

    run(body)


def test_two_apps_sharing_one_store_accept_a_call_once(tmp_path: Path) -> None:
    write_project(tmp_path / "project")
    secret = new_secret()

    async def body() -> None:
        async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
            async with serving(tmp_path, sim, secret, name="a") as (_, url_a), serving(tmp_path, sim, secret, name="b") as (_, url_b):
                call = await ring(sim, WebhookSender(url_a, secret), deliver=False)
                event = incoming_call_event(call.id, call.sip_headers)
                answers = await asyncio.gather(WebhookSender(url_a, secret).send(event), WebhookSender(url_b, secret).send(event))
                assert sorted((answer.json() for answer in answers), key=len) == [{"call_id": call.id, "duplicate": True},
                                                                                  {"call_id": call.id, "accepted": True, "agent": "desk"}]
                assert call.accepts == 1 and len(call.session.listeners.sidebands) == 1

    run(body)


def test_a_caller_who_left_before_the_accept_is_acknowledged_and_starts_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, deliver=False)
            await call.caller_leaves()
            late = await webhook.send(incoming_call_event(call.id, call.sip_headers))
            assert (late.status_code, late.json()) == (200, {"call_id": call.id, "gone": True})
            assert (await http.get("/healthz")).json() == {"calls": 0} and not (tmp_path / "app").exists()

    run(body)


def test_at_capacity_a_call_is_rejected_busy_here(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path, max_calls=1) as (sim, http, webhook):
            first = await ring(sim, webhook)
            second = await ring(sim, webhook)
            assert first.state == "accepted"
            assert (second.state, second.rejected_with, second.accepts) == ("rejected", 486, 0)
            assert webhook.deliveries[-1][2] == 200 and json.loads(webhook.deliveries[-1][1])["data"]["call_id"] == second.id

    run(body)


def test_while_draining_a_call_is_rejected_service_unavailable(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path, draining=True) as (sim, http, webhook):
            call = await ring(sim, webhook)
            assert (call.state, call.rejected_with, call.accepts) == ("rejected", 503, 0)
            assert webhook.deliveries[-1][2] == 200

    run(body)


def test_a_goodbye_is_heard_then_the_call_is_hung_up(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, pace=20)
            await eventually(lambda: said(call), "the greeting")
            await speak(sim, call, tmp_path, "goodbye")
            await asyncio.wait_for(call.ended.wait(), 20)
            assert call.end_reason == "hung up through the calls API"
            assert said(call)[-1] == "Thank you for calling. Goodbye!"
            kinds = [event["type"] for event in call.session.sent]
            assert kinds[-1] == "output_audio_buffer.stopped", "the goodbye played to the end before the hangup"
            await eventually(lambda: report_of(tmp_path), "the final report")
        assert report_of(tmp_path)["end_reason"] == "guardrail farewell"

    run(body)


def test_a_handoff_to_a_person_says_a_line_then_refers_the_call(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, pace=20)
            await eventually(lambda: said(call), "the greeting")
            await speak(sim, call, tmp_path, "I want a person")
            await asyncio.wait_for(call.ended.wait(), 20)
            assert (call.state, call.referred_to) == ("referred", PERSON)
            assert said(call)[-1] == "Connecting you to a colleague now."
            assert [event["type"] for event in call.session.sent][-1] == "output_audio_buffer.stopped"
            await eventually(lambda: report_of(tmp_path), "the final report")
        report = report_of(tmp_path)
        assert report["end_reason"] == f"transferred to {PERSON}"

    run(body)


def test_key_presses_reach_the_model_and_zero_puts_a_person_on(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, pace=20)
            await eventually(lambda: said(call), "the greeting")
            await call.press("5")
            await eventually(lambda: "You pressed five." in said(call), "the answer to the key")
            await call.press("0")
            await asyncio.wait_for(call.ended.wait(), 20)
            assert call.referred_to == PERSON
            await eventually(lambda: report_of(tmp_path), "the final report")
        folder = next((tmp_path / "app" / "sessions").iterdir())
        transcript = (folder / "transcript.md").read_text()
        assert "(The caller pressed 5 on the keypad.)" in transcript and "handoff desk → person (the caller pressed 0)" in transcript

    run(body)


def test_the_called_number_picks_the_agent_that_answers(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as (sim, http, webhook):
            call = await ring(sim, webhook, to="+15550122")
            answer = webhook.deliveries[-1]
            assert call.accepted_session["instructions"] == "You are sales."
            assert answer[2] == 200
            ignored = await webhook.send({"id": "evt_1", "object": "event", "type": "batch.completed", "created_at": int(time.time()), "data": {"id": "batch_1"}})
            assert ignored.json() == {"ignored": "batch.completed"}

    run(body)


def test_a_call_the_project_cannot_serve_is_rejected_not_left_ringing(tmp_path: Path) -> None:
    path = write_project(tmp_path / "project")
    data = yaml.safe_load(path.read_text())
    data["variables"]["account"] = {"type": "string", "description": "Nobody on a phone line can supply it."}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    secret = new_secret()

    async def body() -> None:
        async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
            async with serving(tmp_path, sim, secret) as (http, url):
                call = await ring(sim, WebhookSender(url, secret))
                assert (call.state, call.rejected_with, call.accepts) == ("rejected", 500, 0)

    run(body)


def test_without_its_claims_database_a_call_is_not_answered_and_the_webhook_says_why(tmp_path: Path) -> None:
    write_project(tmp_path / "project")
    secret = new_secret()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed

    async def body() -> None:
        async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
            database = {"RUNNER_DATABASE_URL": f"postgresql://runner@127.0.0.1:{port}/claims?connect_timeout=2"}
            async with serving(tmp_path, sim, secret, environ=database) as (http, url):
                webhook = WebhookSender(url, secret)
                call = await ring(sim, webhook, deliver=False)
                answer = await webhook.send(incoming_call_event(call.id, call.sip_headers))
                assert answer.status_code == 500, answer.text
                assert answer.json()["error"].startswith("the shared database (RUNNER_DATABASE_URL) cannot be reached: ")
                assert call.state == "ringing" and call.accepts == 0

    run(body)
