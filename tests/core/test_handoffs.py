"""Handoffs: transfer_to_<agent> along the graph's edges, applied once, voice kept."""

import json

from runner.core import RunTool


def _transfer_done(s, server, target, *, call_id="t1", reason="wifi is down"):
    return s.feed(
        server.response_created("r1"),
        server.call("r1", call_id, f"transfer_to_{target}", json.dumps({"reason": reason})),
        server.response_done("r1"),
        now=2.0,
    )


def test_a_handoff_updates_the_session_then_answers_the_call_then_creates_one_response(make_session, server, h):
    agents = h.team()
    s = make_session(agents)
    s.start(0.0)
    actions = _transfer_done(s, server, "support")
    assert h.sent_types(actions) == ["session.update", "conversation.item.create", "response.create"]
    update, output, create = h.sent(actions)
    assert update["session"] == agents["support"].handoff_session
    assert output["item"] == {"type": "function_call_output", "call_id": "t1", "output": '{"transferred_to": "support"}'}
    # the target's own instructions stay in force; on_enter is added for this one response
    assert create["response"] == {"instructions": "You are the support agent.\n\nIntroduce yourself as technical support."}
    assert s.active_agent == "support"
    record = s.handoffs[0]
    assert (record.source, record.target, record.reason, record.time, record.success) == ("router", "support", "wifi is down", 2.0, True)
    assert s.handoff_counts == {"router->support": 1}
    assert s.agents_visited == ["router", "support"]


def test_a_target_without_on_enter_gets_a_plain_response_create(make_session, server, h):
    s = make_session(h.team(billing={"on_enter": None}))
    s.start(0.0)
    assert "response" not in h.sent(_transfer_done(s, server, "billing"))[-1]


def test_voice_never_changes_on_handoff(make_session, server, h):
    s = make_session()
    first = h.sent(s.start(0.0))[0]
    assert first["session"]["audio"]["output"]["voice"] == "marin"
    update = h.sent(_transfer_done(s, server, "support"))[0]
    assert "voice" not in update["session"]["audio"]["output"]
    assert update["session"]["audio"]["input"]["turn_detection"] == first["session"]["audio"]["input"]["turn_detection"]


def test_a_handoff_batched_with_a_tool_call_is_applied_after_the_other_output(make_session, server, h):
    s = make_session()
    s.start(0.0)
    dispatched = s.feed(
        server.response_created("r1"),
        server.call("r1", "t1", "transfer_to_billing", '{"reason": "refund"}'),
        server.call("r1", "c1", "authenticate_user", '{"phone": "(555) 123-4567"}'),
        server.response_done("r1"),
    )
    assert [a.name for a in dispatched if isinstance(a, RunTool)] == ["authenticate_user"]
    assert h.sent(dispatched) == []
    assert s.active_agent == "router"
    actions = s.tool_done("c1", '{"customer_id": "CUST-1001"}', error=None, duration=0.1, now=3.0)
    assert h.sent_types(actions) == ["conversation.item.create", "session.update", "conversation.item.create", "response.create"]
    assert [e["item"]["call_id"] for e in h.sent(actions) if e["type"] == "conversation.item.create"] == ["c1", "t1"]
    assert s.active_agent == "billing"


def test_a_transfer_that_is_not_an_edge_gets_an_error_and_changes_nothing(make_session, server, h):
    s = make_session(start="billing")
    s.start(0.0)
    actions = _transfer_done(s, server, "support")
    assert h.sent_types(actions) == ["conversation.item.create", "response.create"]
    error = "'support' is not a handoff of 'billing' (it can transfer to: router)"
    assert h.sent(actions)[0]["item"]["output"] == json.dumps({"error": error})
    assert s.active_agent == "billing"
    record = s.handoffs[0]
    assert (record.source, record.target, record.success, record.error) == ("billing", "support", False, error)
    assert s.handoff_counts == {}


def test_a_transfer_to_itself_is_refused(make_session, server, h):
    s = make_session(h.team(router={"transfers": ("router", "support")}))
    s.start(0.0)
    actions = _transfer_done(s, server, "router")
    assert json.loads(h.sent(actions)[0]["item"]["output"]) == {"error": "'router' cannot transfer to itself"}
    assert h.sent_types(actions) == ["conversation.item.create", "response.create"]
    assert s.active_agent == "router"


def test_transfer_arguments_that_are_not_json_are_refused(make_session, server, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed(server.response_created("r1"), server.call("r1", "t1", "transfer_to_support", "{reason"), server.response_done("r1"))
    error = "invalid arguments for transfer_to_support: Expecting property name enclosed in double quotes at position 1"
    assert json.loads(h.sent(actions)[0]["item"]["output"]) == {"error": error}
    assert s.active_agent == "router"


def test_two_transfers_in_one_response_the_first_wins(make_session, server, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed(
        server.response_created("r1"),
        server.call("r1", "t1", "transfer_to_support", '{"reason": "wifi"}'),
        server.call("r1", "t2", "transfer_to_billing", '{"reason": "refund"}'),
        server.response_done("r1"),
    )
    assert h.sent_types(actions) == ["conversation.item.create", "session.update", "conversation.item.create", "response.create"]
    refused, _, accepted, _ = h.sent(actions)
    assert refused["item"]["call_id"] == "t2"
    assert json.loads(refused["item"]["output"]) == {"error": "this response already transfers to 'support'; only the first transfer is applied"}
    assert accepted["item"]["call_id"] == "t1"
    assert s.active_agent == "support"
    assert [(r.target, r.success) for r in s.handoffs] == [("billing", False), ("support", True)]


def test_after_a_handoff_the_new_agents_tools_are_the_ones_that_run(make_session, server, h):
    s = make_session()
    s.start(0.0)
    _transfer_done(s, server, "support")
    actions = s.feed(server.response_created("r2"), server.call("r2", "c9", "search_knowledge_base", '{"query": "wifi"}'))
    assert [a for a in actions if isinstance(a, RunTool)] == [RunTool("c9", "search_knowledge_base", '{"query": "wifi"}', "support")]
