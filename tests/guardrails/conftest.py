"""Shared helpers: the example project's regex policies and a checker wired to a RestSimulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, TypeVar

import pytest
from openai import AsyncOpenAI

from runner.config import load
from runner.config.model import Guardrail
from runner.guardrails import GuardrailChecker
from runner.sim.rest import RestSimulator

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"
T = TypeVar("T")


@pytest.fixture(scope="session")
def example_regex_policies() -> dict[str, Guardrail]:
    """The regex policies of the example agents.yaml, built by the real config loader."""
    config = load(EXAMPLE, import_code=False).config
    assert config is not None, "the example agents.yaml must load"
    return {name: policy for name, policy in config.guardrails.items() if policy.kind == "regex"}


@pytest.fixture
def run_against_rest() -> Callable[..., Any]:
    """`run_against_rest(policies, scenario, **rest_options)`, see `_run_against_rest`."""
    return _run_against_rest


def _run_against_rest(
    policies: Mapping[str, Guardrail],
    scenario: Callable[[GuardrailChecker, RestSimulator], Awaitable[T]],
    **rest_options: Any,
) -> T:
    """Run `scenario` with a checker whose real AsyncOpenAI client talks to a fresh RestSimulator."""

    async def main() -> T:
        async with RestSimulator(**rest_options) as rest:
            factory = lambda: AsyncOpenAI(base_url=rest.base_url, api_key="sk-test")  # noqa: E731
            async with GuardrailChecker(policies, client_factory=factory) as checker:
                return await scenario(checker, rest)

    return asyncio.run(main())
