"""The session folder: events.jsonl, transcript.md/.jsonl and report.json.

Nothing is written on the event loop: the methods queue (transcript records as they
are: the writer thread encodes them), and the process's writer thread (`writer.py`)
appends and flushes every ~100 ms; opening (`open_artifacts`: the
folder and its three files) and closing (`aclose`: the last lines and report.json) run on
a worker thread, since a few hundred conversations opening or ending in the same second
would otherwise hold the loop for a file-system call each, so Ctrl-C or SIGTERM (which
close the session) lose nothing and a SIGKILL at most the last ~100 ms.  report.json is
rebuilt at most every `REPORT_EVERY` seconds and at the end, and replaced atomically.
Audio payloads are replaced by their byte length: the log is for reading,
`recording.wav` is for listening.  Every `${ENV}` value the config interpolates is a secret: each line is
written with those values put back as `${NAME}` (`Redactor`).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import threading
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from ..config import interpolate_env
from ..config.model import Config, HttpBinding, LocalMcpBinding, McpBinding
from ..core.records import Record
from .report import TRANSCRIPT_RECORDS, transcript_entry
from .writer import WRITER, Writer

_AUDIO_FIELDS = {"input_audio_buffer.append": "audio", "response.output_audio.delta": "delta", "session.input_audio.append": "audio", "session.output_audio.delta": "delta"}


MIN_SECRET_CHARS = 4  # shorter values (a port, a flag) would mask ordinary text and are no secret
JSON_DEPTH = 3
MAX_PENDING = 10_000  # queued entries per session before audio frames are dropped (about 100 s of audio)
REPORT_EVERY = 10.0  # seconds: report.json is rebuilt at most this often while the session runs


class Redactor:
    """Puts `${NAME}` back in place of the values of the config's interpolated variables.

    Each value is matched as written and as it appears inside a JSON string, nested up
    to `JSON_DEPTH` deep: events are logged from their wire text, and a tool output is
    JSON inside the JSON of its `function_call_output`.
    """

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        forms: dict[str, str] = {}
        for name, value in (secrets or {}).items():
            if len(value) < MIN_SECRET_CHARS:
                continue
            written = {value}
            for _ in range(JSON_DEPTH):
                written |= {json.dumps(form, ensure_ascii=ascii)[1:-1] for form in written for ascii in (True, False)}
            for form in written:
                forms.setdefault(form, f"${{{name}}}")
        self._forms = sorted(forms.items(), key=lambda form: -len(form[0]))  # longest first: no partial masks

    @classmethod
    def for_config(cls, config: Config, environ: Mapping[str, str]) -> Redactor:
        """The values of every `${NAME}` in the config's binding fields that the environment sets."""
        texts: list[str] = []
        for tool in config.tools.values():
            binding = tool.binding
            if isinstance(binding, HttpBinding):
                texts += [binding.url, *binding.headers.values()]
            elif isinstance(binding, McpBinding):
                texts += [binding.server_url, *binding.headers.values()]
            elif isinstance(binding, LocalMcpBinding):
                texts += [binding.url or "", *binding.headers.values()]
        if config.analysis is not None and config.analysis.webhook is not None:
            texts.append(config.analysis.webhook.url)
        names = {name for text in texts for name in interpolate_env(text, {})[1]}
        return cls({name: environ[name] for name in sorted(names) if environ.get(name)})

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        for secret, placeholder in self._forms:
            if secret in text:
                text = text.replace(secret, placeholder)
        return text

    def value(self, value: Any) -> Any:
        """The same for the strings inside JSON-like data (records shown on the console)."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


def new_session_folder(parent: Path, now: datetime | None = None) -> Path:
    """`<parent>/<UTC time>-<short id>/`, created."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    folder = parent / f"{stamp}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


async def open_artifacts(parent: Path, redactor: Redactor | None = None) -> SessionArtifacts:
    """A new session folder under `parent` and its artifacts, made on a worker thread (errors are raised here)."""
    return await asyncio.to_thread(lambda: SessionArtifacts(new_session_folder(parent), redactor))


def _without_audio(event: dict[str, Any]) -> dict[str, Any]:
    field = _AUDIO_FIELDS.get(event.get("type", ""))
    if field is None or not isinstance(event.get(field), str):
        return event
    encoded = event[field]
    padding = encoded.count("=", max(0, len(encoded) - 2))
    return {**event, field: f"<{len(encoded) * 3 // 4 - padding} bytes>"}


