"""Helpers for whole sessions with guardrails: a small project on disk, the offline simulator as the
server (its fake REST API answers moderation and classifier checks), and the real driver.

`run_session(config, body, ...)` opens a session through `open_session`, hands `body`
the live session and the simulator, and returns what happened: the client events in
wire order, the records the core emitted, the session folder and how it ended.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

import yaml

from runner.config import load
from runner.config.model import Config
from runner.core.actions import Record
from runner.host.conversation import LiveSession, RunOptions, open_session
from runner.host.driver import Outcome
from runner.sim.speech import BYTES_PER_MS

COMPETITORS = {
    "name": "competitor_mentions",
    "kind": "regex",
    "checks": ["assistant"],
    "global": True,
    "hint": "Do not name or compare other companies.",
    "words": {"competitor": ["Globex", "Initech"]},
}
PROMISES = {
    "name": "unauthorised_promises",
    "kind": "regex",
    "checks": ["assistant"],
    "global": True,
    "hint": "Do not guarantee outcomes.",
    "patterns": [{"pattern": r"\bguarantee(d|s)?\b", "category": "promise"}, {"pattern": r"\b100\s?%", "category": "promise"}],
}
IDLE_TIMEOUT = 30.0  # generous: a loaded CI machine may be slow, a healthy run takes milliseconds


def write_project(folder: Path, guardrails: list[dict[str, Any]], *, router: tuple[str, ...] = (), sales: tuple[str, ...] = ()) -> Config:
    """A two-agent project (router hands off to sales) with these policies; loaded and checked."""
    agents: dict[str, Any] = {
        "router": {
            "description": "Greets callers and sends buyers to sales.",
            "instructions": "You are the front desk.",
            "handoffs": ["sales"],
        },
        "sales": {
            "description": "Talks about products and prices.",
            "instructions": "You are the sales desk.",
            "handoffs": ["router"],
        },
    }
    for name, policies in (("router", router), ("sales", sales)):
        if policies:
            agents[name]["guardrails"] = list(policies)
    project = {
        "version": 1,
        "name": "Guardrail test desk",
        "start": "router",
        "voice": "marin",
        "state_dir": str(folder / "state"),
        "session": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}},
        "agents": agents,
        "guardrails": guardrails,
    }
    path = folder / "agents.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    result = load(path)
    assert result.ok(), [problem.format() for problem in result.problems]
    assert result.config is not None
    return result.config


class FakeAudioOut:
    """Stands in for the speaker: keeps what was queued per item; a stop says half of it was heard."""

    def __init__(self) -> None:
        self.queued_ms: dict[str, int] = {}
        self.current: str | None = None
        self.stops: list[tuple[str | None, int, float]] = []  # (item, played ms, monotonic time)

    def play(self, item_id: str, pcm: bytes) -> None:
        self.current = item_id
        self.queued_ms[item_id] = self.queued_ms.get(item_id, 0) + len(pcm) // BYTES_PER_MS

    def end_item(self, item_id: str) -> None:
        """The fake never reports an item heard in full: only stops say what was heard."""

    def stop(self) -> tuple[str | None, int]:
        item, played = self.current, self.queued_ms.get(self.current, 0) // 2 if self.current else 0
        self.stops.append((item, played, time.monotonic()))
        self.current = None
        return item, played


@dataclass
class Run:
    """What one session did."""

    sent: list[dict[str, Any]]  # client events, in wire order, without their event_id
    records: list[Record]
    folder: Path
    outcome: Outcome
    core: Any
    audio: FakeAudioOut | None = None
    simulator_received: list[dict[str, Any]] = field(default_factory=list)

    def sent_types(self, *, skip: tuple[str, ...] = ("input_audio_buffer.append",)) -> list[str]:
        return [event["type"] for event in self.sent if event["type"] not in skip]

    def records_of(self, kind: str) -> list[dict[str, Any]]:
        return [record.data for record in self.records if record.kind == kind]

    def artifact_lines(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.folder / name).read_text().splitlines()]

    def report(self) -> dict[str, Any]:
        return json.loads((self.folder / "report.json").read_text())

    def message(self, text_start: str) -> Any:
        """The assistant transcript entry whose text starts with `text_start`."""
        return next(e for e in self.core.transcript if e.kind == "message" and e.role == "assistant" and e.text.startswith(text_start))


Body = Callable[[LiveSession, Any], Awaitable[None]]


def run_session(
    config: Config,
    body: Body,
    *,
    text: bool = True,
    environ: Mapping[str, str] | None = None,
    guardrails: bool = True,
    audio_pace: float | None = None,
) -> Run:
    """Run `body(live, simulator)` in a session on the offline simulator (no rules: scripted or default replies).

    Voice mode (`text=False`) plays through a `FakeAudioOut`; `audio_pace` paces the
    simulator's audio at that many times real time so a reply is still streaming when a
    check comes back.
    """
    records: list[Record] = []
    sent: list[dict[str, Any]] = []
    audio = None if text else FakeAudioOut()

    async def main() -> Run:
        options = RunOptions(text=text, offline=True, sim_rules=None, session_dir=config.path.parent / "sessions", guardrails=guardrails)

        def on_event(direction: str, event: dict[str, Any], t: float) -> None:
            if direction == "out":
                sent.append({key: value for key, value in event.items() if key != "event_id"})

        async with open_session(config, options, on_record=lambda record, t: records.append(record), on_event=on_event, environ=environ or {}) as live:
            live.driver.audio_out = audio
            live.simulator.audio_pace = audio_pace
            await body(live, live.simulator)
            assert await live.driver.wait_idle(IDLE_TIMEOUT) or live.driver.ended, "the session never went idle"
            received = list(live.simulator.received[0])
        return Run(sent, records, live.folder, live.outcome, live.core, audio, received)

    return asyncio.run(main())


async def next_record(live: LiveSession, kind: str, timeout: float = IDLE_TIMEOUT) -> Record:
    """The conversation's next record of `kind` (records since it opened are kept for this)."""

    async def first() -> Record:
        async for record in live.records():
            if record.kind == kind:
                return record
        raise AssertionError(f"the conversation closed before a {kind} record")

    try:
        return await asyncio.wait_for(first(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {kind} record within {timeout:g} s") from None


async def turn(live: LiveSession, text: str) -> None:
    """One typed user turn, waiting until its reply (and any correction) is over."""
    await live.driver.say(text)
    assert await live.driver.wait_idle(IDLE_TIMEOUT) or live.driver.ended, f"no idle after {text!r}"
