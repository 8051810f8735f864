"""Records as transcript entries: a keypad press is in transcript.jsonl and transcript.md."""

from __future__ import annotations

import asyncio
from pathlib import Path

import runner
from runner.core.records import KeyPressed
from runner.host.report import transcript_entry
from tests.host.embedding import FakeModel, read_jsonl, write_project

WAIT = 30.0


def test_a_key_press_is_a_dtmf_entry_with_its_agent_and_key() -> None:
    assert transcript_entry(KeyPressed("desk", "#"), 1.5) == ({"t": 1.5, "kind": "dtmf", "agent": "desk", "key": "#"}, "> the caller pressed # on the keypad")


def test_a_key_press_in_a_conversation_is_written_before_the_line_it_gives_the_model(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def main() -> runner.Conversation:
        async with runner.Host(project, transport=runner.MemoryTransport(FakeModel("Noted."))) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as conv:
                conv.press_key("5")
                assert await conv.wait_idle(WAIT)
        return conv

    conv = asyncio.run(main())
    entries = [{key: value for key, value in entry.items() if key != "t"} for entry in read_jsonl(conv.folder / "transcript.jsonl")]
    assert entries[:2] == [{"kind": "dtmf", "agent": "desk", "key": "5"}, {"kind": "user", "text": "(The caller pressed 5 on the keypad.)", "item_id": None}]
    assert [(entry["kind"], entry["text"]) for entry in entries[2:]] == [("assistant", "Noted.")]
    markdown = (conv.folder / "transcript.md").read_text(encoding="utf-8")
    assert "> the caller pressed 5 on the keypad\n\n**user:** (The caller pressed 5 on the keypad.)\n\n**desk:** Noted.\n" in markdown
