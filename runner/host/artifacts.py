"""The session folder: events.jsonl, transcript.md/.jsonl and report.json.

Everything is appended and flushed as it happens, and report.json is replaced
atomically, so a crash or Ctrl-C loses nothing already said.  Audio payloads are
replaced by their byte length: the log is for reading, `recording.wav` is for
listening.  Every `${ENV}` value the config interpolates is a secret: each line is
written with those values put back as `${NAME}` (`Redactor`).
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, TextIO

from ..config import interpolate_env
from ..config.model import Config, HttpBinding, McpBinding

_AUDIO_FIELDS = {"input_audio_buffer.append": "audio", "response.output_audio.delta": "delta"}


MIN_SECRET_CHARS = 4  # shorter values (a port, a flag) would mask ordinary text and are no secret
JSON_DEPTH = 3


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


def _without_audio(event: dict[str, Any]) -> dict[str, Any]:
    field = _AUDIO_FIELDS.get(event.get("type", ""))
    if field is None or not isinstance(event.get(field), str):
        return event
    encoded = event[field]
    padding = encoded.count("=", max(0, len(encoded) - 2))
    return {**event, field: f"<{len(encoded) * 3 // 4 - padding} bytes>"}


class SessionArtifacts:
    """Writes one session's files; every method is cheap enough for the event loop."""

    def __init__(self, folder: Path, redactor: Redactor | None = None) -> None:
        self.folder = folder
        self._redact = (redactor or Redactor()).text
        self._events: TextIO = open(folder / "events.jsonl", "a", encoding="utf-8")
        self._transcript_jsonl: TextIO = open(folder / "transcript.jsonl", "a", encoding="utf-8")
        self._transcript_md: TextIO = open(folder / "transcript.md", "a", encoding="utf-8")

    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        line = json.dumps({"t": round(t, 6), "dir": direction, "event": _without_audio(event)}, ensure_ascii=False)
        self._events.write(self._redact(line) + "\n")
        self._events.flush()

    def frame(self, direction: str, event: dict[str, Any], text: str, t: float) -> None:
        """Log an event from its wire text: no second encoding on the hot path.

        Audio payloads still go through `event` to be replaced by their length, as does a
        frame whose text spans lines (a JSONL line must not).
        """
        if event.get("type") in _AUDIO_FIELDS or "\n" in text:
            self.event(direction, event, t)
            return
        self._events.write(f'{{"t": {round(t, 6)}, "dir": "{direction}", "event": {self._redact(text)}}}\n')
        self._events.flush()

    def transcript_header(self, title: str, started: datetime) -> None:
        self._transcript_md.write(f"# {self._redact(title)}\n\nStarted {started.isoformat(timespec='seconds')}\n\n")
        self._transcript_md.flush()

    def transcript(self, entry: dict[str, Any], markdown: str | None) -> None:
        """One finished transcript entry: always to JSONL, and to Markdown when it reads as a line."""
        self._transcript_jsonl.write(self._redact(json.dumps(entry, ensure_ascii=False, default=str)) + "\n")
        self._transcript_jsonl.flush()
        if markdown:
            self._transcript_md.write(self._redact(markdown) + "\n\n")
            self._transcript_md.flush()

    def report(self, report: dict[str, Any]) -> None:
        """Replace report.json atomically (write a temporary file, then rename)."""
        target = self.folder / "report.json"
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(self._redact(json.dumps(report, indent=2, ensure_ascii=False, default=str)) + "\n", encoding="utf-8")
        os.replace(temporary, target)

    def close(self) -> None:
        for stream in (self._events, self._transcript_jsonl, self._transcript_md):
            stream.close()
