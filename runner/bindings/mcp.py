"""Local MCP servers as tool bindings: connected when the host starts, their tools offered as function tools.

A `mcp: {command: [...]}` (stdio) or `mcp: {url: ...}` (streamable HTTP) binding is one
server. The host connects to each once, lists its tools (filtered by `allowed_tools`)
and keeps the session open for every conversation; each agent that lists the binding
gets those tools as plain function tools, and calls go through the same executor, with
the same argument check, timeout and error results as python tools.

The SDK's transports are anyio task groups, which must be entered and left on one task:
each server lives on a task of its own that holds the connection until the host closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from runner.bindings.loader import BindingError
from runner.config import interpolate_env
from runner.config.model import Config, LocalMcpBinding, Tool

if TYPE_CHECKING:
    from runner.compile import CompiledAgent

CONNECT_TIMEOUT = 30.0  # seconds for a server to start, initialise and list its tools
NON_TEXT_CONTENT = "[{kind} content not shown]"


class McpToolFailed(Exception):
    """The server ran the tool and said it failed (`isError`); the message is its text."""


class McpServer:
    """One local MCP server, connected on its own task until `aclose`."""

    def __init__(self, name: str, binding: LocalMcpBinding, *, base_dir: Path, environ: Mapping[str, str], errlog: Any) -> None:
        self.name = name
        self.binding = binding
        self._base_dir = base_dir
        self._environ = environ
        self._errlog = errlog
        self._session: Any = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def target(self) -> str:
        """How the server is reached, for messages."""
        return f"stdio: {' '.join(self.binding.command)}" if self.binding.command else f"url: {self.binding.url}"

    async def start(self, timeout: float = CONNECT_TIMEOUT) -> list[Any]:
        """Connect, initialise and list the tools (every page); BindingError when the server cannot be used."""
        listed: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._hold(listed))
        try:
            return await asyncio.wait_for(asyncio.shield(listed), timeout)
        except asyncio.TimeoutError:
            await self.aclose()
            raise BindingError(f"tool {self.name!r}: the MCP server ({self.target}) did not start and list its tools within {timeout:g} s") from None
        except Exception as error:  # the SDK's and the OS's errors alike: the server is unusable
            await self.aclose()
            raise BindingError(f"tool {self.name!r}: cannot use the MCP server ({self.target}): {_reason(error)}") from None

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """The tool's result as JSON-like data; McpToolFailed when the server says it failed."""
        if self._session is None or self._task is None or self._task.done():
            raise McpToolFailed(f"the MCP server {self.name!r} is not connected")
        result = await self._session.call_tool(tool, arguments)
        texts = [getattr(part, "text", None) or NON_TEXT_CONTENT.format(kind=part.type) for part in result.content]
        if result.is_error:
            raise McpToolFailed(" ".join(texts) or "the server reported an error without a message")
        if result.structured_content is not None:
            return result.structured_content
        return texts[0] if len(texts) == 1 else texts

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._session = None

    async def _hold(self, listed: asyncio.Future[list[Any]]) -> None:
        from mcp import ClientSession

        try:
            async with self._transport() as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                tools, cursor = [], None
                while True:
                    page = await session.list_tools(params=_page(cursor))
                    tools += page.tools
                    cursor = page.next_cursor
                    if not cursor:
                        break
                self._session = session
                listed.set_result(tools)
                await self._stop.wait()
        except BaseException as error:
            if not listed.done():
                listed.set_exception(error if isinstance(error, Exception) else RuntimeError(_reason(error)))
            if not isinstance(error, Exception):
                raise
        finally:
            self._session = None

    def _transport(self) -> Any:
        if self.binding.command:
            from mcp import StdioServerParameters, stdio_client

            program, *arguments = self.binding.command
            return stdio_client(StdioServerParameters(command=program, args=arguments, cwd=str(self._base_dir)), errlog=self._errlog)
        return _http_transport(self.binding, self._environ)


@contextlib.asynccontextmanager
async def _http_transport(binding: LocalMcpBinding, environ: Mapping[str, str]) -> Any:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    assert binding.url is not None
    url, missing = interpolate_env(binding.url, environ)
    headers = {name: interpolate_env(value, environ)[0] for name, value in binding.headers.items()}
    missing += [name for value in binding.headers.values() for name in interpolate_env(value, environ)[1]]
    if missing:
        raise BindingError(f"environment variable {missing[0]} is not set")
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)) as client:
        async with streamable_http_client(url, http_client=client) as streams:
            yield streams


