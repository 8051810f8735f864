"""Checking a step's expectations against what the session recorded since the previous expect.

Each check returns plain sentences saying what was expected and what happened instead;
an empty list means it held.  Latency budgets are checked apart (`latency_misses`), so a
slow run is reported without being confused with a wrong one.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any, Sequence, TypeVar

from ..core.records import AssistantMessage, GuardrailTripped, Handoff, Interrupted, LatencyMeasured, Record, ToolFinished, ToolStarted
from .model import DbCheck, Expect, OutputCheck, ToolCallCheck

R = TypeVar("R", bound=Record)


def _of(records: Sequence[Record], kind: type[R]) -> list[R]:
    return [record for record in records if isinstance(record, kind)]


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _shown(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def matches(expected: Any, actual: Any) -> bool:
    """`expected` is a subset of `actual`: mappings by key, lists item by item, scalars equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(key in actual and matches(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(matches(e, a) for e, a in zip(expected, actual))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def check_expect(expect: Expect, records: Sequence[Record], *, active_agent: str, database: Path | None) -> list[str]:
    """Every way `records` (one expect step's window) and the session state miss `expect`."""
    failures: list[str] = []
    if expect.agent is not None and active_agent != expect.agent:
        failures.append(f"expected agent {expect.agent!r} to be active; {active_agent!r} is")
    if expect.handoff is not None:
        failures += _check_handoff(expect, records)
    calls = _of(records, ToolStarted)
    for wanted in expect.tool_calls:
        failures += _check_call(wanted, calls)
    results = _of(records, ToolFinished)
    for check in expect.tool_outputs:
        failures += _check_tool_output(check, results)
    if expect.no_tool_call is True and calls:
        failures.append(f"expected no tool call; saw {_calls_seen(calls)}")
    elif isinstance(expect.no_tool_call, tuple):
        called = [call for call in calls if call.name in expect.no_tool_call]
        if called:
            failures.append(f"expected no call to {', '.join(expect.no_tool_call)}; saw {_calls_seen(called)}")
    if expect.reply is not None:
        failures += _check_reply(expect, records)
    if expect.guardrail is not None:
        failures += _check_guardrail(expect, records)
    if expect.db is not None:
        failures += check_db(expect.db, database)
    return failures


def _check_handoff(expect: Expect, records: Sequence[Record]) -> list[str]:
    assert expect.handoff is not None
    wanted = expect.handoff
    seen = _of(records, Handoff)
    for handoff in seen:
        if handoff.target == wanted.to and (wanted.source is None or handoff.source == wanted.source) and handoff.success != wanted.refused:
            return []
    what = "a refused transfer" if wanted.refused else "a handoff"
    source = f" from {wanted.source}" if wanted.source else ""
    shown = "; ".join(
        f"{h.source} → {h.target}" + ("" if h.success else f" refused ({h.error})") for h in seen
    ) or "no handoff"
    return [f"expected {what} to {wanted.to}{source}; saw {shown}"]


def _calls_seen(calls: list[ToolStarted]) -> str:
    return ", ".join(f"{call.name}({_shown(call.arguments, 120)})" for call in calls) or "no tool call"


def _check_call(wanted: ToolCallCheck, calls: list[ToolStarted]) -> list[str]:
    for call in calls:
        if call.name == wanted.name and (wanted.args is None or matches(dict(wanted.args), _json(call.arguments))):
            return []
    args = f" with arguments including {_shown(dict(wanted.args))}" if wanted.args is not None else ""
    return [f"expected a call to {wanted.name}{args}; saw {_calls_seen(calls)}"]


def check_output(check: OutputCheck, output: str, error: str | None, database: Path | None) -> list[str]:
    """How one tool result misses `check` (empty when it matches)."""
    problems: list[str] = []
    if check.has_output and not matches(check.output, _json(output)):
        problems.append(f"output does not include {_shown(check.output)}")
    for text in check.contains:
        if text not in output:
            problems.append(f"output does not contain {text!r}")
    if check.error is True and error is None:
        problems.append("expected the call to fail, it succeeded")
    elif check.error is False and error is not None:
        problems.append(f"expected the call to succeed, it failed: {error}")
    elif isinstance(check.error, str) and check.error not in (error or ""):
        problems.append(f"expected a failure mentioning {check.error!r}, got {'success' if error is None else repr(error)}")
    if check.db is not None:
        problems += check_db(check.db, database)
    return problems


def _check_tool_output(check: OutputCheck, results: list[ToolFinished]) -> list[str]:
    mine = [result for result in results if result.name == check.name]
    if not mine:
        return [f"expected an output from {check.name}; {'no tool ran' if not results else 'only ' + ', '.join(r.name for r in results) + ' ran'}"]
    misses = [check_output(check, result.output or "", result.error, None) for result in mine]
    if any(not miss for miss in misses):
        return []
    return [f"{check.name}: {'; '.join(misses[-1])}; its output was {_shown(mine[-1].output or '', 400)}"]


def _check_reply(expect: Expect, records: Sequence[Record]) -> list[str]:
    assert expect.reply is not None
    texts = [record.text for record in records if isinstance(record, (AssistantMessage, Interrupted))]
    reply = "\n".join(texts)
    shown = " | ".join(_shown(text, 300) for text in texts) or "no reply"
    failures = [f"expected the reply to contain {text!r}; it was: {shown}" for text in expect.reply.contains if text not in reply]
    if expect.reply.regex is not None and re.search(expect.reply.regex, reply) is None:
        failures.append(f"expected the reply to match /{expect.reply.regex}/; it was: {shown}")
    failures += [f"expected the reply not to contain {text!r}; it was: {shown}" for text in expect.reply.not_contains if text in reply]
    return failures


def _check_guardrail(expect: Expect, records: Sequence[Record]) -> list[str]:
    assert expect.guardrail is not None
    wanted = expect.guardrail
    trips = _of(records, GuardrailTripped)
    for trip in trips:
        if trip.policy == wanted.policy and (wanted.category is None or trip.category == wanted.category):
            return []
    category = f" (category {wanted.category})" if wanted.category else ""
    seen = ", ".join(f"{t.policy} [{t.category}]" for t in trips) or "no policy tripped"
    return [f"expected guardrail {wanted.policy}{category} to trip; saw {seen}"]


def check_db(check: DbCheck, database: Path | None) -> list[str]:
    """Run the query on the scenario's database and compare the rows."""
    if database is None:
        return ["a db expectation needs the scenario's `database: {file: ...}` to know which database to query"]
    if not database.is_file():
        return [f"the database {database} does not exist"]
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            cursor = connection.execute(check.query)
            columns = [column[0] for column in cursor.description or ()]
            rows = [list(row) for row in cursor.fetchall()]
    except sqlite3.Error as exc:
        return [f"db query failed: {exc} (query: {check.query})"]
    failures: list[str] = []
    if check.count is not None and len(rows) != check.count:
        failures.append(f"expected {check.count} row(s) from {check.query!r}; got {len(rows)}: {_shown(rows, 400)}")
    if check.rows is not None:
        actual: list[Any] = [dict(zip(columns, row)) if isinstance(expected, dict) else row for expected, row in zip(check.rows, rows)]
        if len(rows) != len(check.rows) or not all(matches(expected, got) for expected, got in zip(check.rows, actual)):
            failures.append(f"expected rows {_shown(list(check.rows), 400)} from {check.query!r}; got {_shown(rows, 400)}")
    return failures


def latency_misses(budget: float, records: Sequence[Record]) -> list[str]:
    """Replies in the window whose first output came later than `budget` seconds after the turn ended."""
    turns = _of(records, LatencyMeasured)
    if not turns:
        return [f"no reply was measured against the {budget:g} s budget"]
    return [
        f"turn {turn.turn}: first output after {turn.first_output_delay:.3f} s, budget {budget:g} s"
        for turn in turns
        if turn.first_output_delay is not None and turn.first_output_delay > budget
    ]
