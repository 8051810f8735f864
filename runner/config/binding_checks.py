"""Checks of how tools run: python functions against their parameters, http and mcp targets.

`${ENV_VAR}` references are allowed only in binding fields (urls and headers), never in
prompts.  A variable missing at validate time is a warning: it may well be set where
the runner runs, and the run refuses the call if it is not.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

from .model import Config, HttpBinding, LocalMcpBinding, McpBinding, PythonBinding, Tool
from .report import Reporter, did_you_mean
from .source import PathKey
from .templates import template_names

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_CONTEXT_PARAMETER = "context"


def interpolate_env(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace each `${NAME}` with its value; returns the text and the names that are not set.

    Names that are not set are left as written.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name in environ:
            return environ[name]
        missing.append(name)
        return match[0]

    return _ENV_REFERENCE.sub(replace, text), missing


class PythonChecker:
    """Imports each bound `module:function` once per load and checks it against its tools."""

    def __init__(self, base_dir: Path, reporter: Reporter) -> None:
        self.base_dir = base_dir
        self.reporter = reporter
        self.loaded: dict[tuple[str, str], Callable[..., Any] | str] = {}  # function, or why it failed

    def check_tool(self, tool: Tool, *, compare_parameters: bool) -> None:
        """The function must import, be callable and (when the parameters are a valid
        schema) take exactly the declared parameters."""
        binding = tool.binding
        assert isinstance(binding, PythonBinding)
        function = self.load(binding, ("tools", tool.name, "python"))
        if function is not None and compare_parameters:
            _check_signature(function, binding, tool, self.reporter)

    def check_setup(self, config: Config) -> None:
        if config.setup is not None:
            self.load(config.setup, ("setup",))

    def load(self, binding: PythonBinding, path: PathKey) -> Callable[..., Any] | None:
        """The bound function, or None after reporting why it cannot be imported."""
        from runner.bindings.loader import BindingError, load_callable

        key = (binding.module, binding.function)
        if key not in self.loaded:
            try:
                self.loaded[key] = load_callable(self.base_dir, binding.module, binding.function)
            except BindingError as exc:
                self.loaded[key] = str(exc)
        found = self.loaded[key]
        if isinstance(found, str):
            self.reporter.error(path, found)
            return None
        return found


def _check_signature(function: Callable[..., Any], binding: PythonBinding, tool: Tool, reporter: Reporter) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins and C functions have no signature
        return
    reference = f"{binding.module}:{binding.function}"
    path: PathKey = ("tools", tool.name)
    properties = tool.parameters.get("properties", {})
    required = set(tool.parameters.get("required", ()))
    accepts_any = False
    accepted: set[str] = set()
    for parameter in signature.parameters.values():
        if parameter.name == _CONTEXT_PARAMETER or _names_tool_context(parameter.annotation):
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            accepts_any = True
            continue
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        needed = parameter.default is parameter.empty
        accepted.add(parameter.name)
        if parameter.kind is parameter.POSITIONAL_ONLY:
            if needed or parameter.name in properties:
                reporter.error(path + ("python",), f"{reference} has positional-only parameter '{parameter.name}', but arguments are passed by name")
            continue
        if not needed:
            continue
        if parameter.name not in properties:
            hint = did_you_mean(parameter.name, properties) or "declare it under parameters.properties"
            reporter.error(path + ("python",), f"{reference} requires '{parameter.name}', which the parameters do not declare", hint)
        elif parameter.name not in required:
            reporter.warning(path + ("parameters", "properties", parameter.name), f"'{parameter.name}' is optional here, but {reference} requires it", "add it to required", key=True)
    if accepts_any:
        return
    for name in properties:
        if name not in accepted:
            hint = did_you_mean(name, accepted)
            reporter.error(path + ("parameters", "properties", name), f"{reference} does not accept '{name}'", hint, key=True)


def _names_tool_context(annotation: Any) -> bool:
    """`ToolContext` as a class or as a postponed (string) annotation."""
    if isinstance(annotation, str):
        return any(part.strip().rpartition(".")[2] == "ToolContext" for part in annotation.split("|"))
    return getattr(annotation, "__name__", None) == "ToolContext"


def check_http(tool: Tool, environ: Mapping[str, str], reporter: Reporter, *, compare_parameters: bool) -> None:
    """Templates may use only the tool's parameters; the url must be http(s) with a host."""
    binding = tool.binding
    assert isinstance(binding, HttpBinding)
    path: PathKey = ("tools", tool.name, "http")
    properties = tool.parameters.get("properties", {}) if compare_parameters else None
    if binding.body is not None and binding.method == "GET":
        reporter.error(path + ("body",), "a GET request has no body", "use POST, PUT or PATCH, or put the arguments in the url", key=True)
    url_parses = _check_template(binding.url, path + ("url",), properties, reporter)
    for where, text in _strings(binding.body, path + ("body",)):
        _check_template(text, where, properties, reporter)
    url, missing = interpolate_env(binding.url, environ)
    _warn_missing(missing, path + ("url",), reporter)
    if url_parses and not missing and not url.lstrip().startswith("{{"):
        _check_url(_TEMPLATE_PART.sub("x", url), path + ("url",), reporter)
    _check_headers(binding.headers, environ, path + ("headers",), reporter)


