"""Phone calls on a GPT-Live target: `live.transport.incoming`, `live.sessions.accept`, the sideband by session id.

The same app, project and signed webhooks as tests/serve/test_sip.py, with the project's
target set to live; the simulator rings with a pending `live_...` session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from runner.sim import Simulator
from runner.sim.live_sip import LiveSimSipCall, ring_live
from runner.sim.webhooks import WebhookSender, incoming_call_event, new_secret
from tests.serve.test_sip import PERSON, eventually, report_of, run, serving, speech_wav, write_project


def said(call: LiveSimSipCall) -> str:
    """Everything the agent said on the call, as the simulator's output transcript."""
    return "".join(event["delta"] for event in call.session.sent if event["type"] == "session.output_transcript.delta")


@contextlib.asynccontextmanager
async def live_line(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[Simulator, httpx.AsyncClient, WebhookSender]]:
    agents = write_project(tmp_path / "project")
    agents.write_text("target: live\n" + agents.read_text())
    secret = new_secret()
    async with Simulator(tmp_path / "project" / "rules.yaml") as sim:
        async with serving(tmp_path, sim, secret, **options) as (http, url):
            yield sim, http, WebhookSender(url, secret)


def test_a_live_call_is_accepted_as_live_and_runs_its_tool_on_the_sideband(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path) as (sim, http, webhook):
            call = await ring_live(sim, webhook, to="+15550100", caller="+15550199", pace=20)
            assert webhook.deliveries[-1][2] == 200 and call.state == "accepted" and call.accepts == 1
            accepted = call.accepted_session
            assert (accepted["type"], accepted["model"]) == ("live", "gpt-live-1")
            assert "format" not in accepted["audio"] and accepted["delegation"]["type"] == "responses"
            assert call.session.listeners.sidebands, "the sideband is attached by the session id"
            assert "session.start" not in [event["type"] for event in call.session.received]
            await eventually(lambda: call.session.listeners.sidebands, "the sideband")
            sim.expect_user_audio("who am i")
            await call.caller_says(speech_wav(tmp_path, "who am i"), pace=8)
            await eventually(lambda: "You are calling from +15550199." in said(call), "the tool's answer")
            assert (await http.get("/healthz")).json() == {"calls": 1}
            await call.caller_leaves()
            await eventually(lambda: report_of(tmp_path), "the final report")
        report = report_of(tmp_path)
        assert [tool["name"] for tool in report["tool_calls"]] == ["whoami"]
        assert report["tool_calls"][0]["status"] == "done"
        assert report["end_reason"] == "call ended", "the caller hung up: the sideband closed and the call is gone"

    run(body)


def test_a_live_project_leaves_the_realtime_webhook_of_the_same_call_alone(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path) as (sim, http, webhook):
            answer = await webhook.send(incoming_call_event("rtc_sip_other", [("To", "<sip:+15550100@sip.api.openai.com>")]))
            assert (answer.status_code, answer.json()) == (200, {"ignored": "realtime.call.incoming"})
            assert sim.calls.active == {}

    run(body)


def test_a_live_call_at_capacity_is_rejected_through_the_live_sessions(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path, max_calls=1) as (sim, http, webhook):
            first = await ring_live(sim, webhook, pace=20)
            assert first.state == "accepted"
            second = await ring_live(sim, webhook, pace=20)
            assert (second.state, second.rejected_with) == ("rejected", 486)
            assert webhook.deliveries[-1][2] == 200 and json.loads(webhook.deliveries[-1][1])["data"]["session_id"] == second.id
            await first.caller_leaves()

    run(body)


def reflected_end(call: LiveSimSipCall) -> int:
    """How far the audio the line played reaches on the session timeline (the sideband's reflected audio)."""
    return max((event["end_ms"] for event in call.session.reflected), default=-1)


