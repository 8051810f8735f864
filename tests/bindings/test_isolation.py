"""Conversations sharing one process: each tool call reaches its own state folder, and the
example's SQLite tools lose no row under concurrent conversations."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from runner.bindings import ToolContext, ToolExecutor, ToolResult, run_setup
from runner.config import load
from runner.config.model import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = 8
CALLS_EACH = 5  # tickets, and as many refunds, per conversation


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Config:
    """The example project as `runner run` loads it; nothing in the environment points at a database."""
    for name in ("TECHCORP_DB", "RUNNER_STATE_DIR", "REFUND_WINDOW_DAYS"):
        monkeypatch.delenv(name, raising=False)
    config = load(REPO_ROOT / "agents.yaml").config
    assert config is not None
    return config


def in_folder(config: Config, state_dir: Path) -> Config:
    prepared = dataclasses.replace(config, state_dir=state_dir)
    run_setup(prepared)
    return prepared


def context_for(config: Config, session_id: str) -> ToolContext:
    return ToolContext(session_id, "support", {"refund_window_days": 30}, (), config.state_dir)


def ticket(customer: str, subject: str) -> str:
    return json.dumps({"customer_id": customer, "subject": subject, "description": "Screen flickers", "priority": "low"})


def refund(amount: float) -> str:
    return json.dumps({"customer_id": "CUST-1001", "invoice_id": "INV-2001", "reason": "Charged twice", "amount": amount})


def count(database: Path, sql: str) -> tuple:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql).fetchone()


def test_two_state_folders_used_at_once_each_get_their_own_rows(example: Config, tmp_path: Path) -> None:
    environment, path = dict(os.environ), list(sys.path)
    first, second = in_folder(example, tmp_path / "a"), in_folder(example, tmp_path / "b")
    seeded = count(first.state_dir / "techcorp.db", "SELECT count(*) FROM tickets")[0]

    async def conversation(config: Config, subject: str, calls: int) -> list[ToolResult]:
        async with ToolExecutor(config) as executor:
            context = context_for(config, subject)
            return list(await asyncio.gather(*(
                executor.run("create_support_ticket", ticket("CUST-1002", subject), call_id=f"{subject}-{i}", agent="support", context=context)
                for i in range(calls)
            )))

    async def both() -> list[list[ToolResult]]:
        return list(await asyncio.gather(conversation(first, "from A", 3), conversation(second, "from B", 2)))

    results = asyncio.run(both())
    assert [result.error for batch in results for result in batch] == [None] * 5
    subjects = "SELECT group_concat(DISTINCT subject), count(*) FROM tickets WHERE subject LIKE 'from %'"
    assert count(first.state_dir / "techcorp.db", subjects) == ("from A", 3)
    assert count(second.state_dir / "techcorp.db", subjects) == ("from B", 2)
    assert count(second.state_dir / "techcorp.db", "SELECT count(*) FROM tickets")[0] == seeded + 2
    assert (dict(os.environ), sys.path) == (environment, path)


def test_many_conversations_writing_at_once_lose_no_row_and_never_see_a_locked_database(example: Config, tmp_path: Path) -> None:
    shared = in_folder(example, tmp_path / "shared")
    database = shared.state_dir / "techcorp.db"
    seeded_tickets = count(database, "SELECT count(*) FROM tickets")[0]
    start = asyncio.Event()

    async def conversation(number: int) -> list[ToolResult]:
        async with ToolExecutor(shared) as executor:  # one executor (and thread pool) per conversation, as sessions have
            context = context_for(shared, f"conversation-{number}")
            await start.wait()
            calls = [("create_support_ticket", ticket("CUST-1002", f"conversation {number}")), ("request_refund", refund(1.00))] * CALLS_EACH
            return list(await asyncio.gather(*(
                executor.run(name, arguments, call_id=f"{number}-{i}", agent="support", context=context) for i, (name, arguments) in enumerate(calls)
            )))

    async def everyone() -> list[ToolResult]:
        tasks = [asyncio.create_task(conversation(number)) for number in range(CONVERSATIONS)]
        await asyncio.sleep(0)
        start.set()
        return [result for batch in await asyncio.gather(*tasks) for result in batch]

    results = asyncio.run(everyone())
    assert [result.error for result in results if result.error is not None] == []
    assert not [result.output for result in results if "locked" in result.output]
    assert {json.loads(result.output).get("decision") for result in results} == {None, "approved"}
    total = CONVERSATIONS * CALLS_EACH
    assert count(database, "SELECT count(*) FROM tickets")[0] == seeded_tickets + total
    assert count(database, "SELECT count(DISTINCT subject) FROM tickets WHERE subject LIKE 'conversation %'") == (CONVERSATIONS,)
    assert count(database, "SELECT count(*), sum(refunded_cents) FROM refunds WHERE invoice_id = 'INV-2001'") == (total, total * 100)
    assert count(database, "PRAGMA journal_mode") == ("wal",)
