"""Health, readiness, metrics and event logs of `runner serve`, fed by the host's observers.

Conversations are opened on the running app's host as a channel would (`channel=...`),
over the offline simulator, so every channel's calls are counted the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runner.core.records import ErrorReported, GuardrailTripped, Handoff, ToolFinished, UsageUpdated
from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from runner.serve.observe import JsonFormatter, Metrics
from runner.serve.server import Server
from runner.serve.settings import ServeOptions
from tests.host.embedding import write_project
from tests.served import on_uvicorn

WAIT = 20


def run(body: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout))


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, name: str = "app", **options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Server]]:
    """The app on uvicorn in this event loop, over the simulator with the project's rules."""
    agents = write_project(tmp_path / name)
    transport = SimulatorTransport(tmp_path / name / "rules.yaml")
    app = create_app(load_project(agents, environ={}), transport, session_dir=tmp_path / name / "sessions", **options)
    async with on_uvicorn(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        yield http, app.state.server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    page = await http.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain"), page.text
    return samples(page.text)


def test_health_is_up_and_ready_until_draining_or_full(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, max_calls=1) as (http, server):
            assert ((await http.get("/healthz")).status_code, (await http.get("/healthz")).json()) == (200, {"calls": 0})
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()) == (200, {"ready": True})
            async with server.running_host.open(variables={"customer": "C-1"}, text=True, channel="twilio"):
                full = await http.get("/readyz")
                assert (full.status_code, full.json()) == (503, {"ready": False, "reason": "at capacity: 1 of 1 calls"})
                assert (await http.get("/healthz")).json() == {"calls": 1}
            assert (await http.get("/readyz")).status_code == 200
            server.draining = True
            draining = await http.get("/readyz")
            assert (draining.status_code, draining.json()) == (503, {"ready": False, "reason": "draining: the server is shutting down and takes no new calls"})
            assert (await http.get("/healthz")).status_code == 200

    run(body)


def test_metrics_count_sessions_by_channel_and_outcome_and_tools_from_the_records(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, server):
            before = await scrape(http)
            for channel in ("browser", "sip", "twilio"):
                assert before[("runner_active_sessions", (("channel", channel),))] == 0
            host = server.running_host
            async with host.open(variables={"customer": "C-1"}, text=True, channel="twilio") as conversation:
                await conversation.send_text("who am i")
                assert await conversation.wait_idle(WAIT)
                during = await scrape(http)
                assert during[("runner_active_sessions", (("channel", "twilio"),))] == 1
                assert during[("runner_active_sessions", (("channel", "sip"),))] == 0
            after = await scrape(http)
            assert after[("runner_active_sessions", (("channel", "twilio"),))] == 0
            assert after[("runner_sessions_total", (("channel", "twilio"), ("outcome", "completed")))] == 1
            assert after[("runner_tool_duration_seconds_count", (("tool", "whoami"),))] == 1
            assert ("runner_tool_errors_total", (("tool", "whoami"),)) not in after
            usage = json.loads((conversation.folder / "report.json").read_text())["usage"]
            assert after[("runner_tokens_total", (("direction", "input"),))] == usage["input_tokens"] > 0
            assert after[("runner_tokens_total", (("direction", "output"),))] == usage["output_tokens"] > 0
            assert ("runner_event_loop_lag_seconds", ()) in after

    run(body)


def test_two_apps_in_one_process_do_not_share_counters(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, "one") as (one, first), serving(tmp_path, "two") as (two, _):
            async with first.running_host.open(variables={"customer": "C-1"}, text=True, channel="sip"):
                pass
            assert (await scrape(one))[("runner_sessions_total", (("channel", "sip"), ("outcome", "completed")))] == 1
            assert not any(name == "runner_sessions_total" for name, _ in await scrape(two))

    run(body)


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, options=ServeOptions(metrics=False)) as (http, _):
            page = await http.get("/metrics")
            assert (page.status_code, page.json()) == (404, {"error": "metrics are off (ENABLE_METRICS=false or server.metrics: false)"})

    run(body)


class Conversationish:
    """What the metrics read of a conversation, for records fed straight to them."""

    def __init__(self, id: str, channel: str = "sip") -> None:
        self.id, self.channel, self.call_id, self.outcome = id, channel, None, None


