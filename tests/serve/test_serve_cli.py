"""`runner serve` refuses bad start-up input with one line and a usage or failure exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.host.embedding import write_project

ROOT = Path(__file__).resolve().parents[2]


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return subprocess.run([sys.executable, "-m", "runner", "serve", *args], capture_output=True, text=True, cwd=ROOT, env=environ, timeout=60)


def test_without_an_api_key_and_without_offline_it_says_how_to_fix_it(tmp_path: Path) -> None:
    result = serve(str(write_project(tmp_path / "project")), "--port", "0")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "runner: OPENAI_API_KEY is not set: export it to talk to the Realtime API, or use --offline for the built-in simulator.\n"


def test_a_missing_agents_file_is_a_usage_error(tmp_path: Path) -> None:
    result = serve(str(tmp_path / "nope.yaml"), "--offline")
    assert (result.returncode, result.stderr) == (2, f"runner: {tmp_path / 'nope.yaml'}: no such file\n")


def test_a_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = serve(str(write_project(tmp_path / "project")), "--offline", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == f"runner: cannot listen on 127.0.0.1:{port}: Address already in use\n"
