"""Twilio Media Streams end to end: a fake Twilio call (tests/serve/fake_twilio.py) through the app to the simulator."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from runner.audio.formats import PCMU
from runner.host.errors import SetupError
from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from runner.sim.speech import synthesize
from tests.serve.fake_twilio import FRAME_BYTES, FRAME_MS, FakeTwilioCall, FakeTwilioRest, serve_app, sign_stream, write_ulaw_wav

TOKEN = "twilio-test-auth-token"
GREETING = "Hello, thanks for calling."
LONG_REPLY = (  # about 12 s of simulated speech
    "Once upon a time there was a small village by the sea, where every morning the fishermen went out before dawn "
    "and came back with stories of the deep. Would you like to hear more of it?"
)
PCMU_FORMAT = {"type": "audio/pcmu"}
RULES = f"""
default: "Sorry, I did not catch that."
greeting: "{GREETING}"
after_transfer: "Billing here, how can I help?"
rules:
  - when: 'story'
    say: "{LONG_REPLY}"
  - when: 'billing'
    transfer: billing
"""


PERSON_RULES = """
filler: "Connecting you to a colleague now."
"""
PERSON_WHEN = """
  - when: 'a person'
    transfer: person
  - when: 'pressed 5'
    say: "You pressed five."
"""


def write_phone_project(folder: Path, *, max_session_minutes: float | None = None, person: str | None = None) -> Path:
    """A phone desk that answers first and can hand over to billing; audio formats left at the config's PCM default.

    `person`: a tel:/sip: URI the desk can put the caller through to (said, or key 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(RULES if person is None else PERSON_RULES + RULES + PERSON_WHEN)
    project: dict[str, Any] = {
        "version": 1,
        "name": "Phone desk",
        "start": "desk",
        "state_dir": str(folder / "state"),
        "variables": {"caller": {"type": "string", "default": "unknown", "description": "The caller's number."}},
        "session": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}},
        "agents": {
            "desk": {"description": "Answers the phone.", "instructions": "You answer calls from {{ caller }}.", "speaks_first": True, "handoffs": ["billing"]},
            "billing": {"description": "Handles bills.", "instructions": "You handle bills for {{ caller }}."},
        },
    }
    if person is not None:  # no thinking sound while the handoff settles: what the caller hears is the agents' audio alone
        project["thinking_sound"] = "off"
        project["agents"]["desk"] |= {"handoffs": ["billing", "person"], "dtmf": {"0": "person"}}
        project["agents"]["person"] = {"description": "A colleague.", "instructions": "You put callers through to a colleague.", "transfer_to": person}
    if max_session_minutes is not None:
        project["limits"] = {"max_session_minutes": max_session_minutes}
    path = folder / "agents.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def speech(text: str, pause_ms: int = 600) -> bytes:
    """The simulated voice saying `text` in μ-law 8 kHz, then silence."""
    return PCMU.encode(synthesize(text, 8000)) + b"\xff" * (8 * pause_ms)


@dataclass
class Phone:
    base_url: str
    transport: SimulatorTransport
    rest: FakeTwilioRest
    sessions: Path
    server: Any  # runner.serve.server.Server

    def call(self, **options: Any) -> FakeTwilioCall:
        return FakeTwilioCall(self.base_url, TOKEN, **options)

    async def dial(self, **options: Any) -> FakeTwilioCall:
        call = self.call(**options)
        self.rest.calls[call.call_sid] = call
        assert await call.dial(), call.twiml
        return call

    @property
    def simulator(self) -> Any:
        return self.transport.simulator

    def received(self, kind: str) -> list[dict[str, Any]]:
        """Client events of one type the simulator got, over every connection."""
        return [event for events in self.simulator.received for event in events if event["type"] == kind]

    def audio_items_done(self) -> int:
        """How many assistant audio items the simulator has sent all of (`response.output_audio.done`)."""
        return sum(event["type"] == "response.output_audio.done" for events in self.simulator.sent for event in events)

    def audio_bytes(self, item_index: int) -> tuple[str, int]:
        """The id of the n-th assistant audio item the simulator sent, and its bytes (all of them once `audio_items_done` counts it)."""
        sizes: dict[str, int] = {}
        for events in self.simulator.sent:
            for event in events:
                if event["type"] == "response.output_audio.delta":
                    sizes[event["item_id"]] = sizes.get(event["item_id"], 0) + len(base64.b64decode(event["delta"]))
        item_id = list(sizes)[item_index]
        return item_id, sizes[item_id]

    def report(self) -> dict[str, Any]:
        folders = list(self.sessions.iterdir())
        assert len(folders) == 1, folders
        return json.loads((folders[0] / "report.json").read_text())

    async def wait_calls(self, count: int) -> None:
        """Until the app's host has `count` conversations open (a closed one has written its report)."""
        for _ in range(600):
            if self.server.running_host.open_count == count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} conversations expected, the host has {self.server.running_host.open_count}")


