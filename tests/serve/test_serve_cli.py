"""`runner serve` refuses bad start-up input with one line and a usage or failure exit code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.host.embedding import write_project
from tests.waits import wait_until

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


def test_a_rule_file_the_offline_simulator_cannot_read_is_one_line(tmp_path: Path) -> None:
    result = serve(str(write_project(tmp_path / "project")), "--offline", "--rules", str(tmp_path / "nope.yaml"), "--port", "0")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"runner: the offline simulator did not start: {tmp_path / 'nope.yaml'}:1:1: cannot read rule file: "
                             "No such file or directory (bundled rule sets: techcorp)\n")


def test_the_offline_simulator_is_a_process_of_its_own_at_a_lower_priority_that_goes_when_the_server_is_killed(tmp_path: Path) -> None:
    """Its media must not share the server's event loop, and a SIGKILL must not leave it behind."""
    environ = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    server = subprocess.Popen([sys.executable, "-m", "runner", "serve", str(write_project(tmp_path / "project")), "--offline", "--port", "0"],
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, env=environ)
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith("runner: serving ")
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(children) == 1
        command = Path(f"/proc/{children[0]}/cmdline").read_bytes().split(b"\0")
        assert command[1:4] == [b"-m", b"runner.sim", b"--rules"]
        # it stands in for a service on other machines: when both want a core, the server's calls go first
        assert os.getpriority(os.PRIO_PROCESS, int(children[0])) == os.getpriority(os.PRIO_PROCESS, server.pid) + 5
    finally:
        server.kill()
        server.wait()
    wait_until(lambda: not Path(f"/proc/{children[0]}").exists(), 20, "the simulator to exit once its server was killed")
