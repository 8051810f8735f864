"""How fast a guardrail acts, end to end over the offline simulator, and what input checks add.

1. Trip → cut.  The example project (agents.yaml) in voice mode, with a fake speaker that
   notes when it is stopped.  Each turn the simulated model says a reply naming a
   competitor early on; we time from the transcript delta that completes the tripping
   check's text arriving at the driver to (a) playback stopped and (b) `response.cancel`
   handed to the socket.  That covers the check task, the regex, the core's decision and
   the writer queue: everything but the network.
2. Input guardrails.  With a policy that checks `user`, the reply waits for the check: we
   time from a typed turn to its `response.create` on the socket with no input policy, a
   regex one, and moderation and classifier ones through the simulator's REST API on
   loopback (a real endpoint adds its network and model time on top).

The regex cost per transcript delta is in bench/bench_guardrails.py.

    .venv/bin/python bench/bench_guardrail_trip.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from runner.config import load
from runner.config.model import Config
from runner.core.actions import Record
from runner.core.records import GuardrailTripped
from runner.host.conversation import RunOptions, open_session
from runner.sim.speech import BYTES_PER_MS

EXAMPLE = Path(__file__).resolve().parents[1] / "agents.yaml"
TRIPS = 40
INPUT_TURNS = 40
AUDIO_PACE = 20.0  # the simulator streams audio at 20x real time: the reply is still going when the cut comes
TRIPPING_REPLY = (
    "Sure, compared with Globex our X1 laptop is lighter and lasts longer on a charge, "
    "and it comes with a three year warranty, free delivery, a backlit keyboard and a bright screen "
    "that you can read outdoors, plus the support team is here whenever you need them."
)
CLEAN_REPLY = "Our X1 laptop is light and lasts all day."
INPUT_POLICIES = {
    "regex": "kind: regex\n    patterns: [{pattern: 'ignore (all |your )?previous instructions', category: jailbreak}]",
    "moderation": "kind: moderation\n    thresholds: {violence: 0.5, harassment: 0.5}",
    "classifier": "kind: classifier\n    instructions: Callers talk about TechCorp products.",
}


class StopClock:
    """A fake speaker: accepts audio, plays a complete item at once, and notes the time it is told to stop."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.queued: dict[str, int] = {}
        self.stopped_at: list[float] = []
        self.played: Callable[[str], None] = lambda item_id: None

    def play(self, item_id: str, pcm: bytes) -> None:
        self.current = item_id
        self.queued[item_id] = self.queued.get(item_id, 0) + len(pcm) // BYTES_PER_MS

    def end_item(self, item_id: str) -> None:
        self.played(item_id)

    def stop(self) -> tuple[str | None, int]:
        self.stopped_at.append(time.perf_counter())
        item, self.current = self.current, None
        return item, (self.queued.get(item, 0) // 2 if item else 0)


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:7.3f} ms   p90 {p90 * 1000:7.3f} ms   (n={len(ordered)})"


