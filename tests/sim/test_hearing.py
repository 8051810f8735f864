"""The simulator hears what was said: pocketsphinx on espeak-ng speech, with the session's words."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runner.audio.wav import load_pcm
from runner.sim import Simulator, parse_rules
from runner.sim.hearing import context_of, transcribe, word_error_rate

REPO = Path(__file__).resolve().parents[2]
SILENCE_1S = bytes(48_000)
TRANSCRIBED = {"transcription": {"model": "gpt-4o-mini-transcribe"}}
SAID = ["Hi, my phone number is five five five, one two three, four five six seven.", "My wifi keeps disconnecting", "I have a question about my bill",
        "Can I talk to a person please", "I want a refund", "I'd like to buy a laptop"]


def spoken(text: str, folder: Path, rate: int = 24_000) -> bytes:
    """espeak-ng saying `text`, as mono PCM16 at `rate`."""
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is required for the hearing tests")
    wav = folder / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "140", "-w", str(wav), text], check=True)
    return load_pcm(wav, rate)


def router_session() -> dict:
    config = yaml.safe_load((REPO / "agents.yaml").read_text())
    router = config["agents"]["router"]
    tools = [{"type": "function", "name": name, **{key: config["tools"][name][key] for key in ("description", "parameters")}} for name in router["tools"]]
    tools += [{"type": "function", "name": f"transfer_to_{target}", "description": config["agents"][target]["description"]} for target in ("support", "sales", "billing")]
    return {"instructions": router["instructions"], "tools": tools}


def test_espeak_speech_is_transcribed_with_a_low_word_error_rate(tmp_path: Path) -> None:
    context = context_of(router_session())
    heard = [transcribe(spoken(text, tmp_path), 24_000, context) for text in SAID]
    rates = [word_error_rate(text, words) for text, words in zip(SAID, heard)]
    assert heard[1:5] == ["My wifi keeps disconnecting.", "I have a question about my bill.", "Can I talk to a person please.", "I want a refund."]
    assert sum(rates) / len(rates) <= 0.15, list(zip(heard, rates))


def test_word_error_rate_counts_digits_as_the_words_said() -> None:
    assert word_error_rate("my number is five five five", "My number is 555.") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5


def test_a_spoken_turn_is_heard_and_its_transcription_events_carry_it(kit, tmp_path: Path) -> None:
    speech = spoken("My wifi keeps disconnecting", tmp_path)

    async def scenario() -> None:
        async with Simulator(parse_rules("rules: []\n", "<none>")) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(instructions="You are technical support: wifi, internet and password problems.", audio={"input": {**TRANSCRIBED, "turn_detection": {"type": "server_vad"}}})
            sim.script([{"say": "Let me check that."}])
            await client.append(SILENCE_1S + speech + SILENCE_1S)
            events = await client.until("conversation.item.input_audio_transcription.completed")
            assert kit.of_type(events, "conversation.item.input_audio_transcription.delta")[0]["delta"] == "My wifi keeps disconnecting."
            assert events[-1]["transcript"] == "My wifi keeps disconnecting."
            kit.assert_valid(sim.sent[0])

    kit.run(scenario)


def test_a_rule_files_own_user_transcript_is_a_script_that_wins_over_hearing(kit, tmp_path: Path) -> None:
    speech = spoken("My wifi keeps disconnecting", tmp_path)

    async def scenario() -> None:
        async with Simulator(parse_rules('user_transcript: "Hello there."\nrules: []\n', "<rules>")) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(audio={"input": {**TRANSCRIBED, "turn_detection": {"type": "server_vad"}}})
            await client.append(SILENCE_1S + speech + SILENCE_1S)
            events = await client.until("conversation.item.input_audio_transcription.completed")
            assert events[-1]["transcript"] == "Hello there."

    kit.run(scenario)


def test_hearing_works_with_no_network_and_an_empty_home(tmp_path: Path) -> None:
    """The model comes from the wheel: nothing is fetched, nothing is read from a user cache."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a network namespace with no interface up")
    wav = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "140", "-w", str(wav), "I want a refund"], check=True)
    script = ("from runner.audio.wav import load_pcm\nfrom runner.sim.hearing import transcribe\n"
              f"print(transcribe(load_pcm({str(wav)!r}, 24000), 24000, 'refund'))\n")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")})
    assert done.returncode == 0 and done.stdout.startswith("I want") and done.stdout.endswith("refund.\n"), (done.stdout, done.stderr)
    assert list(home.iterdir()) == []
