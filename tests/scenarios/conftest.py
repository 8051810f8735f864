"""A copy of the example project to break at will."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.scenarios.helpers import REPO


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """agents.yaml, tools/ and scenarios/ of the example project, copied to break at will."""
    shutil.copy(REPO / "agents.yaml", tmp_path / "agents.yaml")
    shutil.copytree(REPO / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "scenarios", tmp_path / "scenarios")
    return tmp_path
