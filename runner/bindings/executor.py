"""Run one tool call: check the arguments, call the binding, shape the output for the model."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from jsonschema import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from runner.bindings.context import ToolContext
from runner.bindings.loader import BindingError, load_callable
from runner.bindings.output import ERROR_MESSAGE_MAX_CHARS, UnserialisableOutput, cap, error_output, safe_str, serialise
from runner.bindings.threads import PoolExhausted, ToolThreads
from runner.config.model import Config, HttpBinding, LocalMcpBinding, McpBinding, PythonBinding, Tool

if TYPE_CHECKING:
    from runner.bindings.http import HttpCaller
    from runner.bindings.mcp import McpServers

DEFAULT_WORKERS = 32  # threads for sync tools, shared by every conversation of a host; more concurrent calls wait their turn
DEFAULT_MAX_ABANDONED = 32  # sync calls past their timeout that may still run before new ones are refused
ERROR_LINE_MAX_CHARS = 200  # ToolResult.error is one short line for breadcrumbs and reports


@dataclass(frozen=True, slots=True)
class ToolResult:
    """`output` is what the model sees; `error` a short line for humans, None on success."""

    output: str
    error: str | None
    duration: float  # seconds, from arguments received to output ready


@dataclass(frozen=True, slots=True)
class _PythonFunction:
    function: Callable[..., Any]
    is_async: bool
    context_parameter: str | None  # the parameter that receives the ToolContext


class _CallFailed(Exception):
    """Ends a call early with a ready error output."""

    def __init__(self, output: str, error: str) -> None:
        super().__init__(error)
        self.output = output
        self.error = error


def _ignore(message: str) -> None:
    """The default log: tracebacks are dropped when nobody keeps an event log."""


class ToolExecutor:
    """Executes the config's local tools (python and http bindings) for the session driver.

    Construction loads every python binding and compiles every parameter schema, so a
    broken binding stops the session before it starts (`BindingError`) rather than
    surfacing mid-conversation. Hosted MCP tools (`server_url`) run on the Realtime service;
    local MCP servers (`command`, `url`) are connected by `start` and called from here.

    Sync functions run on daemon threads, at most `max_workers` at once. A thread cannot
    be killed: when a sync tool times out the model gets a timeout result at once, the
    function runs on and its eventual result is discarded, but its thread neither holds
    a worker nor keeps the process alive. Past `max_abandoned` such threads, sync calls
    get a `tool_pool_exhausted` result. Async functions are awaited on the event loop and
    cancelled at the timeout; one that blocks the loop cannot be stopped.

    Whatever a tool does, raising `SystemExit` or `KeyboardInterrupt` included, `run`
    returns a result: a tool never ends the session.
    """

    def __init__(
        self,
        config: Config,
        *,
        environ: Mapping[str, str] = os.environ,
        log: Callable[[str], None] = _ignore,
        max_workers: int = DEFAULT_WORKERS,
        max_abandoned: int = DEFAULT_MAX_ABANDONED,
    ) -> None:
        self._tools = config.tools
        self._limits = config.limits
        self._log = log
        self._validators: dict[str, Validator] = {}
        self._functions: dict[str, _PythonFunction] = {}
        for name, tool in config.tools.items():
            if isinstance(tool.binding, (McpBinding, LocalMcpBinding)):
                continue
            self._validators[name] = _compile_schema(name, tool.parameters)
            if isinstance(tool.binding, PythonBinding):
                self._functions[name] = _load_function(config, name, tool.binding)
        self._http: HttpCaller | None = None
        if any(isinstance(tool.binding, HttpBinding) for tool in config.tools.values()):
            from runner.bindings.http import RESPONSE_MAX_BYTES, HttpCaller  # httpx only when the config calls http tools

            # never cut a body the model could have been shown in full (4 bytes per character at most)
            max_response_bytes = max(RESPONSE_MAX_BYTES, 4 * config.limits.tool_output_max_chars)
            self._http = HttpCaller(environ=environ, max_response_bytes=max_response_bytes)
        self._threads = ToolThreads(max_workers, max_abandoned)
        self._config = config
        self._environ = environ
        self.mcp: McpServers | None = None  # the local MCP servers, once `start` connected them

    async def start(self, *, errlog: Any = None) -> None:
        """Connect the config's local MCP servers and list their tools (BindingError when one cannot be used).

        `errlog`: where stdio servers' stderr goes (default: this process's stderr).
        """
        if not any(isinstance(tool.binding, LocalMcpBinding) for tool in self._tools.values()):
            return
        import sys

        from runner.bindings.mcp import McpServers

        servers = McpServers(self._config, environ=self._environ, errlog=errlog or sys.stderr)
        await servers.start()
        self.mcp = servers
        for name, tool in servers.tools.items():
            self._validators[name] = _compile_schema(name, tool.parameters)

    def offer_mcp_tools(self, compiled: Mapping[str, Any]) -> dict[str, Any]:
        """The compiled agents with their MCP servers' tools added as function tools."""
        return self.mcp.offer(compiled) if self.mcp is not None else dict(compiled)

    async def run(self, name: str, arguments: str, *, call_id: str, agent: str, context: ToolContext) -> ToolResult:
        """Run tool `name` with the model's raw JSON `arguments`; never raises for a failing tool."""
        started = time.perf_counter()
        try:
            tool = self._local_tool(name)
            parsed = self._parse_arguments(name, arguments)
            value = await self._call(tool, parsed, call_id=call_id, agent=agent, context=context)
            output, error = serialise(value), _reported_error(value)
        except _CallFailed as failed:
            output, error = failed.output, failed.error
        except UnserialisableOutput as exc:
            output = error_output("unserialisable_output", f"the tool's result could not be sent: {exc}")
            error = f"unserialisable output: {exc}"
        return ToolResult(cap(output, self._limits.tool_output_max_chars), error, time.perf_counter() - started)

    @property
    def abandoned_calls(self) -> int:
        """Sync calls that ran past their timeout and are still running on their threads."""
        return self._threads.abandoned

    async def aclose(self) -> None:
        """Close the HTTP client and MCP servers; sync calls still running finish on their own daemon threads."""
        if self._http is not None:
            await self._http.aclose()
        if self.mcp is not None:
            await self.mcp.aclose()
            self.mcp = None

    async def __aenter__(self) -> ToolExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _local_tool(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is not None and isinstance(tool.binding, LocalMcpBinding):
            tool = None  # the server's binding, not one of its tools
        if tool is None and self.mcp is not None:
            tool = self.mcp.tools.get(name)
        if tool is None:
            known = ", ".join(n for n in self._validators) or "none"
            raise _CallFailed(error_output("unknown_tool", f"there is no tool named {name!r}; available: {known}"), f"unknown tool {name!r}")
        if isinstance(tool.binding, McpBinding):
            message = f"{name!r} is an MCP tool: the Realtime service calls it, not the runner"
            raise _CallFailed(error_output("unknown_tool", message), message)
        return tool

    def _parse_arguments(self, name: str, arguments: str) -> dict[str, Any]:
        """Parse and validate; violations go back to the model as one structured error it can act on."""
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}  # some models send "" for no arguments
        except json.JSONDecodeError as exc:
            raise _CallFailed(
                error_output("invalid_arguments", "the arguments are not valid JSON", details=[str(exc)]),
                f"invalid arguments: not valid JSON ({exc})",
            ) from None
        details = [
            f"{error.json_path}: {error.message}"
            for error in sorted(self._validators[name].iter_errors(parsed), key=lambda e: (e.json_path, e.message))
        ]
        if not details and not isinstance(parsed, dict):
            details = [f"$: {json.dumps(parsed)[:80]} is not of type 'object'"]
        if details:
            more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
            raise _CallFailed(
                error_output("invalid_arguments", "the arguments do not match the tool's parameters", details=details),
                _short(f"invalid arguments: {details[0]}") + more,
            )
        return parsed

    async def _call(self, tool: Tool, arguments: dict[str, Any], *, call_id: str, agent: str, context: ToolContext) -> Any:
        timeout = tool.timeout if tool.timeout is not None else self._limits.tool_timeout
        try:
            async with asyncio.timeout(timeout) as deadline:
                if isinstance(tool.binding, HttpBinding):
                    assert self._http is not None  # created in __init__ whenever an http tool exists
                    return await self._http.call(tool.binding, arguments, tool.binding.timeout or timeout)
                if isinstance(tool.binding, LocalMcpBinding):
                    return await self._call_mcp(tool.name, arguments)
                return await self._call_python(self._functions[tool.name], arguments, context)
        except TimeoutError as exc:
            if not deadline.expired():  # the tool's own TimeoutError, not our deadline
                raise self._failure(exc, tool.name, call_id, agent) from None
            message = f"{tool.name} did not finish within {timeout:g} s"
            raise _CallFailed(error_output("timeout", message), f"timed out after {timeout:g} s") from None
        except _CallFailed:
            raise
        except PoolExhausted as exc:
            message = f"{tool.name} cannot start: {exc}; try again later"
            raise _CallFailed(error_output("tool_pool_exhausted", message), f"tool pool exhausted: {exc}") from None
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a tool's own failure, whatever it is, becomes its result
            raise self._failure(exc, tool.name, call_id, agent) from None

    async def _call_mcp(self, name: str, arguments: dict[str, Any]) -> Any:
        """The server's answer; a failure it reports is the tool's error result (no traceback: it ran elsewhere)."""
        from runner.bindings.mcp import McpToolFailed

        assert self.mcp is not None
        try:
            return await self.mcp.call(name, arguments)
        except McpToolFailed as failed:
            message = safe_str(failed)
            raise _CallFailed(error_output("tool_failed", message[:ERROR_MESSAGE_MAX_CHARS]), _short(f"MCP tool error: {message}")) from None

    async def _call_python(self, target: _PythonFunction, arguments: dict[str, Any], context: ToolContext) -> Any:
        if target.context_parameter is not None:
            arguments = {**arguments, target.context_parameter: context}
        if target.is_async:
            return await target.function(**arguments)
        return await self._threads.run(functools.partial(target.function, **arguments))

    def _failure(self, exc: BaseException, name: str, call_id: str, agent: str) -> _CallFailed:
        """The tool's exception as a result; its traceback goes to the log only."""
        self._log(f"tool {name} (call {call_id}, agent {agent}) raised:\n{''.join(traceback.format_exception(exc))}")
        message = safe_str(exc)
        output = error_output("tool_failed", message[:ERROR_MESSAGE_MAX_CHARS], type=type(exc).__name__)
        return _CallFailed(output, _short(f"{type(exc).__name__}: {message}" if message else type(exc).__name__))


