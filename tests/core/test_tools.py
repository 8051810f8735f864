"""Tool calls: dispatch on arguments.done, one output each, one response.create after all."""

import json

from runner.config.model import Limits
from runner.core import RunTool


def test_a_tool_call_runs_and_its_output_is_followed_by_one_response(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.user_text("My number is (555) 123-4567", 1.0)
    s.feed(server.response_created("r1"), now=1.1)

    dispatched = s.feed(server.call("r1", "c1", "authenticate_user", '{"phone": "(555) 123-4567"}'))
    assert [a for a in dispatched if isinstance(a, RunTool)] == [RunTool("c1", "authenticate_user", '{"phone": "(555) 123-4567"}', "router")]
    assert h.records(dispatched, "tool_call") == [{"agent": "router", "call_id": "c1", "name": "authenticate_user", "arguments": '{"phone": "(555) 123-4567"}'}]

    assert h.sent(s.feed(server.response_done("r1"))) == []
    answered = s.tool_done("c1", '{"customer_id": "CUST-1001"}', error=None, duration=0.25, now=1.5)
    assert h.sent_types(answered) == ["conversation.item.create", "response.create"]
    assert h.sent(answered)[0]["item"] == {"type": "function_call_output", "call_id": "c1", "output": '{"customer_id": "CUST-1001"}'}
    call = s.tool_calls[0]
    assert (call.status, call.output, call.error, call.duration) == ("done", '{"customer_id": "CUST-1001"}', None, 0.25)


def test_an_output_that_arrives_before_response_done_waits_for_it(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"))
    assert h.sent_types(s.tool_done("c1", "{}", error=None, duration=0.01, now=1.0)) == ["conversation.item.create"]
    assert h.sent_types(s.feed(server.response_done("r1"))) == ["response.create"]


def test_two_calls_in_one_response_get_two_outputs_then_exactly_one_response(make_session, server, h):
    s = make_session(start="support")
    s.start(0.0)
    dispatched = s.feed(
        server.response_created("r1"),
        server.call("r1", "c1", "search_knowledge_base", '{"query": "wifi"}'),
        server.call("r1", "c2", "create_support_ticket", '{"subject": "wifi"}'),
        server.response_done("r1"),
    )
    assert [a.call_id for a in dispatched if isinstance(a, RunTool)] == ["c1", "c2"]
    first = s.tool_done("c2", '{"ticket": "T-1"}', error=None, duration=0.1, now=1.0)
    second = s.tool_done("c1", '{"articles": []}', error=None, duration=0.2, now=1.1)
    assert h.sent_types(first) == ["conversation.item.create"]
    assert h.sent_types(second) == ["conversation.item.create", "response.create"]
    assert [e["item"]["call_id"] for e in h.sent(first + second) if e["type"] == "conversation.item.create"] == ["c2", "c1"]


def test_a_timed_out_tool_sends_its_error_to_the_model_and_records_it(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), server.response_done("r1"))
    actions = s.tool_done("c1", "", error="timed out after 5 s", duration=5.0, now=6.0)
    assert h.sent(actions)[0]["item"]["output"] == json.dumps({"error": "timed out after 5 s"})
    assert h.sent_types(actions) == ["conversation.item.create", "response.create"]
    assert h.records(actions, "tool_result") == [
        {"agent": "router", "call_id": "c1", "name": "authenticate_user", "output": "", "error": "timed out after 5 s", "duration": 5.0}
    ]
    assert s.tool_calls[0].status == "failed"


def test_an_exception_result_keeps_the_executors_structured_output(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), server.response_done("r1"))
    output = '{"error": "ValueError: phone number has 3 digits"}'
    actions = s.tool_done("c1", output, error="ValueError: phone number has 3 digits", duration=0.01, now=1.0)
    assert h.sent(actions)[0]["item"]["output"] == output
    assert s.tool_calls[0].error == "ValueError: phone number has 3 digits"