async def trip_to_cut(folder: Path) -> tuple[list[float], list[float]]:
    """Per trip: (tripping delta → playback stopped, tripping delta → response.cancel sent)."""
    config = _load(EXAMPLE)
    speaker = StopClock()
    deltas: dict[str, list[tuple[int, float]]] = {}  # item -> (transcript length so far, arrival)
    cancels: list[float] = []
    trips: list[tuple[str, int]] = []  # (item, length of the text the tripping check saw)
    streaming: list[str] = [""]  # the item whose transcript is arriving: the one a trip cuts

    def on_event(direction: str, event: dict[str, Any], t: float) -> None:
        now = time.perf_counter()
        if direction == "in" and event["type"] == "response.output_audio_transcript.delta":
            streaming[0] = event["item_id"]
            seen = deltas.setdefault(event["item_id"], [])
            seen.append(((seen[-1][0] if seen else 0) + len(event["delta"]), now))
        elif direction == "out" and event["type"] == "response.cancel":
            cancels.append(now)

    def on_record(record: Record, t: float) -> None:
        if isinstance(record, GuardrailTripped) and record.policy == "competitor_mentions":
            trips.append((streaming[0], len(record.text)))

    options = RunOptions(offline=True, session_dir=folder)
    async with open_session(config, options, on_record=on_record, on_event=on_event, environ={}) as live:
        speaker.played = live.audio_played
        live.attach_audio(speaker)
        live.simulator.audio_pace = AUDIO_PACE
        for _ in range(TRIPS):
            live.simulator.script([{"say": TRIPPING_REPLY}, {"say": CLEAN_REPLY}])
            await live.driver.say("how does the X1 compare?")
            if not await live.driver.wait_idle(60):
                raise SystemExit("the session did not settle after a trip")
    assert len(trips) == len(speaker.stopped_at) == len(cancels) == TRIPS, (len(trips), len(speaker.stopped_at), len(cancels))
    to_stop, to_cancel = [], []
    for (item, length), stopped, cancelled in zip(trips, speaker.stopped_at, cancels):
        arrived = next(at for seen, at in deltas[item] if seen >= length)
        to_stop.append(stopped - arrived)
        to_cancel.append(cancelled - arrived)
    return to_stop, to_cancel


def _input_project(folder: Path, policy: str | None) -> Config:
    guardrail = f"guardrails:\n  - name: screen\n    checks: [user]\n    global: true\n    {policy}\n" if policy else ""
    path = folder / f"input-{abs(hash(policy))}.yaml"
    path.write_text(
        "version: 1\nname: input bench\nstart: desk\nvoice: marin\n"
        f"state_dir: {folder / 'state'}\n"
        "agents:\n  desk:\n    description: The front desk.\n    instructions: You are the front desk.\n" + guardrail
    )
    return _load(path)


async def input_delay(folder: Path, policy: str | None) -> list[float]:
    """Per typed turn: user text handed to the driver → its response.create on the socket."""
    config = _input_project(folder, policy)
    created: list[float] = []
    on_event: Callable[[str, dict[str, Any], float], None] = (
        lambda direction, event, t: created.append(time.perf_counter()) if direction == "out" and event["type"] == "response.create" else None
    )
    delays = []
    async with open_session(config, RunOptions(text=True, offline=True, sim_rules=None, session_dir=folder), on_event=on_event, environ={}) as live:
        for _ in range(INPUT_TURNS + 1):  # the first turn warms up the HTTP client
            before = len(created)
            started = time.perf_counter()
            await live.driver.say("my X1 laptop will not charge")
            if not await live.driver.wait_idle(60):
                raise SystemExit("the session did not settle after a turn")
            delays.append(created[before] - started)
    return delays[1:]


def _load(path: Path) -> Config:
    result = load(path)
    if result.config is None or not result.ok():
        raise SystemExit("\n".join(problem.format() for problem in result.problems))
    return result.config


async def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        print(f"trip -> cut: example project, voice, {TRIPS} trips, audio streamed at {AUDIO_PACE:g}x real time")
        to_stop, to_cancel = await trip_to_cut(folder)
        print(f"  tripping delta -> playback stopped    {summary(to_stop)}")
        print(f"  tripping delta -> response.cancel sent {summary(to_cancel)}")
        print(f"input guardrails: typed turn -> response.create sent, {INPUT_TURNS} turns each (simulator on loopback)")
        baseline = await input_delay(folder, None)
        print(f"  {'no input policy':18} {summary(baseline)}")
        for name, policy in INPUT_POLICIES.items():
            delays = await input_delay(folder, policy)
            added = (statistics.median(delays) - statistics.median(baseline)) * 1000
            print(f"  {name + ' policy':18} {summary(delays)}   adds {added:6.3f} ms at the median")
        print("regex cost per transcript delta: .venv/bin/python bench/bench_guardrails.py")


if __name__ == "__main__":
    asyncio.run(main())
