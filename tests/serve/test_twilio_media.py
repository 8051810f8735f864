"""The Twilio wire format (runner/serve/twilio_media.py) and the mark-driven playback (twilio_playback.py), exactly."""

from __future__ import annotations

import base64
import json

import pytest

from runner.serve import twilio_media
from runner.serve.twilio_media import Connected, Dtmf, Mark, Media, Start, Stop, TwilioMessageError, Unknown, parse
from runner.serve.twilio_playback import MarkedPlayback

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
START = {
    "event": "start", "sequenceNumber": "1", "streamSid": SID,
    "start": {"accountSid": "AC123", "streamSid": SID, "callSid": "CA456", "tracks": ["inbound"],
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
              "customParameters": {"caller": "+15550001234"}},
}


def test_inbound_messages_parse_into_typed_messages() -> None:
    assert parse('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') == Connected("Call", "1.0.0")
    start = parse(json.dumps(START))
    assert start == Start(SID, "CA456", "AC123", ("inbound",), {"caller": "+15550001234"}, "audio/x-mulaw", 8000, 1)
    assert isinstance(start, Start) and start.format_problem() is None
    media = {"event": "media", "sequenceNumber": "3", "streamSid": SID,
             "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": base64.b64encode(b"\x7f\xff").decode()}}
    assert parse(json.dumps(media)) == Media("inbound", 1, 5, b"\x7f\xff")
    assert parse(json.dumps({"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "g0-1"}})) == Mark("g0-1")
    assert parse(json.dumps({"event": "dtmf", "streamSid": SID, "sequenceNumber": "5", "dtmf": {"track": "inbound_track", "digit": "1"}})) == Dtmf("1", "inbound_track")
    assert parse(json.dumps({"event": "dtmf", "streamSid": SID, "sequenceNumber": "6", "dtmf": {"digit": "#"}})) == Dtmf("#", "inbound_track")
    assert parse(json.dumps({"event": "stop", "sequenceNumber": "6", "streamSid": SID, "stop": {"accountSid": "AC123", "callSid": "CA456"}})) == Stop("CA456", "AC123")
    assert parse('{"event": "transcription"}') == Unknown("transcription", {"event": "transcription"})


def test_a_start_in_another_format_says_what_the_bridge_takes() -> None:
    start = parse(json.dumps({**START, "start": {**START["start"], "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}}}))
    assert isinstance(start, Start) and start.format_problem() == (
        "the stream's media format is audio/x-l16 16000 Hz, 1 channel(s): this bridge takes audio/x-mulaw 8000 Hz mono (a <Connect><Stream>)")


@pytest.mark.parametrize(("frame", "message"), [
    ("not json", "a Media Streams frame is not JSON: Expecting value: line 1 column 1 (char 0)"),
    ("[1]", "a Media Streams frame has no 'event' string"),
    ('{"event": "start"}', "a 'start' message has no 'start' object"),
    ('{"event": "start", "start": {"mediaFormat": {}}}', "a 'start' message has no 'streamSid' string"),
    ('{"event": "media", "media": {"chunk": "1", "timestamp": "x", "payload": ""}}', "a 'media' message has no whole number 'timestamp' (got 'x')"),
    ('{"event": "media", "media": {"chunk": "1", "timestamp": "1", "payload": "***"}}', "media.payload is not base64"),
    ('{"event": "mark", "mark": {}}', "a 'mark' message has no 'name' string"),
    ('{"event": "dtmf", "dtmf": {"track": "inbound_track"}}', "a 'dtmf' message has no 'digit' string"),
    ('{"event": "dtmf", "dtmf": {"digit": "55"}}', "dtmf.digit must be one keypad key (0-9, *, #, A-D), not '55'"),
])
def test_malformed_frames_name_the_field(frame: str, message: str) -> None:
    with pytest.raises(TwilioMessageError) as failure:
        parse(frame)
    assert str(failure.value) == message


def test_outbound_messages_are_exactly_twilios() -> None:
    assert json.loads(twilio_media.media(SID, b"\x00\xff")) == {"event": "media", "streamSid": SID, "media": {"payload": "AP8="}}
    assert json.loads(twilio_media.mark(SID, "g2-7")) == {"event": "mark", "streamSid": SID, "mark": {"name": "g2-7"}}
    assert json.loads(twilio_media.clear(SID)) == {"event": "clear", "streamSid": SID}


@pytest.mark.parametrize(("sid", "name"), [(SID, "g2-7"), ('M"Z\\é\n', "név \u2028 \"x\"")])
def test_formatted_media_and_marks_are_the_text_json_dumps_writes(sid: str, name: str) -> None:
    """Formatted by hand for speed, so checked character for character, quotes and escapes included."""
    assert twilio_media.media(sid, b"\x00\xff") == json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "AP8="}})
    assert twilio_media.mark(sid, name) == json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}})


class Line:
    """What the sink sent, decoded, and which items it said were heard."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.played: list[str] = []
        self.sink = MarkedPlayback(SID, lambda text: self.sent.append(json.loads(text)), self.played.append)

    def kinds(self) -> list[str]:
        return [message["event"] if message["event"] != "mark" else message["mark"]["name"] for message in self.sent]

    def marks(self) -> list[str]:
        return [message["mark"]["name"] for message in self.sent if message["event"] == "mark"]


def test_audio_goes_out_in_whole_20_ms_frames_each_followed_by_a_mark_and_the_last_padded_with_silence() -> None:
    line = Line()
    line.sink.play("item_1", b"\x01" * 100)
    assert line.sent == []  # less than a frame waits for more
    line.sink.play("item_1", b"\x02" * 300)
    line.sink.end_item("item_1")
    assert line.kinds() == ["media", "g0-1", "media", "g0-2", "media", "g0-3"]
    payloads = [base64.b64decode(message["media"]["payload"]) for message in line.sent if message["event"] == "media"]
    assert payloads == [b"\x01" * 100 + b"\x02" * 60, b"\x02" * 160, b"\x02" * 80 + b"\xff" * 80]
    for name in line.marks()[:-1]:
        line.sink.acknowledge(name)
    assert line.played == [] and line.sink.pending_marks == 1
    line.sink.acknowledge("g0-3")
    assert line.played == ["item_1"] and line.sink.pending_marks == 0


def test_a_barge_in_clears_reports_the_acknowledged_position_and_ignores_the_echoes_of_cleared_audio() -> None:
    line = Line()
    line.sink.play("item_1", b"\x01" * 160 * 10)
    line.sink.end_item("item_1")
    first = line.marks()
    for name in first[:4]:  # Twilio has played 80 ms
        line.sink.acknowledge(name)
    assert line.sink.stop() == ("item_1", 80)
    assert line.sent[-1] == {"event": "clear", "streamSid": SID}
    for name in first[4:]:  # Twilio echoes the marks a clear dropped: none of it was heard
        line.sink.acknowledge(name)
    assert line.played == [] and line.sink.ignored_echoes == len(first) - 4
    before = len(line.sent)
    line.sink.play("item_1", b"\x01" * 320)  # the rest of the cut item is dropped
    line.sink.end_item("item_1")
    assert len(line.sent) == before
    line.sink.play("item_2", b"\x03" * 160)  # the next reply is a new generation
    line.sink.end_item("item_2")
    assert line.marks()[-2:] == ["g1-12", "g1-13"]
    line.sink.acknowledge("g1-12")
    line.sink.acknowledge("g1-13")
    assert line.played == ["item_2"]


def test_a_barge_in_with_everything_sent_still_clears_and_an_item_without_audio_counts_as_heard() -> None:
    line = Line()
    line.sink.end_item("silent")
    assert line.played == ["silent"] and line.sent == []
    line.sink.play("item_1", b"\x01" * 160)
    line.sink.end_item("item_1")
    assert line.sink.stop() == ("item_1", 0)
    assert line.sent[-1] == {"event": "clear", "streamSid": SID}
    assert line.sink.stop() == (None, 0)
