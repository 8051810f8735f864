"""`runner serve`'s settings: the `server:` section, the environment, the flags, one precedence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.config import agents_schema, load
from runner.config.model import ServerSettings
from runner.serve.settings import MASK, SettingsError, resolve

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
version: 1
start: greeter
agents:
  greeter:
    description: Greets callers.
    instructions: Say hello.
"""


def config_of(tmp_path: Path, extra: str = ""):
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL + extra)
    result = load(str(path), import_code=False)
    assert result.ok(), [problem.format() for problem in result.problems]
    return result.config


def problems_of(tmp_path: Path, extra: str) -> list[str]:
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL + extra)
    return [problem.format().removeprefix(f"{path}:") for problem in load(str(path), import_code=False).problems]


def test_the_server_section_defaults_match_the_schema() -> None:
    spec = agents_schema()["definitions"]["server"]["properties"]
    for key, value in spec.items():
        if "default" in value:
            default = getattr(ServerSettings(), key)
            assert (list(default) if isinstance(default, tuple) else default) == value["default"], key
    assert set(spec) == set(ServerSettings.__dataclass_fields__) - {"spans"}


def test_a_bad_server_section_is_reported_where_it_is_written(tmp_path: Path) -> None:
    extra = "server:\n  max_concurrent_sessions: 0\n  rate_limt_rpm: 5\n  cors: true\n  cors_origins: ['*', 'https://ok.example.com/path']\n  log_level: loud\n"
    assert problems_of(tmp_path, extra) == [
        "8:28: server.max_concurrent_sessions: must be at least 1, got 0",
        "9:3: server.rate_limt_rpm: unknown key 'rate_limt_rpm' (did you mean 'rate_limit_rpm'?)",
        "12:14: server.log_level: 'loud' is not one of: debug, info, warning, error, critical",
    ]


def test_cors_needs_exact_origins_on_the_allow_list(tmp_path: Path) -> None:
    extra = "server:\n  cors: true\n  cors_origins: ['*', 'https://ok.example.com/path', 'https://ok.example.com:8443']\n"
    assert problems_of(tmp_path, extra) == [
        "9:18: server.cors_origins[0]: '*' would allow every site: list the origins, e.g. https://app.example.com",
        "9:23: server.cors_origins[1]: 'https://ok.example.com/path' is not an origin: write scheme://host[:port] with no path, e.g. https://app.example.com",
    ]
    assert problems_of(tmp_path, "server:\n  cors: true\n") == ["8:9: server.cors: cors is on but cors_origins is empty (list the origins allowed to call this server)"]