def check_mcp(tool: Tool, environ: Mapping[str, str], reporter: Reporter) -> None:
    binding = tool.binding
    assert isinstance(binding, McpBinding)
    path: PathKey = ("tools", tool.name, "mcp")
    url, missing = interpolate_env(binding.server_url, environ)
    _warn_missing(missing, path + ("server_url",), reporter)
    if not missing:
        _check_url(url, path + ("server_url",), reporter)
    _check_headers(binding.headers, environ, path + ("headers",), reporter)


def check_local_mcp(tool: Tool, environ: Mapping[str, str], reporter: Reporter) -> None:
    """A streamable HTTP url must be http(s); `${ENV}` in the url and headers as for hosted servers."""
    binding = tool.binding
    assert isinstance(binding, LocalMcpBinding)
    path: PathKey = ("tools", tool.name, "mcp")
    if binding.url is not None:
        url, missing = interpolate_env(binding.url, environ)
        _warn_missing(missing, path + ("url",), reporter)
        if not missing:
            _check_url(url, path + ("url",), reporter)
    elif binding.headers:
        reporter.error(path + ("headers",), "headers apply to a url (streamable HTTP) server, not to a command", key=True)
    _check_headers(binding.headers, environ, path + ("headers",), reporter)


def _check_template(text: str, path: PathKey, properties: Mapping[str, Any] | None, reporter: Reporter) -> bool:
    """Syntax, and (when `properties` is known) names that are not parameters; False on a syntax error."""
    names, syntax_error = template_names(text)
    if syntax_error is not None:
        reporter.error(path, f"template syntax error: {syntax_error}")
        return False
    for name in sorted(names - set(properties)) if properties is not None else ():
        hint = did_you_mean(name, properties) or "templates here see only the tool's arguments"
        reporter.error(path, f"'{{{{ {name} }}}}' is not a parameter of this tool", hint)
    return True


def _check_url(url: str, path: PathKey, reporter: Reporter) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        reporter.error(path, f"invalid URL '{url}': {exc}")
        return
    if parts.scheme not in ("http", "https"):
        reporter.error(path, f"invalid URL '{url}': it must start with http:// or https://")
    elif not parts.hostname:
        reporter.error(path, f"invalid URL '{url}': it has no host")
    elif port == 0:
        reporter.error(path, f"invalid URL '{url}': port 0 cannot be connected to")
    elif any(char.isspace() for char in url):
        reporter.error(path, f"invalid URL '{url}': it contains spaces", "arguments are encoded for you; the url itself must have none")


def _check_headers(headers: Mapping[str, str], environ: Mapping[str, str], path: PathKey, reporter: Reporter) -> None:
    for name, value in headers.items():
        _warn_missing(interpolate_env(value, environ)[1], path + (name,), reporter)


def _warn_missing(missing: list[str], path: PathKey, reporter: Reporter) -> None:
    for name in dict.fromkeys(missing):
        reporter.warning(path, f"environment variable '{name}' is not set", "it must be set when the runner runs")


def _strings(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    """Every string inside a JSON-like body, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))