class SessionArtifacts:
    """One session's files.  Every method only queues; the process's writer thread writes.

    Frames are queued as their wire text and formatted, redacted and written off the event
    loop, so receiving an event and sending what it causes involves no file work.  The
    queue holds at most `max_pending` entries: past that, audio frames (logged only as
    their byte length) are dropped and counted in a `log.dropped` line, and anything else
    makes the caller write the backlog itself, so nothing said is ever lost.
    """

    def __init__(
        self, folder: Path, redactor: Redactor | None = None, *, max_pending: int = MAX_PENDING, report_every: float = REPORT_EVERY, writer: Writer = WRITER
    ) -> None:
        self.folder = folder
        self.report_every = report_every
        self._redact = (redactor or Redactor()).text
        self._events: TextIO = open(folder / "events.jsonl", "a", encoding="utf-8")
        self._transcript_jsonl: TextIO = open(folder / "transcript.jsonl", "a", encoding="utf-8")
        self._transcript_md: TextIO = open(folder / "transcript.md", "a", encoding="utf-8")
        self._pending: deque[tuple[Any, ...]] = deque()
        self._max_pending = max_pending
        self._dropped = 0  # audio frames dropped since the last `log.dropped` line
        self._lock = threading.Lock()  # one drain at a time: the writer thread's or the caller's
        self._closed = False
        self._build_report: Callable[[], dict[str, Any]] | None = None
        self._report_timer: asyncio.TimerHandle | None = None
        self._last_report = -math.inf
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writer = writer
        writer.add(self)

    # -- queueing (the event loop's side) ------------------------------------
    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        """Log an event given as a dict, which must not be changed afterwards."""
        self._put(("event", direction, _without_audio(event), t), audio=event.get("type") in _AUDIO_FIELDS)

    def frame(self, direction: str, event: dict[str, Any], text: str, t: float) -> None:
        """Log an event from its wire text: no second encoding on the hot path.

        Audio payloads are replaced by their length (a shallow copy, encoded later); a
        frame whose text spans lines is encoded again here, as a JSONL line must not.
        """
        if event.get("type") in _AUDIO_FIELDS:
            self._put(("event", direction, _without_audio(event), t), audio=True)
        else:
            self._put(("frame", direction, json.dumps(event) if "\n" in text else text, t))

    def transcript_header(self, title: str, started: datetime) -> None:
        self._put(("md", f"# {title}\n\nStarted {started.isoformat(timespec='seconds')}\n\n"))

    def transcript(self, record: Record, t: float) -> None:
        """A record for transcript.jsonl and transcript.md, if it is an entry (`transcript_entry`).

        Records are frozen, so the writer thread turns them into lines: the encoding is off
        the event loop, between a server event and the answer it causes.  A record of a
        kind that is never an entry (a text delta, say) is not queued at all.
        """
        if isinstance(record, TRANSCRIPT_RECORDS):
            self._put(("record", record, t))

    def report(self, report: dict[str, Any]) -> None:
        """Replace report.json atomically (temporary file, then rename); at once once closed."""
        self._cancel_report_timer()
        if self._closed:
            self._write_report(report)
        else:
            self._put(("report", _detached(report)))

    def report_later(self, build: Callable[[], dict[str, Any]]) -> None:
        """Refresh report.json with `build()`, at most every `report_every` seconds.

        Calls in between coalesce: `build` runs once, from a timer on the event loop, on the
        state of that moment, and its JSON is encoded and written by the writer thread.
        """
        self._build_report = build
        if self._report_timer is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_report + self.report_every - loop.time())
        self._report_timer = loop.call_later(delay, self._report_due)

    def close(self) -> None:
        """Write everything still queued and close the files (Ctrl-C and SIGTERM end here)."""
        if self._closed:
            return
        self._stop_queueing()
        self._write_and_close()

    async def aclose(self) -> None:
        """`close`, with the writing on a worker thread; nothing can be queued once it has begun."""
        if self._closed:
            return
        self._stop_queueing()
        await asyncio.to_thread(self._write_and_close)

    def settle(self) -> None:
        """The conversation has nothing in flight: its burst is over, so the writer is woken now, not at this session's timer.

        The timer fired when the event loop had long gone idle, and waking an idle loop
        costs more CPU on this VM than the writing (bench_concurrency.py, N = 1, async tool:
        0.18 CPU-s per conversation-minute with the timer, 0.16-0.17 woken here, 0.15 with
        no wake-ups at all).  Only the session that holds the writer's wake-up (see
        writer.py) wakes it: others settling mid-interval change nothing.
        """
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
            self._writer.wake()

    def _stop_queueing(self) -> None:
        self._cancel_report_timer()
        self.settle()  # the close writes this session's lines itself; other sessions' lines wait on its wake-up
        if self._dropped:
            self._pending.append(_dropped_note(self._dropped, None))
            self._dropped = 0
        self._writer.remove(self)
        self._closed = True  # from here `_put` refuses, and the writer thread's `drain` leaves the queue to us

    def _write_and_close(self) -> None:
        with self._lock:
            try:
                self._write(self._take_pending())
            finally:
                for stream in (self._events, self._transcript_jsonl, self._transcript_md):
                    stream.close()

    def _put(self, item: tuple[Any, ...], audio: bool = False) -> None:
        if self._closed:
            raise ValueError(f"the artifacts of {self.folder} are closed")
        pending = self._pending
        if len(pending) >= self._max_pending:
            if audio:
                self._dropped += 1
                return
            self.drain()  # the disk is behind: write the backlog on this thread rather than lose it
        if self._dropped:
            pending.append(_dropped_note(self._dropped, item[3] if item[0] in ("frame", "event") else None))
            self._dropped = 0
        pending.append(item)
        if len(pending) == self._max_pending // 2:
            self._writer.wake()
        elif self._flush_timer is None and self._writer.claim_wake():
            self._wake_writer_soon()

    def _wake_writer_soon(self) -> None:
        """Have the sleeping writer woken in one interval, when the rest of this burst (this session's and others') is queued (see writer.py)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # queued from a thread with no event loop: nobody to keep the timer, so now
            self._writer.wake()
            return
        self._flush_timer = loop.call_later(self._writer.every, self._flush_due)

    def _flush_due(self) -> None:
        self._flush_timer = None
        self._writer.wake()

    def _report_due(self) -> None:
        self._report_timer = None
        if self._build_report is not None and not self._closed:
            self._last_report = asyncio.get_running_loop().time()
            self._put(("report", _detached(self._build_report())))

    def _cancel_report_timer(self) -> None:
        if self._report_timer is not None:
            self._report_timer.cancel()
            self._report_timer = None

    # -- writing (the writer thread's side) -----------------------------------
    def drain(self) -> bool:
        """Write and flush everything pending, from the writer thread or a caller held back; whether there was anything."""
        with self._lock:
            if self._closed:
                return False
            items = self._take_pending()
            self._write(items)
            return bool(items)

    def has_pending(self) -> bool:
        return bool(self._pending)

    def _take_pending(self) -> list[tuple[Any, ...]]:
        taken = []
        pending = self._pending
        while pending:
            taken.append(pending.popleft())
        return taken

    def _write(self, items: list[tuple[Any, ...]]) -> None:
        if not items:
            return
        redact = self._redact
        events: list[str] = []
        jsonl: list[str] = []
        markdown: list[str] = []
        report = None
        for item in items:
            kind = item[0]
            if kind == "frame":
                _, direction, text, t = item
                events.append(f'{{"t": {round(t, 6)}, "dir": "{direction}", "event": {redact(text)}}}\n')
            elif kind == "event":
                _, direction, event, t = item
                events.append(redact(json.dumps({"t": None if t is None else round(t, 6), "dir": direction, "event": event}, ensure_ascii=False)) + "\n")
            elif kind == "record":
                written = transcript_entry(item[1], item[2])
                if written is not None:
                    entry, line = written
                    jsonl.append(redact(json.dumps(entry, ensure_ascii=False, default=str)) + "\n")
                    markdown.append(redact(line + "\n\n"))
            elif kind == "md":
                markdown.append(redact(item[1]))
            else:  # "report": only the newest of a batch is worth writing
                report = item[1]
        for stream, lines in ((self._events, events), (self._transcript_jsonl, jsonl), (self._transcript_md, markdown)):
            if lines:
                stream.write("".join(lines))
                stream.flush()
        if report is not None:
            self._write_report(report)

    def _write_report(self, report: dict[str, Any]) -> None:
        target = self.folder / "report.json"
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(self._redact(json.dumps(report, indent=2, ensure_ascii=False, default=str)) + "\n", encoding="utf-8")
        os.replace(temporary, target)


def _dropped_note(count: int, t: float | None) -> tuple[Any, ...]:
    return ("event", "log", {"type": "log.dropped", "frames": count, "why": "the disk fell behind; audio frames not logged"}, t)


def _detached(value: Any) -> Any:
    """A copy of JSON-like data sharing no dict or list with the live session (another thread encodes it)."""
    if isinstance(value, dict):
        return {key: _detached(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_detached(item) for item in value]
    return value
