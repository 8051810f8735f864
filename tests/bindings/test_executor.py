"""ToolExecutor with python bindings from a real fixture project on disk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from runner.bindings import BindingError, ToolContext, ToolExecutor, ToolResult
from runner.bindings.loader import load_callable
from runner.config.model import Config, Limits, McpBinding, PythonBinding, Tool
from tests.waits import wait_until

TWO_INTEGERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "maximum": 100}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


def call(executor: ToolExecutor, name: str, arguments: str, context: ToolContext) -> ToolResult:
    async def go() -> ToolResult:
        async with executor:
            return await executor.run(name, arguments, call_id="call_1", agent="support", context=context)

    return asyncio.run(go())


@pytest.fixture
def executor_for(project: Path, make_config: Callable[..., Config], python_tool: Callable[..., Tool]) -> Callable[..., ToolExecutor]:
    """`executor_for(function, parameters=None, timeout=None, limits=None, log=None)`: one tool named after it."""

    def build(function: str, parameters: dict[str, Any] | None = None, *, timeout: float | None = None,
              limits: Limits | None = None, log: Callable[[str], None] | None = None) -> ToolExecutor:
        config = make_config(project, {function: python_tool(function, function, parameters, timeout=timeout)}, limits=limits)
        return ToolExecutor(config, log=log) if log else ToolExecutor(config)

    return build


def test_a_sync_tool_runs_in_the_thread_pool(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("thread_name"), "thread_name", "{}", context)
    assert result.output.startswith("runner-tool")
    assert result.error is None
    assert result.duration > 0


def test_an_async_tool_runs_on_the_event_loop(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    assert call(executor_for("async_thread_name"), "async_thread_name", "{}", context).output == "MainThread"


@pytest.mark.parametrize("function", ["add", "async_add"])
def test_arguments_are_passed_and_the_result_is_json(function: str, executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for(function, TWO_INTEGERS), function, '{"a": 2, "b": 40}', context)
    assert (result.output, result.error) == ('{"sum": 42}', None)


def test_invalid_json_is_a_structured_error_the_model_can_correct(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("add", TWO_INTEGERS), "add", '{"a": 2, "b": }', context)
    assert json.loads(result.output) == {
        "error": "invalid_arguments",
        "message": "the arguments are not valid JSON",
        "details": ["Expecting value: line 1 column 15 (char 14)"],
    }
    assert result.error == "invalid arguments: not valid JSON (Expecting value: line 1 column 15 (char 14))"


def test_every_schema_violation_is_listed_with_its_path(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("add", TWO_INTEGERS), "add", '{"a": "two", "b": 101, "c": 1}', context)
    assert json.loads(result.output) == {
        "error": "invalid_arguments",
        "message": "the arguments do not match the tool's parameters",
        "details": [
            "$: Additional properties are not allowed ('c' was unexpected)",
            "$.a: 'two' is not of type 'integer'",
            "$.b: 101 is greater than the maximum of 100",
        ],
    }
    assert result.error == "invalid arguments: $: Additional properties are not allowed ('c' was unexpected) (and 2 more)"


def test_a_missing_required_argument_is_reported(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("add", TWO_INTEGERS), "add", '{"a": 1}', context)
    assert json.loads(result.output)["details"] == ["$: 'b' is a required property"]


def test_arguments_that_are_not_an_object_are_refused(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("nothing"), "nothing", "[1, 2]", context)
    assert json.loads(result.output)["details"] == ["$: [1, 2] is not of type 'object'"]


def test_empty_arguments_mean_no_arguments(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("nothing"), "nothing", "", context)
    assert (result.output, result.error) == ("null", None)


def test_a_sync_tool_past_its_timeout_gets_a_timeout_result(project: Path, executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("blocked", timeout=0.05), "blocked", "{}", context)
    load_callable(project, "tools.basic", "release")()
    assert json.loads(result.output) == {"error": "timeout", "message": "blocked did not finish within 0.05 s"}
    assert result.error == "timed out after 0.05 s"


def test_an_async_tool_past_the_default_timeout_is_cancelled(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("async_sleep", limits=Limits(tool_timeout=0.05)), "async_sleep", "{}", context)
    assert json.loads(result.output) == {"error": "timeout", "message": "async_sleep did not finish within 0.05 s"}


def test_a_tools_own_timeout_error_is_an_exception_not_our_timeout(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("own_timeout"), "own_timeout", "{}", context)
    assert json.loads(result.output) == {"error": "tool_failed", "message": "database is locked", "type": "TimeoutError"}


def test_an_exception_gives_its_type_and_message_and_logs_the_traceback(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    logged: list[str] = []
    schema = {"type": "object", "properties": {"customer_id": {"type": "string"}}, "required": ["customer_id"]}
    result = call(executor_for("explode", schema, log=logged.append), "explode", '{"customer_id": "CUST-9"}', context)
    assert json.loads(result.output) == {"error": "tool_failed", "message": "no such customer: CUST-9", "type": "LookupError"}
    assert result.error == "LookupError: no such customer: CUST-9"
    assert "Traceback" not in result.output
    assert len(logged) == 1
    assert logged[0].startswith("tool explode (call call_1, agent support) raised:\nTraceback (most recent call last):")
    assert 'tools/basic.py", line' in logged[0]


def test_sync_tools_run_concurrently(project: Path, make_config: Callable[..., Config], python_tool: Callable[..., Tool], context: ToolContext) -> None:
    executor = ToolExecutor(make_config(project, {"meet": python_tool("meet", "meet")}))

    async def both() -> list[ToolResult]:
        try:
            return await asyncio.gather(*(executor.run("meet", "{}", call_id=f"c{i}", agent="a", context=context) for i in range(2)))
        finally:
            await executor.aclose()

    assert [r.output for r in asyncio.run(both())] == ["met", "met"]


def test_a_context_parameter_receives_the_tool_context(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("who"), "who", "{}", context)
    assert json.loads(result.output) == {
        "session": "sess-1",
        "agent": "support",
        "variables": {"company_name": "TechCorp"},
        "turns": 2,
        "state_dir": str(context.state_dir),
    }


def test_a_parameter_annotated_tool_context_receives_it(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    schema = {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}
    assert call(executor_for("who_annotated", schema), "who_annotated", '{"topic": "wifi"}', context).output == "support on wifi"


def test_common_python_values_are_converted_to_json(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("converted"), "converted", "{}", context)
    assert json.loads(result.output) == {
        "invoice": {"number": "INV-1", "due": "2026-01-31"},
        "tags": ["a", "b"],
        "amount": 12.5,
        "path": "/srv/data",
    }


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        ("opaque", "a value of type object cannot be converted to JSON"),
        ("not_a_number", "Out of range float values are not JSON compliant"),
    ],
)
def test_an_unserialisable_result_is_reported(function: str, reason: str, executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for(function), function, "{}", context)
    assert json.loads(result.output) == {"error": "unserialisable_output", "message": f"the tool's result could not be sent: {reason}"}
    assert result.error == f"unserialisable output: {reason}"


def test_a_huge_json_result_is_cut_to_the_cap_and_stays_valid_json(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}
    limits = Limits(tool_output_max_chars=500)
    result = call(executor_for("many_rows", schema, limits=limits), "many_rows", '{"count": 1000}', context)
    assert len(result.output) <= 500
    envelope = json.loads(result.output)
    full = json.dumps([{"row": i, "text": "x" * 40} for i in range(1000)])
    assert envelope["truncated"] is True and envelope["total_chars"] == len(full)
    assert full.startswith(envelope["partial"]) and len(envelope["partial"]) > 300
    assert result.error is None


def test_a_huge_text_result_is_cut_with_a_marker(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}
    result = call(executor_for("long_text", schema, limits=Limits(tool_output_max_chars=100)), "long_text", '{"count": 5000}', context)
    marker = "\n[output truncated: first 46 of 5000 characters shown]"
    assert result.output == "y" * 46 + marker
    assert len(result.output) == 100


def test_an_error_object_from_the_tool_is_passed_through_and_flagged(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    schema = {"type": "object", "properties": {"invoice_id": {"type": "string"}}}
    result = call(executor_for("refuse", schema), "refuse", '{"invoice_id": "INV-7"}', context)
    assert json.loads(result.output) == {"error": "not_found", "message": "no invoice INV-7"}
    assert result.error == "not_found: no invoice INV-7"


def test_an_unknown_tool_is_an_error_output(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("add", TWO_INTEGERS), "refund_everything", "{}", context)
    assert json.loads(result.output) == {"error": "unknown_tool", "message": "there is no tool named 'refund_everything'; available: add"}
    assert result.error == "unknown tool 'refund_everything'"


def test_an_mcp_tool_is_not_run_locally(project: Path, make_config: Callable[..., Config], context: ToolContext) -> None:
    docs = Tool("docs", "search docs", {"type": "object"}, McpBinding(server_url="https://mcp.example.com/sse"))
    result = call(ToolExecutor(make_config(project, {"docs": docs})), "docs", "{}", context)
    assert result.error == "'docs' is an MCP tool: the Realtime service calls it, not the runner"


def test_a_broken_binding_stops_construction_naming_the_tool(project: Path, make_config: Callable[..., Config]) -> None:
    tool = Tool("auth", "log in", {"type": "object"}, PythonBinding(module="tools.basic", function="ad"))
    with pytest.raises(BindingError) as raised:
        ToolExecutor(make_config(project, {"auth": tool}))
    assert str(raised.value) == "tool 'auth': module 'tools.basic' has no attribute 'ad' (did you mean 'add'?)"


def test_an_invalid_parameter_schema_stops_construction(project: Path, make_config: Callable[..., Config], python_tool: Callable[..., Tool]) -> None:
    with pytest.raises(BindingError) as raised:
        ToolExecutor(make_config(project, {"add": python_tool("add", "add", {"type": "object", "properties": {"a": {"type": "integr"}}})}))
    assert str(raised.value).startswith("tool 'add': parameters is not a valid JSON Schema: 'integr' is not valid under any of the given schemas")


def test_twenty_sync_calls_from_a_hosts_conversations_run_at_once_by_default(
    project: Path, make_config: Callable[..., Config], python_tool: Callable[..., Tool], context: ToolContext
) -> None:
    """The pool is one per host: eight threads made the 9th conversation's tool wait for someone else's."""
    executor = ToolExecutor(make_config(project, {"crowd": python_tool("crowd", "crowd", timeout=10)}))

    async def twenty_at_once() -> list[ToolResult]:
        async with executor:
            return await asyncio.gather(*(executor.run("crowd", "{}", call_id=f"call_{n}", agent="a", context=context) for n in range(20)))

    assert [result.output for result in asyncio.run(twenty_at_once())] == ["all there"] * 20


def test_a_stuck_sync_call_does_not_take_a_worker_from_later_calls(
    project: Path, make_config: Callable[..., Config], python_tool: Callable[..., Tool], context: ToolContext
) -> None:
    tools = {"stuck": python_tool("stuck", "stuck", timeout=0.05), "thread_name": python_tool("thread_name", "thread_name", timeout=5)}
    executor = ToolExecutor(make_config(project, tools), max_workers=1)

    async def stuck_then_another() -> list[ToolResult]:
        async with executor:
            return [await executor.run(name, "{}", call_id=name, agent="a", context=context) for name in ("stuck", "thread_name")]

    try:
        stuck, later = asyncio.run(stuck_then_another())
    finally:
        load_callable(project, "tools.basic", "unstick")()
    assert json.loads(stuck.output)["error"] == "timeout"
    assert later.output.startswith("runner-tool") and later.error is None


def test_past_the_bound_of_abandoned_calls_the_model_is_told_the_pool_is_exhausted(
    project: Path, make_config: Callable[..., Config], python_tool: Callable[..., Tool], context: ToolContext
) -> None:
    tools = {"stuck": python_tool("stuck", "stuck", timeout=0.05), "add": python_tool("add", "add", TWO_INTEGERS)}
    executor = ToolExecutor(make_config(project, tools), max_workers=1, max_abandoned=2)

    async def calls(*names: str) -> list[ToolResult]:
        async with executor:
            return [await executor.run(name, '{"a": 1, "b": 2}' if name == "add" else "{}", call_id=name, agent="a", context=context) for name in names]

    try:
        results = asyncio.run(calls("stuck", "stuck", "add"))
    finally:
        load_callable(project, "tools.basic", "unstick")()
    assert [json.loads(r.output)["error"] for r in results[:2]] == ["timeout", "timeout"]
    assert json.loads(results[2].output) == {
        "error": "tool_pool_exhausted",
        "message": "add cannot start: 2 calls that ran past their timeout are still running; try again later",
    }
    assert results[2].error == "tool pool exhausted: 2 calls that ran past their timeout are still running"
    wait_until(lambda: executor.abandoned_calls == 0, 10, "the unstuck calls to finish")
    assert asyncio.run(calls("add"))[0].output == '{"sum": 3}'


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        ("tuple_keys", "keys must be str, int, float, bool or None, not tuple"),
        ("deep_list", "the value is nested too deeply to convert to JSON"),
    ],
)
def test_results_json_cannot_encode_are_reported_and_the_call_returns(
    function: str, reason: str, executor_for: Callable[..., ToolExecutor], context: ToolContext
) -> None:
    result = call(executor_for(function), function, "{}", context)
    assert json.loads(result.output) == {"error": "unserialisable_output", "message": f"the tool's result could not be sent: {reason}"}
    assert result.error == f"unserialisable output: {reason}"


def test_an_exception_whose_str_fails_is_still_a_tool_failure(executor_for: Callable[..., ToolExecutor], context: ToolContext) -> None:
    result = call(executor_for("unprintable"), "unprintable", "{}", context)
    assert json.loads(result.output) == {"error": "tool_failed", "message": "<the exception's message could not be read>", "type": "Unprintable"}
    assert result.error == "Unprintable: <the exception's message could not be read>"


@pytest.mark.parametrize(
    ("function", "expected_type", "message"),
    [
        ("interrupt", "KeyboardInterrupt", ""),
        ("exit_three", "SystemExit", "3"),
        ("async_interrupt", "KeyboardInterrupt", ""),
        ("async_exit_three", "SystemExit", "3"),
    ],
)
def test_a_tool_raising_exit_or_interrupt_gets_a_failure_result(
    function: str, expected_type: str, message: str, executor_for: Callable[..., ToolExecutor], context: ToolContext
) -> None:
    result = call(executor_for(function), function, "{}", context)
    assert json.loads(result.output) == {"error": "tool_failed", "message": message, "type": expected_type}
    assert result.error == (f"{expected_type}: {message}" if message else expected_type)