def test_handoffs_guardrails_upstream_errors_and_cost_are_counted_per_label() -> None:
    metrics = Metrics()
    one, two = Conversationish("s1"), Conversationish("s2")
    for record in (
        Handoff("router", "billing", "asks about a bill", True, None),
        Handoff("router", "billing", None, True, None),
        Handoff("billing", "nowhere", None, False, "not an edge"),
        GuardrailTripped("no_competitors", "block", "assistant", "BRAND", None, "text", True, None),
        GuardrailTripped("no_competitors", "block", "assistant", None, None, "text", True, "timed out"),  # a failed check is no trip
        ErrorReported("rate_limit_exceeded", "slow down"),
        ToolFinished("router", "c1", "lookup", None, "boom", 0.2),
        UsageUpdated("gpt-realtime-2.1", 1, 100, 10, 110, 0.5),
        UsageUpdated("gpt-realtime-2.1", 2, 250, 30, 280, 1.25),  # totals so far, not increments
    ):
        metrics.record(one, record, 0.0)
    metrics.record(two, UsageUpdated("gpt-realtime-2.1", 1, 50, 5, 55, 0.25), 0.0)
    from prometheus_client import generate_latest

    found = samples(generate_latest(metrics.registry).decode())
    assert found[("runner_handoffs_total", (("source", "router"), ("success", "true"), ("target", "billing")))] == 2
    assert found[("runner_handoffs_total", (("source", "billing"), ("success", "false"), ("target", "nowhere")))] == 1
    assert found[("runner_guardrail_trips_total", (("action", "block"), ("policy", "no_competitors")))] == 1
    assert found[("runner_upstream_errors_total", (("code", "rate_limit_exceeded"),))] == 1
    assert found[("runner_tool_errors_total", (("tool", "lookup"),))] == 1
    assert found[("runner_tokens_total", (("direction", "input"),))] == 300
    assert found[("runner_tokens_total", (("direction", "output"),))] == 35
    assert found[("runner_estimated_cost_usd_total", ())] == 1.5


def test_event_log_lines_are_json_with_session_and_call_ids(tmp_path: Path) -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    events = logging.getLogger("runner.serve.events")
    events.addHandler(handler)
    events.setLevel(logging.INFO)

    async def body() -> None:
        async with serving(tmp_path) as (http, server):
            async with server.running_host.open(variables={"customer": "C-1"}, text=True, channel="twilio") as conversation:
                await conversation.send_text("who am i")
                assert await conversation.wait_idle(WAIT)
            return conversation.id

    try:
        session_id = run(body)
    finally:
        events.removeHandler(handler)
        events.setLevel(logging.NOTSET)
    parsed = [json.loads(line) for line in lines]
    assert [line["event"] for line in parsed] == ["session.opened", "session.closed"]
    opened, closed = parsed
    assert opened["session_id"] == closed["session_id"] == session_id
    assert (opened["channel"], opened["call_id"], opened["level"], opened["logger"]) == ("twilio", None, "info", "runner.serve.events")
    assert (closed["outcome"], closed["message"]) == ("completed", f"session {session_id} closed: session closed")
    assert opened["time"].endswith("Z")


def test_an_observer_that_raises_is_logged_and_the_conversation_goes_on(tmp_path: Path, caplog: Any) -> None:
    class Broken:
        def opened(self, conversation: Any) -> None:
            raise RuntimeError("opened broke")

        def record(self, conversation: Any, record: Any, t: float) -> None:
            raise RuntimeError("record broke")

        def closed(self, conversation: Any) -> None:
            raise RuntimeError("closed broke")

    async def body() -> None:
        async with serving(tmp_path) as (http, server):
            server.running_host.observe(Broken())
            async with server.running_host.open(variables={"customer": "C-2"}, text=True, channel="sip") as conversation:
                await conversation.send_text("who am i")
                assert await conversation.wait_idle(WAIT)
            assert (await scrape(http))[("runner_sessions_total", (("channel", "sip"), ("outcome", "completed")))] == 1
            return conversation

    with caplog.at_level(logging.ERROR, logger="runner.host.conversation"):
        conversation = run(body)
    assert "You are C-2" in (conversation.folder / "transcript.md").read_text()
    failures = {record.getMessage().rsplit(" ", 1)[-1] for record in caplog.records if "observer" in record.getMessage()}
    assert failures == {"opened", "record", "closed"}