@contextlib.asynccontextmanager
async def phone_line(tmp_path: Path, *, environ: dict[str, str] | None = None, max_calls: int = 100, **project: Any) -> AsyncIterator[Phone]:
    agents = write_phone_project(tmp_path / "project", **project)
    async with FakeTwilioRest().running() as rest:
        env = {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_BASE_URL": rest.base_url, **(environ or {})}
        transport = SimulatorTransport(tmp_path / "project" / "rules.yaml")
        app = create_app(load_project(agents, environ=env), transport, session_dir=tmp_path / "sessions", max_calls=max_calls)
        async with serve_app(app) as base_url:
            yield Phone(base_url, transport, rest, tmp_path / "sessions", app.state.server)


def run(body: Any, timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


def frames(byte_count: int) -> int:
    return math.ceil(byte_count / FRAME_BYTES)


def test_the_voice_webhook_answers_twiml_that_connects_the_stream_with_the_callers_numbers(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as phone:
            call = phone.call(query={"caller": "+15550007777"})
            form = {"CallSid": call.call_sid, "From": "+15550001234", "To": "+15550009876"}
            from twilio.request_validator import RequestValidator

            url = f"{phone.base_url}/twilio/voice?caller=%2B15550007777"
            signed = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form)}
            async with httpx.AsyncClient() as http:
                answer = await http.post(url, data=form, headers=signed)
                unsigned = await http.post(url, data=form)
                forged = await http.post(url, data={**form, "From": "+15550000000"}, headers=signed)
                undeclared_url = f"{phone.base_url}/twilio/voice?account=7"
                undeclared = await http.post(undeclared_url, data=form, headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(undeclared_url, form)})
            host = phone.base_url.removeprefix("http://")
            assert (answer.status_code, answer.headers["content-type"]) == (200, "text/xml; charset=utf-8")
            assert answer.text == (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
                f'<Stream url="wss://{host}/twilio/media">'
                '<Parameter name="caller" value="+15550007777"/><Parameter name="called" value="+15550009876"/>'
                "</Stream></Connect></Response>"
            )
            assert (unsigned.status_code, unsigned.json()) == (403, {"error": f"no X-Twilio-Signature header: {url} only takes requests signed by Twilio"})
            assert forged.status_code == 403 and forged.json()["error"].startswith(f"X-Twilio-Signature does not match {url}: ")
            assert (undeclared.status_code, undeclared.json()) == (400, {"error": "bad variables in the voice webhook's query: 'account' is not a declared variable"})

    run(body)


