"""The effective settings of `runner serve`, and where each one came from.

One precedence for every setting: a flag beats the environment, which beats the agents
file (the `server:` section, or the project key the setting overrides), which beats the
default. Pure: the inputs are the config, an environ mapping and the flags given; a bad
environment value is a `SettingsError` naming the variable.

| setting | environment | flag | file |
|---|---|---|---|
| host, port | | --host, --port | server.host, server.port |
| model | OPENAI_MODEL | | model |
| max_output_tokens | OPENAI_MAX_TOKENS | | session.max_output_tokens |
| session_timeout_ms | SESSION_TIMEOUT_MS | | limits.max_session_minutes |
| max_concurrent_sessions | MAX_CONCURRENT_SESSIONS | --max-calls | server.max_concurrent_sessions |
| guardrails | ENABLE_GUARDRAILS | --no-guardrails | server.guardrails |
| rate_limit_rpm | RATE_LIMIT_RPM | --rate-limit | server.rate_limit_rpm |
| cors, cors_origins | ENABLE_CORS, CORS_ORIGINS | | server.cors, server.cors_origins |
| metrics | ENABLE_METRICS | | server.metrics |
| log_level | LOG_LEVEL | --log-level | server.log_level |
| drain_timeout | | --drain-timeout | server.drain_timeout |
| max_body_bytes | MAX_BODY_BYTES | | server.max_body_bytes |
| admin_token (secret) | RUNNER_ADMIN_TOKEN | | |
| api_key (secret, shown masked) | OPENAI_API_KEY | | |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from runner.config.build import DEFAULT_MODEL
from runner.config.model import Limits, ServerSettings, SessionSettings
from runner.config.server import origin_problem

if TYPE_CHECKING:
    from runner.config.model import Config

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
MAX_SESSION_MS = 3_600_000  # the Realtime service ends a session after 60 minutes
MASK = "********"
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class SettingsError(Exception):
    """Settings that cannot be used: one message per bad value, each naming where it came from."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Setting:
    """One effective value and its source: `flag`, `environment`, `file` or `default`; `where` names it exactly."""

    name: str
    value: Any
    source: str
    where: str = ""
    secret: bool = False

    def shown(self) -> str:
        """The value as --print-config prints it: secrets masked, lists comma-separated."""
        if self.secret:
            return MASK if self.value else "(not set)"
        if isinstance(self.value, tuple):
            return ",".join(self.value) or "(none)"
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return "(not set)" if self.value is None else str(self.value)


@dataclass(frozen=True)
class Settings:
    """Every setting by name, in table order."""

    settings: Mapping[str, Setting]

    def __getitem__(self, name: str) -> Any:
        return self.settings[name].value

    def lines(self) -> list[str]:
        """`name  value  source where`, aligned: what `runner serve --print-config` prints."""
        rows = [(s.name, s.shown(), f"{s.source} {s.where}".rstrip()) for s in self.settings.values()]
        widths = [max(len(row[column]) for row in rows) for column in (0, 1)]
        return [f"{name:<{widths[0]}}  {value:<{widths[1]}}  {source}".rstrip() for name, value, source in rows]

    def applied(self, config: Config) -> Config:
        """`config` with what the environment overrides of it (model, output tokens, session length)."""
        if self.settings["model"].source == "environment":
            config = dataclasses.replace(config, model=self["model"])
        tokens = self.settings["max_output_tokens"]
        if tokens.source == "environment":
            config = dataclasses.replace(
                config,
                session=dataclasses.replace(config.session, max_output_tokens=tokens.value),
                agents={
                    name: agent if agent.session is None else dataclasses.replace(agent, session=dataclasses.replace(agent.session, max_output_tokens=tokens.value))
                    for name, agent in config.agents.items()
                },
            )
        if self.settings["session_timeout_ms"].source == "environment":
            config = dataclasses.replace(config, limits=dataclasses.replace(config.limits, max_session_minutes=self["session_timeout_ms"] / 60_000))
        return config


# -- parsing environment strings: each returns the value or raises ValueError with what is expected --


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ValueError("expected true or false (also 1/0, yes/no, on/off)")


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            raise ValueError(f"expected a whole number {bound}")
        return number

    return parse


def _tokens(text: str) -> int | str:
    if text.strip().lower() == "inf":
        return "inf"
    try:
        return _whole(1, 4096)(text)
    except ValueError:
        raise ValueError("expected a whole number from 1 to 4096, or inf") from None


def _timeout_ms(text: str) -> int:
    try:
        return _whole(1, MAX_SESSION_MS)(text)
    except ValueError:
        raise ValueError(f"expected milliseconds from 1 to {MAX_SESSION_MS} (the Realtime service ends a session after 60 minutes)") from None


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(part.strip() for part in text.split(",") if part.strip())
    for origin in origins:
        problem = origin_problem(origin)
        if problem is not None:
            raise ValueError(problem)
    return origins


def _level(text: str) -> str:
    level = text.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _secret(text: str) -> str:
    return text


