"""The example project's own tools, loaded and run the way a session does."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Callable

import pytest

from runner.bindings import ToolContext, ToolExecutor, ToolResult, run_setup
from runner.config.model import Config, PythonBinding, Tool

REPO_ROOT = Path(__file__).resolve().parents[2]
PHONE = {"type": "object", "properties": {"phone": {"type": "string"}, "email": {"type": "string"}}, "required": ["phone"]}
CUSTOMER = {"type": "object", "properties": {"customer_id": {"type": "string"}}, "required": ["customer_id"]}


@pytest.fixture
def example_config(tmp_path: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.delenv("TECHCORP_DB", raising=False)
    monkeypatch.delenv("RUNNER_STATE_DIR", raising=False)  # restored after run_setup sets it
    tools = {
        "authenticate_user": Tool("authenticate_user", "", PHONE, PythonBinding("tools.auth", "authenticate_user"), timeout=5),
        "lookup_user_profile": Tool("lookup_user_profile", "", CUSTOMER, PythonBinding("tools.auth", "lookup_user_profile")),
    }
    config = make_config(REPO_ROOT, tools)
    return dataclasses.replace(config, state_dir=tmp_path / "state", setup=PythonBinding("tools.db", "initialise"))


def test_setup_then_a_tool_call_works_on_the_example_database(example_config: Config, context: ToolContext) -> None:
    run_setup(example_config)
    executor = ToolExecutor(example_config)

    async def calls() -> list[ToolResult]:
        try:
            return [
                await executor.run("authenticate_user", '{"phone": "(555) 123-4567"}', call_id="c1", agent="router", context=context),
                await executor.run("lookup_user_profile", '{"customer_id": "CUST-0000"}', call_id="c2", agent="router", context=context),
            ]
        finally:
            await executor.aclose()

    authenticated, unknown = asyncio.run(calls())
    assert json.loads(authenticated.output) == {
        "authenticated": True,
        "customer_id": "CUST-1001",
        "name": "Alex Morgan",
        "tier": "gold",
        "verified_by": "phone",
    }
    assert authenticated.error is None
    assert (example_config.state_dir / "techcorp.db").is_file()
    assert json.loads(unknown.output) == {"error": "No customer with id CUST-0000."}
    assert unknown.error == "No customer with id CUST-0000."
