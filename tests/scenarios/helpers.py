"""Helpers for the scenario tests: the real `runner test` command and breaking copied files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def runner_test(*args: str, cwd: Path, temp: Path, unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`runner test ARGS` in a fresh process, as CI runs it (without the environment variables in `unset`).

    Its temporary folder is `temp` (the test's tmp_path), so the `runner-test-*` folder a
    failing run keeps for inspection goes away with the test's other files.
    """
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env["TMPDIR"] = str(temp)
    return subprocess.run(
        [sys.executable, "-m", "runner", "test", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a copied file, failing loudly if the text to break is no longer there."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
