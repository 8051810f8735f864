"""Every test here gets its own freshly created TechCorp database."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

# The example tools are a project folder's package, not an installed one: the runner
# puts the config's folder first on sys.path, and so do these tests.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the tools at a new database file under tmp_path (created on first use)."""
    path = tmp_path / "state" / "techcorp.db"
    monkeypatch.setenv("TECHCORP_DB", str(path))
    monkeypatch.delenv("RUNNER_STATE_DIR", raising=False)
    monkeypatch.delenv("REFUND_WINDOW_DAYS", raising=False)
    return path


@pytest.fixture
def db_query(database: Path) -> Callable[..., list[tuple]]:
    """Read the database file directly, bypassing the tools' own code."""

    def run(sql: str, *parameters: Any) -> list[tuple]:
        connection = sqlite3.connect(database)
        try:
            return connection.execute(sql, parameters).fetchall()
        finally:
            connection.close()

    return run