def _reported_error(value: Any) -> str | None:
    """A result object with an `error` key is the tool saying it failed: flag it for reports."""
    if not isinstance(value, Mapping) or "error" not in value:
        return None
    message = value.get("message")
    return _short(f"{safe_str(value['error'])}: {safe_str(message)}" if message else safe_str(value["error"]))


def _short(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= ERROR_LINE_MAX_CHARS else line[: ERROR_LINE_MAX_CHARS - 1] + "…"


def _compile_schema(name: str, parameters: Mapping[str, Any]) -> Validator:
    validator_class = validator_for(parameters)
    try:
        validator_class.check_schema(parameters)
    except SchemaError as exc:
        raise BindingError(f"tool {name!r}: parameters is not a valid JSON Schema: {exc.message}") from None
    return validator_class(parameters)


def _load_function(config: Config, name: str, binding: PythonBinding) -> _PythonFunction:
    try:
        function = load_callable(config.base_dir, binding.module, binding.function)
    except BindingError as exc:
        raise BindingError(f"tool {name!r}: {exc}") from None
    is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None))
    return _PythonFunction(function, is_async, _context_parameter(function))


def _context_parameter(function: Callable[..., Any]) -> str | None:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return None
    for parameter in parameters:
        if parameter.name == "context" or _names_tool_context(parameter.annotation):
            return parameter.name
    return None


def _names_tool_context(annotation: Any) -> bool:
    """True for `ToolContext` itself or its spelling in a postponed (string) annotation."""
    if annotation is ToolContext:
        return True
    if isinstance(annotation, str):
        return any(part.strip().rpartition(".")[2] == "ToolContext" for part in annotation.split("|"))
    return False
