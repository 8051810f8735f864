"""Twilio calls put through to a person and keypad presses, end to end: a fake Twilio call through the app to the simulator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runner.sim.speech import synthesize
from runner.audio.formats import PCMU
from tests.serve.fake_twilio import FakeTwilioCall
from tests.serve.test_twilio import Phone, frames, phone_line, run, speech

PERSON = "tel:+15551234567"
LINE = "Connecting you to a colleague now."
PRESSED = "(The caller pressed 5 on the keypad.)"


async def _greeted(phone: Phone) -> FakeTwilioCall:
    """A call whose greeting has played to the end."""
    call = await phone.dial(speed=2.0)
    await call.wait_for(lambda: _audio_done(phone) >= 1)
    _, greeting_bytes = phone.audio_bytes(0)
    await call.wait_for(lambda: len(call.heard) == frames(greeting_bytes))
    return call


def _audio_done(phone: Phone) -> int:
    """How many replies the simulator has sent all the audio of."""
    return sum(event["type"] == "response.output_audio.done" for events in phone.simulator.sent for event in events)


async def _put_through(phone: Phone, call: FakeTwilioCall) -> None:
    """The call ends in one REST transfer to the person, once the caller heard the whole line."""
    await asyncio.wait_for(call.closed.wait(), 30)
    await phone.wait_calls(0)
    [(sid, form, _)] = phone.rest.updates
    assert (sid, form) == (call.call_sid, {"Twiml": f"<Response><Dial>{PERSON.removeprefix('tel:')}</Dial></Response>"})
    _, greeting_bytes = phone.audio_bytes(0)
    line_id, line_bytes = phone.audio_bytes(1)
    assert len(call.heard) == frames(greeting_bytes) + frames(line_bytes), "the line played to its end before the transfer"
    heard_line = b"".join(frame for _, frame in call.heard[frames(greeting_bytes):])
    assert heard_line[:line_bytes] == PCMU.encode(synthesize(LINE, 8000))
    assert [name for name, cleared in call.echoes] == [message["mark"]["name"] for message in call.received if message["event"] == "mark"]
    assert not any(cleared for _, cleared in call.echoes)


def _transcript(phone: Phone) -> tuple[str, list[dict]]:
    folder = next(phone.sessions.iterdir())
    entries = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    return (folder / "transcript.md").read_text(), entries


def test_a_handoff_to_the_person_agent_plays_its_line_then_transfers_through_the_rest_api(tmp_path: Path) -> None:
    async def body() -> Phone:
        async with phone_line(tmp_path, person=PERSON) as phone:
            call = await _greeted(phone)
            phone.simulator.expect_user_audio("I want a person")
            call.say(speech("I want a person, please."))
            await _put_through(phone, call)
            return phone

    phone = run(body)
    report = phone.report()
    assert report["end_reason"] == f"transferred to {PERSON}"
    assert [(entry["target"], entry["success"]) for entry in report["handoffs"]] == [("person", True)] and report["final_agent"] == "person"
    transcript, entries = _transcript(phone)
    assert f"> transferring the call to {PERSON}" in transcript, transcript
    [line] = [entry for entry in entries if entry["kind"] == "assistant" and entry["agent"] == "person"]
    assert line["text"] == LINE and line["heard_ms"] > 1000
    assert "stands for" not in transcript, "on Twilio the person agent does not answer as itself"


def test_key_zero_mapped_to_the_person_agent_ends_in_the_transfer(tmp_path: Path) -> None:
    async def body() -> Phone:
        async with phone_line(tmp_path, person=PERSON) as phone:
            call = await _greeted(phone)
            await call.press("0")
            await _put_through(phone, call)
            return phone

    phone = run(body)
    assert phone.report()["end_reason"] == f"transferred to {PERSON}"
    transcript, entries = _transcript(phone)
    assert [(entry["from"], entry["to"], entry["reason"]) for entry in entries if entry["kind"] == "handoff"] == [("desk", "person", "the caller pressed 0")]
    assert "handoff desk → person (the caller pressed 0)" in transcript, transcript


def test_an_unmapped_key_reaches_the_model_as_text_and_is_answered(tmp_path: Path) -> None:
    async def body() -> Phone:
        async with phone_line(tmp_path, person=PERSON) as phone:
            call = await _greeted(phone)
            await call.press("5")
            _, greeting_bytes = phone.audio_bytes(0)
            await call.wait_for(lambda: _audio_done(phone) == 2)
            _, answer_bytes = phone.audio_bytes(1)
            await call.wait_for(lambda: len(call.heard) == frames(greeting_bytes) + frames(answer_bytes))
            texts = [event["item"]["content"] for event in phone.received("conversation.item.create") if event["item"].get("role") == "user"]
            assert texts == [[{"type": "input_text", "text": PRESSED}]]
            await call.hang_up()
            await phone.wait_calls(0)
            assert phone.rest.updates == []
            return phone

    phone = run(body)
    assert phone.report()["end_reason"] == "hung up by the caller"
    transcript, entries = _transcript(phone)
    assert f"**user:** {PRESSED}\n\n**desk:** You pressed five." in transcript, transcript
