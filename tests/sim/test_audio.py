"""Audio on the simulated wire: server VAD on real speech, truncation accounting, barge-in."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runner.audio.formats import PCMU
from runner.audio.resample import resample
from runner.sim import Simulator
from runner.sim.hearing import transcribe
from runner.sim.speech import BYTES_PER_MS, speech_ms, synthesize
from runner.sim.vad import EnergyVad, SpeechStarted, SpeechStopped

SILENCE_1S = bytes(48_000)
TRANSCRIBED = {"transcription": {"model": "gpt-4o-mini-transcribe"}}


@pytest.fixture(scope="module")
def spoken_pcm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real espeak-ng utterance, converted by sox to 24 kHz mono PCM16."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.fail("espeak-ng and sox are required for the audio tests")
    folder = tmp_path_factory.mktemp("speech")
    wav, raw = folder / "spoken.wav", folder / "spoken.raw"
    subprocess.run(["espeak-ng", "-w", str(wav), "Hi, I am Alex and my wifi keeps disconnecting"], check=True)
    subprocess.run(["sox", str(wav), "-r", "24000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", str(raw)], check=True)
    return Path(raw).read_bytes()


def test_energy_vad_finds_the_utterance_inside_silence(spoken_pcm: bytes) -> None:
    vad = EnergyVad(silence_duration_ms=500)
    events = vad.feed(SILENCE_1S) + vad.feed(spoken_pcm) + vad.feed(SILENCE_1S)
    assert [type(event) for event in events] == [SpeechStarted, SpeechStopped]
    speech_len_ms = len(spoken_pcm) // BYTES_PER_MS
    assert 1000 <= events[0].at_ms <= 1300
    assert 1000 + speech_len_ms - 600 <= events[1].at_ms <= 1000 + speech_len_ms


def test_energy_vad_stays_quiet_on_silence_and_low_noise() -> None:
    noise = (np.random.default_rng(1).normal(0, 100, 24_000 * 2)).astype("<i2").tobytes()
    vad = EnergyVad()
    assert vad.feed(SILENCE_1S) == [] and vad.feed(noise) == []


def test_simulated_speech_runs_at_conversational_pace() -> None:
    sentence = "I have opened ticket TCK-1 with high priority for you today"
    assert 2500 < speech_ms(sentence) < 5500  # espeak-ng at about 175 words a minute
    assert len(synthesize(sentence)) == speech_ms(sentence) * BYTES_PER_MS
    assert synthesize(sentence) == synthesize(sentence)
    assert len(synthesize(sentence, 8000)) == speech_ms(sentence) * 16


def test_the_simulated_voice_says_the_words() -> None:
    said = "My wifi keeps disconnecting"
    assert transcribe(synthesize(said), 24_000, "wifi internet password problems") == "My wifi keeps disconnecting."


def test_without_espeak_the_voice_is_the_buzz_and_one_warning_says_so() -> None:
    script = ("import logging; logging.basicConfig(format='%(message)s')\n"
              "from runner.sim.speech import synthesize, buzz\n"
              "assert synthesize('Hello there.') == buzz('Hello there.') and synthesize('Bye.') == buzz('Bye.')\n")
    done = subprocess.run([sys.executable, "-c", script], env={"PATH": "/nonexistent"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "runner.sim: espeak-ng is not installed, so the simulated voice is a buzz, not words (apt install espeak-ng)\n"


def test_server_vad_turn_on_spoken_wav_commits_transcribes_and_answers(kit, spoken_pcm: bytes) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(audio={"input": {**TRANSCRIBED, "turn_detection": {"type": "server_vad", "silence_duration_ms": 400}}})
            sim.expect_user_audio("Hi, I am Alex and my wifi keeps disconnecting")
            sim.script([{"say": "Let me check that."}])
            await client.append(SILENCE_1S + spoken_pcm + SILENCE_1S)
            events = await client.until("response.done")
            kinds = [event["type"] for event in events]
            assert kinds[:8] == [
                "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
                "conversation.item.added", "conversation.item.done", "conversation.item.input_audio_transcription.delta",
                "conversation.item.input_audio_transcription.completed", "response.created",
            ]
            started, stopped = events[0], events[1]
            assert started["item_id"] == stopped["item_id"] == events[2]["item_id"]
            assert 700 <= started["audio_start_ms"] <= 1000  # onset minus the 300 ms prefix padding
            assert stopped["audio_end_ms"] > started["audio_start_ms"] + 2000
            assert events[5]["delta"] == events[6]["transcript"] == "Hi, I am Alex and my wifi keeps disconnecting"
            assert events[4]["item"]["content"] == [{"type": "input_audio", "transcript": "Hi, I am Alex and my wifi keeps disconnecting"}]
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_silence_never_starts_a_turn(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.append(SILENCE_1S * 3)
            await client.send({"type": "input_audio_buffer.clear"})
            events = await client.until("input_audio_buffer.cleared")
            assert [event["type"] for event in events] == ["input_audio_buffer.cleared"]

    kit.run(scenario)


def test_speech_during_a_reply_cancels_it_as_turn_detected(kit, spoken_pcm: bytes) -> None:
    async def scenario() -> None:
        async with Simulator(audio_pace=4.0) as sim:
            client = await kit.connect(sim.ws_base_url)
            sim.script([{"say": "Here is a long answer that will take a while to say out loud to you."}])
            await client.send({"type": "response.create"})
            await client.until("response.output_audio.delta")
            await client.append(spoken_pcm[: 600 * BYTES_PER_MS])
            events = await client.until("response.done")
            done = events[-1]["response"]
            assert (done["status"], done["status_details"]["reason"]) == ("cancelled", "turn_detected")
            assert done["output"][0]["status"] == "incomplete"
            kinds = [event["type"] for event in events]
            assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
            item_id = done["output"][0]["id"]
            sent_ms = sum(len(base64.b64decode(e["delta"])) for e in client.events if e["type"] == "response.output_audio.delta") // BYTES_PER_MS
            assert sim.connections[0].audio_sent_ms[item_id] == sent_ms < speech_ms("Here is a long answer that will take a while to say out loud to you.")
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_truncate_accounts_for_exactly_the_audio_sent(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            sim.script([{"say": "One two three four five."}, {"say": "Text too."}])
            await client.send({"type": "response.create"})
            item = (await client.until("response.done"))[-1]["response"]["output"][0]
            sent = speech_ms("One two three four five.")
            await client.send({"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0, "audio_end_ms": sent + 1})
            error = (await client.until("error"))[-1]["error"]
            assert (error["code"], error["message"]) == ("invalid_value", f"Audio content of {sent}ms is already shorter than {sent + 1}ms")
            await client.send({"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0, "audio_end_ms": 1000})
            truncated = (await client.until("conversation.item.truncated"))[-1]
            assert (truncated["item_id"], truncated["audio_end_ms"]) == (item["id"], 1000)
            await client.send({"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0, "audio_end_ms": 1200})
            error = (await client.until("error"))[-1]["error"]
            assert error["message"] == "Audio content of 1000ms is already shorter than 1200ms"
            await client.configure(output_modalities=["text"])
            await client.send({"type": "response.create"})
            text_item = (await client.until("response.done"))[-1]["response"]["output"][0]
            await client.send({"type": "conversation.item.truncate", "item_id": text_item["id"], "content_index": 0, "audio_end_ms": 0})
            error = (await client.until("error"))[-1]["error"]
            assert (error["code"], error["message"]) == ("unsupported_content_type", "Only model output audio messages can be truncated")
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_manual_commit_needs_100ms_and_does_not_answer(kit) -> None:
    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(audio={"input": {"turn_detection": None}})
            await client.append(bytes(99 * BYTES_PER_MS))
            await client.send({"type": "input_audio_buffer.commit"})
            error = (await client.until("error"))[-1]["error"]
            assert error["message"].endswith("but buffer only has 99ms of audio.")
            await client.append(bytes(BYTES_PER_MS))
            await client.send({"type": "input_audio_buffer.commit"})
            events = await client.until("conversation.item.done")
            assert [event["type"] for event in events] == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
            assert sim.connections[0].response is None

    kit.run(scenario)


def test_a_g711_session_reports_the_services_format_shape_and_streams_ulaw(kit) -> None:
    text = "One two three four five."

    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            updated = await client.configure(audio={"input": {"format": {"type": "audio/pcma"}}, "output": {"format": {"type": "audio/pcmu"}}})
            assert updated["session"]["audio"]["input"]["format"] == {"type": "audio/pcma"}
            assert updated["session"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
            sim.script([{"say": text}])
            await client.send({"type": "response.create"})
            events = await client.until("response.done")
            reply = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
            assert reply == PCMU.encode(synthesize(text, 8000))
            item = events[-1]["response"]["output"][0]
            sent = speech_ms(text)
            assert len(reply) == sent * 8
            await client.send({"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0, "audio_end_ms": sent + 1})
            assert (await client.until("error"))[-1]["error"]["message"] == f"Audio content of {sent}ms is already shorter than {sent + 1}ms"
            back = await client.configure(audio={"output": {"format": {"type": "audio/pcm"}}})
            assert back["session"]["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_server_vad_hears_ulaw_input(kit, spoken_pcm: bytes) -> None:
    at_8k = np.round(resample(np.frombuffer(SILENCE_1S + spoken_pcm + SILENCE_1S, "<i2") / 32768, 24000, 8000) * 32767).astype("<i2")
    codes = PCMU.encode(at_8k.tobytes())

    async def scenario() -> None:
        async with Simulator() as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(audio={"input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "server_vad", "silence_duration_ms": 400}}})
            sim.script([{"say": "Let me check that."}])
            for start in range(0, len(codes), 320):
                await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(codes[start : start + 320]).decode()})
            events = await client.until("input_audio_buffer.committed")
            started, stopped = events[-3], events[-2]
            assert (started["type"], stopped["type"]) == ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
            assert 700 <= started["audio_start_ms"] <= 1000
            assert stopped["audio_end_ms"] > started["audio_start_ms"] + 2000

    kit.run(scenario)
