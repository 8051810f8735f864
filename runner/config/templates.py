"""Jinja2 templates: agents' instructions over the declared variables.

Templates render in a bounded sandbox (sandbox.py) with StrictUndefined, so a
template cannot reach into Python objects, cannot run away with memory or time, and
a missing variable is an error, never an empty string.  Validation checks names,
filters and tests against what exists, then renders every template that does more
than name variables with the declared defaults (placeholders of the declared type
for required variables), so "valid" means the session will start.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Mapping

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from .model import Agent, Config, Variable
from .report import Reporter, did_you_mean
from .sandbox import ENVIRONMENT as _ENVIRONMENT
from .sandbox import TemplateRenderError, compile_template, render
from .source import PathKey

_PLACEHOLDERS: dict[str, Any] = {"string": "text", "number": 1.0, "integer": 1, "boolean": True}
_TOO_DEEP = "the template nests too deeply"
_TEMPLATE_MARKERS = ("{{", "{%", "{#")
_ENV_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_SIMPLE_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def environment() -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment every template of a config renders in."""
    return _ENVIRONMENT


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return compile_template(source)


def render_instructions(config: Config, agent: Agent | str, values: Mapping[str, Any]) -> str:
    """An agent's instructions rendered with `values` (see `resolve_variables`).

    Raises jinja2.TemplateError (a TemplateRenderError for anything the template
    itself raises or exceeds) when the template cannot render.
    """
    chosen = config.agents[agent] if isinstance(agent, str) else agent
    return render(_compiled(chosen.instructions), values)


