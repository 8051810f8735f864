"""Which records become transcript entries, and how they read."""

from runner.core import Record
from runner.host.report import transcript_entry


def test_a_spoken_reply_is_written_once_when_heard_and_a_cut_one_with_only_its_heard_text():
    playing = Record("assistant", {"agent": "host", "item_id": "a1", "text": "Hello there, how are you?", "heard_ms": None})
    heard = Record("heard", {"agent": "host", "item_id": "a1", "text": "Hello there, how are you?", "heard_ms": 1800})
    cut = Record("interrupted", {"agent": "host", "item_id": "a2", "text": "Hello there,", "heard_ms": 700})
    assert transcript_entry(playing, 1.0) is None
    assert transcript_entry(heard, 2.0) == ({"t": 2.0, "kind": "assistant", "agent": "host", "item_id": "a1", "text": "Hello there, how are you?", "heard_ms": 1800}, "**host:** Hello there, how are you?")
    assert transcript_entry(cut, 3.0) == ({"t": 3.0, "kind": "interrupted", "agent": "host", "item_id": "a2", "text": "Hello there,", "heard_ms": 700}, "**host:** Hello there, _(interrupted after 700 ms heard)_")


def test_a_written_reply_cut_in_text_mode_reads_as_interrupted_without_milliseconds():
    typed = Record("interrupted", {"agent": "host", "item_id": "a1", "text": "Hello", "heard_ms": None})
    nothing_heard = Record("interrupted", {"agent": "host", "item_id": "a2", "text": "", "heard_ms": 0})
    assert transcript_entry(typed, 1.0)[1] == "**host:** Hello _(interrupted)_"
    assert transcript_entry(nothing_heard, 1.0)[1] == "**host:** _(interrupted after 0 ms heard)_"
    assert transcript_entry(Record("assistant", {"agent": "host", "item_id": "a3", "text": "Hi."}), 1.0)[1] == "**host:** Hi."
