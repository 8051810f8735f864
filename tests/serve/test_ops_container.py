"""The container files, checked without a Docker daemon (none here): they parse, what they copy
exists, and the commands they run work here: the server's command line, its health check, the
settings the manifests pass, and a grace period that covers the drain."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from runner.cli.serve import WEBSOCKET_CLOSE_SECONDS
from runner.serve.ops import CLOSE_SECONDS, GOODBYE_SECONDS
from runner.serve.observe import Metrics
from runner.serve.settings import resolve

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def one(keyword: str) -> str:
    (value,) = [rest for name, rest in instructions() if name == keyword]
    return value


def json_list(text: str) -> list[str]:
    return yaml.safe_load(text)


def settings_lines(*args: str, environ: dict[str, str] | None = None) -> dict[str, list[str]]:
    base = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "LOG_LEVEL", "RATE_LIMIT_RPM", "MAX_CONCURRENT_SESSIONS")}
    result = subprocess.run([sys.executable, "-m", "runner", "serve", *args, "--print-config"], capture_output=True, text=True, cwd=ROOT,
                            env={**base, **(environ or {})}, timeout=60)
    assert result.returncode == 0, result.stderr
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}


def test_the_dockerfile_is_slim_non_root_and_stops_with_sigterm() -> None:
    assert one("FROM") == "python:3.11-slim"
    users = [rest for name, rest in instructions() if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert one("STOPSIGNAL") == "SIGTERM"
    assert "/healthz" in one("HEALTHCHECK")


def test_what_the_dockerfile_copies_exists_and_it_installs_the_serve_extra_from_the_lock() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    for name, rest in instructions():
        if name == "COPY":
            sources = [part for part in shlex.split(rest) if not part.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source not in ignored, source
    installs = [rest for name, rest in instructions() if name == "RUN" and "pip install" in rest]
    assert len(installs) == 1 and "-c requirements.lock" in installs[0] and "'.[serve]'" in installs[0]
    assert "serve" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_the_image_command_line_is_valid_here() -> None:
    entrypoint, command = json_list(one("ENTRYPOINT")), json_list(one("CMD"))
    assert entrypoint == ["runner", "serve"]
    rows = settings_lines(*command)
    assert rows["host"] == ["0.0.0.0", "flag", "--host"]
    assert rows["port"] == [one("EXPOSE"), "flag", "--port"]


def test_the_health_check_command_passes_against_a_running_server(tmp_path: Path) -> None:
    check = json_list(one("HEALTHCHECK").split("CMD", 1)[1].strip())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check = [part.replace("8000", str(port)) for part in check]
    check[0] = sys.executable if check[0] == "python" else check[0]

    async def body() -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "runner", "serve", "agents.yaml", "--offline", "--port", str(port), "--session-dir", str(tmp_path),
            stderr=subprocess.PIPE, cwd=ROOT, env={key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"},
        )
        try:
            assert "serving" in (await process.stderr.readline()).decode()
            for _ in range(100):
                checked = await asyncio.create_subprocess_exec(*check)
                if await checked.wait() == 0:
                    break
                await asyncio.sleep(0.1)
            assert checked.returncode == 0
        finally:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), 30) == 0

    asyncio.run(asyncio.wait_for(body(), 60))


def grace_needed(drain_timeout: float, pre_stop: float = 0.0) -> float:
    return pre_stop + drain_timeout + GOODBYE_SECONDS + CLOSE_SECONDS + 2 * WEBSOCKET_CLOSE_SECONDS  # sockets, then uvicorn's own wait


def test_compose_runs_the_image_with_postgres_and_waits_out_the_drain() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    runner, postgres = compose["services"]["runner"], compose["services"]["postgres"]
    assert runner["build"] == "." and postgres["image"].startswith("postgres:")
    assert runner["environment"]["RUNNER_DATABASE_URL"].startswith("postgresql://runner:runner@postgres:5432/")
    assert runner["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert runner["stop_signal"] == "SIGTERM"
    default_drain = resolve_defaults()["drain_timeout"]
    assert float(runner["stop_grace_period"].rstrip("s")) >= grace_needed(default_drain)
    environ = {key: value for key, value in runner["environment"].items() if not value.startswith("$")}
    rows = settings_lines(*json_list(one("CMD")), environ=environ)
    assert rows["max_concurrent_sessions"] == ["50", "environment", "MAX_CONCURRENT_SESSIONS"]


def resolve_defaults() -> dict[str, object]:
    from runner.config import load

    config = load(str(ROOT / "agents.yaml"), import_code=False).config
    return {name: setting.value for name, setting in resolve(config, {}, {}).settings.items()}


def test_the_kubernetes_example_probes_drains_and_scales_on_active_sessions() -> None:
    documents = {document["kind"]: document for document in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text())}
    assert set(documents) == {"Secret", "Deployment", "Service", "HorizontalPodAutoscaler"}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["containerPort"] == int(one("EXPOSE"))
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    args = container["args"]
    drain = float(args[args.index("--drain-timeout") + 1])
    assert pod["terminationGracePeriodSeconds"] >= grace_needed(drain, float(pre_stop[1]))
    assert pod["securityContext"]["runAsNonRoot"] is True
    environ = {entry["name"]: entry["value"] for entry in container["env"]}
    rows = settings_lines(*args, environ=environ)
    assert rows["drain_timeout"] == [str(drain), "flag", "--drain-timeout"]
    assert rows["log_level"] == ["info", "environment", "LOG_LEVEL"]
    (metric,) = documents["HorizontalPodAutoscaler"]["spec"]["metrics"]
    exposed = generate_latest(Metrics().registry).decode()
    assert f"# TYPE {metric['pods']['metric']['name']} gauge" in exposed
    assert documents["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == documents["Deployment"]["metadata"]["name"]