def _page(cursor: str | None) -> Any:
    if cursor is None:
        return None
    from mcp.types import PaginatedRequestParams

    return PaginatedRequestParams(cursor=cursor)


def _reason(error: BaseException) -> str:
    """One line for a failure that may be an exception group from the SDK's task groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class McpServers:
    """Every local MCP binding of a config: connected together, their tools as `Tool`s by the model's name."""

    def __init__(self, config: Config, *, environ: Mapping[str, str], errlog: Any) -> None:
        self._config = config
        self.servers = {
            name: McpServer(name, tool.binding, base_dir=config.base_dir, environ=environ, errlog=errlog)
            for name, tool in config.tools.items()
            if isinstance(tool.binding, LocalMcpBinding)
        }
        self.tools: dict[str, Tool] = {}  # model-facing name -> tool (binding: its server's)
        self.server_of: dict[str, str] = {}  # model-facing name -> the binding's name in the config
        self.offered: dict[str, list[str]] = {}  # binding name -> its tools' names, in the server's order

    async def start(self) -> None:
        """Connect every server at once and take its allowed tools; BindingError names the first that fails."""
        results = await asyncio.gather(*(server.start() for server in self.servers.values()), return_exceptions=True)
        failure = next((result for result in results if isinstance(result, BaseException)), None)
        if failure is not None:
            await self.aclose()
            raise failure
        taken = set(self._config.tools) | {f"transfer_to_{agent}" for agent in self._config.agents}
        for (name, server), listed in zip(self.servers.items(), results):
            assert isinstance(listed, list)
            self._take(name, server, listed, taken)

    def _take(self, name: str, server: McpServer, listed: list[Any], taken: set[str]) -> None:
        binding = server.binding
        by_name = {tool.name: tool for tool in listed}
        missing = [wanted for wanted in binding.allowed_tools if wanted not in by_name]
        if missing:
            raise BindingError(f"tool {name!r}: the MCP server ({server.target}) has no tool {missing[0]!r}; it lists: {', '.join(by_name) or 'none'}")
        declared = self._config.tools[name]
        self.offered[name] = []
        for tool in listed:
            if binding.allowed_tools and tool.name not in binding.allowed_tools:
                continue
            if tool.name in taken:
                raise BindingError(f"tool {name!r}: the MCP server lists a tool named {tool.name!r}, a name this config already uses")
            taken.add(tool.name)
            parameters = dict(tool.input_schema or {"type": "object", "properties": {}})
            parameters.pop("title", None)  # the SDK's model name, nothing the model needs
            self.tools[tool.name] = Tool(tool.name, tool.description or declared.description, parameters, binding, declared.timeout, declared.span)
            self.server_of[tool.name] = name
            self.offered[name].append(tool.name)

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return await self.servers[self.server_of[name]].call(name, arguments)

    def offer(self, compiled: Mapping[str, CompiledAgent]) -> dict[str, CompiledAgent]:
        """The compiled agents with the tools of each MCP binding they list added first, as function tools."""
        offered = {}
        for agent_name, agent in compiled.items():
            names = [tool for binding in self._config.agents[agent_name].tools for tool in self.offered.get(binding, ())]
            if not names:
                offered[agent_name] = agent
                continue
            payloads = [_function_payload(self.tools[name]) for name in names]
            session, handoff_session = copy.deepcopy(agent.session), copy.deepcopy(agent.handoff_session)
            for target in (session, handoff_session):
                target["tools"] = [*payloads, *target["tools"]]
            offered[agent_name] = dataclasses.replace(agent, session=session, handoff_session=handoff_session, tool_names=agent.tool_names | set(names))
        return offered

    async def aclose(self) -> None:
        await asyncio.gather(*(server.aclose() for server in self.servers.values()))


def _function_payload(tool: Tool) -> dict[str, Any]:
    return {"type": "function", "name": tool.name, "description": tool.description, "parameters": copy.deepcopy(dict(tool.parameters))}
