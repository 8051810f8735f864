"""The embedding API: many conversations on one loaded project, each with its own context."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import runner
from runner.host.writer import WRITER
from tests.host.embedding import FakeModel, read_jsonl, write_project
from tests.waits import wait_until

WAIT = 30.0


def test_two_concurrent_conversations_each_tool_sees_its_own_variables_and_state_folder(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def talk(host: runner.Host, customer: str) -> tuple[runner.Conversation, list[runner.Record]]:
        records = []
        async with host.open(variables={"customer": customer}, state_dir=tmp_path / customer, text=True) as conv:
            await conv.send_text("who am i?")
            assert await conv.wait_idle(WAIT)
            async for record in conv.records():
                records.append(record)
                if record.kind == "assistant":
                    break
        return conv, records

    async def main() -> list[tuple[runner.Conversation, list[runner.Record]]]:
        async with runner.Host(project, transport=runner.SimulatorTransport(tmp_path / "project" / "rules.yaml")) as host:
            return await asyncio.gather(talk(host, "ada"), talk(host, "bob"))

    (ada, ada_records), (bob, bob_records) = asyncio.run(main())
    for conv, records, customer in ((ada, ada_records, "ada"), (bob, bob_records, "bob")):
        results = [json.loads(record.data["output"]) for record in records if record.kind == "tool_result"]
        assert results == [{"customer": customer, "state_dir": str(tmp_path / customer), "session_id": conv.id}]
        assert [r.data["text"] for r in records if r.kind == "assistant"] == [f"You are {customer}; your files are in {tmp_path / customer}."]
        assert conv.folder.parent == tmp_path / customer / "sessions"
        report = json.loads((conv.folder / "report.json").read_text())
        assert (report["session_id"], report["end_reason"]) == (conv.id, "session closed")
        assert conv.outcome is not None and conv.outcome.fatal_error is None
    assert ada.id != bob.id


def test_cancelling_one_conversation_mid_reply_leaves_the_other_complete(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    model = FakeModel("one two three four")
    model.gates["hang on"] = asyncio.Event()  # never set: this reply stops after its first word

    async def main() -> tuple[runner.Conversation, runner.Conversation]:
        async with runner.Host(project, transport=runner.MemoryTransport(model)) as host:
            opened: dict[str, runner.Conversation] = {}

            async def talk(customer: str, text: str) -> None:
                async with host.open(variables={"customer": customer}, state_dir=tmp_path / customer, text=True) as conv:
                    opened[customer] = conv
                    await conv.send_text(text)
                    await conv.wait_idle(WAIT)

            doomed = asyncio.create_task(talk("ada", "hang on"))
            await asyncio.wait_for(model.streaming.wait(), WAIT)
            survivor = asyncio.create_task(talk("bob", "hello"))
            doomed.cancel()
            await asyncio.wait_for(survivor, WAIT)
            await asyncio.wait([doomed], timeout=WAIT)
            assert doomed.cancelled()
            return opened["ada"], opened["bob"]

    ada, bob = asyncio.run(main())
    cancelled = json.loads((ada.folder / "report.json").read_text())
    assert cancelled["end_reason"] == "cancelled"
    report = json.loads((bob.folder / "report.json").read_text())
    assert report["end_reason"] == "session closed"
    transcript = read_jsonl(bob.folder / "transcript.jsonl")
    assert [(entry["kind"], entry["text"]) for entry in transcript] == [("user", "hello"), ("assistant", "one two three four")]
    assert [(entry["kind"], entry["text"]) for entry in read_jsonl(ada.folder / "transcript.jsonl")] == [("user", "hang on")]
    assert (bob.folder / "events.jsonl").stat().st_size > 0


def test_every_report_names_the_config_as_it_was_loaded_even_after_the_file_changes(tmp_path: Path) -> None:
    """The hash is taken once, at load: a report must name the agents that ran, not the file as it is now."""
    import hashlib

    config_path = write_project(tmp_path / "project")
    loaded = hashlib.sha256(config_path.read_bytes()).hexdigest()
    project = runner.load_project(config_path, environ={})

    async def main() -> tuple[runner.Conversation, runner.Conversation]:
        async with runner.Host(project, transport=runner.MemoryTransport(FakeModel())) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as first:
                pass
            config_path.write_text(config_path.read_text(encoding="utf-8") + "\n# edited while serving\n", encoding="utf-8")
            async with host.open(variables={"customer": "bob"}, text=True) as second:
                pass
            return first, second

    for conv in asyncio.run(main()):
        assert json.loads((conv.folder / "report.json").read_text())["config"]["sha256"] == loaded


def test_a_reply_is_on_disk_once_the_conversation_goes_quiet_without_waiting_for_the_writers_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    monkeypatch.setattr(WRITER, "every", 3600.0)  # the interval's wake-up would come in an hour

    async def main() -> None:
        async with runner.Host(project, transport=runner.MemoryTransport(FakeModel("one two"))) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as conv:
                await conv.send_text("hello")
                assert await conv.wait_idle(WAIT)
                transcript = conv.folder / "transcript.jsonl"
                await asyncio.to_thread(wait_until, lambda: transcript.read_text(encoding="utf-8").count("\n") == 2, WAIT, "the turn in transcript.jsonl")
                assert [(entry["kind"], entry["text"]) for entry in read_jsonl(transcript)] == [("user", "hello"), ("assistant", "one two")]

    asyncio.run(main())
