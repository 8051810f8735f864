"""Local MCP servers as tool bindings: a real stdio server written with the same SDK, reached through a handoff.

The server is a script the test writes; the host starts it, lists its tools, offers the
allowed ones to the agent that lists the binding, and runs the model's calls through the
executor with the same timeout and error results as python tools.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import runner
from runner.core.records import Handoff, Record, ToolFinished

SERVER = '''\
import asyncio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("order-desk")


@server.tool()
def lookup_order(order_id: str) -> dict:
    """Look up an order by its id, such as A-1001."""
    return {"order_id": order_id, "status": "shipped"}


@server.tool()
async def slow_lookup(order_id: str) -> str:
    """An order lookup that takes a long time."""
    await asyncio.sleep(30)
    return "late"


@server.tool()
def broken_lookup(order_id: str) -> str:
    """An order lookup whose database is down."""
    raise ToolError("the order database is down")


@server.tool()
def delete_everything() -> str:
    """Not for callers: left out by allowed_tools."""
    return "deleted"


server.run("stdio")
'''

AGENTS = """\
version: 1
name: Orders
model: gpt-realtime
start: router
limits: {tool_timeout: 10, filler_after: 60}
agents:
  router:
    description: Sends callers on.
    instructions: You route callers.
    tools: [greet]
    handoffs: [orders]
  orders:
    description: Answers questions about orders.
    instructions: You look up orders.
    tools: [order_desk]
tools:
  greet:
    description: Says hello.
    python: desk_tools:greet
  order_desk:
    description: The order desk.
    timeout: 1
    mcp:
      command: [%s, order_server.py]
      allowed_tools: [lookup_order, slow_lookup, broken_lookup]
"""

RULES = """\
default: "Sorry?"
after_transfer: "Orders here."
agents:
  router: {tool: greet}
  orders: {tool: lookup_order}
rules:
  - when: 'order'
    agent: router
    transfer: orders
  - when: 'slow (?P<id>A-\\d+)'
    call: {name: slow_lookup, args: {order_id: "{{ match.id }}"}}
  - when: 'broken (?P<id>A-\\d+)'
    call: {name: broken_lookup, args: {order_id: "{{ match.id }}"}}
  - when: '(?P<id>A-\\d+)'
    call: {name: lookup_order, args: {order_id: "{{ match.id }}"}}
  - after_tool: lookup_order
    say: "Order {{ output.order_id }} is {{ output.status }}."
