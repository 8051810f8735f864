"""No file work between receiving a tool call and sending its output.

A real offline session runs in this process; `sys.setprofile` (on the event-loop thread
only) watches every call between the moment a connection's `recv` returns a
`response.function_call_arguments.done` and the moment `send_texts` is called with that
call's `function_call_output`.  The writer thread is not watched: that is where the files
are written.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from runner.config import load
from runner.host.conversation import RunOptions, open_session

TURNS = 5
FILE_CALLS = {"write", "writelines", "flush"}
OS_CALLS = {os.write, os.fsync, os.fdatasync, os.replace, os.rename}
JSON_DUMPS = {json.dumps.__code__, json.dump.__code__}
IN_MEMORY = (io.StringIO, io.BytesIO)


class FileWorkProbe:
    """Records file writes, flushes, fsyncs and report dumps inside each tool call's window."""

    def __init__(self) -> None:
        self.open: dict[str, list[str]] = {}  # call_id -> file work seen since its arguments arrived
        self.windows: dict[str, list[str]] = {}  # closed windows: call_id -> file work seen

    def __enter__(self) -> FileWorkProbe:
        sys.setprofile(self._see)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)

    def _see(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code.co_name == "recv" and _is_tool_call(arg):
            self.open[arg[0]["call_id"]] = []
        elif event == "call" and frame.f_code.co_name == "send_texts":
            text = "\n".join(frame.f_locals.get("texts", ()))
            for call_id in [call_id for call_id in self.open if '"function_call_output"' in text and f'"call_id": "{call_id}"' in text]:
                self.windows[call_id] = self.open.pop(call_id)
        elif self.open and (work := _file_work(frame, event, arg)) is not None:
            for seen in self.open.values():
                seen.append(work)


def _is_tool_call(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], dict) and value[0].get("type") == "response.function_call_arguments.done"


def _file_work(frame: FrameType, event: str, arg: Any) -> str | None:
    if event == "c_call":
        owner = getattr(arg, "__self__", None)
        if isinstance(owner, io.IOBase) and not isinstance(owner, IN_MEMORY) and arg.__name__ in FILE_CALLS:
            return f"{type(owner).__name__}.{arg.__name__} ({getattr(owner, 'name', '?')})"
        if arg in OS_CALLS:
            return f"os.{arg.__name__}"
    elif event == "call" and frame.f_code in JSON_DUMPS:
        value = frame.f_locals.get("obj")
        if isinstance(value, dict) and "end_reason" in value:
            return "json.dump(s) of a report"
    return None


def test_no_file_write_flush_or_report_dump_between_a_tool_call_and_its_output(desk: Path, tmp_path: Path) -> None:
    config = load(desk / "agents.yaml").config
    assert config is not None
    options = RunOptions(text=True, offline=True, sim_rules=desk / "rules.yaml", session_dir=tmp_path / "sessions")
    probe = FileWorkProbe()

    async def talk() -> Path:
        async with open_session(config, options, environ={}) as live:
            with probe:
                for _ in range(TURNS):
                    await live.driver.say("quick")
                    assert await live.driver.wait_idle(timeout=30)
        return live.folder

    folder = asyncio.run(talk())
    assert len(probe.windows) == TURNS and not probe.open
    assert {call_id: work for call_id, work in probe.windows.items() if work} == {}
    logged = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    outputs = [entry for entry in logged if entry["dir"] == "out" and entry["event"].get("item", {}).get("type") == "function_call_output"]
    assert sorted(entry["event"]["item"]["call_id"] for entry in outputs) == sorted(probe.windows)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert [call["name"] for call in report["tool_calls"]] == ["noop"] * TURNS


class LoopFileCalls:
    """Audit events (open, mkdir, rename/replace) for paths under `folder` made on the event-loop thread while armed."""

    FILE_EVENTS = {"open", "os.mkdir", "os.rename", "os.replace"}

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.armed = False
        self.seen: list[str] = []
        sys.addaudithook(self._hook)  # cannot be removed: it does nothing once disarmed

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.armed and event in self.FILE_EVENTS and threading.current_thread() is threading.main_thread():
            path = str(args[0]) if args else ""
            if path.startswith(self.folder):
                self.seen.append(f"{event} {Path(path).relative_to(self.folder)}")


def test_opening_and_closing_a_conversation_make_no_session_file_call_on_the_event_loop(tmp_path: Path) -> None:
    import runner
    from tests.host.embedding import FakeModel, write_project

    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    sessions = tmp_path / "sessions"
    calls = LoopFileCalls(sessions)

    async def main() -> Path:
        async with runner.Host(project, transport=runner.MemoryTransport(FakeModel())) as host:
            calls.armed = True
            try:
                async with host.open(variables={"customer": "ada"}, session_dir=sessions, text=True) as conv:
                    await conv.send_text("hello")
                    assert await conv.wait_idle(30)
            finally:
                calls.armed = False
        return conv.folder

    folder = asyncio.run(main())
    assert calls.seen == []
    assert sorted(path.name for path in folder.iterdir()) == ["events.jsonl", "report.json", "transcript.jsonl", "transcript.md"]
    assert json.loads((folder / "report.json").read_text())["end_reason"] == "session closed"
    assert "hello" in (folder / "transcript.md").read_text()
