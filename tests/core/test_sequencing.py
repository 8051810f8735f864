"""One response at a time, errors, unknown events and failed responses."""

from runner.core import EndSession


def test_user_text_while_a_response_is_active_is_queued_until_it_is_done(make_session, server, h):
    s = make_session(audio=False)
    s.start(0.0)
    assert h.sent_types(s.user_text("hello", 1.0)) == ["conversation.item.create", "response.create"]
    s.feed(server.response_created("r1"), now=1.1)
    assert h.sent_types(s.user_text("are you there?", 1.2)) == ["conversation.item.create"]
    assert h.sent_types(s.feed(server.response_done("r1"), now=1.5)) == ["response.create"]


def test_a_request_sent_but_not_yet_created_also_holds_the_next_one(make_session, server, h):
    s = make_session(audio=False)
    s.start(0.0)
    s.user_text("hello", 1.0)
    assert h.sent_types(s.user_text("again", 1.1)) == ["conversation.item.create"]
    s.feed(server.response_created("r1"))
    assert h.sent_types(s.feed(server.response_done("r1"))) == ["response.create"]


def test_two_queued_requests_coalesce_into_one(make_session, server, h):
    s = make_session(audio=False)
    s.start(0.0)
    s.user_text("one", 1.0)
    s.feed(server.response_created("r1"))
    s.user_text("two", 1.1)
    s.user_text("three", 1.2)
    assert h.sent_types(s.feed(server.response_done("r1"))) == ["response.create"]
    assert h.sent(s.feed(server.response_created("r2"), server.response_done("r2"))) == []


def test_an_active_response_race_requeues_our_request_after_the_servers_response(make_session, server, h):
    s = make_session()
    s.start(0.0)
    ours = h.sent(s.user_text("hello", 1.0))[-1]
    # The server's VAD created a response first; ours was refused.
    s.feed(server.response_created("r_server"))
    refused = s.feed(server.error("conversation_already_has_active_response", "Conversation already has an active response", event_id=ours["event_id"]))
    assert h.sent(refused) == []
    assert h.records(refused, "error")[0]["code"] == "conversation_already_has_active_response"
    again = h.sent(s.feed(server.response_done("r_server")))
    assert [e["type"] for e in again] == ["response.create"]
    assert again[0]["event_id"] != ours["event_id"]


def test_an_error_for_another_event_leaves_the_queue_alone(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.user_text("hello", 1.0)
    actions = s.feed(server.error("invalid_value", "bad truncate", event_id="evt_s1_999"))
    assert h.sent(actions) == []
    assert h.sent(s.feed(server.response_created("r1"))) == []


def test_a_refused_response_create_does_not_block_the_next_request(make_session, server, h):
    s = make_session(audio=False)
    s.start(0.0)
    ours = h.sent(s.user_text("hello", 1.0))[-1]
    s.feed(server.error("invalid_value", "Invalid value for 'response.instructions'", event_id=ours["event_id"]))
    assert h.sent_types(s.user_text("again", 2.0)) == ["conversation.item.create", "response.create"]


def test_a_recoverable_error_is_recorded_and_the_session_goes_on(make_session, server, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed(server.error("unknown_parameter", "Unknown parameter: 'session.foo'"), now=1.0)
    assert h.records(actions, "error") == [{"code": "unknown_parameter", "message": "Unknown parameter: 'session.foo'", "fatal": False}]
    assert not [a for a in actions if isinstance(a, EndSession)]
    assert s.transcript[-1].kind == "error"
    assert h.sent_types(s.user_text("hi", 2.0)) == ["conversation.item.create", "response.create"]


def test_fatal_errors_end_the_session(make_session, server, h):
    for code, kind in [("beta_api_shape_disabled", "invalid_request_error"), ("session_expired", "invalid_request_error"),
                       ("invalid_api_key", "invalid_request_error"), (None, "authentication_error")]:
        s = make_session()
        s.start(0.0)
        actions = s.feed(server.error(code, "no", kind=kind))
        assert actions[-1] == EndSession(f"fatal error: {code or kind}")
        assert h.records(actions, "error")[0]["fatal"] is True
        assert s.ended
        assert s.user_text("hello?", 2.0) == []


def test_unknown_event_types_are_recorded_once_and_ignored(make_session, h):
    s = make_session()
    s.start(0.0)
    first = s.feed({"type": "response.audio.delta", "delta": "AAAA"})
    assert h.records(first, "notice") == [{"message": "unknown server event type 'response.audio.delta' ignored"}]
    assert s.feed({"type": "response.audio.delta", "delta": "AAAA"}) == []
    assert s.unknown_events == {"response.audio.delta": 2}


def test_a_malformed_known_event_is_an_error_record_not_a_traceback(make_session, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed({"type": "response.output_audio.delta", "delta": "AAAA"})
    assert h.records(actions, "error") == [
        {"code": "malformed_event", "message": "malformed server event 'response.output_audio.delta': 'item_id' is missing; ignored", "fatal": False}
    ]


def test_a_failed_response_is_surfaced_as_an_error(make_session, server, h):
    s = make_session()
    s.start(0.0)
    failure = {"type": "server_error", "code": "server_error", "message": "The server had an error while processing your request."}
    actions = s.feed(server.response_created("r1"), server.response_done("r1", "failed", error=failure), now=1.0)
    assert h.records(actions, "error") == [{"code": "server_error", "message": "The server had an error while processing your request.", "fatal": False}]


def test_event_ids_count_up_from_the_session_id(make_session, h):
    s = make_session(session_id="abc")
    assert h.sent(s.start(0.0))[0]["event_id"] == "evt_abc_1"
    assert [e["event_id"] for e in h.sent(s.user_text("hi", 1.0))] == ["evt_abc_2", "evt_abc_3"]


def test_the_start_session_update_is_the_start_agents_full_session(make_session, h):
    agents = h.team()
    s = make_session(agents)
    assert h.sent(s.start(0.0))[0]["session"] == agents["router"].session


def test_typed_input_that_is_empty_is_ignored_with_a_notice(make_session, h):
    s = make_session()
    s.start(0.0)
    actions = s.user_text("   ", 1.0)
    assert h.sent(actions) == []
    assert h.records(actions, "notice") == [{"message": "typed input ignored: the message is empty"}]
