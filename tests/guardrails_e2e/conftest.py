"""The `project` fixture: a small guardrailed project in the test's temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from runner.config.model import Config
from tests.guardrails_e2e.sessions import write_project


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Config]:
    """`project(guardrails, router=(...), sales=(...))`: see `write_project`."""
    return lambda guardrails, **agents: write_project(tmp_path, guardrails, **agents)
