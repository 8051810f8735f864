"""What the server sees of every conversation, whichever channel opened it: host observers.

- `LiveCalls`: the conversations open now, with their channel, agent, start time and
  transcript so far (the admin view, the drain, readiness);
- `Metrics`: Prometheus metrics in the app's own `CollectorRegistry` (never the global
  one: two apps in one process count apart);
- `EventLog`: one structured log line per event of note, with session and call ids;
  `JsonFormatter` writes them (and every other `runner` log line) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runner.core.records import (
    AssistantMessage,
    ErrorReported,
    GuardrailTripped,
    Handoff,
    Heard,
    Interrupted,
    Record,
    ToolFinished,
    UsageUpdated,
    UserMessage,
)

if TYPE_CHECKING:
    from runner.host.conversation import Conversation

CHANNELS = ("browser", "sip", "twilio")
DRAIN_REASON = "the server is shutting down"
OUTCOMES = {
    "hung up by the caller": "hung_up",
    "connection lost": "connection_lost",
    "the server shut down": "server_shutdown",
    DRAIN_REASON: "drained",
    "cancelled": "cancelled",
}
TRANSCRIPT_LINES = 200  # per live call, for the admin view
events = logging.getLogger("runner.serve.events")


def outcome_label(conversation: Conversation) -> str:
    """A short, bounded label for how a conversation ended (its reason is free text)."""
    outcome = conversation.outcome
    if outcome is None or outcome.fatal_error is not None:
        return "failed"
    return OUTCOMES.get(outcome.reason, "completed")


@dataclass
class LiveCall:
    conversation: Conversation
    started: float = field(default_factory=time.monotonic)
    agent: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def view(self) -> dict[str, Any]:
        conversation = self.conversation
        return {
            "session_id": conversation.id,
            "call_id": conversation.call_id,
            "channel": conversation.channel,
            "agent": self.agent,
            "duration_s": round(time.monotonic() - self.started, 1),
            "transcript": self.transcript,
        }


class LiveCalls:
    """The host's open conversations; `empty` is set whenever there are none."""

    def __init__(self) -> None:
        self.calls: dict[str, LiveCall] = {}
        self.empty = asyncio.Event()
        self.empty.set()

    def opened(self, conversation: Conversation) -> None:
        self.calls[conversation.id] = LiveCall(conversation, agent=conversation.core.active_agent)
        self.empty.clear()

    def record(self, conversation: Conversation, record: Record, t: float) -> None:
        call = self.calls.get(conversation.id)
        if call is None:
            return
        match record:
            case UserMessage(text=text):
                call.transcript.append({"role": "user", "text": text})
            case AssistantMessage(agent=agent, text=text) | Heard(agent=agent, text=text) | Interrupted(agent=agent, text=text):
                if call.transcript and call.transcript[-1].get("item") == getattr(record, "item_id", None) and record.item_id is not None:
                    call.transcript[-1]["text"] = text  # the heard or interrupted form replaces the first
                else:
                    call.transcript.append({"role": "assistant", "agent": agent, "text": text, "item": record.item_id})
            case Handoff(target=target, success=True):
                call.agent = target
            case _:
                return
        del call.transcript[:-TRANSCRIPT_LINES]

    def closed(self, conversation: Conversation) -> None:
        call = self.calls.pop(conversation.id, None)
        if call is not None:
            call.closed.set()
        if not self.calls:
            self.empty.set()

    def find(self, key: str) -> LiveCall | None:
        """A live call by session id or call id."""
        return self.calls.get(key) or next((call for call in self.calls.values() if call.conversation.call_id == key), None)


