"""Hosted MCP approval requests: answered by the agent's policy, then exactly one response."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from runner.core.records import Notice


def _request(server: Any, response_id: str, request_id: str, name: str, label: str = "docs") -> dict[str, Any]:
    item = {"id": request_id, "type": "mcp_approval_request", "server_label": label, "name": name, "arguments": "{}"}
    return server._event("response.output_item.done", response_id=response_id, output_index=0, item=item)


@pytest.mark.parametrize(
    ("policy", "approved"),
    [("always", {"search": True, "delete_page": True}), ("never", {"search": False, "delete_page": False}), (("search",), {"search": True, "delete_page": False})],
)
def test_each_request_is_answered_by_policy_then_one_response_follows(make_session, server, h, policy, approved):
    agents = h.team()
    agents["router"] = dataclasses.replace(agents["router"], mcp_approvals={"docs": policy})
    s = make_session(agents, audio=False)
    s.start(0.0)
    s.feed(server.session_updated())
    during = s.feed(server.response_created("r1"), _request(server, "r1", "mcpr_1", "search"), _request(server, "r1", "mcpr_2", "delete_page"))
    answers = [event["item"] for event in h.sent(during)]
    assert [(answer["approval_request_id"], answer["approve"]) for answer in answers] == [("mcpr_1", approved["search"]), ("mcpr_2", approved["delete_page"])]
    assert [answer["id"] for answer in answers] == ["mcpa_mcpr_1", "mcpa_mcpr_2"]
    for answer in answers:
        assert answer["type"] == "mcp_approval_response"
        assert ("reason" in answer) is (not answer["approve"])
    assert [n.message for n in during if isinstance(n, Notice)] == [
        f"MCP call docs.search {'approved' if approved['search'] else 'denied'} by policy",
        f"MCP call docs.delete_page {'approved' if approved['delete_page'] else 'denied'} by policy",
    ]
    assert s.busy
    done = s.feed(server.response_done("r1"))
    assert h.sent_types(done) == ["response.create"]


def test_a_server_without_a_policy_is_denied(make_session, server, h):
    s = make_session(audio=False)
    s.start(0.0)
    s.feed(server.session_updated())
    during = s.feed(server.response_created("r1"), _request(server, "r1", "mcpr_1", "search", label="unknown"))
    [answer] = [event["item"] for event in h.sent(during)]
    assert (answer["approve"], answer["reason"]) == (False, "search is not among the tools this project approves on unknown")


def _with_hosted_mcp(h: Any, **extra: Any) -> dict[str, Any]:
    agents = h.team()
    router = agents["router"]
    hosted = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com", "require_approval": "never"}
    session = {**router.session, "tools": [hosted, *router.session["tools"]]}
    agents["router"] = dataclasses.replace(router, session=session, **extra)
    return agents


def test_the_greeting_waits_until_the_hosted_servers_have_listed_their_tools(make_session, server, h):
    s = make_session(_with_hosted_mcp(h, greeting={}), audio=False)
    s.start(0.0)
    assert h.sent(s.feed(server.session_updated(), now=0.5)) == [] and s.busy
    assert s.next_deadline() == 10.5
    listed = s.feed(server._event("mcp_list_tools.completed", item_id="mcpl_1"), now=1.0)
    assert h.sent_types(listed) == ["response.create"]
    assert s.next_deadline() != 10.5


def test_a_typed_turn_before_the_listing_gets_its_reply_after_it_and_a_failure_is_noted(make_session, server, h):
    s = make_session(_with_hosted_mcp(h), audio=False)
    s.start(0.0)
    s.feed(server.session_updated())
    assert h.sent_types(s.user_text("hi", 0.2)) == ["conversation.item.create"]
    failed = s.feed(server._event("mcp_list_tools.failed", item_id="mcpl_1"))
    assert [n.message for n in failed if isinstance(n, Notice)] == ["a hosted MCP server could not list its tools (item mcpl_1); the model cannot call them"]
    assert h.sent_types(failed) == ["response.create"]


def test_a_service_that_never_lists_does_not_hold_the_call_past_the_wait(make_session, server, h):
    s = make_session(_with_hosted_mcp(h, greeting={}), audio=False)
    s.start(0.0)
    s.feed(server.session_updated(), now=1.0)
    assert s.tick(5.0) == []
    late = s.tick(11.0)
    assert [n.message for n in late if isinstance(n, Notice)] == ["hosted MCP servers did not list their tools within 10 s; going on without waiting"]
    assert h.sent_types(late) == ["response.create"]
