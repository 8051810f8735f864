"""The session folder: events.jsonl, transcript.md/.jsonl and report.json.

Everything is appended and flushed as it happens, and report.json is replaced
atomically, so a crash or Ctrl-C loses nothing already said.  Audio payloads are
replaced by their byte length: the log is for reading, `recording.wav` is for
listening.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

_AUDIO_FIELDS = {"input_audio_buffer.append": "audio", "response.output_audio.delta": "delta"}


def new_session_folder(parent: Path, now: datetime | None = None) -> Path:
    """`<parent>/<UTC time>-<short id>/`, created."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    folder = parent / f"{stamp}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def _without_audio(event: dict[str, Any]) -> dict[str, Any]:
    field = _AUDIO_FIELDS.get(event.get("type", ""))
    if field is None or not isinstance(event.get(field), str):
        return event
    encoded = event[field]
    padding = encoded.count("=", max(0, len(encoded) - 2))
    return {**event, field: f"<{len(encoded) * 3 // 4 - padding} bytes>"}


class SessionArtifacts:
    """Writes one session's files; every method is cheap enough for the event loop."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._events: TextIO = open(folder / "events.jsonl", "a", encoding="utf-8")
        self._transcript_jsonl: TextIO = open(folder / "transcript.jsonl", "a", encoding="utf-8")
        self._transcript_md: TextIO = open(folder / "transcript.md", "a", encoding="utf-8")

    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        line = json.dumps({"t": round(t, 6), "dir": direction, "event": _without_audio(event)}, ensure_ascii=False)
        self._events.write(line + "\n")
        self._events.flush()

    def frame(self, direction: str, event: dict[str, Any], text: str, t: float) -> None:
        """Log an event from its wire text: no second encoding on the hot path.

        Audio payloads still go through `event` to be replaced by their length, as does a
        frame whose text spans lines (a JSONL line must not).
        """
        if event.get("type") in _AUDIO_FIELDS or "\n" in text:
            self.event(direction, event, t)
            return
        self._events.write(f'{{"t": {round(t, 6)}, "dir": "{direction}", "event": {text}}}\n')
        self._events.flush()

    def transcript_header(self, title: str, started: datetime) -> None:
        self._transcript_md.write(f"# {title}\n\nStarted {started.isoformat(timespec='seconds')}\n\n")
        self._transcript_md.flush()

    def transcript(self, entry: dict[str, Any], markdown: str | None) -> None:
        """One finished transcript entry: always to JSONL, and to Markdown when it reads as a line."""
        self._transcript_jsonl.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        self._transcript_jsonl.flush()
        if markdown:
            self._transcript_md.write(markdown + "\n\n")
            self._transcript_md.flush()

    def report(self, report: dict[str, Any]) -> None:
        """Replace report.json atomically (write a temporary file, then rename)."""
        target = self.folder / "report.json"
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        os.replace(temporary, target)

    def close(self) -> None:
        for stream in (self._events, self._transcript_jsonl, self._transcript_md):
            stream.close()
