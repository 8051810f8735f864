"""The thinking sound on a Twilio call: the fake caller hears it while a slow tool runs, and not once the reply starts.

Found in what the fake Twilio played (`call.heard`, μ-law decoded) by its spectrum: windows
that are almost all one of the built-in clip's two pitches.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import numpy as np
import yaml

from runner.audio.formats import PCMU
from runner.audio.thinking import TONES_HZ
from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from tests.serve.fake_twilio import FakeTwilioRest, serve_app
from runner.sim.speech import synthesize
from tests.serve.test_twilio import GREETING, TOKEN, Phone, _second_item, frames, run, speech

REPLY = "Here is what I found for you."
RULES = f"""
default: "Sorry, I did not catch that."
greeting: "{GREETING}"
rules:
  - when: 'look'
    call: {{name: lookup, args: {{}}}}
  - after_tool: lookup
    say: "{REPLY}"
"""
SLOW_TOOL = "import time\n\n\ndef lookup():\n    time.sleep(1.5)\n    return {'found': True}\n"


@contextlib.asynccontextmanager
async def slow_desk(tmp_path: Path, sound: str) -> AsyncIterator[Phone]:
    folder = tmp_path / "project"
    (folder / "tools").mkdir(parents=True)
    (folder / "tools" / "__init__.py").write_text("")
    (folder / "tools" / "slow.py").write_text(SLOW_TOOL)
    (folder / "rules.yaml").write_text(RULES)
    project: dict[str, Any] = {
        "version": 1, "name": "Slow desk", "start": "desk", "state_dir": str(folder / "state"), "thinking_sound": sound,
        "limits": {"filler_after": 30},
        "session": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}},
        "agents": {"desk": {"description": "Looks things up.", "instructions": "Look things up.", "speaks_first": True, "tools": ["lookup"]}},
        "tools": {"lookup": {"description": "Looks it up, slowly.", "python": "tools.slow:lookup"}},
    }
    (folder / "agents.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    async with FakeTwilioRest().running() as rest:
        env = {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_BASE_URL": rest.base_url}
        transport = SimulatorTransport(folder / "rules.yaml")
        app = create_app(load_project(folder / "agents.yaml", environ=env), transport, session_dir=tmp_path / "sessions")
        async with serve_app(app) as base_url:
            yield Phone(base_url, transport, rest, tmp_path / "sessions", app.state.server)


def tonal(frame_run: list[bytes]) -> bool:
    """Three 20 ms frames that are the clip's pure tone: audible, and almost all energy at one of its pitches."""
    x = np.frombuffer(PCMU.decode(b"".join(frame_run)), "<i2").astype(float)
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    if np.sqrt(np.mean(x * x)) < 100:
        return False
    frequencies = np.fft.rfftfreq(x.size, 1 / 8000)
    return sum(power[np.abs(frequencies - tone) < 70].sum() for tone in TONES_HZ) / power.sum() > 0.9


def tonal_runs(heard: list[bytes]) -> list[int]:
    return [index for index in range(0, len(heard) - 2, 3) if tonal(heard[index : index + 3])]


async def look_it_up(phone: Phone) -> tuple[list[bytes], int, int, int]:
    """Greeting, the question, the slow tool, the reply: the frames heard, where the greeting ends and the reply starts, the reply's bytes."""
    call = await phone.dial(speed=2.0)
    await call.wait_for(lambda: len(call.heard) >= 5 and phone.audio_items_done() >= 1)
    _, greeting_bytes = phone.audio_bytes(0)
    await call.wait_for(lambda: len(call.heard) >= frames(greeting_bytes))
    phone.simulator.expect_user_audio("please look it up")
    call.say(speech("Please look it up."))
    _, reply_bytes = await _second_item(phone)
    marks = lambda: sum(message["event"] == "mark" for message in call.received)  # noqa: E731
    await call.wait_for(lambda: len(call.heard) >= frames(greeting_bytes) + frames(reply_bytes) and marks() == len(call.echoes))
    await call.hang_up()
    await phone.wait_calls(0)
    heard = [frame for _, frame in call.heard]
    return heard, frames(greeting_bytes), len(heard) - frames(reply_bytes), reply_bytes


def test_the_caller_hears_the_thinking_sound_while_the_tool_runs_and_then_only_the_reply(tmp_path: Path) -> None:
    async def body() -> None:
        async with slow_desk(tmp_path, "builtin") as phone:
            heard, greeting_end, reply_start, reply_bytes = await look_it_up(phone)
        assert b"".join(heard[reply_start:])[:reply_bytes] == PCMU.encode(synthesize(REPLY, 8000)), "the reply is heard alone, unmixed"
        waited = reply_start - greeting_end
        assert waited >= 1500 // 20 / 2, waited  # the tool sleeps 1.5 s (the fake plays at twice real time)
        runs = tonal_runs(heard)
        assert [index for index in runs if greeting_end <= index < reply_start], runs
        assert not [index for index in runs if index >= reply_start], (runs, reply_start)

    run(body)


def test_thinking_sound_off_sends_nothing_between_the_greeting_and_the_reply(tmp_path: Path) -> None:
    async def body() -> None:
        async with slow_desk(tmp_path, "off") as phone:
            heard, greeting_end, reply_start, _ = await look_it_up(phone)
        assert reply_start == greeting_end, "only the agent's own frames were sent"
        assert tonal_runs(heard) == []

    run(body)


class Timers:
    """`call_later` by hand: the test fires the pacing timer when it moves the clock."""

    def __init__(self) -> None:
        self.now = 10.0
        self.due: list[tuple[float, Any]] = []

    def clock(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any) -> Any:
        entry = (self.now + delay, callback)
        self.due.append(entry)
        timers = self

        class Handle:
            def cancel(self) -> None:
                if entry in timers.due:
                    timers.due.remove(entry)

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while ready := [entry for entry in self.due if entry[0] <= self.now + 1e-9]:
            self.due.remove(ready[0])
            ready[0][1]()


def test_the_sink_paces_the_clip_lets_the_agent_through_and_a_barge_in_truncates_at_the_agents_marks_only() -> None:
    import json

    from runner.audio.thinking import ThinkingSounds, builtin_clip
    from runner.core.records import ThinkingStarted, ThinkingStopped
    from runner.serve.twilio_playback import MarkedPlayback

    timers, sent, played = Timers(), [], []
    sink = MarkedPlayback("MZ1", sent.append, played.append, sounds=ThinkingSounds({"desk": builtin_clip(8000)}),
                          call_later=timers.call_later, clock=timers.clock)
    sink.on_record(ThinkingStarted("desk"), 0.0)
    assert len(sent) == 2  # two frames ahead of the clock, no marks
    timers.advance(0.2)
    assert sink.thinking_frames == 12 and all(json.loads(text)["event"] == "media" for text in sent)
    sink.on_record(ThinkingStopped(), 0.0)
    sink.play("item_1", b"\x01" * 160 * 10)
    timers.advance(0.2)
    assert sink.thinking_frames == 12, "the clip stopped with the agent's audio"
    agent_marks = [json.loads(text)["mark"]["name"] for text in sent if json.loads(text)["event"] == "mark"]
    assert len(agent_marks) == 10 and sink.pending_marks == 10
    for name in agent_marks[:4]:
        sink.acknowledge(name)
    assert sink.stop() == ("item_1", 80)  # four 20 ms frames heard: the clip before them is not counted
    assert played == []
