"""Reconnect: the session re-sent with its voice, the history re-seeded in order, a cut reply redone."""

import json


def _conversation(s, server):
    """User asks, the router authenticates and hands off to support, support starts to answer."""
    s.user_text("My wifi is down, number (555) 123-4567", 1.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user", '{"phone": "(555) 123-4567"}'), server.response_done("r1"), now=1.1)
    s.tool_done("c1", '{"customer_id": "CUST-1001"}', error=None, duration=0.1, now=1.2)
    s.feed(*server.spoken_reply("r2", "a2", "Thanks, you are verified."), now=2.0)
    s.feed(server.response_created("r3"), server.call("r3", "t1", "transfer_to_support", '{"reason": "wifi"}'), server.response_done("r3"), now=3.0)
    s.feed(*server.spoken_reply("r4", "a4", "Hi, technical support here."), now=4.0)


def test_reconnect_resends_the_active_agents_session_with_the_original_voice(make_session, server, h):
    agents = h.team()
    s = make_session(agents)
    s.start(0.0)
    _conversation(s, server)
    update = h.sent(s.reconnected(10.0))[0]
    assert update["type"] == "session.update"
    expected = {**agents["support"].session}
    expected["audio"] = {**expected["audio"], "output": {**expected["audio"]["output"], "voice": "marin"}}
    assert update["session"] == expected


def test_reconnect_reseeds_the_history_in_order(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _conversation(s, server)
    actions = s.reconnected(10.0)
    items = [e["item"] for e in h.sent(actions)[1:]]

    def text(item):
        if item["type"] != "message":
            return item
        return (item["role"], item["content"][0]["type"], item["content"][0]["text"])

    assert [text(item) for item in items] == [
        ("user", "input_text", "My wifi is down, number (555) 123-4567"),
        {"type": "function_call", "call_id": "c1", "name": "authenticate_user", "arguments": '{"phone": "(555) 123-4567"}'},
        {"type": "function_call_output", "call_id": "c1", "output": '{"customer_id": "CUST-1001"}'},
        ("assistant", "output_text", "Thanks, you are verified."),
        ("system", "input_text", "The conversation was transferred from router to support (wifi)."),
        ("assistant", "output_text", "Hi, technical support here."),
    ]
    assert "response.create" not in h.sent_types(actions)  # nothing was owed


def test_a_reply_cut_off_by_the_drop_is_asked_for_again(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.user_text("hello", 1.0)
    s.feed(server.response_created("r1"), server.message_added("r1", "a1"), server.transcript_delta("r1", "a1", "Hel"), now=1.1)
    actions = s.reconnected(5.0)
    assert h.sent_types(actions)[-1] == "response.create"
    assert h.sent_types(actions).count("response.create") == 1
    assert [e["item"]["content"][0]["text"] for e in h.sent(actions) if e["type"] == "conversation.item.create"] == ["hello", "Hel"]
    assert s.transcript[-1].status == "interrupted"


def test_a_requested_reply_not_yet_started_is_asked_for_again(make_session, h):
    s = make_session()
    s.start(0.0)
    s.user_text("hello", 1.0)
    assert h.sent_types(s.reconnected(2.0))[-1] == "response.create"


def test_a_tool_still_running_at_the_drop_answers_with_its_call_and_output_then_one_response(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user", '{"phone": "1"}'), now=1.0)
    reconnect = s.reconnected(2.0)
    assert "response.create" not in h.sent_types(reconnect)  # the tool has not answered yet
    answered = h.sent(s.tool_done("c1", '{"ok": true}', error=None, duration=1.5, now=2.5))
    assert [e["type"] for e in answered] == ["conversation.item.create", "conversation.item.create", "response.create"]
    assert [e["item"] for e in answered[:2]] == [  # the call item was on the old socket: created again first
        {"type": "function_call", "call_id": "c1", "name": "authenticate_user", "arguments": '{"phone": "1"}'},
        {"type": "function_call_output", "call_id": "c1", "output": '{"ok": true}'},
    ]


def test_blocked_replies_are_not_reseeded(make_session, server, h):
    from runner.config.model import Guardrail

    policy = Guardrail(name="promises", kind="regex", hint="No guarantees.")
    s = make_session(h.team(router={"guardrails": ("promises",)}), guardrails={"promises": policy}, audio=False)
    s.start(0.0)
    actions = s.feed(*server.written_reply("r1", "a1", "We guarantee it."), now=1.0)
    s.guardrail_result(h.checks(actions)[0].check_id, tripped=True, now=1.1)
    items = [e["item"] for e in h.sent(s.reconnected(3.0)) if e["type"] == "conversation.item.create"]
    assert all(item["role"] == "system" or item["content"][0]["text"] != "We guarantee it." for item in items)


def test_a_failed_tool_is_reseeded_with_the_error_output_the_model_was_given(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user", "{}"), server.response_done("r1"), now=1.0)
    given = next(e["item"] for e in h.sent(s.tool_done("c1", "", error="timed out after 5s", duration=5.0, now=6.0)) if e["type"] == "conversation.item.create")
    reseeded = [e["item"] for e in h.sent(s.reconnected(7.0)) if e["type"] == "conversation.item.create"]
    assert reseeded == [{"type": "function_call", "call_id": "c1", "name": "authenticate_user", "arguments": "{}"}, given]
    assert given == {"type": "function_call_output", "call_id": "c1", "output": '{"error": "timed out after 5s"}'}