def test_runner_validate_checks_the_server_section(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL + "server:\n  port: 70000\n")
    result = subprocess.run([sys.executable, "-m", "runner", "validate", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{path}:8:9: server.port: must be at most 65535, got 70000", f"{path}: 1 error"]


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = resolve(config_of(tmp_path), {}, {})
    assert {name: (s.value, s.source) for name, s in settings.settings.items()} == {
        "host": ("127.0.0.1", "default"),
        "port": (8000, "default"),
        "model": ("gpt-realtime-2.1", "default"),
        "max_output_tokens": ("inf", "default"),
        "session_timeout_ms": (1_800_000, "default"),
        "max_concurrent_sessions": (100, "default"),
        "guardrails": (True, "default"),
        "rate_limit_rpm": (60, "default"),
        "cors": (False, "default"),
        "cors_origins": ((), "default"),
        "metrics": (True, "default"),
        "log_level": (None, "default"),
        "drain_timeout": (120.0, "default"),
        "max_body_bytes": (1 << 20, "default"),
        "admin_token": (None, "default"),
        "api_key": (None, "default"),
    }


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = config_of(tmp_path, "server:\n  max_concurrent_sessions: 7\n  rate_limit_rpm: 9\n  metrics: false\n")
    settings = resolve(config, {"MAX_CONCURRENT_SESSIONS": "5", "RATE_LIMIT_RPM": "11"}, {"max_concurrent_sessions": 3})
    chosen = settings.settings
    assert (chosen["max_concurrent_sessions"].value, chosen["max_concurrent_sessions"].source, chosen["max_concurrent_sessions"].where) == (3, "flag", "--max-calls")
    assert (chosen["rate_limit_rpm"].value, chosen["rate_limit_rpm"].source, chosen["rate_limit_rpm"].where) == (11, "environment", "RATE_LIMIT_RPM")
    assert (chosen["metrics"].value, chosen["metrics"].source, chosen["metrics"].where) == (False, "file", f"{tmp_path / 'agents.yaml'}:10:12")
    assert (chosen["drain_timeout"].value, chosen["drain_timeout"].source) == (120.0, "default")


ENVIRONMENT_CASES = [
    ("OPENAI_MODEL", "gpt-realtime-2.1-mini", "model", "gpt-realtime-2.1-mini"),
    ("OPENAI_MAX_TOKENS", "512", "max_output_tokens", 512),
    ("OPENAI_MAX_TOKENS", "inf", "max_output_tokens", "inf"),
    ("SESSION_TIMEOUT_MS", "90000", "session_timeout_ms", 90000),
    ("MAX_CONCURRENT_SESSIONS", "4", "max_concurrent_sessions", 4),
    ("ENABLE_GUARDRAILS", "off", "guardrails", False),
    ("RATE_LIMIT_RPM", "0", "rate_limit_rpm", 0),
    ("CORS_ORIGINS", "https://a.example.com, http://localhost:5173", "cors_origins", ("https://a.example.com", "http://localhost:5173")),
    ("ENABLE_METRICS", "false", "metrics", False),
    ("LOG_LEVEL", "INFO", "log_level", "info"),
    ("MAX_BODY_BYTES", "4096", "max_body_bytes", 4096),
    ("RUNNER_ADMIN_TOKEN", "s3cret", "admin_token", "s3cret"),
]


@pytest.mark.parametrize(("variable", "raw", "name", "value"), ENVIRONMENT_CASES, ids=[case[0] + "=" + case[1] for case in ENVIRONMENT_CASES])
def test_each_environment_variable_sets_its_setting(tmp_path: Path, variable: str, raw: str, name: str, value: object) -> None:
    setting = resolve(config_of(tmp_path), {variable: raw}, {}).settings[name]
    assert (setting.value, setting.source, setting.where) == (value, "environment", variable)


BAD_ENVIRONMENT = [
    ("OPENAI_MODEL", " ", "must not be empty"),
    ("OPENAI_MAX_TOKENS", "lots", "expected a whole number from 1 to 4096, or inf"),
    ("OPENAI_MAX_TOKENS", "5000", "expected a whole number from 1 to 4096, or inf"),
    ("SESSION_TIMEOUT_MS", "7200000", "expected milliseconds from 1 to 3600000 (the Realtime service ends a session after 60 minutes)"),
    ("MAX_CONCURRENT_SESSIONS", "0", "expected a whole number of at least 1"),
    ("ENABLE_GUARDRAILS", "maybe", "expected true or false (also 1/0, yes/no, on/off)"),
    ("RATE_LIMIT_RPM", "ten", "expected a whole number of at least 0"),
    ("ENABLE_CORS", "sure", "expected true or false (also 1/0, yes/no, on/off)"),
    ("CORS_ORIGINS", "*", "'*' would allow every site: list the origins, e.g. https://app.example.com"),
    ("ENABLE_METRICS", "2", "expected true or false (also 1/0, yes/no, on/off)"),
    ("LOG_LEVEL", "loud", "expected one of debug, info, warning, error, critical"),
    ("MAX_BODY_BYTES", "10", "expected a whole number of at least 1024"),
]


@pytest.mark.parametrize(("variable", "raw", "message"), BAD_ENVIRONMENT, ids=[case[0] + "=" + case[1] for case in BAD_ENVIRONMENT])
def test_a_bad_environment_value_names_the_variable(tmp_path: Path, variable: str, raw: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve(config_of(tmp_path), {variable: raw}, {})
    assert raised.value.messages == [f"environment variable {variable}={raw!r}: {message}"]


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve(config_of(tmp_path), {"RATE_LIMIT_RPM": "-1", "LOG_LEVEL": "x"}, {})
    assert len(raised.value.messages) == 2


def test_cors_on_from_the_environment_needs_origins(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve(config_of(tmp_path), {"ENABLE_CORS": "true"}, {})
    assert raised.value.messages == ["CORS is on (environment ENABLE_CORS) but no origin is allowed: set CORS_ORIGINS (comma-separated) or server.cors_origins"]
    settings = resolve(config_of(tmp_path), {"ENABLE_CORS": "true", "CORS_ORIGINS": "https://a.example.com"}, {})
    assert (settings["cors"], settings["cors_origins"]) == (True, ("https://a.example.com",))


def test_the_environment_overrides_model_tokens_and_session_length_in_the_config(tmp_path: Path) -> None:
    config = load_with_agent_session(tmp_path)
    untouched = resolve(config, {}, {})
    assert untouched.settings["model"].source == "file" and untouched.applied(config) == config
    assert untouched["session_timeout_ms"] == 600_000
    settings = resolve(config, {"OPENAI_MODEL": "gpt-realtime-2.1-mini", "OPENAI_MAX_TOKENS": "300", "SESSION_TIMEOUT_MS": "60000"}, {})
    applied = settings.applied(config)
    assert (applied.model, applied.session.max_output_tokens, applied.limits.max_session_minutes) == ("gpt-realtime-2.1-mini", 300, 1.0)
    assert applied.agents["greeter"].session.max_output_tokens == 300  # an agent's own cap is overridden too
    assert config.agents["greeter"].session.max_output_tokens == 200


def load_with_agent_session(tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL + "    session:\n      max_output_tokens: 200\nmodel: gpt-realtime-2\nlimits:\n  max_session_minutes: 10\n")
    result = load(str(path), import_code=False)
    assert result.ok(), [problem.format() for problem in result.problems]
    return result.config


def test_secrets_are_masked_in_the_printed_settings(tmp_path: Path) -> None:
    settings = resolve(config_of(tmp_path), {"RUNNER_ADMIN_TOKEN": "tok-123", "OPENAI_API_KEY": "sk-live-abc"}, {"port": 9000})
    text = "\n".join(settings.lines())
    assert "tok-123" not in text and "sk-live-abc" not in text
    by_name = {line.split()[0]: line.split()[1:] for line in settings.lines()}
    assert by_name["admin_token"] == [MASK, "environment", "RUNNER_ADMIN_TOKEN"]
    assert by_name["api_key"] == [MASK, "environment", "OPENAI_API_KEY"]
    assert by_name["port"] == ["9000", "flag", "--port"]
    assert by_name["cors_origins"] == ["(none)", "default"]


def serve(*args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "LOG_LEVEL", "RATE_LIMIT_RPM")}
    return subprocess.run([sys.executable, "-m", "runner", "serve", *args], capture_output=True, text=True, cwd=ROOT, env={**base, **(environ or {})}, timeout=60)


def test_print_config_shows_the_effective_settings_masked_and_exits(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL + "server:\n  rate_limit_rpm: 30\n")
    result = serve(str(path), "--print-config", "--max-calls", "3", environ={"OPENAI_API_KEY": "sk-secret-1", "LOG_LEVEL": "debug"})
    assert result.returncode == 0, result.stderr
    assert "sk-secret-1" not in result.stdout + result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert rows["max_concurrent_sessions"] == ["3", "flag", "--max-calls"]
    assert rows["rate_limit_rpm"] == ["30", "file", f"{path}:8:19"]
    assert rows["log_level"] == ["debug", "environment", "LOG_LEVEL"]
    assert rows["api_key"] == [MASK, "environment", "OPENAI_API_KEY"]


def test_serve_refuses_a_bad_environment_value_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL)
    result = serve(str(path), "--offline", "--port", "0", environ={"RATE_LIMIT_RPM": "ten"})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "runner: environment variable RATE_LIMIT_RPM='ten': expected a whole number of at least 0\n"
