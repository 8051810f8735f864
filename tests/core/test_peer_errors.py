"""A peer's bad event is reported and ignored; an exception in our own handler is a bug and raises (as in h11)."""

from __future__ import annotations

import pytest

from runner.core.responses import Responses


def test_an_exception_inside_a_core_handler_is_raised_not_recorded_as_a_malformed_event(make_session, server, monkeypatch):
    def broken(self, event, now):
        raise AttributeError("'NoneType' object has no attribute 'agent'")

    monkeypatch.setattr(Responses, "on_response_created", broken)
    s = make_session()
    s.start(0.0)
    s.feed(server.session_updated())
    with pytest.raises(AttributeError, match="no attribute 'agent'"):
        s.feed(server.response_created("r1"))


def test_a_field_of_the_wrong_type_is_a_malformed_event_named_by_its_path(make_session, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed({"type": "response.created", "event_id": "e1", "response": {"id": 7}})
    assert h.records(actions, "error") == [
        {"code": "malformed_event", "message": "malformed server event 'response.created': 'response.id' is int, not a string; ignored", "fatal": False}
    ]


def test_a_malformed_event_changes_nothing_and_the_session_goes_on(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.session_updated(), server.response_created("r1"))
    bad = {"type": "response.done", "event_id": "e9", "response": {"id": "r1", "usage": "lots"}}
    assert h.records(s.feed(bad), "error")[0]["message"] == "malformed server event 'response.done': 'response.usage' is str, not an object; ignored"
    assert s.busy  # r1 is still in progress
    s.feed(server.response_done("r1"))
    assert not s.busy


def test_a_truncated_event_whose_audio_end_is_not_an_integer_is_a_malformed_event(make_session, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed({"type": "conversation.item.truncated", "event_id": "e1", "item_id": "i1", "content_index": 0, "audio_end_ms": "500"})
    assert h.records(actions, "error") == [
        {"code": "malformed_event", "message": "malformed server event 'conversation.item.truncated': 'audio_end_ms' is str, not an integer; ignored", "fatal": False}
    ]
