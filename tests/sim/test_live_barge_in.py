"""Barge-in on the simulated GPT-Live: a reply paced in real time is cut where a caller talks over it.

GPT-Live is full duplex: it listens while it speaks and stops when the caller starts. The
simulator paces its speech (`audio_pace`, or the line's pace on a call), hears the caller
meanwhile, and stops sending the reply's audio and words at the caller's onset: the
transcript of the cut reply is what was said before it.
"""

from __future__ import annotations

import asyncio
import base64
import wave
from pathlib import Path
from typing import Any

from runner.compile_live import session_start_event
from runner.sim import Simulator
from runner.sim.speech import SAMPLE_RATE, synthesize
from tests.sim.conftest import run
from tests.sim.test_live_sim import LiveClient, _appends, assert_valid_live_server_events, program  # noqa: F401 (fixture)

LONG_REPLY = "Your order forty two left our warehouse on Monday morning and should reach you by Thursday afternoon at the very latest."
OVER_IT = "Wait, I have another question."
PACE = 4.0


def wav_of(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return path


def wav_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def before(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events received before the first of `kind`."""
    first = next(index for index, event in enumerate(events) if event["type"] == kind)
    return events[:first]


def test_a_caller_who_talks_over_a_paced_reply_cuts_it_and_is_answered(program, tmp_path: Path):
    caller = wav_pcm(wav_of(tmp_path / "over.wav", synthesize(OVER_IT) + bytes(2 * SAMPLE_RATE)))

    async def scenario() -> list[dict[str, Any]]:
        async with Simulator(audio_pace=PACE) as sim:
            sim.script([{"say": LONG_REPLY}, {"say": "Sure, go ahead."}])
            sim.expect_user_audio(OVER_IT)
            client = await LiveClient.connect(sim)
            await client.send(session_start_event(program))
            await client.until("session.started")
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Where is my order?"}]}
            await client.send({"type": "response.item.create", "item": item})
            await client.send({"type": "response.create"})
            await client.until("session.output_audio.delta")  # the reply has begun
            talking = asyncio.get_running_loop().create_task(_talk(client, caller))
            await client.until("session.input_transcript.delta")
            await client.until("session.delegation.created")
            await client.until("session.usage.updated")
            await talking
            await client.close()
            return client.events

    events = run(scenario)
    assert_valid_live_server_events(events)
    cut = before(events, "session.input_transcript.delta")
    said = "".join(event["delta"] for event in cut if event["type"] == "session.output_transcript.delta")
    assert said and LONG_REPLY.startswith(said) and len(said) < len(LONG_REPLY) // 2, said
    audio = b"".join(base64.b64decode(event["delta"]) for event in cut if event["type"] == "session.output_audio.delta")
    assert 0 < len(audio) < len(synthesize(LONG_REPLY)) // 2
    (usage,) = [event for event in cut if event["type"] == "session.usage.updated"]
    assert usage["usage"]["seconds"] * 1000 == len(audio) // 48, "the timeline holds only what was said"
    heard = next(event for event in events if event["type"] == "session.input_transcript.delta")
    assert heard["delta"] == OVER_IT
    answer = "".join(event["delta"] for event in events[events.index(heard):] if event["type"] == "session.output_transcript.delta")
    assert answer == "Sure, go ahead."


async def _talk(client: LiveClient, pcm: bytes) -> None:
    """The caller's WAV, 20 ms a frame, at the simulator's pace."""
    for append in _appends(pcm, chunk_ms=20):
        await client.send(append)
        await asyncio.sleep(0.02 / PACE)
