"""A call's feed for its page: backlog then live entries, secrets masked, audio elided, slow readers cut off."""

from __future__ import annotations

import asyncio
from typing import Any

from runner.core.records import UserMessage
from runner.host.artifacts import Redactor
from runner.serve.calls import FEED_QUEUE, CallFeed


async def take(feed: CallFeed, count: int) -> list[dict[str, Any]]:
    taken = []
    async for entry in feed.entries():
        taken.append(entry)
        if len(taken) == count:
            break
    return taken


def test_a_late_subscriber_gets_the_backlog_then_live_entries_then_the_end() -> None:
    async def body() -> None:
        feed = CallFeed("rtc_1", Redactor())
        feed.record(UserMessage("hello", "item_1"), 1.23456)
        reader = asyncio.ensure_future(take(feed, 3))
        await asyncio.sleep(0)
        feed.event("in", {"type": "response.done"}, 2.0)
        feed.close({"kind": "end", "reason": "call ended", "error": None})
        assert await reader == [
            {"kind": "record", "record": "user", "t": 1.235, "data": {"text": "hello", "item_id": "item_1"}},
            {"kind": "event", "direction": "in", "t": 2.0, "event": {"type": "response.done"}},
            {"kind": "end", "reason": "call ended", "error": None},
        ]
        assert [entry["kind"] for entry in [entry async for entry in feed.entries()]] == ["record", "event", "end"]  # after the end: all, then stop

    asyncio.run(body())


def test_secrets_are_masked_and_audio_payloads_replaced_by_their_size() -> None:
    feed = CallFeed("rtc_2", Redactor({"CRM_TOKEN": "tok-very-secret"}))
    feed.event("in", {"type": "response.function_call_arguments.done", "arguments": '{"auth": "tok-very-secret"}'}, 0.5)
    feed.event("out", {"type": "input_audio_buffer.append", "audio": "AAAA" * 10}, 0.6)
    shown = [entry["event"] for entry in feed.backlog]
    assert shown == [
        {"type": "response.function_call_arguments.done", "arguments": '{"auth": "${CRM_TOKEN}"}'},
        {"type": "input_audio_buffer.append", "audio": "<30 bytes>"},
    ]


def test_a_subscriber_that_falls_behind_is_cut_off_and_the_call_goes_on() -> None:
    async def body() -> None:
        feed = CallFeed("rtc_3", Redactor())
        stalled = feed.entries()
        first = asyncio.ensure_future(stalled.__anext__())
        feed.event("in", {"type": "first"}, 0.0)
        await first
        for index in range(FEED_QUEUE + 1):
            feed.event("in", {"type": f"e{index}"}, 0.0)
        assert not feed.subscribers
        rest = [entry async for entry in stalled]
        assert len(rest) == FEED_QUEUE and rest[-1]["event"]["type"] == f"e{FEED_QUEUE - 1}"
        feed.event("in", {"type": "later"}, 1.0)
        assert feed.backlog[-1]["event"] == {"type": "later"}

    asyncio.run(body())