def test_a_live_goodbye_is_played_to_its_end_then_the_call_is_hung_up(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path) as (sim, http, webhook):
            call = await ring_live(sim, webhook, pace=20)
            await eventually(lambda: call.session.listeners.sidebands, "the sideband")
            sim.expect_user_audio("goodbye")
            await call.caller_says(speech_wav(tmp_path, "goodbye"), pace=8)
            await asyncio.wait_for(call.ended.wait(), 30)
            assert call.end_reason == "hung up through the sessions API"
            assert said(call).endswith("Thank you for calling. Goodbye!")
            assert reflected_end(call) == call.session.timeline_ms, "the goodbye played to its end before the hangup"
            assert "session.close" not in [event["type"] for event in call.session.received]
            await eventually(lambda: report_of(tmp_path), "the final report")
        assert report_of(tmp_path)["end_reason"] == "guardrail"

    run(body)


def test_a_live_handoff_to_a_person_says_a_line_then_refers_the_call(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path) as (sim, http, webhook):
            call = await ring_live(sim, webhook, pace=20)
            await eventually(lambda: call.session.listeners.sidebands, "the sideband")
            sim.expect_user_audio("I want a person")
            await call.caller_says(speech_wav(tmp_path, "I want a person"), pace=8)
            await asyncio.wait_for(call.ended.wait(), 30)
            assert (call.state, call.referred_to) == ("referred", PERSON)
            assert said(call).endswith("Connecting you to a colleague now.")
            assert reflected_end(call) == call.session.timeline_ms, "the line played to its end before the transfer"
            await eventually(lambda: report_of(tmp_path), "the final report")
        report = report_of(tmp_path)
        assert report["end_reason"] == f"transferred to {PERSON}"

    run(body)


def test_live_key_presses_reach_the_model_and_zero_puts_a_person_on(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path) as (sim, http, webhook):
            call = await ring_live(sim, webhook, pace=20)
            await eventually(lambda: call.session.listeners.sidebands, "the sideband")
            await call.press("5")
            await eventually(lambda: "You pressed five." in said(call), "the answer to the key")
            await call.press("0")
            await asyncio.wait_for(call.ended.wait(), 30)
            assert call.referred_to == PERSON
            await eventually(lambda: report_of(tmp_path), "the final report")
        folder = next((tmp_path / "app" / "sessions").iterdir())
        transcript = (folder / "transcript.md").read_text()
        assert "(The caller pressed 5 on the keypad.)" in transcript and "handoff desk → person (the caller pressed 0)" in transcript

    run(body)


LONG_REPLY = "Your order forty two left our warehouse on Monday morning and should reach you by Thursday afternoon at the very latest."


def test_a_caller_who_talks_over_a_live_reply_cuts_it_and_the_transcript_keeps_what_was_said(tmp_path: Path) -> None:
    async def body() -> None:
        async with live_line(tmp_path) as (sim, http, webhook):
            call = await ring_live(sim, webhook, pace=2)
            await eventually(lambda: call.session.listeners.sidebands, "the sideband")
            sim.script([{"say": LONG_REPLY}, {"say": "Sure, go ahead."}])
            sim.expect_user_audio("where is my order")
            sim.expect_user_audio("wait I have another question")
            await call.caller_says(speech_wav(tmp_path, "where is my order"), pace=2)
            await eventually(lambda: said(call), "the reply")
            await call.caller_says(speech_wav(tmp_path, "wait I have another question"), pace=2)
            await eventually(lambda: said(call).endswith("Sure, go ahead."), "the answer to what was said over the reply")
            assert call.session.cut_replies == 1
            await call.caller_leaves()
            await eventually(lambda: report_of(tmp_path), "the final report")
        folder = next((tmp_path / "app" / "sessions").iterdir())
        entries = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
        spoken = [(entry["kind"], entry["text"]) for entry in entries if entry["kind"] in ("user", "assistant")]
        assert [kind for kind, _ in spoken] == ["user", "assistant", "user", "assistant"], spoken
        cut = spoken[1][1]
        assert cut and LONG_REPLY.startswith(cut) and len(cut) < len(LONG_REPLY), cut
        assert spoken[2:] == [("user", "wait I have another question"), ("assistant", "Sure, go ahead.")]

    run(body)
