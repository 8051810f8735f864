"""What a session leaves behind for people: transcript lines and report.json."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from ..config.model import Config
from ..core.records import (
    AssistantMessage, ErrorReported, GuardrailTripped, Handoff, Heard, Interrupted, KeyPressed, Notice, Record, ToolFinished, UserMessage,
)


def _one_line(text: Any, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# The record classes `transcript_line` can write (the rest stream or keep books: text
# deltas, speaking and thinking marks, usage).  Checked on the event loop, so the writer's
# queue carries only what may become a line.
TRANSCRIPT_RECORDS = (UserMessage, AssistantMessage, Heard, Interrupted, ToolFinished, Handoff, GuardrailTripped, ErrorReported, Notice, KeyPressed)


def transcript_line(record: Record) -> str | None:
    """The Markdown line for a finished transcript entry; None for streaming or bookkeeping records.

    A spoken reply still playing (`AssistantMessage.playing`) is no entry yet: the core
    follows it with `Heard` (played to the end) or `Interrupted` (only the heard text).
    """
    match record:
        case UserMessage(text=text):
            return f"**user:** {text}"
        case AssistantMessage(playing=True):
            return None
        case AssistantMessage(agent=agent, text=text) | Heard(agent=agent, text=text):
            return f"**{agent}:** {text}"
        case Interrupted(agent=agent, text=text, heard_ms=heard):
            mark = "_(interrupted)_" if heard is None else f"_(interrupted after {heard} ms heard)_"
            return " ".join(part for part in (f"**{agent}:**", text, mark) if part)
        case ToolFinished(name=name, output=output, error=error, duration=duration):
            took = f" in {duration * 1000:.0f} ms" if duration is not None else ""
            outcome = f"failed: {_one_line(error)}" if error else _one_line(output or "")
            return f"> tool `{name}`{took} → {outcome}"
        case Handoff(source=source, target=target, success=True, reason=reason):
            return f"> handoff {source} → {target}" + (f" ({_one_line(reason)})" if reason else "")
        case Handoff(source=source, target=target, error=error):
            return f"> handoff {source} → {target} refused: {error}"
        case GuardrailTripped(policy=policy, action=action, category=category):
            return f"> guardrail `{policy}` {action}" + (f" [{category}]" if category else "")
        case ErrorReported(code=code, message=message):
            return f"> error {code}: {message}" if code else f"> error: {message}"
        case Notice(message=message):
            return f"> {message}"
        case KeyPressed(key=key):
            return f"> the caller pressed {key} on the keypad"
    return None


def transcript_entry(record: Record, t: float) -> tuple[dict[str, Any], str] | None:
    """The transcript.jsonl entry and transcript.md line of a record; None when it is no entry.

    A `Heard` record is written as kind `assistant`: it is the reply, as heard.
    """
    line = transcript_line(record)
    if line is None:
        return None
    kind = "assistant" if isinstance(record, Heard) else record.kind
    return {"t": round(t, 6), "kind": kind, **record.to_json()}, line


def latency_summary(values: list[float]) -> dict[str, float] | None:
    """Count, median, p90 and max of latencies given in seconds, reported in ms."""
    if not values:
        return None
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def build_report(core: Any, *, config: Config, config_hash: str, started: datetime, outcome: Any, session_id: str) -> dict[str, Any]:
    """report.json: enough to answer "what happened and what did it cost" without the logs.

    `outcome` is None while the session is still going (the report is refreshed after
    every response, so even a killed process leaves a recent one).
    """
    latencies = [turn.as_dict() for turn in core.latencies]
    answered = [turn for turn in core.latencies if not turn.interrupted]
    return {
        "session_id": session_id,
        "config": {"path": str(config.path), "sha256": config_hash, "name": config.name},
        "model": config.live_model if config.target == "live" else config.model,
        "started": started.isoformat(timespec="seconds"),
        "ended": datetime.now(timezone.utc).isoformat(timespec="seconds") if outcome is not None else None,
        "end_reason": outcome.reason if outcome is not None else "in progress",
        "fatal_error": outcome.fatal_error if outcome is not None else None,
        "reconnects": outcome.reconnects if outcome is not None else None,
        "agents_visited": list(core.agents_visited),
        "final_agent": core.active_agent,
        "tool_calls": [
            {"name": call.name, "agent": call.agent, "arguments": call.arguments, "duration": call.duration, "error": call.error, "status": call.status}
            for call in core.tool_calls
        ],
        "handoffs": [asdict(record) for record in core.handoffs],
        "handoff_counts": core.handoff_counts,
        "guardrail_trips": [{"agent": entry.agent, **entry.data} for entry in core.transcript if entry.kind == "guardrail"],
        "usage": core.usage.as_dict(),
        "latency": {
            "turns": latencies,
            "response_delay": latency_summary([t.response_delay for t in answered if t.response_delay is not None]),
            "first_output_delay": latency_summary([t.first_output_delay for t in answered if t.first_output_delay is not None]),
            "interrupted_turns": sum(1 for turn in core.latencies if turn.interrupted),
        },
        "unknown_events": dict(core.unknown_events),
    }
