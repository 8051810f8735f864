"""Schema-checked YAML values -> the frozen dataclasses of `model.py`.

Runs even when the schema stage found errors: a part whose subtree has a schema
error is left out (or given its default), so the semantic checks can still look
at everything else and the user sees every problem in one run.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from .model import (
    Agent,
    Binding,
    Config,
    Handoff,
    HttpBinding,
    LIVE_MODEL_PREFIX,
    Limits,
    LocalMcpBinding,
    LiveSettings,
    McpBinding,
    PythonBinding,
    SessionSettings,
    Span,
    Tool,
    Transcription,
    TurnDetection,
    Variable,
)
from .analysis import build_analysis
from .policies import build_guardrails
from .report import Reporter, describe
from .server import build_server
from .source import PathKey
from .templates import VARIABLE_TYPE_WORDS, fits_variable_type, template_position

DEFAULT_MODEL = "gpt-realtime-2.1"
DEFAULT_VOICE = "marin"
DEFAULT_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
BINDING_KEYS = ("python", "http", "mcp")
_TURN_KEYS = {
    "server_vad": {"threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms", "create_response", "interrupt_response"},
    "semantic_vad": {"eagerness", "create_response", "interrupt_response"},
    "none": set(),
}
_ANY_TURN_KEY = _TURN_KEYS["server_vad"] | _TURN_KEYS["semantic_vad"]


class Builder:
    """Builds a Config from values that passed (or partly passed) the schema."""

    def __init__(self, data: dict[str, Any], reporter: Reporter, config_path: Path, broken: set[PathKey], target: str | None = None) -> None:
        self.data = data
        self.target = target  # `--target` on the command line: over the file's own
        self.reporter = reporter
        self.config_path = config_path
        self.broken = broken  # every prefix of a path that has a schema error

    def ok(self, path: PathKey) -> bool:
        return path not in self.broken

    def value(self, path: PathKey, default: Any) -> Any:
        """The value at a top-level key, or the default when absent or broken."""
        if not self.ok(path):
            return default
        return self.data.get(path[0], default)

    def build(self) -> Config:
        self.check_turn_detection()
        base_dir = self.config_path.parent
        top_session = self._top_session()
        state_dir = Path(self.value(("state_dir",), ".runner")).expanduser()
        setup = self.value(("setup",), None)
        model = self.value(("model",), DEFAULT_MODEL)
        return Config(
            path=self.config_path,
            version=1,
            name=self.value(("name",), self.config_path.stem),
            model=model,
            start=self.value(("start",), ""),
            voice=self.value(("voice",), DEFAULT_VOICE),
            variables=self._variables(),
            session=session_settings(top_session),
            limits=self._limits(),
            agents=self._agents(top_session),
            tools=self._tools(),
            guardrails=build_guardrails(self.data, self.reporter, self.ok),
            state_dir=Path(os.path.normpath(base_dir / state_dir)),
            setup=python_binding(setup, self.reporter.span(("setup",))) if setup else None,
            sip_numbers=dict((self.value(("sip",), None) or {}).get("numbers", {})),
            server=build_server(self.data, self.reporter, self.ok),
            analysis=build_analysis(self.data, self.reporter, self.ok),
            target=self.target or self.value(("target",), None) or ("live" if model.startswith(LIVE_MODEL_PREFIX) else "realtime"),
            live=LiveSettings(**_known(self.value(("live",), {}), LiveSettings)),
            thinking_sound=self._thinking_sound(("thinking_sound",), self.value(("thinking_sound",), None)) or "builtin",
        )

    def _thinking_sound(self, path: PathKey, raw: Any) -> str | None:
        """builtin, off, or a WAV file (relative to this file's folder) that exists and reads as RIFF/WAVE."""
        if isinstance(raw, bool):  # YAML reads an unquoted off as false
            raw = "builtin" if raw else "off"
        if not isinstance(raw, str) or raw in ("builtin", "off") or not self.ok(path):
            return raw if isinstance(raw, str) and self.ok(path) else None
        wav = Path(os.path.normpath(self.config_path.parent / Path(raw).expanduser()))
        try:
            with open(wav, "rb") as file:
                header = file.read(12)
        except OSError as problem:
            self.reporter.error(path, f"cannot read the thinking sound {raw!r}: {problem.strerror}")
            return None
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            self.reporter.error(path, f"the thinking sound {raw!r} is not a WAV file (no RIFF/WAVE header)", "use builtin, off, or a .wav file")
            return None
        return str(wav)

    def _mapping(self, key: str) -> dict[str, Any]:
        found = self.data.get(key)
        return found if isinstance(found, dict) else {}

    def _variables(self) -> dict[str, Variable]:
        variables: dict[str, Variable] = {}
        for name, raw in self._mapping("variables").items():
            path = ("variables", name)
            if not self.ok(path):
                continue
            kind = raw.get("type", "string")
            default = raw.get("default")
            if "default" in raw and not fits_variable_type(default, kind):
                self.reporter.error(path + ("default",), f"default {describe(default)} is not {VARIABLE_TYPE_WORDS[kind]}")
                continue
            variables[name] = Variable(name, kind, default, raw.get("description", ""), required="default" not in raw)
        return variables

    def _limits(self) -> Limits:
        raw = self.data.get("limits")
        if not isinstance(raw, dict) or not self.ok(("limits",)):
            return Limits()
        known = _known(raw, Limits)
        return Limits(**{key: float(value) if key != "tool_output_max_chars" else value for key, value in known.items()})

    def _top_session(self) -> dict[str, Any]:
        raw = self.data.get("session")
        return raw if isinstance(raw, dict) and self.ok(("session",)) else {}

    def check_turn_detection(self) -> None:
        """Refuse turn-detection settings that the chosen type ignores, in every session block."""
        top = self.data.get("session")
        top_turn = top.get("turn_detection") if isinstance(top, dict) else None
        inherited = top_turn.get("type") if isinstance(top_turn, dict) else None
        self._check_turn_keys(top_turn, ("session",), None)
        for name, agent in self._mapping("agents").items():
            session = agent.get("session") if isinstance(agent, dict) else None
            if isinstance(session, dict):
                self._check_turn_keys(session.get("turn_detection"), ("agents", name, "session"), inherited)

    def _check_turn_keys(self, turn: Any, path: PathKey, inherited: Any) -> None:
        if not isinstance(turn, dict):
            return
        kind = turn.get("type", inherited or "semantic_vad")
        if not isinstance(kind, str) or kind not in _TURN_KEYS:
            return  # the schema stage reported it
        for key in turn:
            if key in _TURN_KEYS[kind] or key not in _ANY_TURN_KEY:
                continue  # fits, or is `type`, or is unknown (reported by the schema stage)
            where = path + ("turn_detection", key)
            if kind == "none":
                self.reporter.error(where, f"'{key}' has no effect when type is none (turns are ended by the runner)", key=True)
            else:
                owner = "server_vad" if kind == "semantic_vad" else "semantic_vad"
                self.reporter.error(where, f"'{key}' applies to {owner} only, but type is {kind}", key=True)

    def _agents(self, top_session: dict[str, Any]) -> dict[str, Agent]:
        agents: dict[str, Agent] = {}
        for name, raw in self._mapping("agents").items():
            path = ("agents", name)
            if not self.ok(path):
                continue
            session = None
            if "session" in raw:
                session = session_settings(merge_session(top_session, raw["session"]))
            handoffs = tuple(self._handoff(item, path + ("handoffs", index)) for index, item in enumerate(raw.get("handoffs", ())))
            agents[name] = Agent(
                name=name,
                description=raw["description"],
                instructions=raw["instructions"],
                voice=raw.get("voice"),
                tools=tuple(raw.get("tools", ())),
                handoffs=handoffs,
                on_enter=raw.get("on_enter"),
                speaks_first=bool(raw.get("speaks_first", False)),
                greeting=raw["speaks_first"] if isinstance(raw.get("speaks_first"), str) else None,
                guardrails=tuple(raw.get("guardrails", ())),
                session=session,
                transfer_to=raw.get("transfer_to") if self.ok(path + ("transfer_to",)) else None,
                dtmf=dict(raw.get("dtmf", {})) if self.ok(path + ("dtmf",)) else {},
                span=self.reporter.span(path, key=True),
                instructions_span=Span(self.reporter.file, *template_position(self.reporter, path + ("instructions",), raw["instructions"], 1)),
                context=raw.get("context", "keep"),
                thinking_sound=self._thinking_sound(path + ("thinking_sound",), raw.get("thinking_sound")),
            )
        return agents

    def _handoff(self, raw: str | dict[str, Any], path: PathKey) -> Handoff:
        if isinstance(raw, str):
            return Handoff(raw, None, self.reporter.span(path))
        return Handoff(raw["agent"], raw.get("description"), self.reporter.span(path + ("agent",)), raw.get("context"))

    def _tools(self) -> dict[str, Tool]:
        tools: dict[str, Tool] = {}
        for name, raw in self._mapping("tools").items():
            path = ("tools", name)
            if not self.ok(path):
                continue
            binding = self._binding(raw, path)
            if binding is None:
                continue
            served = isinstance(binding, (McpBinding, LocalMcpBinding))
            if not served and "description" not in raw:
                self.reporter.error(path, "missing required key 'description'", "the model reads it to decide when to call the tool", key=True)
            if served and "parameters" in raw:
                self.reporter.error(path + ("parameters",), "'parameters' does not apply to an mcp tool: the server describes its own tools", key=True)
            tools[name] = Tool(
                name=name,
                description=raw.get("description", ""),
                parameters=raw.get("parameters", DEFAULT_PARAMETERS),
                binding=binding,
                timeout=float(raw["timeout"]) if "timeout" in raw else None,
                span=self.reporter.span(path, key=True),
            )
        return tools

    def _binding(self, raw: dict[str, Any], path: PathKey) -> Binding | None:
        present = [key for key in BINDING_KEYS if key in raw]
        if not present:
            self.reporter.error(path, "a tool needs a binding: add python, http or mcp", key=True)
            return None
        if len(present) > 1:
            self.reporter.error(path + (present[1],), f"a tool takes exactly one binding, but this one has {' and '.join(present)}", key=True)
            return None
        kind = present[0]
        span = self.reporter.span(path + (kind,))
        if kind == "python":
            return python_binding(raw["python"], span)
        spec = raw[kind]
        if kind == "http":
            return HttpBinding(
                method=spec.get("method", "POST"),
                url=spec["url"],
                body=spec.get("body"),
                headers=dict(spec.get("headers", {})),
                timeout=float(spec["timeout"]) if "timeout" in spec else None,
                allow_private=spec.get("allow_private", False),
                span=span,
            )
        return self._mcp_binding(spec, path + (kind,), span)

    def _mcp_binding(self, spec: dict[str, Any], path: PathKey, span: Span | None) -> McpBinding | LocalMcpBinding | None:
        """server_url: the Realtime service calls the server; command or url: the runner does."""
        targets = [key for key in ("server_url", "command", "url") if key in spec]
        if len(targets) != 1:
            message = "an mcp binding needs server_url (the Realtime service calls it), or command or url (the runner calls it)"
            if targets:
                message = f"an mcp binding takes one of server_url, command and url, but this one has {' and '.join(targets)}"
            self.reporter.error(path + ((targets[1],) if len(targets) > 1 else ()), message, key=len(targets) > 1)
            return None
        if targets[0] != "server_url":
            hosted_only = [key for key in ("require_approval", "approve", "description") if key in spec]
            for key in hosted_only:
                self.reporter.error(path + (key,), f"'{key}' applies to a server_url binding only (the Realtime service's approval and listing)", key=True)
            if hosted_only:
                return None
            return LocalMcpBinding(
                command=tuple(spec.get("command", ())),
                url=spec.get("url"),
                allowed_tools=tuple(spec.get("allowed_tools", ())),
                headers=dict(spec.get("headers", {})),
                span=span,
            )
        return McpBinding(
            server_url=spec["server_url"],
            allowed_tools=tuple(spec.get("allowed_tools", ())),
            require_approval=spec.get("require_approval", "never"),
            headers=dict(spec.get("headers", {})),
            description=spec.get("description"),
            span=span,
            approve=approve if isinstance(approve := spec.get("approve", "never"), str) else tuple(approve),
        )

def python_binding(text: str, span: Any) -> PythonBinding:
    module, _, function = text.partition(":")
    return PythonBinding(module, function, span)


def merge_session(top: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """An agent's session settings over the top-level ones.

    Turn detection and transcription merge key by key, except that changing the
    turn-detection type starts from that type's defaults (their settings differ).
    """
    merged = dict(top)
    for key, value in override.items():
        below = top.get(key)
        if key in ("turn_detection", "transcription") and isinstance(value, dict) and isinstance(below, dict):
            same_type = value.get("type", below.get("type")) == below.get("type")
            merged[key] = {**below, **value} if key == "transcription" or same_type else value
        else:
            merged[key] = value
    return merged


def session_settings(raw: dict[str, Any]) -> SessionSettings:
    """SessionSettings from schema-valid session values."""
    settings: dict[str, Any] = {}
    for key, value in _known(raw, SessionSettings).items():
        if key == "turn_detection":
            settings[key] = TurnDetection(**{k: float(v) if k == "threshold" else v for k, v in _known(value, TurnDetection).items()})
        elif key == "transcription":
            settings[key] = Transcription(**_known(value, Transcription)) if isinstance(value, dict) else None
        elif key == "noise_reduction":
            settings[key] = value or None
        elif key == "speed":
            settings[key] = float(value)
        else:
            settings[key] = value
    return SessionSettings(**settings)


def _known(raw: dict[str, Any], model: type) -> dict[str, Any]:
    """The keys of `raw` that are fields of `model`: unknown keys were reported by the schema stage."""
    fields = {field.name for field in dataclasses.fields(model)}
    return {key: value for key, value in raw.items() if key in fields}
