"""`runner run agents.yaml --offline --text`: the router greets before the caller types anything."""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

GREETING = "router: Thanks for calling TechCorp. Who am I speaking with, and what's the phone number on your account?"
WAIT_SECONDS = 30


def _lines_of(stream: Any) -> queue.Queue[str | None]:
    """The stream's lines as they come, on a thread, so the test can wait on them with a timeout."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_the_greeting_comes_before_any_input(project: Path, e2e: Any) -> None:
    process = subprocess.Popen(
        [*e2e.RUNNER, "run", "agents.yaml", "--offline", "--text"], cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=e2e.runner_env(OPENAI_API_KEY=e2e.FAKE_API_KEY),
    )
    try:
        stdout = _lines_of(process.stdout)
        first = stdout.get(timeout=WAIT_SECONDS)  # standard input is still open and empty
        assert first == GREETING
        process.stdin.write("my phone is (555) 123-4567\n")
        process.stdin.close()
        rest = []
        while (line := stdout.get(timeout=WAIT_SECONDS)) is not None:
            rest.append(line)
        assert process.wait(WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert rest[0] == "you: my phone is (555) 123-4567"
    assert rest[-1] == "router: Thanks, Alex, you're verified. How can I help you today?"
    entries = e2e.read_jsonl(e2e.session_folder(project) / "events.jsonl")
    kinds = [(entry["dir"], entry["event"]["type"]) for entry in entries if entry["dir"] in ("in", "out")]
    configured = kinds.index(("in", "session.updated"))
    assert kinds[configured + 1] == ("out", "response.create")  # the greeting, asked for at once
    assert kinds.index(("in", "response.done")) < kinds.index(("out", "conversation.item.create"))  # the typed turn waits for it


class Speaker:
    """An audio output that keeps what it was given to play, per item."""

    def __init__(self) -> None:
        self.played: dict[str, int] = {}
        self.ended: list[str] = []

    def play(self, item_id: str, pcm: bytes) -> None:
        self.played[item_id] = self.played.get(item_id, 0) + len(pcm)

    def end_item(self, item_id: str) -> None:
        self.ended.append(item_id)

    def stop(self) -> tuple[str | None, int]:
        return None, 0


def test_greeting_audio_that_comes_before_the_speaker_is_attached_is_played_once_it_is(project: Path, tmp_path: Path, e2e: Any) -> None:
    """Voice streams start after the session is configured, and a greeting can start streaming before them."""
    import asyncio

    from runner.config import load
    from runner.host.conversation import RunOptions, open_session

    config = load(project / "agents.yaml").config
    assert config is not None
    speaker = Speaker()

    async def talk() -> Path:
        async with open_session(config, RunOptions(offline=True, session_dir=tmp_path / "sessions"), environ={}) as live:
            assert await live.driver.wait_idle(timeout=30)  # the whole greeting arrived, with no speaker yet
            live.driver.attach_audio(speaker)
        return live.folder

    folder = asyncio.run(talk())
    received: dict[str, int] = {}
    for entry in e2e.read_jsonl(folder / "events.jsonl"):
        event = entry["event"]
        if entry["dir"] == "in" and event["type"] == "response.output_audio.delta":
            received[event["item_id"]] = received.get(event["item_id"], 0) + int(event["delta"].strip("<> bytes"))
    assert len(received) == 1 and next(iter(received.values())) > 0
    assert speaker.played == received
    assert speaker.ended == list(received)  # the end of the item, too, waited for the speaker
