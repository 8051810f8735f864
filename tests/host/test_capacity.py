"""Limits: conversations per host, tool calls per conversation, records held for a slow consumer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

import pytest

import runner
from runner.bindings.loader import project_package
from runner.host.transports import MEMORY_QUEUE_EVENTS
from tests.host.embedding import FakeModel, read_jsonl, write_project

WAIT = 30.0


def test_the_conversation_past_the_cap_is_refused_at_once_and_the_others_go_on(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def main() -> tuple[str, str]:
        async with runner.Host(project, transport=runner.MemoryTransport(FakeModel()), max_conversations=2) as host:
            async with contextlib.AsyncExitStack() as stack:
                first = await stack.enter_async_context(host.open(variables={"customer": "ada"}, text=True))
                await stack.enter_async_context(host.open(variables={"customer": "bob"}, text=True))
                with pytest.raises(runner.CapacityError) as refused:
                    await host.open(variables={"customer": "cy"}, text=True).__aenter__()
                await first.send_text("still here?")
                assert await first.wait_idle(WAIT)
                reply = next(r.data["text"] for r in [r async for r in _until_assistant(first)])
            async with host.open(variables={"customer": "cy"}, text=True):  # a slot is free again
                pass
            return str(refused.value), reply

    message, reply = asyncio.run(main())
    assert message == "the host is at capacity: 2 of 2 conversations are open; try again when one ends"
    assert reply == "Hello there."
    assert len(list((tmp_path / "project" / "state" / "sessions").iterdir())) == 3  # the refused one left no folder


async def _until_assistant(conv: runner.Conversation):  # type: ignore[no-untyped-def]
    async for record in conv.records():
        if record.kind == "assistant":
            yield record
            return


def test_tool_calls_past_the_cap_wait_and_past_twice_the_cap_are_refused(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    model = FakeModel("All done.")
    model.calls["go"] = ["slow"] * 6

    async def main() -> list[dict]:
        async with runner.Host(project, transport=runner.MemoryTransport(model), max_tool_calls=2) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as conv:
                await conv.send_text("go")
                assert await conv.wait_idle(WAIT)
            return [record.data async for record in conv.records() if record.kind == "tool_result"]  # ends: conv is closed

    results = asyncio.run(main())
    tools = sys.modules[f"{project_package(project.config.base_dir)}.desk.tools"]  # the project's modules live under a package of its own
    assert tools.most_running == 2
    outputs = [(json.loads(result["output"]), result["error"]) for result in results]
    refused = {"error": "too_many_tool_calls", "message": "slow cannot start: 4 tool calls are already running or waiting in this conversation; try again later"}
    assert sorted(outputs, key=str) == sorted([({"done": True}, None)] * 4 + [(refused, "too many tool calls at once")] * 2, key=str)



def test_a_consumer_that_falls_behind_loses_the_oldest_records_and_is_told_how_many(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    everything: list[runner.Record] = []

    async def main() -> tuple[runner.Conversation, list[runner.Record]]:
        transport = runner.MemoryTransport(FakeModel("one two three four five six seven eight"))
        async with runner.Host(project, transport=transport, record_queue=5) as host:
            async with host.open(variables={"customer": "ada"}, text=True, on_record=lambda record, t: everything.append(record)) as conv:
                for text in ("first", "second"):
                    await conv.send_text(text)
                    assert await conv.wait_idle(WAIT)
            return conv, [record async for record in conv.records()]

    conv, late = asyncio.run(main())
    dropped = len(everything) - 5
    assert dropped > 0
    assert late[0] == runner.Record("notice", {"message": f"{dropped} records dropped: the records() consumer fell behind (it holds at most 5)"})
    assert late[1:] == everything[-5:]
    transcript = [(entry["kind"], entry["text"]) for entry in read_jsonl(conv.folder / "transcript.jsonl")]
    reply = "one two three four five six seven eight"
    assert transcript == [("user", "first"), ("assistant", reply), ("user", "second"), ("assistant", reply)]


def test_a_conversation_opened_without_records_keeps_none_and_says_so_to_a_late_consumer(tmp_path: Path) -> None:
    """A server follows its calls through on_record: no queue should hold a thousand records per call for nobody."""
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    seen: list[runner.Record] = []

    async def main() -> str:
        async with runner.Host(project, transport=runner.MemoryTransport(FakeModel()), record_queue=5) as host:
            async with host.open(variables={"customer": "ada"}, text=True, records=False, on_record=lambda record, t: seen.append(record)) as conv:
                await conv.send_text("first")
                assert await conv.wait_idle(WAIT)
            with pytest.raises(RuntimeError) as refused:
                [record async for record in conv.records()]
            return str(refused.value)

    assert asyncio.run(main()) == "this conversation was opened with records=False: follow it with on_record or an observer"
    assert [record.data["text"] for record in seen if record.kind == "assistant"] == ["Hello there."]


class StalledLink:
    """The fake model, except that the service stops taking audio until `release` is set."""

    def __init__(self) -> None:
        self.model = FakeModel()
        self.release = asyncio.Event()

    async def __call__(self, event: dict, connection: object) -> list:
        if event["type"] == "input_audio_buffer.append":
            await self.release.wait()
            return []
        answer = self.model(event, connection)
        return answer if isinstance(answer, list) else [item async for item in answer]


IN_FLIGHT = MEMORY_QUEUE_EVENTS + 2  # taken off our queue by a stalled memory link: its queue, the one being answered, the one waiting to enter


def test_microphone_audio_past_the_outgoing_bound_is_dropped_and_counted_until_the_link_catches_up(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    link = StalledLink()
    chunks, bound = IN_FLIGHT + 20 + 30, 20
    notices: list[str] = []

    async def main() -> list[dict]:
        transport = runner.MemoryTransport(link)
        async with runner.Host(project, transport=transport) as host:
            async with host.open(variables={"customer": "ada"}, on_record=lambda r, t: notices.append(r.data["message"]) if r.kind == "notice" else None) as conv:
                conv.driver.outgoing.bound = bound
                for _ in range(chunks):
                    await conv.send_audio(b"\0" * 4800)
                    await asyncio.sleep(0)
                assert notices == [f"the connection to the service is behind ({bound} client events waiting): microphone audio is dropped until it catches up"]
                link.release.set()
                assert await conv.wait_idle(WAIT)
            return transport.connections[0].sent

    sent = asyncio.run(main())
    assert notices[1:] == [f"the connection caught up; {chunks - IN_FLIGHT - bound} microphone audio chunks were dropped meanwhile"]
    assert sum(1 for event in sent if event["type"] == "input_audio_buffer.append") == IN_FLIGHT + bound


def test_a_link_that_takes_nothing_ends_the_conversation_once_twice_the_bound_is_waiting(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    link = StalledLink()

    async def main() -> runner.Conversation:
        async with runner.Host(project, transport=runner.MemoryTransport(link)) as host:
            async with host.open(variables={"customer": "ada"}) as conv:
                conv.driver.outgoing.bound = 5
                for _ in range(IN_FLIGHT):
                    await conv.send_audio(b"\0" * 4800)
                    await asyncio.sleep(0)
                for turn in range(20):
                    await conv.send_text(f"turn {turn}")
                    await asyncio.sleep(0)
                assert conv.ended
                link.release.set()
        return conv

    conv = asyncio.run(main())
    assert conv.outcome is not None
    assert (conv.outcome.reason, conv.outcome.fatal_error) == ("connection backlogged", "the service is not taking client events: 10 are waiting to be sent")
    report = json.loads((conv.folder / "report.json").read_text())
    assert report["end_reason"] == "connection backlogged"
