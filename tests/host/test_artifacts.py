"""SessionArtifacts' queue: report.json coalesced, a full queue drops only audio, and says so."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from runner.core.records import AssistantDelta, UsageUpdated, UserMessage
from runner.host.artifacts import SessionArtifacts
from runner.host.writer import Writer
from tests.waits import wait_until

AUDIO = {"type": "response.output_audio.delta", "delta": "AAAA"}  # 3 bytes of audio


def _frame(artifacts: SessionArtifacts, name: str, t: float) -> None:
    event = {"type": "conversation.item.done", "item": {"id": name}}
    artifacts.frame("in", event, json.dumps(event), t)


def _logged(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def test_report_later_builds_at_most_once_per_interval_and_close_writes_the_final_report(tmp_path: Path) -> None:
    artifacts = SessionArtifacts(tmp_path, report_every=0.3)
    builds: list[int] = []
    built_at: list[float] = []
    state = {"responses": 0}

    async def responses() -> None:
        built = [asyncio.Event(), asyncio.Event()]

        def build() -> dict[str, Any]:
            builds.append(state["responses"])
            built_at.append(asyncio.get_running_loop().time())
            built[len(builds) - 1].set()
            return {"end_reason": "in progress", "responses": state["responses"]}

        state["responses"] = 1
        artifacts.report_later(build)  # the first one is built at once
        await asyncio.wait_for(built[0].wait(), timeout=10)
        for count in range(2, 12):  # ten more within the interval: one build, of the latest state
            state["responses"] = count
            artifacts.report_later(build)
        await asyncio.wait_for(built[1].wait(), timeout=10)
        state["responses"] = 12
        artifacts.report_later(build)  # still pending when the session ends: the final report replaces it
        artifacts.report({"end_reason": "session closed", "responses": 12})
        artifacts.close()

    asyncio.run(responses())
    assert builds == [1, 11]
    assert built_at[1] - built_at[0] >= 0.25  # the interval, less the loop clock's resolution
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8")) == {"end_reason": "session closed", "responses": 12}
    artifacts.report({"end_reason": "session closed", "voice": {}})  # after close (the voice summary): written at once
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8")) == {"end_reason": "session closed", "voice": {}}
    assert not (tmp_path / "report.json.tmp").exists()


def test_a_writer_with_nothing_to_write_sleeps_until_a_line_is_queued(tmp_path: Path) -> None:
    writer = Writer(every=0.05)
    artifacts = SessionArtifacts(tmp_path, writer=writer)
    wait_until(lambda: writer.asleep, 10, "the writer asleep with nothing pending")  # no timed wake-ups while idle
    _frame(artifacts, "said while it slept", 0.1)
    wait_until(lambda: (tmp_path / "events.jsonl").read_text(encoding="utf-8"), 10, "the line written after waking")
    wait_until(lambda: writer.asleep, 10, "asleep again once the queue is empty")
    artifacts.close()
    assert [entry["event"] for entry in _logged(tmp_path)] == [{"type": "conversation.item.done", "item": {"id": "said while it slept"}}]


def test_a_burst_queued_on_an_event_loop_wakes_the_sleeping_writer_once_an_interval_later(tmp_path: Path) -> None:
    writer = Writer(every=0.05)
    artifacts = SessionArtifacts(tmp_path, writer=writer)
    wait_until(lambda: writer.asleep, 10, "the writer asleep with nothing pending")

    async def burst() -> None:
        for index in range(3):
            _frame(artifacts, f"line{index}", index / 10)
        assert writer.asleep  # not woken in the middle of the burst: the session's loop timer wakes it
        await asyncio.to_thread(wait_until, lambda: (tmp_path / "events.jsonl").read_text(encoding="utf-8"), 10, "the burst written")

    asyncio.run(burst())
    artifacts.close()
    assert [entry["event"]["item"]["id"] for entry in _logged(tmp_path)] == ["line0", "line1", "line2"]


class CountingWriter(Writer):
    """A writer that counts its passes over the sessions."""

    def __init__(self, every: float) -> None:
        super().__init__(every)
        self.passes = 0

    def drain_all(self) -> bool:
        self.passes += 1
        return super().drain_all()


def test_bursts_of_several_sessions_wake_the_sleeping_writer_once_between_them(tmp_path: Path) -> None:
    writer = CountingWriter(every=0.2)
    folders = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for folder in folders:
        folder.mkdir()
    sessions = [SessionArtifacts(folder, writer=writer) for folder in folders]
    wait_until(lambda: writer.asleep, 10, "the writer asleep with nothing pending")
    passes_before = writer.passes

    async def bursts() -> None:
        for index, artifacts in enumerate(sessions):  # conversations talking at moments of their own, well within one interval
            _frame(artifacts, f"line{index}", index / 10)
            await asyncio.sleep(0.02)
        await asyncio.to_thread(wait_until, lambda: all(_logged(folder) for folder in folders), 10, "every session's line written")
        await asyncio.sleep(2 * writer.every)  # the loop lives on: a wake-up timer of the later sessions would fire now

    asyncio.run(bursts())
    wait_until(lambda: writer.asleep, 10, "the writer asleep again")
    assert writer.passes - passes_before == 1  # one wake-up for the three sessions, not one each
    for artifacts in sessions:
        artifacts.close()


def _two_sessions_on_a_sleeping_writer(tmp_path: Path) -> tuple[Writer, Path, Path, SessionArtifacts, SessionArtifacts]:
    """Two sessions in folders of their own, on a writer whose timer would wake it in an hour, once it sleeps."""
    writer = Writer(every=3600)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    sessions = SessionArtifacts(first, writer=writer), SessionArtifacts(second, writer=writer)
    wait_until(lambda: writer.asleep, 10, "the writer asleep with nothing pending")
    return writer, first, second, *sessions


def test_a_session_that_closes_before_its_wake_up_hands_it_on_to_the_other_sessions(tmp_path: Path) -> None:
    _, _, second, closing, talking = _two_sessions_on_a_sleeping_writer(tmp_path)

    async def close_first() -> None:
        _frame(closing, "goodbye", 0.1)  # this session arranges the writer's wake-up
        _frame(talking, "still talking", 0.2)  # and this one's line waits on it
        closing.close()
        await asyncio.to_thread(wait_until, lambda: (second / "events.jsonl").read_text(encoding="utf-8"), 10, "the other session's line written")

    asyncio.run(close_first())
    talking.close()
    assert [entry["event"]["item"]["id"] for entry in _logged(second)] == ["still talking"]


def test_the_session_holding_the_wake_up_has_the_writer_woken_as_it_settles_and_the_others_do_not(tmp_path: Path) -> None:
    writer, first, second, holder, other = _two_sessions_on_a_sleeping_writer(tmp_path)  # without `settle`: written in an hour

    async def turns() -> None:
        _frame(holder, "reply", 0.1)  # this session arranges the writer's wake-up
        _frame(other, "reply too", 0.2)
        other.settle()
        assert writer.asleep  # not the one whose timer wakes it: settling changes nothing
        holder.settle()
        await asyncio.to_thread(wait_until, lambda: _logged(first) and _logged(second), 10, "both sessions' lines written")

    asyncio.run(turns())
    for artifacts in (holder, other):
        artifacts.close()
    assert [entry["event"]["item"]["id"] for entry in _logged(first) + _logged(second)] == ["reply", "reply too"]


def test_a_full_queue_drops_audio_frames_with_a_note_and_writes_everything_else(tmp_path: Path) -> None:
    writer = Writer(every=3600)  # a writer that has fallen behind: its session's timer wakes it in an hour
    artifacts = SessionArtifacts(tmp_path, max_pending=1, writer=writer)
    wait_until(lambda: writer.asleep, 10, "the writer asleep with nothing pending")

    async def flood() -> None:
        _frame(artifacts, "first", 0.1)  # the queue is full
        _frame(artifacts, "queued", 0.2)  # the caller writes the backlog rather than lose it
        for t in (0.3, 0.4, 0.5):
            artifacts.frame("in", AUDIO, json.dumps(AUDIO), t)
        _frame(artifacts, "held back", 0.6)
        artifacts.close()

    asyncio.run(flood())
    assert [(entry["t"], entry["dir"], entry["event"]) for entry in _logged(tmp_path)] == [
        (0.1, "in", {"type": "conversation.item.done", "item": {"id": "first"}}),
        (0.2, "in", {"type": "conversation.item.done", "item": {"id": "queued"}}),
        (0.6, "log", {"type": "log.dropped", "frames": 3, "why": "the disk fell behind; audio frames not logged"}),
        (0.6, "in", {"type": "conversation.item.done", "item": {"id": "held back"}}),
    ]


def test_close_writes_every_queued_line_and_later_lines_are_refused(tmp_path: Path) -> None:
    writer = Writer(every=3600)
    artifacts = SessionArtifacts(tmp_path, writer=writer)
    for index in range(100):
        _frame(artifacts, f"item{index}", index / 100)
    artifacts.frame("out", AUDIO, json.dumps(AUDIO), 1.0)
    artifacts.transcript(UserMessage("hi", None), 1.0)
    artifacts.close()
    logged = _logged(tmp_path)
    assert [entry["event"]["item"]["id"] for entry in logged[:-1]] == [f"item{index}" for index in range(100)]
    assert logged[-1] == {"t": 1.0, "dir": "out", "event": {"type": "response.output_audio.delta", "delta": "<3 bytes>"}}
    assert (tmp_path / "transcript.jsonl").read_text(encoding="utf-8") == '{"t": 1.0, "kind": "user", "text": "hi", "item_id": null}\n'
    assert (tmp_path / "transcript.md").read_text(encoding="utf-8") == "**user:** hi\n\n"
    try:
        _frame(artifacts, "late", 2.0)
    except ValueError as error:
        assert str(error) == f"the artifacts of {tmp_path} are closed"
    else:
        raise AssertionError("a line after close was accepted")


def test_records_that_are_never_transcript_entries_are_not_queued(tmp_path: Path) -> None:
    artifacts = SessionArtifacts(tmp_path, writer=Writer(every=3600))
    artifacts.transcript(AssistantDelta("host", "a1", "Hel"), 1.0)
    artifacts.transcript(UsageUpdated("gpt-realtime", 1, 10, 5, 15, None), 1.1)
    assert not artifacts.has_pending()
    artifacts.transcript(UserMessage("hi", None), 1.2)
    assert artifacts.has_pending()
    artifacts.close()
    assert (tmp_path / "transcript.jsonl").read_text(encoding="utf-8") == '{"t": 1.2, "kind": "user", "text": "hi", "item_id": null}\n'