def test_invalid_arguments_come_back_as_an_error_result_the_model_can_correct(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user", '{"phone": 5551234567}'), server.response_done("r1"))
    output = '{"error": "invalid arguments: phone: 5551234567 is not of type \'string\'"}'
    actions = s.tool_done("c1", output, error="invalid arguments", duration=0.0, now=1.0)
    assert h.sent(actions)[0]["item"]["output"] == output
    assert h.sent_types(actions) == ["conversation.item.create", "response.create"]


def test_a_tool_the_agent_does_not_have_gets_an_error_output_without_running(make_session, server, h):
    s = make_session()
    s.start(0.0)
    actions = s.feed(server.response_created("r1"), server.call("r1", "c1", "lookup_invoice", "{}"))
    assert not [a for a in actions if isinstance(a, RunTool)]
    error = "unknown tool 'lookup_invoice' for agent 'router' (its tools: authenticate_user)"
    assert h.sent(actions)[0]["item"] == {"type": "function_call_output", "call_id": "c1", "output": json.dumps({"error": error})}
    assert h.sent_types(s.feed(server.response_done("r1"))) == ["response.create"]


def test_a_result_for_an_unknown_or_answered_call_sends_nothing(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), server.response_done("r1"))
    s.tool_done("c1", "{}", error=None, duration=0.1, now=1.0)
    again = s.tool_done("c1", "{}", error=None, duration=0.1, now=1.1)
    assert h.sent(again) == []
    assert h.records(again, "error") == [{"code": "unexpected_tool_result", "message": "result for already answered call 'c1' ignored", "fatal": False}]
    assert h.records(s.tool_done("zz", "{}", error=None, duration=0.1, now=1.2), "error")[0]["message"] == "result for unknown call 'zz' ignored"


def test_a_slow_tool_gets_one_filler_response_and_its_result_follows_after_it(make_session, server, h):
    s = make_session(limits=Limits(filler_after=2.0))
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), now=1.0)
    assert s.next_deadline() == 30 * 60  # only the session limit: no filler while the calling response speaks
    s.feed(server.response_done("r1"), now=1.0)
    assert s.next_deadline() == 3.0  # the call started at 1.0
    assert s.tick(2.9) == []
    filler = h.sent(s.tick(3.0))
    assert s.next_deadline() == 30 * 60  # once per batch
    assert [e["type"] for e in filler] == ["response.create"]
    assert filler[0]["response"]["tool_choice"] == "none"
    assert "working on it" in filler[0]["response"]["instructions"]
    s.feed(server.response_created("r2"), now=3.1)
    assert s.tick(6.0) == []  # once per batch
    answered = s.tool_done("c1", "{}", error=None, duration=5.0, now=6.0)
    assert h.sent_types(answered) == ["conversation.item.create"]  # the filler is still speaking
    assert h.sent_types(s.feed(server.response_done("r2"), now=6.5)) == ["response.create"]


def test_no_filler_while_the_calling_response_is_still_active(make_session, server, h):
    s = make_session(limits=Limits(filler_after=2.0))
    s.start(0.0)
    s.feed(server.response_created("r1"), server.call("r1", "c1", "authenticate_user"), now=0.0)
    assert s.tick(5.0) == []


def test_a_call_for_a_response_never_created_is_ignored_and_nothing_is_owed(make_session, server, h):
    """A misbehaving server: no response.done will come for it, so answering would wedge the session."""
    s = make_session()
    s.start(0.0)
    actions = s.feed(server.call("r_ghost", "c1", "authenticate_user", '{"phone": "(555) 123-4567"}'), now=1.0)
    assert [a for a in actions if isinstance(a, RunTool)] == []
    assert h.sent(actions) == []
    assert h.records(actions, "notice") == [
        {"message": "function call 'c1' (authenticate_user) for response 'r_ghost', which is not in progress, ignored"}
    ]
    assert s.busy is False and s.tool_calls == []


def test_a_call_for_a_response_already_done_is_ignored_too(make_session, server, h):
    s = make_session()
    s.start(0.0)
    s.feed(server.response_created("r1"), server.response_done("r1"), now=1.0)
    actions = s.feed(server.call("r1", "c1", "authenticate_user"))
    assert [a for a in actions if isinstance(a, RunTool)] == [] and s.busy is False
    assert h.records(actions, "notice") == [{"message": "function call 'c1' (authenticate_user) for response 'r1', which is not in progress, ignored"}]