"""


def _project(folder: Path, agents: str = AGENTS) -> runner.Project:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "order_server.py").write_text(SERVER, encoding="utf-8")
    (folder / "desk_tools.py").write_text("def greet() -> str:\n    return 'hello'\n", encoding="utf-8")
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    (folder / "agents.yaml").write_text(agents % json.dumps(sys.executable), encoding="utf-8")
    return runner.load_project(folder / "agents.yaml", environ={})


def _talk(folder: Path, lines: list[str]) -> tuple[list[Record], list[dict[str, Any]]]:
    """The records and the client events of a text conversation, one line at a time."""
    records: list[Record] = []
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        project = _project(folder)
        transport = runner.SimulatorTransport(folder / "rules.yaml")
        async with runner.Host(project, transport=transport) as host:
            hooks = {"on_record": lambda record, t: records.append(record), "on_event": lambda direction, event, t: direction == "out" and sent.append(event)}
            async with host.open(text=True, **hooks) as conversation:
                for line in lines:
                    await conversation.send_text(line)
                    assert await conversation.wait_idle(30)

    asyncio.run(main())
    return records, sent


def test_the_servers_allowed_tools_are_offered_after_a_handoff_and_called(tmp_path: Path) -> None:
    records, sent = _talk(tmp_path / "project", ["a question about my order", "where is A-1001?"])
    assert [(r.source, r.target, r.success) for r in records if isinstance(r, Handoff)] == [("router", "orders", True)]
    [result] = [r for r in records if isinstance(r, ToolFinished)]
    assert (result.name, result.agent, json.loads(result.output or ""), result.error) == ("lookup_order", "orders", {"order_id": "A-1001", "status": "shipped"}, None)
    assert [r.data["text"] for r in records if r.kind == "assistant"][-1] == "Order A-1001 is shipped."
    updates = [event["session"] for event in sent if event.get("type") == "session.update"]
    router_tools = [tool["name"] for tool in updates[0]["tools"]]
    orders_tools = {tool["name"]: tool for tool in updates[-1]["tools"]}
    assert router_tools == ["greet", "transfer_to_orders"]  # the server's tools only for the agent that lists it
    assert list(orders_tools) == ["lookup_order", "slow_lookup", "broken_lookup"]  # delete_everything is not allowed
    assert orders_tools["lookup_order"] == {
        "type": "function",
        "name": "lookup_order",
        "description": "Look up an order by its id, such as A-1001.",
        "parameters": {"type": "object", "properties": {"order_id": {"title": "Order Id", "type": "string"}}, "required": ["order_id"]},
    }


def test_a_slow_mcp_tool_times_out_like_a_python_tool_and_the_server_keeps_serving(tmp_path: Path) -> None:
    records, _ = _talk(tmp_path / "project", ["my order please", "slow A-1001", "A-1002"])
    first, second = [r for r in records if isinstance(r, ToolFinished)]
    assert (first.name, first.error) == ("slow_lookup", "timed out after 1 s")
    assert json.loads(first.output or "") == {"error": "timeout", "message": "slow_lookup did not finish within 1 s"}
    assert 1.0 <= (first.duration or 0) < 3.0
    assert (second.name, json.loads(second.output or ""), second.error) == ("lookup_order", {"order_id": "A-1002", "status": "shipped"}, None)


def test_a_failing_mcp_tool_is_an_error_result(tmp_path: Path) -> None:
    records, _ = _talk(tmp_path / "project", ["my order please", "broken A-1001"])
    [result] = [r for r in records if isinstance(r, ToolFinished)]
    said = "Error executing tool broken_lookup: the order database is down"  # the server's own words
    assert (result.name, result.error) == ("broken_lookup", f"MCP tool error: {said}")
    assert json.loads(result.output or "") == {"error": "tool_failed", "message": said}


def test_arguments_are_checked_against_the_servers_schema_before_the_call(tmp_path: Path) -> None:
    from runner.bindings import ToolContext, ToolResult

    async def main() -> ToolResult:
        project = _project(tmp_path / "project")
        async with runner.Host(project, transport=runner.MemoryTransport(lambda event, connection: [])) as host:
            context = ToolContext(session_id="s", agent="orders", variables={}, transcript=(), state_dir=tmp_path)
            return await host.tools.run("lookup_order", '{"order": 1}', call_id="c1", agent="orders", context=context)

    result = asyncio.run(main())
    assert result.error == "invalid arguments: $: 'order_id' is a required property"
    assert json.loads(result.output)["error"] == "invalid_arguments"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("allowed_tools: [lookup_order, slow_lookup, broken_lookup]", "allowed_tools: [lookup_order, cancel_order]"),
            "tool 'order_desk': the MCP server (stdio: {python} order_server.py) has no tool 'cancel_order'; it lists: "
            "lookup_order, slow_lookup, broken_lookup, delete_everything",
        ),
        (
            ("order_server.py", "no_such_server.py"),
            "tool 'order_desk': cannot use the MCP server (stdio: {python} no_such_server.py): ",
        ),
    ],
)
def test_a_server_that_cannot_be_used_stops_the_host_from_starting(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    project = _project(tmp_path / "project", AGENTS.replace(*change))

    async def main() -> None:
        async with runner.Host(project, transport=runner.MemoryTransport(lambda event, connection: [])):
            pass

    with pytest.raises(runner.SetupError) as raised:
        asyncio.run(main())
    assert str(raised.value).startswith(message.format(python=sys.executable))


HTTP_SERVER = '''\
from mcp.server.mcpserver import MCPServer

server = MCPServer("order-desk")


@server.tool()
def lookup_order(order_id: str) -> dict:
    """Look up an order by its id."""
    return {"order_id": order_id, "status": "in transit"}


app = server.streamable_http_app()
'''


def test_a_streamable_http_server_is_reached_by_url_with_its_headers(tmp_path: Path) -> None:
    import importlib.util

    from tests.served import on_uvicorn

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "http_server.py").write_text(HTTP_SERVER, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("order_http_server", folder / "http_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen: list[str | None] = []

    async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(dict(scope["headers"]).get(b"authorization", b"").decode() or None)
        await module.app(scope, receive, send)

    agents = AGENTS.replace("      command: [%s, order_server.py]\n", "      url: ${ORDERS_URL}/mcp\n      headers: {Authorization: 'Bearer ${ORDERS_TOKEN}'}\n")
    agents = agents.replace("allowed_tools: [lookup_order, slow_lookup, broken_lookup]", "allowed_tools: [lookup_order]")

    async def main() -> Any:
        from runner.bindings import ToolContext

        async with on_uvicorn(recording) as url:
            (folder / "agents.yaml").write_text(agents, encoding="utf-8")
            (folder / "desk_tools.py").write_text("def greet() -> str:\n    return 'hello'\n", encoding="utf-8")
            project = runner.load_project(folder / "agents.yaml", environ={"ORDERS_URL": url, "ORDERS_TOKEN": "t0ken-42"})
            async with runner.Host(project, transport=runner.MemoryTransport(lambda event, connection: [])) as host:
                context = ToolContext(session_id="s", agent="orders", variables={}, transcript=(), state_dir=tmp_path)
                return await host.tools.run("lookup_order", '{"order_id": "A-7"}', call_id="c1", agent="orders", context=context)

    result = asyncio.run(main())
    assert (json.loads(result.output), result.error) == ({"order_id": "A-7", "status": "in transit"}, None)
    assert seen and set(seen) == {"Bearer t0ken-42"}
