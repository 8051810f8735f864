"""Twilio Media Streams on the wire: inbound JSON text frames to typed messages, outbound ones built.

One serializer per provider (as pipecat does): the channel (`twilio.py`) never touches
the JSON. From Twilio: `connected`, then one `start` (stream and call ids, tracks, the
`<Parameter>`s of the TwiML as `customParameters`, the media format), `media` (≈20 ms of
base64 μ-law 8 kHz per frame), `mark` (the echo of a mark we sent, once the audio before
it has played or a `clear` dropped it), `dtmf`, `stop`. To Twilio, on a bidirectional
`<Connect><Stream>` only: `media`, `mark`, `clear`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

_quoted = json.encoder.encode_basestring_ascii  # a JSON string literal, as json.dumps writes it
MULAW = "audio/x-mulaw"
SAMPLE_RATE = 8000
KEYPAD = frozenset("0123456789*#ABCD")


class TwilioMessageError(ValueError):
    """A frame from Twilio that is not a Media Streams message; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str]
    encoding: str
    sample_rate: int
    channels: int

    def format_problem(self) -> str | None:
        """Why this stream's audio cannot go to the Realtime API unconverted, or None."""
        if (self.encoding, self.sample_rate, self.channels) != (MULAW, SAMPLE_RATE, 1):
            return (f"the stream's media format is {self.encoding} {self.sample_rate} Hz, {self.channels} channel(s): "
                    f"this bridge takes {MULAW} {SAMPLE_RATE} Hz mono (a <Connect><Stream>)")
        return None


@dataclass(frozen=True, slots=True)
class Media:
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes  # raw μ-law, no header


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A keypad press Twilio detected on the caller's audio."""

    digit: str  # one of KEYPAD
    track: str = "inbound_track"


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str
    account_sid: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """An event this bridge does not know (Twilio may add some): ignored, not an error."""

    event: str
    data: Mapping[str, Any] = field(default_factory=dict)


Inbound = Connected | Start | Media | Mark | Dtmf | Stop | Unknown


def parse(text: str | bytes) -> Inbound:
    """One inbound frame; raises `TwilioMessageError` naming the field that is missing or wrong."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise TwilioMessageError(f"a Media Streams frame is not JSON: {error}") from None
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise TwilioMessageError("a Media Streams frame has no 'event' string")
    event = message["event"]
    reader = _Reader(message, event)
    if event == "connected":
        return Connected(reader.text(message, "protocol"), reader.text(message, "version"))
    if event == "start":
        start = reader.section("start")
        media_format = reader.section("mediaFormat", start)
        parameters = start.get("customParameters") or {}
        if not isinstance(parameters, dict) or not all(isinstance(value, str) for value in parameters.values()):
            raise TwilioMessageError("start.customParameters must map names to strings")
        tracks = start.get("tracks") or []
        return Start(
            stream_sid=reader.text(start, "streamSid"), call_sid=reader.text(start, "callSid"), account_sid=reader.text(start, "accountSid"),
            tracks=tuple(str(track) for track in tracks), custom_parameters=dict(parameters),
            encoding=reader.text(media_format, "encoding"), sample_rate=reader.number(media_format, "sampleRate"),
            channels=reader.number(media_format, "channels"),
        )
    if event == "media":
        media = reader.section("media")
        try:
            payload = base64.b64decode(reader.text(media, "payload"), validate=True)
        except (binascii.Error, ValueError):
            raise TwilioMessageError("media.payload is not base64") from None
        return Media(str(media.get("track", "inbound")), reader.number(media, "chunk"), reader.number(media, "timestamp"), payload)
    if event == "mark":
        return Mark(reader.text(reader.section("mark"), "name"))
    if event == "dtmf":
        dtmf = reader.section("dtmf")
        digit = reader.text(dtmf, "digit")
        if digit not in KEYPAD:
            raise TwilioMessageError(f"dtmf.digit must be one keypad key (0-9, *, #, A-D), not {digit!r}")
        return Dtmf(digit, str(dtmf.get("track", "inbound_track")))
    if event == "stop":
        stop = reader.section("stop")
        return Stop(str(stop.get("callSid", "")), str(stop.get("accountSid", "")))
    return Unknown(event, message)


def media(stream_sid: str, payload: bytes) -> str:
    """Audio for the caller: raw μ-law 8 kHz, played after what is already queued.

    Media and marks go out 50 a second each per call while the agent speaks: formatted
    around the quoted strings (what `json.dumps` writes, at a fraction of its cost).
    """
    return f'{{"event": "media", "streamSid": {_quoted(stream_sid)}, "media": {{"payload": "{base64.b64encode(payload).decode("ascii")}"}}}}'


def mark(stream_sid: str, name: str) -> str:
    """Echoed by Twilio once the audio sent before it has played (or been cleared)."""
    return f'{{"event": "mark", "streamSid": {_quoted(stream_sid)}, "mark": {{"name": {_quoted(name)}}}}}'


def clear(stream_sid: str) -> str:
    """Drop every queued media frame; Twilio echoes the marks that were waiting behind them."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


class _Reader:
    """Field access that names the event and field in every error."""

    def __init__(self, message: dict[str, Any], event: str) -> None:
        self.message = message
        self.event = event

    def section(self, name: str, within: dict[str, Any] | None = None) -> dict[str, Any]:
        value = (self.message if within is None else within).get(name)
        if not isinstance(value, dict):
            raise TwilioMessageError(f"a '{self.event}' message has no '{name}' object")
        return value

    def text(self, within: dict[str, Any], name: str) -> str:
        value = within.get(name)
        if not isinstance(value, str):
            raise TwilioMessageError(f"a '{self.event}' message has no '{name}' string")
        return value

    def number(self, within: dict[str, Any], name: str) -> int:
        """Twilio sends some numbers as strings (`chunk`, `timestamp`) and some as numbers (`sampleRate`)."""
        value = within.get(name)
        try:
            if isinstance(value, bool):
                raise ValueError
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TwilioMessageError(f"a '{self.event}' message has no whole number '{name}' (got {value!r})") from None