def resolve_variables(config: Config, overrides: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Defaults plus overrides (strings from `--var k=v`, converted to the declared type).

    Returns the values and a list of error messages; the values are usable only when
    the list is empty.
    """
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name in overrides:
        if name not in config.variables:
            hint = did_you_mean(name, config.variables)
            errors.append(f"'{name}' is not a declared variable" + (f" ({hint})" if hint else ""))
    for name, variable in config.variables.items():
        if name in overrides:
            converted = _convert(overrides[name], variable)
            if converted is _INVALID:
                errors.append(f"variable '{name}' must be {VARIABLE_TYPE_WORDS[variable.type]}, got '{overrides[name]}'")
            else:
                values[name] = converted
        elif variable.required:
            errors.append(f"missing required variable '{name}' (give it with --var {name}=...)")
        else:
            values[name] = variable.default
    return values, errors


_INVALID = object()
VARIABLE_TYPE_WORDS = {"string": "a string", "number": "a number", "integer": "an integer", "boolean": "true or false"}
_PYTHON_TYPES: dict[str, Any] = {"string": str, "number": (int, float), "integer": int, "boolean": bool}


def fits_variable_type(value: Any, kind: str) -> bool:
    """A YAML or Python value fits a variable type (a bool is not a number here)."""
    if isinstance(value, bool):
        return kind == "boolean"
    return isinstance(value, _PYTHON_TYPES[kind])


def _convert(raw: Any, variable: Variable) -> Any:
    kind = variable.type
    if not isinstance(raw, str):
        return raw if fits_variable_type(raw, kind) else _INVALID
    if kind == "string":
        return raw
    if kind == "boolean":
        lowered = raw.strip().lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else _INVALID
    try:
        return int(raw)
    except ValueError:
        if kind == "integer":
            return _INVALID
    try:
        return float(raw)
    except ValueError:
        return _INVALID


def template_names(source: str) -> tuple[set[str], str | None]:
    """Names a template reads from its context, or the message of its syntax error."""
    if not any(marker in source for marker in _TEMPLATE_MARKERS):
        return set(), None
    try:
        tree = _ENVIRONMENT.parse(source)
        return set(meta.find_undeclared_variables(tree)), None
    except TemplateSyntaxError as exc:  # TemplateAssertionError (unknown filter) included
        return set(), exc.message or "syntax error"
    except (RecursionError, MemoryError):
        return set(), _TOO_DEEP


def check_instructions(agent: Agent, variables: Mapping[str, Variable], reporter: Reporter) -> None:
    """Syntax errors, undefined variables and unknown filters or tests, at their YAML line."""
    source = agent.instructions
    path: PathKey = ("agents", agent.name, "instructions")
    environment_reference = _ENV_REFERENCE.search(source)
    if environment_reference:
        line, col = template_position(reporter, path, source, source.count("\n", 0, environment_reference.start()) + 1)
        reporter.at(
            line, col, path, f"'{environment_reference[0]}' stays as written: environment variables are not read in instructions",
            "declare a variable and use {{ name }}", "warning",
        )
    if not any(marker in source for marker in _TEMPLATE_MARKERS):
        return
    declared = set(variables) | set(_ENVIRONMENT.globals)
    if not any(marker in _SIMPLE_REFERENCE.sub("", source) for marker in _TEMPLATE_MARKERS):
        # Only plain {{ name }} references: no need for Jinja's (slow) parser.
        for match in _SIMPLE_REFERENCE.finditer(source):
            if match[1] not in declared:
                declared.add(match[1])
                _report_undefined(match[1], source, source.count("\n", 0, match.start()) + 1, variables, reporter, path)
        return
    try:
        names_clean = _check_names(_ENVIRONMENT.parse(source), source, variables, reporter, path)
    except TemplateSyntaxError as exc:
        line, col = template_position(reporter, path, source, exc.lineno)
        reporter.at(line, col, path, f"template syntax error: {exc.message}")
        return
    except (RecursionError, MemoryError):  # Jinja's parser and name analysis recurse through the tree
        line, col = template_position(reporter, path, source, 1)
        reporter.at(line, col, path, f"template syntax error: {_TOO_DEEP}")
        return
    if names_clean:
        _check_render(source, variables, reporter, path)


def _check_names(tree: nodes.Template, source: str, variables: Mapping[str, Variable], reporter: Reporter, path: PathKey) -> bool:
    """Unknown filters, tests and undefined variables; True when there are none."""
    declared = set(variables) | set(_ENVIRONMENT.globals)
    clean = True
    unknown_calls = False
    for kind, table, node_type in (("filter", _ENVIRONMENT.filters, nodes.Filter), ("test", _ENVIRONMENT.tests, nodes.Test)):
        unknown: dict[str, int] = {}
        for node in tree.find_all(node_type):
            if node.name not in table:
                unknown.setdefault(node.name, node.lineno)
        for name, lineno in unknown.items():
            line, col = template_position(reporter, path, source, lineno)
            reporter.at(line, col, path, f"unknown {kind} '{name}'", did_you_mean(name, table))
            unknown_calls, clean = True, False
    for name in sorted(_undeclared(tree, unknown_calls) - declared):
        lineno = _first_line(tree.find_all(nodes.Name), lambda node: node.name == name)
        _report_undefined(name, source, lineno, variables, reporter, path)
        clean = False
    return clean


def _check_render(source: str, variables: Mapping[str, Variable], reporter: Reporter, path: PathKey) -> None:
    """Render as the session will, with the defaults (placeholders for required variables)."""
    values = {name: _PLACEHOLDERS[variable.type] if variable.required else variable.default for name, variable in variables.items()}
    try:
        render(_compiled(source), values)
    except TemplateRenderError as error:
        line, col = template_position(reporter, path, source, error.lineno or 1)
        reporter.at(line, col, path, f"cannot render: {error.message}")


def _undeclared(tree: nodes.Template, unknown_calls: bool) -> set[str]:
    """Names the template reads from its context.

    Jinja's own analysis refuses templates with unknown filters or tests; for those
    (already reported) every name read and never assigned is taken instead.
    """
    if not unknown_calls:
        return set(meta.find_undeclared_variables(tree))
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx != "load"}
    return {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"} - assigned


def _report_undefined(name: str, source: str, lineno: int, variables: Mapping[str, Variable], reporter: Reporter, path: PathKey) -> None:
    line, col = template_position(reporter, path, source, lineno)
    reporter.at(line, col, path, f"undefined variable '{name}'", did_you_mean(name, variables) or "declare it under variables")


def _first_line(found: Iterable[nodes.Node], wanted: Any) -> int:
    for node in found:
        if wanted(node):
            return node.lineno
    return 1


def template_position(reporter: Reporter, path: PathKey, source: str, lineno: int) -> tuple[int, int]:
    """File position of a template's line `lineno`.

    Exact for literal block scalars (`|`), whose lines are the file's lines; other
    styles fold lines, so their problems point at the start of the value.
    """
    line, col = reporter.position(path)
    document = reporter.document
    if document is None or document.styles.get(path) != "|":
        return line, col
    last = len(source.rstrip("\n").split("\n"))  # Jinja may count one line past a final newline
    target = line + max(1, min(lineno, last))
    text = document.line_text(target)
    return target, len(text) - len(text.lstrip(" ")) + 1