class Metrics:
    """Every metric of one app, fed by records."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.active = Gauge("runner_active_sessions", "Conversations open now, by channel.", ["channel"], registry=registry)
        self.sessions = Counter("runner_sessions", "Conversations ended, by channel and outcome.", ["channel", "outcome"], registry=registry)
        self.tool_seconds = Histogram("runner_tool_duration_seconds", "Tool call duration.", ["tool"], registry=registry,
                                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.tool_errors = Counter("runner_tool_errors", "Tool calls that failed, by tool.", ["tool"], registry=registry)
        self.handoffs = Counter("runner_handoffs", "Handoffs, by edge.", ["source", "target", "success"], registry=registry)
        self.guardrail_trips = Counter("runner_guardrail_trips", "Guardrail trips, by policy and action.", ["policy", "action"], registry=registry)
        self.upstream_errors = Counter("runner_upstream_errors", "Error events from the Realtime service, by code.", ["code"], registry=registry)
        self.tokens = Counter("runner_tokens", "Tokens used, by direction.", ["direction"], registry=registry)
        self.cost = Counter("runner_estimated_cost_usd", "Estimated cost of the tokens used (US dollars).", registry=registry)
        self.loop_lag = Gauge("runner_event_loop_lag_seconds", "How late the event loop ran a timer, at the last check.", registry=registry)
        for channel in CHANNELS:
            self.active.labels(channel)
        self._usage: dict[str, tuple[int, int, float]] = {}

    def opened(self, conversation: Conversation) -> None:
        self.active.labels(conversation.channel).inc()

    def record(self, conversation: Conversation, record: Record, t: float) -> None:
        match record:
            case ToolFinished(name=name, error=error, duration=duration):
                self.tool_seconds.labels(name).observe(duration or 0.0)
                if error is not None:
                    self.tool_errors.labels(name).inc()
            case Handoff(source=source, target=target, success=success):
                self.handoffs.labels(source, target, "true" if success else "false").inc()
            case GuardrailTripped(policy=policy, action=action, error=None):
                self.guardrail_trips.labels(policy, action).inc()
            case ErrorReported(code=code):
                self.upstream_errors.labels(code or "unknown").inc()
            case UsageUpdated(input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost):
                seen_in, seen_out, seen_cost = self._usage.get(conversation.id, (0, 0, 0.0))
                self.tokens.labels("input").inc(max(0, input_tokens - seen_in))
                self.tokens.labels("output").inc(max(0, output_tokens - seen_out))
                if cost is not None:
                    self.cost.inc(max(0.0, cost - seen_cost))
                self._usage[conversation.id] = (input_tokens, output_tokens, cost if cost is not None else seen_cost)

    def closed(self, conversation: Conversation) -> None:
        self.active.labels(conversation.channel).dec()
        self.sessions.labels(conversation.channel, outcome_label(conversation)).inc()
        self._usage.pop(conversation.id, None)

    async def watch_loop(self, every: float = 0.5) -> None:
        """Keep `runner_event_loop_lag_seconds` current: how much later than asked a sleep wakes."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + every
            await asyncio.sleep(every)
            self.loop_lag.set(max(0.0, loop.time() - asked))


class EventLog:
    """One `runner.serve.events` log line per event of note, with the session's and call's ids."""

    def opened(self, conversation: Conversation) -> None:
        self._log(conversation, logging.INFO, "session.opened", f"session {conversation.id} opened", folder=str(conversation.folder))

    def record(self, conversation: Conversation, record: Record, t: float) -> None:
        match record:
            case ToolFinished(name=name, error=error, duration=duration) if error is not None:
                self._log(conversation, logging.WARNING, "tool.failed", f"tool {name} failed: {error}", tool=name, duration=duration)
            case Handoff(source=source, target=target, success=success):
                self._log(conversation, logging.INFO, "handoff", f"handoff {source} -> {target}", source=source, target=target, success=success)
            case GuardrailTripped(policy=policy, action=action, category=category, error=None):
                self._log(conversation, logging.WARNING, "guardrail.tripped", f"guardrail {policy} tripped ({action})", policy=policy, action=action, category=category)
            case ErrorReported(code=code, message=message, fatal=fatal):
                self._log(conversation, logging.ERROR if fatal else logging.WARNING, "upstream.error", f"{code}: {message}", code=code, fatal=fatal)

    def closed(self, conversation: Conversation) -> None:
        outcome = conversation.outcome
        self._log(conversation, logging.INFO, "session.closed", f"session {conversation.id} closed: {outcome.reason if outcome else 'failed'}",
                  outcome=outcome_label(conversation), reason=outcome.reason if outcome else None)

    def _log(self, conversation: Conversation, level: int, event: str, message: str, **details: Any) -> None:
        fields = {"event": event, "session_id": conversation.id, "call_id": conversation.call_id, "channel": conversation.channel, **details}
        events.log(level, message, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's `fields` when it has them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonFormatter.converter = time.gmtime


def log_stopped(metrics: Metrics) -> None:
    """One `server.stopped` line with this process's sessions by channel and outcome: its /metrics totals, once /metrics is gone."""
    totals = {f"{sample.labels['channel']}/{sample.labels['outcome']}": int(sample.value)
              for family in metrics.sessions.collect() for sample in family.samples if sample.name.endswith("_total")}
    events.info("server stopped after %d sessions", sum(totals.values()), extra={"fields": {"event": "server.stopped", "pid": os.getpid(), "sessions": totals}})