def test_a_stream_upgrade_without_a_valid_signature_is_refused_with_the_reason(tmp_path: Path) -> None:
    async def refused(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with pytest.raises(InvalidStatus) as failure:
            async with connect(url, additional_headers=headers):
                pass
        return failure.value.response.status_code, json.loads(failure.value.response.body)

    async def body() -> None:
        async with phone_line(tmp_path) as phone:
            ws_url = phone.base_url.replace("http://", "ws://") + "/twilio/media"
            signed_for = ws_url.replace("ws://", "wss://")
            assert await refused(ws_url, {}) == (403, {"error": f"no X-Twilio-Signature header: {signed_for} only takes requests signed by Twilio"})
            status, answer = await refused(ws_url, {"X-Twilio-Signature": sign_stream("another-token", signed_for)})
            assert status == 403 and answer["error"] == (
                f"X-Twilio-Signature does not match {signed_for}: is TWILIO_AUTH_TOKEN this account's auth token, and the URL the one Twilio called?")
            async with connect(ws_url, additional_headers={"X-Twilio-Signature": sign_stream(TOKEN, signed_for)}) as accepted:
                await accepted.close()
            assert phone.simulator.connections == [], "a refused or empty stream opens no conversation"
        async with phone_line(tmp_path / "no-token", environ={"TWILIO_AUTH_TOKEN": ""}) as phone:
            ws_url = phone.base_url.replace("http://", "ws://") + "/twilio/media"
            assert await refused(ws_url, {"X-Twilio-Signature": "x"}) == (
                403, {"error": "TWILIO_AUTH_TOKEN is not set: the server cannot check X-Twilio-Signature (set it to the account's auth token)"})
        async with phone_line(tmp_path / "skip", environ={"TWILIO_AUTH_TOKEN": "", "TWILIO_SKIP_SIGNATURE": "1"}) as phone:
            ws_url = phone.base_url.replace("http://", "ws://") + "/twilio/media"
            async with connect(ws_url) as accepted:  # local testing: explicitly unsigned
                await accepted.close()

    run(body)


def test_the_greeting_plays_in_20_ms_frames_with_marks_and_the_callers_question_is_answered_in_pcmu(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as phone:
            call = await phone.dial(speed=2.0)
            greeting_id, greeting_bytes = None, 0
            await call.wait_for(lambda: len(call.heard) >= 10 and phone.audio_items_done() >= 1)
            greeting_id, greeting_bytes = phone.audio_bytes(0)
            await call.wait_for(lambda: len(call.heard) == frames(greeting_bytes) and all(not cleared for _, cleared in call.echoes))
            phone.simulator.expect_user_audio("tell me a story")
            call.say(speech("Please tell me a story."))
            await call.wait_for(lambda: len(call.heard) >= frames(greeting_bytes) + 50)
            await call.hang_up()
            await phone.wait_calls(0)
            media = [message for message in call.received if message["event"] == "media"]
            assert all(len(base64.b64decode(message["media"]["payload"])) == FRAME_BYTES for message in media)
            assert {(tuple(sorted(message)), tuple(message["media"])) for message in media} == {(("event", "media", "streamSid"), ("payload",))}
            marks = [message for message in call.received if message["event"] == "mark"]
            assert len(marks) >= len(media) and all(message["mark"]["name"].startswith("g0-") for message in marks)
            assert {len(base64.b64decode(event["audio"])) for event in phone.received("input_audio_buffer.append")} == {FRAME_BYTES}
            updates = phone.received("session.update")
            assert [(u["session"]["audio"]["input"]["format"], u["session"]["audio"]["output"]["format"]) for u in updates] == [(PCMU_FORMAT, PCMU_FORMAT)]
            assert updates[0]["session"]["instructions"] == "You answer calls from +15550001234."
            heard_greeting = b"".join(frame for _, frame in call.heard[: frames(greeting_bytes)])
            assert heard_greeting[:greeting_bytes] == PCMU.encode(synthesize(GREETING, 8000))
        report = phone.report()
        assert report["end_reason"] == "hung up by the caller", report["end_reason"]
        transcript = (next(phone.sessions.iterdir()) / "transcript.md").read_text()
        heard = re.search(r"\*\*desk:\*\* Once upon a(?: time)? _\(interrupted after (\d+) ms heard\)_", transcript)
        assert GREETING in transcript and heard and 1000 <= int(heard.group(1)) <= 1400, transcript

    run(body)


def test_a_barge_in_clears_twilio_and_truncates_within_one_frame_of_what_the_caller_heard(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as phone:
            call = await phone.dial()
            await call.wait_for(lambda: len(call.heard) >= 5 and phone.audio_items_done() >= 1)
            _, greeting_bytes = phone.audio_bytes(0)
            await call.wait_for(lambda: len(call.heard) == frames(greeting_bytes))
            phone.simulator.expect_user_audio("tell me a story")
            call.say(speech("Please tell me a story."))
            await call.wait_for(lambda: len(call.heard) >= frames(greeting_bytes) + 60)  # over a second of the story
            phone.simulator.expect_user_audio("thanks, that is enough")
            call.say(speech("Wait, wait, that is enough."))
            await call.wait_for(lambda: bool(call.clears))
            story_id, story_bytes = phone.audio_bytes(1)
            clear = call.clears[0]
            await call.wait_for(lambda: any(cleared for _, cleared in call.echoes))
            await call.wait_for(lambda: len(phone.received("conversation.item.truncate")) == 1)
            [truncate] = phone.received("conversation.item.truncate")
            assert phone.received("response.cancel") == [], "server VAD cancelled the story itself"
            await call.hang_up()
            await phone.wait_calls(0)
        heard_ms = (clear.frames_heard - frames(greeting_bytes)) * FRAME_MS
        assert truncate["item_id"] == story_id and 1000 <= truncate["audio_end_ms"] < story_bytes // 8
        assert abs(truncate["audio_end_ms"] - heard_ms) <= FRAME_MS, (truncate["audio_end_ms"], heard_ms)
        assert clear.marks_dropped > 0, "the story was queued far ahead: a clear drops marks, and their echoes did not count as played"
        report = phone.report()
        assert report["end_reason"] == "hung up by the caller"
        entries = [json.loads(line) for line in (next(phone.sessions.iterdir()) / "transcript.jsonl").read_text().splitlines()]
        cut = next(entry for entry in entries if entry.get("kind") == "interrupted")
        assert cut["heard_ms"] == truncate["audio_end_ms"] and LONG_REPLY.startswith(cut["text"]) and cut["text"]

    run(body)


def test_a_handoff_keeps_pcmu_and_the_caller_hears_the_new_agent(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path, environ={"TWILIO_INPUT_FRAMES": "5"}) as phone:
            wav = write_ulaw_wav(tmp_path / "caller.wav", b"\xff" * 8 * 3000 + speech("I have a question about billing."))
            phone.simulator.expect_user_audio("I have a question about billing")
            call = await phone.dial(wav=wav, speed=2.0)
            await call.wait_for(lambda: len(phone.received("session.update")) == 2)
            await call.wait_for(lambda: not call.saying and len(phone.simulator.sent[0]) > 0 and len(call.heard) > 0 and phone.audio_items_done() >= 1)
            _, greeting_bytes = phone.audio_bytes(0)
            _, billing_bytes = await _second_item(phone)
            await call.wait_for(lambda: len(call.heard) >= frames(greeting_bytes) + frames(billing_bytes))
            await call.hang_up()
            await phone.wait_calls(0)
            first, handoff = phone.received("session.update")
            assert {len(base64.b64decode(event["audio"])) for event in phone.received("input_audio_buffer.append")} == {5 * FRAME_BYTES}
        for update in (first, handoff):
            assert update["session"]["audio"]["input"]["format"] == update["session"]["audio"]["output"]["format"] == PCMU_FORMAT
        assert handoff["session"]["instructions"] == "You handle bills for +15550001234."
        assert "voice" not in handoff["session"]["audio"]["output"]
        report = phone.report()
        assert [(entry["target"], entry["success"]) for entry in report["handoffs"]] == [("billing", True)] and report["final_agent"] == "billing"

    run(body)


async def _second_item(phone: Phone) -> tuple[str, int]:
    for _ in range(400):
        try:
            item_id, size = phone.audio_bytes(1)
            done = [event for events in phone.simulator.sent for event in events if event["type"] == "response.output_audio.done" and event["item_id"] == item_id]
            if done:
                return item_id, size
        except IndexError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("no second reply")


def test_a_conversation_that_ends_itself_lets_the_goodbye_play_then_hangs_up_through_the_rest_api(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path, max_session_minutes=0.05) as phone:
            call = await phone.dial(speed=2.0)
            await asyncio.wait_for(call.closed.wait(), 30)
            await phone.wait_calls(0)
            [(sid, form, authorization)] = phone.rest.updates
            assert (sid, form) == (call.call_sid, {"Status": "completed"})
            assert authorization.startswith("Basic ")
            pending = [name for name, _ in call.echoes]
            sent = [message["mark"]["name"] for message in call.received if message["event"] == "mark"]
            assert pending == sent, "every mark was echoed (all audio played) before the hangup"
        assert phone.report()["end_reason"] == "session_limit"
        transcript = (next(phone.sessions.iterdir()) / "transcript.md").read_text()
        assert transcript.rstrip().endswith("> session limit of 0.05 minutes reached\n\n**desk:** Thank you for calling. Goodbye!"), transcript

    run(body)


def test_transfer_and_hangup_are_twilio_rest_calls_and_an_ended_call_is_no_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from runner.serve.twilio import TwilioRest, TwilioSettings
    from tests.serve.fake_twilio import ACCOUNT_SID

    async def body() -> FakeTwilioRest:
        async with FakeTwilioRest().running() as rest:
            twilio_rest = TwilioRest(TwilioSettings(auth_token=TOKEN, api_base_url=rest.base_url))
            call = FakeTwilioCall("http://127.0.0.1:9", TOKEN)
            rest.calls[call.call_sid] = call
            await twilio_rest.transfer(ACCOUNT_SID, call.call_sid, "tel:+15550001111", "Putting you through to a person.")
            await twilio_rest.transfer(ACCOUNT_SID, call.call_sid, "sip:desk@example.com")
            await twilio_rest.hangup(ACCOUNT_SID, "CA" + "9" * 32)
            return rest

    with caplog.at_level("DEBUG", logger="runner.serve.twilio"):
        rest = run(body)
    assert [(sid, form) for sid, form, _ in rest.updates[:2]] == [
        (rest.updates[0][0], {"Twiml": "<Response><Say>Putting you through to a person.</Say><Dial>+15550001111</Dial></Response>"}),
        (rest.updates[0][0], {"Twiml": "<Response><Dial><Sip>sip:desk@example.com</Sip></Dial></Response>"}),
    ]
    assert rest.updates[2][:2] == ("CA" + "9" * 32, {"Status": "completed"})
    assert f"call CA{'9' * 32} was already over" in caplog.text


def test_a_bad_input_frames_setting_is_refused_when_the_app_is_made(tmp_path: Path) -> None:
    agents = write_phone_project(tmp_path / "project")
    with pytest.raises(SetupError) as refused:
        create_app(load_project(agents, environ={"TWILIO_INPUT_FRAMES": "0"}), SimulatorTransport(None))
    assert str(refused.value) == "TWILIO_INPUT_FRAMES must be a whole number from 1 to 10 (20 ms frames per append), not '0'"


def test_at_capacity_the_voice_webhook_rejects_the_call_as_busy(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path, max_calls=1) as phone:
            first = await phone.dial(speed=2.0)
            await first.wait_for(lambda: len(first.heard) > 0)
            second = phone.call()
            assert await second.dial() is False, "no <Stream> to connect to"
            assert second.twiml == '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>'
            await first.hang_up()
            await phone.wait_calls(0)
        assert phone.report()["end_reason"] == "hung up by the caller"

    run(body)


def test_while_draining_the_voice_webhook_answers_busy_and_the_call_in_flight_goes_on(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path) as phone:
            first = await phone.dial(speed=2.0)
            await first.wait_for(lambda: len(first.heard) > 0)
            phone.server.draining = True
            second = phone.call()
            assert await second.dial() is False, "no <Stream> to connect to"
            assert second.twiml == '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>'
            await first.hang_up()
            await phone.wait_calls(0)
        assert phone.report()["end_reason"] == "hung up by the caller"

    run(body)


def test_stopping_the_server_ends_an_open_call_with_its_report_written(tmp_path: Path) -> None:
    async def body() -> FakeTwilioCall:
        async with phone_line(tmp_path) as phone:
            call = await phone.dial(speed=2.0)
            await call.wait_for(lambda: len(call.heard) > 10)
        await asyncio.wait_for(call.closed.wait(), 10)
        return call

    run(body)
    report = json.loads((next((tmp_path / "sessions").iterdir()) / "report.json").read_text())
    assert report["end_reason"] == "the server shut down"


def test_behind_a_proxy_twilio_public_url_names_the_stream_and_the_signed_urls(tmp_path: Path) -> None:
    async def body() -> None:
        async with phone_line(tmp_path, environ={"TWILIO_PUBLIC_URL": "https://phone.example.com"}) as phone:
            call = await phone.dial(public_url="https://phone.example.com", speed=2.0)
            assert '<Stream url="wss://phone.example.com/twilio/media">' in call.twiml
            await call.wait_for(lambda: len(call.heard) > 5)
            await call.hang_up()
            await phone.wait_calls(0)
            unproxied = phone.call()
            with pytest.raises(AssertionError, match="X-Twilio-Signature does not match https://phone.example.com/twilio/voice"):
                await unproxied.dial()
        with pytest.raises(SetupError) as refused:
            create_app(load_project(write_phone_project(tmp_path / "other"), environ={"TWILIO_PUBLIC_URL": "phone.example.com/x"}), SimulatorTransport(None))
        assert str(refused.value) == "TWILIO_PUBLIC_URL must be an origin such as https://phone.example.com (no path), not 'phone.example.com/x'"

    run(body)
