"""An agent that speaks first: one opening response.create once the first session.update is applied.

Not before it (the instructions must be in force), not after a handoff's session.update, not
again after a reconnect when the greeting was given, and not at all when the caller spoke first.
"""

GREETING = {"instructions": "You are the router agent.\n\nGreet the caller and ask for their phone number."}


def _greeter(make_session, h, greeting=None, **others):
    return make_session(h.team(router={"greeting": GREETING if greeting is None else greeting}, **others))


def test_the_greeting_is_asked_for_as_soon_as_the_session_is_configured(make_session, server, h):
    s = _greeter(make_session, h)
    assert h.sent_types(s.start(0.0)) == ["session.update"]
    actions = s.feed(server.session_updated(), now=0.1)
    assert h.sent(actions) == [{"type": "response.create", "event_id": "evt_s1_2", "response": GREETING}]
    assert s.busy


def test_speaks_first_without_text_asks_for_a_plain_response(make_session, server, h):
    s = _greeter(make_session, h, greeting={})
    s.start(0.0)
    assert h.sent(s.feed(server.session_updated(), now=0.1)) == [{"type": "response.create", "event_id": "evt_s1_2"}]


def test_an_agent_that_does_not_speak_first_waits_for_the_caller(make_session, server, h):
    s = make_session()
    s.start(0.0)
    assert s.feed(server.session_updated(), now=0.1) == []
    assert not s.busy


def test_the_greeting_is_asked_for_exactly_once(make_session, server, h):
    s = _greeter(make_session, h)
    s.start(0.0)
    s.feed(server.session_updated(), now=0.1)
    assert s.feed(server.session_updated(), now=0.15) == []  # a second update before the reply starts
    s.feed(*server.spoken_reply("r1", "a1", "Thanks for calling. What's your phone number?"), now=0.2)
    assert s.feed(server.session_updated(), now=0.3) == []
    assert not s.busy
    assert [(m.role, m.text) for m in s.transcript] == [("assistant", "Thanks for calling. What's your phone number?")]


def test_a_handoffs_session_update_never_starts_a_greeting(make_session, server, h):
    s = _greeter(make_session, h, support={"greeting": {}})
    s.start(0.0)
    s.feed(server.session_updated(), now=0.1)
    s.feed(*server.spoken_reply("r1", "a1", "Hello!"), now=0.2)
    s.user_text("my wifi is down", 1.0)
    s.feed(server.response_created("r2"), server.call("r2", "t1", "transfer_to_support", '{"reason": "wifi"}'), now=1.1)
    actions = s.feed(server.response_done("r2"), now=1.2)
    assert h.sent_types(actions) == ["session.update", "conversation.item.create", "response.create"]
    assert s.feed(server.session_updated(), now=1.3) == []
    assert s.active_agent == "support"


def test_a_start_agent_that_does_not_greet_stays_silent_after_handing_off_to_one_that_would(make_session, server, h):
    s = make_session(h.team(support={"greeting": {}}))
    s.start(0.0)
    assert s.feed(server.session_updated(), now=0.1) == []
    s.user_text("my wifi is down", 1.0)
    s.feed(server.response_created("r1"), server.call("r1", "t1", "transfer_to_support", '{"reason": "wifi"}'), server.response_done("r1"), now=1.1)
    assert s.feed(server.session_updated(), now=1.2) == []


def test_no_greeting_once_the_caller_has_spoken(make_session, server, h):
    s = _greeter(make_session, h)
    s.start(0.0)
    s.user_text("hello?", 0.05)  # typed before the session was configured: the reply answers it
    assert s.feed(server.session_updated(), now=0.1) == []


def test_no_second_greeting_after_a_reconnect(make_session, server, h):
    s = _greeter(make_session, h)
    s.start(0.0)
    s.feed(server.session_updated(), now=0.1)
    s.feed(*server.spoken_reply("r1", "a1", "Hello!"), now=0.2)
    actions = s.reconnected(5.0)
    assert h.sent_types(actions) == ["session.update", "conversation.item.create"]
    assert s.feed(server.session_updated(), now=5.1) == []


def test_a_greeting_never_sent_before_the_drop_comes_on_the_new_socket(make_session, server, h):
    s = _greeter(make_session, h)
    s.start(0.0)
    assert h.sent_types(s.reconnected(1.0)) == ["session.update"]
    assert h.sent(s.feed(server.session_updated(), now=1.1)) == [{"type": "response.create", "event_id": "evt_s1_3", "response": GREETING}]


def test_a_greeting_cut_by_the_drop_is_asked_for_again_with_its_instructions(make_session, server, h):
    s = _greeter(make_session, h)
    s.start(0.0)
    s.feed(server.session_updated(), now=0.1)
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.transcript_delta("r1", "a1", "Thanks for"), now=0.2)
    actions = s.reconnected(5.0)
    assert "response.create" not in h.sent_types(actions)  # not before the new socket is configured
    again = h.sent(s.feed(server.session_updated(), now=5.1))
    assert [(event["type"], event.get("response")) for event in again] == [("response.create", GREETING)]
    s.feed(*server.spoken_reply("r2", "a2", "Thanks for calling!"), now=5.2)
    assert s.feed(server.session_updated(), now=5.3) == []