@dataclass(frozen=True)
class _Spec:
    name: str
    environment: str | None = None
    flag: str | None = None
    file_key: str | None = None  # a key of the server: section
    parse: Callable[[str], Any] = _text
    secret: bool = False


_SPECS = (
    _Spec("host", flag="--host", file_key="host"),
    _Spec("port", flag="--port", file_key="port"),
    _Spec("model", "OPENAI_MODEL"),
    _Spec("max_output_tokens", "OPENAI_MAX_TOKENS", parse=_tokens),
    _Spec("session_timeout_ms", "SESSION_TIMEOUT_MS", parse=_timeout_ms),
    _Spec("max_concurrent_sessions", "MAX_CONCURRENT_SESSIONS", "--max-calls", "max_concurrent_sessions", _whole(1)),
    _Spec("guardrails", "ENABLE_GUARDRAILS", "--no-guardrails", "guardrails", _boolean),
    _Spec("rate_limit_rpm", "RATE_LIMIT_RPM", "--rate-limit", "rate_limit_rpm", _whole(0)),
    _Spec("cors", "ENABLE_CORS", None, "cors", _boolean),
    _Spec("cors_origins", "CORS_ORIGINS", None, "cors_origins", _origins),
    _Spec("metrics", "ENABLE_METRICS", None, "metrics", _boolean),
    _Spec("log_level", "LOG_LEVEL", "--log-level", "log_level", _level),
    _Spec("drain_timeout", None, "--drain-timeout", "drain_timeout"),
    _Spec("max_body_bytes", "MAX_BODY_BYTES", None, "max_body_bytes", _whole(1024)),
    _Spec("admin_token", "RUNNER_ADMIN_TOKEN", parse=_secret, secret=True),
    _Spec("api_key", "OPENAI_API_KEY", parse=_secret, secret=True),
)
FLAG_NAMES = {spec.name: spec.flag for spec in _SPECS if spec.flag}


def resolve(config: Config, environ: Mapping[str, str], flags: Mapping[str, Any]) -> Settings:
    """The effective settings; `flags` holds only the flags given on the command line, by setting name."""
    problems: list[str] = []
    chosen: dict[str, Setting] = {}
    for spec in _SPECS:
        chosen[spec.name] = _choose(spec, config, environ, flags, problems)
    cors, origins = chosen["cors"], chosen["cors_origins"]
    if cors.value and not origins.value:
        problems.append(f"CORS is on ({cors.source} {cors.where}) but no origin is allowed: set CORS_ORIGINS (comma-separated) or server.cors_origins")
    if problems:
        raise SettingsError(problems)
    return Settings(chosen)


def _choose(spec: _Spec, config: Config, environ: Mapping[str, str], flags: Mapping[str, Any], problems: list[str]) -> Setting:
    if spec.name in flags and flags[spec.name] is not None:
        return Setting(spec.name, flags[spec.name], "flag", spec.flag or "", spec.secret)
    if spec.environment is not None and spec.environment in environ:
        raw = environ[spec.environment]
        try:
            return Setting(spec.name, spec.parse(raw), "environment", spec.environment, spec.secret)
        except ValueError as error:
            shown = MASK if spec.secret else repr(raw)
            problems.append(f"environment variable {spec.environment}={shown}: {error}")
    return _from_file(spec, config)


def _from_file(spec: _Spec, config: Config) -> Setting:
    """The file's value (with the line it is on) or the default."""
    server = config.server
    if spec.file_key is not None:
        span = server.spans.get(spec.file_key)
        value = getattr(server, spec.file_key)
        if span is not None:
            return Setting(spec.name, value, "file", f"{span.file}:{span.line}:{span.col}", spec.secret)
        return Setting(spec.name, getattr(ServerSettings(), spec.file_key), "default", "", spec.secret)
    file_values = {
        "model": (config.model, DEFAULT_MODEL),
        "max_output_tokens": (config.session.max_output_tokens, SessionSettings().max_output_tokens),
        "session_timeout_ms": (round(config.limits.max_session_minutes * 60_000), round(Limits().max_session_minutes * 60_000)),
    }
    if spec.name in file_values:
        value, default = file_values[spec.name]
        return Setting(spec.name, value, "file" if value != default else "default", config.path.name if value != default else "")
    return Setting(spec.name, None, "default", "", spec.secret)


@dataclass(frozen=True)
class ServeOptions:
    """What the running app needs of the settings (the rest shapes the config, the host or the listener)."""

    rate_limit_rpm: int = 0  # 0: no limit (the app's default; `runner serve` defaults to 60)
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers at all
    max_body_bytes: int = 1 << 20
    admin_token: str | None = None
    metrics: bool = True
    drain_timeout: float = 120.0

    @classmethod
    def of(cls, settings: Settings) -> ServeOptions:
        return cls(
            rate_limit_rpm=settings["rate_limit_rpm"],
            cors_origins=settings["cors_origins"] if settings["cors"] else (),
            max_body_bytes=settings["max_body_bytes"],
            admin_token=settings["admin_token"] or None,
            metrics=settings["metrics"],
            drain_timeout=float(settings["drain_timeout"]),
        )
