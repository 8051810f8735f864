"""What the session core costs per server event, replaying a long recorded conversation.

The example project (agents.yaml, compiled by the real compiler, its three guardrail
policies on) talks for 200 voice turns: VAD events, the user's transcript, a spoken reply
of 25 audio deltas (40 ms each) and 40 transcript deltas, a tool call every third turn and
a handoff every tenth.  Local inputs (tool results, guardrail verdicts, playback finished)
are answered the way a driver would, outside the timed calls.  Each `receive` is timed
alone; the best of several replays is printed per event kind, beside the issue's target.

    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, Iterator

from runner.compile import compile_config
from runner.config import load
from runner.core import CheckGuardrail, Output, RunTool, Session

EXAMPLE = Path(__file__).resolve().parents[1] / "agents.yaml"
TURNS = 200
AUDIO_DELTAS = 25
AUDIO_DELTA = base64.b64encode(bytes(40 * 48)).decode()  # 40 ms of 24 kHz PCM16
TEXT_DELTAS = 40
REPLAYS = 7
TARGET_OTHER_US = 20.0
ROUTE = [("router", "support", "authenticate_user"), ("support", "billing", "search_knowledge_base"), ("billing", "router", "lookup_invoice")]
USAGE = {"total_tokens": 900, "input_tokens": 700, "output_tokens": 200,
         "input_token_details": {"text_tokens": 300, "audio_tokens": 400, "cached_tokens": 0},
         "output_token_details": {"text_tokens": 50, "audio_tokens": 150}}

Step = tuple[str, dict[str, Any]]  # (timing bucket, server event)


class Stream:
    """Builds the recorded server events of the whole conversation."""

    def __init__(self) -> None:
        self.count = 0

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.count += 1
        return {"type": kind, "event_id": f"event_{self.count}", **fields}

    def turns(self) -> Iterator[Step]:
        for turn in range(TURNS):
            source, target, tool = ROUTE[(turn // 10) % len(ROUTE)]
            user = f"user_{turn}"
            yield "other", self.event("input_audio_buffer.speech_started", audio_start_ms=0, item_id=user)
            yield "other", self.event("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id=user)
            yield "other", self.event("input_audio_buffer.committed", item_id=user, previous_item_id=None)
            item = {"id": user, "type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None}]}
            yield "other", self.event("conversation.item.added", previous_item_id=None, item=item)
            yield "other", self.event("conversation.item.input_audio_transcription.completed", item_id=user, content_index=0,
                                      transcript="I need help with my account please", usage={"type": "duration", "seconds": 1})
            if turn % 10 == 9:
                yield from self.call_response(f"h{turn}", f"transfer_to_{target}", "handoff", json.dumps({"reason": "the caller asked"}))
            elif turn % 3 == 0:
                yield from self.call_response(f"t{turn}", tool, "tool", '{"query": "wifi"}')
            yield from self.reply(f"r{turn}")

    def call_response(self, response_id: str, name: str, bucket: str, arguments: str) -> Iterator[Step]:
        call = {"id": f"fc_{response_id}", "type": "function_call", "call_id": f"call_{response_id}", "name": name, "arguments": ""}
        yield "other", self.event("response.created", response={"id": response_id, "status": "in_progress"})
        yield "other", self.event("response.output_item.added", response_id=response_id, output_index=0, item=call)
        yield "tool" if bucket == "tool" else "other", self.event(
            "response.function_call_arguments.done", response_id=response_id, item_id=call["id"], output_index=0,
            call_id=call["call_id"], name=name, arguments=arguments)
        yield "other", self.event("response.output_item.done", response_id=response_id, output_index=0, item=call)
        done = self.event("response.done", response={"id": response_id, "status": "completed", "output": [], "usage": USAGE})
        yield "handoff" if bucket == "handoff" else "other", done

    def reply(self, response_id: str) -> Iterator[Step]:
        item_id = f"msg_{response_id}"
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        yield "other", self.event("response.created", response={"id": response_id, "status": "in_progress"})
        yield "other", self.event("rate_limits.updated", rate_limits=[])
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        yield "other", self.event("response.output_item.added", response_id=response_id, output_index=0, item=item)
        yield "other", self.event("response.content_part.added", part={"type": "audio"}, **where)
        words = "Sure thing, let me check that. "
        for index in range(max(AUDIO_DELTAS, TEXT_DELTAS)):
            if index < AUDIO_DELTAS:
                yield "audio", self.event("response.output_audio.delta", delta=AUDIO_DELTA, **where)
            if index < TEXT_DELTAS:
                yield "other", self.event("response.output_audio_transcript.delta", delta=words[index % 5 * 6:index % 5 * 6 + 6], **where)
        yield "other", self.event("response.output_audio.done", **where)
        yield "other", self.event("response.output_audio_transcript.done", transcript=words * 8, **where)
        yield "other", self.event("response.content_part.done", part={"type": "audio"}, **where)
        yield "other", self.event("response.output_item.done", response_id=response_id, output_index=0, item={**item, "status": "completed"})
        yield "other", self.event("response.done", response={"id": response_id, "status": "completed", "output": [], "usage": USAGE})


def replay(agents: dict, config: Any, steps: list[Step]) -> dict[str, list[int]]:
    """Feed every event once; returns nanoseconds per timed `receive`, by bucket."""
    session = Session(agents, config.start, guardrails=config.guardrails, limits=config.limits, output=Output.AUDIO_LOCAL, session_id="bench")
    session.start(0.0)
    timings: dict[str, list[int]] = {"audio": [], "other": [], "tool": [], "handoff": []}
    clock = time.perf_counter_ns
    now = 0.0
    for bucket, event in steps:
        now += 0.01
        started = clock()
        actions = session.receive(event, now)
        timings[bucket].append(clock() - started)
        answer(session, actions, event, now)
    return timings


def answer(session: Session, actions: list, event: dict[str, Any], now: float) -> None:
    """Act as the driver: tools answer, guardrails pass, finished replies were heard."""
    for action in actions:
        if isinstance(action, RunTool):
            answer(session, session.tool_done(action.call_id, '{"ok": true}', error=None, duration=0.05, now=now), event, now)
        elif isinstance(action, CheckGuardrail):
            session.guardrail_result(action.check_id, tripped=False, now=now)
    if event["type"] == "response.output_item.done" and event["item"]["type"] == "message":
        session.playback_finished(event["item"]["id"], now)


def timer_overhead_ns() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        started = clock()
        samples.append(clock() - started)
    samples.sort()
    return samples[len(samples) // 2]


def main() -> None:
    result = load(EXAMPLE)
    assert result.config is not None, [p.format() for p in result.errors]
    agents = compile_config(result.config)
    steps = list(Stream().turns())
    overhead = timer_overhead_ns()
    best: dict[str, float] = {}
    for _ in range(REPLAYS):
        for bucket, samples in replay(agents, result.config, steps).items():
            per_event = max(0.0, sum(samples) / len(samples) - overhead) / 1000
            best[bucket] = min(best.get(bucket, per_event), per_event)
    counts = {bucket: sum(1 for b, _ in steps if b == bucket) for bucket in best}
    print(f"session core, {TURNS} voice turns of the example project, {len(steps)} server events, best of {REPLAYS} replays")
    print(f"  audio deltas            {best['audio']:7.2f} µs/event  ({counts['audio']} events)")
    print(f"  other events            {best['other']:7.2f} µs/event  ({counts['other']} events)"
          f"  target < {TARGET_OTHER_US:.0f} µs: {TARGET_OTHER_US / best['other']:.1f}x under")
    print(f"  tool call dispatch      {best['tool']:7.2f} µs/event  (arguments.done -> RunTool, {counts['tool']} calls)")
    print(f"  handoff                 {best['handoff']:7.2f} µs/event  (response.done -> session.update, {counts['handoff']} handoffs)")
    print(f"  (timer overhead {overhead:.0f} ns subtracted per event)")


if __name__ == "__main__":
    main()
