"""The `mcp:` binding's two kinds in the agents file: server_url (hosted) and command or url (local)."""

from __future__ import annotations

from pathlib import Path

from runner.compile import compile_config
from runner.config import load
from runner.config.model import LocalMcpBinding, McpBinding

HEAD = """\
version: 1
start: desk
agents:
  desk:
    description: Looks things up.
    instructions: You look things up.
    tools: [orders]
tools:
  orders:
"""


def _load(tmp_path: Path, binding: str, environ: dict[str, str] | None = None) -> tuple[object, list[str]]:
    path = tmp_path / "agents.yaml"
    path.write_text(HEAD + binding, encoding="utf-8")
    result = load(str(path), environ=environ or {})
    return result.config, [problem.format()[len(str(path)) + 1 :] for problem in result.problems]


def test_command_and_url_build_local_bindings_and_server_url_a_hosted_one(tmp_path: Path) -> None:
    config, problems = _load(tmp_path, "    mcp: {command: [python, -m, orders_server], allowed_tools: [lookup_order]}\n")
    assert problems == []
    assert config.tools["orders"].binding == LocalMcpBinding(("python", "-m", "orders_server"), None, ("lookup_order",), {}, config.tools["orders"].binding.span)
    config, problems = _load(tmp_path, "    mcp: {url: '${ORDERS}/mcp', headers: {Authorization: 'Bearer ${TOKEN}'}}\n", {"ORDERS": "http://127.0.0.1:9000", "TOKEN": "t0ken"})
    assert problems == [] and config.tools["orders"].binding.url == "${ORDERS}/mcp"
    config, problems = _load(tmp_path, "    mcp: {server_url: 'https://mcp.example.com'}\n")
    assert problems == [] and isinstance(config.tools["orders"].binding, McpBinding)


def test_local_servers_tools_are_added_at_run_time_not_compiled_as_hosted_tools(tmp_path: Path) -> None:
    config, _ = _load(tmp_path, "    mcp: {command: [python, server.py]}\n")
    [desk] = compile_config(config).values()
    assert desk.session["tools"] == [] and desk.tool_names == frozenset()


def test_mistakes_are_located(tmp_path: Path) -> None:
    assert _load(tmp_path, "    mcp: {server_url: 'https://x.example.com', command: [python]}\n")[1] == [
        "10:48: tools.orders.mcp.command: an mcp binding takes one of server_url, command and url, but this one has server_url and command"
    ]
    assert _load(tmp_path, "    mcp: {allowed_tools: [a]}\n")[1] == [
        "10:10: tools.orders.mcp: an mcp binding needs server_url (the Realtime service calls it), or command or url (the runner calls it)"
    ]
    assert _load(tmp_path, "    mcp: {command: [python], require_approval: always}\n")[1] == [
        "10:30: tools.orders.mcp.require_approval: 'require_approval' applies to a server_url binding only (the Realtime service's approval and listing)"
    ]
    assert _load(tmp_path, "    mcp: {url: 'ftp://x.example.com'}\n")[1] == ["10:16: tools.orders.mcp.url: invalid URL 'ftp://x.example.com': it must start with http:// or https://"]
    assert _load(tmp_path, "    mcp: {command: [python], headers: {A: b}}\n")[1] == [
        "10:30: tools.orders.mcp.headers: headers apply to a url (streamable HTTP) server, not to a command"
    ]
    assert _load(tmp_path, "    mcp: {command: []}\n")[1] == ["10:20: tools.orders.mcp.command: must not be empty"]
    assert _load(tmp_path, "    mcp: {command: [python]}\n    parameters: {type: object}\n")[1] == [
        "11:5: tools.orders.parameters: 'parameters' does not apply to an mcp tool: the server describes its own tools"
    ]


def test_a_hosted_servers_approval_policy_is_compiled_per_agent(tmp_path: Path) -> None:
    config, problems = _load(tmp_path, "    mcp: {server_url: 'https://x.example.com', require_approval: always, approve: [search]}\n")
    assert problems == [] and config.tools["orders"].binding.approve == ("search",)
    [desk] = compile_config(config).values()
    assert desk.mcp_approvals == {"orders": ("search",)}
    assert desk.session["tools"][0]["require_approval"] == "always"
    config, _ = _load(tmp_path, "    mcp: {server_url: 'https://x.example.com'}\n")
    assert next(iter(compile_config(config).values())).mcp_approvals == {"orders": "never"}
    assert _load(tmp_path, "    mcp: {command: [python], approve: always}\n")[1] == [
        "10:30: tools.orders.mcp.approve: 'approve' applies to a server_url binding only (the Realtime service's approval and listing)"
    ]
