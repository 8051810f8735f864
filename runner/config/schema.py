"""The published JSON Schema, applied with short, plain, located messages.

jsonschema's own messages (`'x' is not valid under any of the given schemas`) name
neither the place nor the fix; every error is rewritten here.  A subschema may carry
`errorMessage` (the yaml-language-server convention) to explain a rule in words.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from .report import Reporter, describe, did_you_mean
from .source import PathKey

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "agents.schema.json"

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true/false",
    "null": "null",
}
_TYPE_LIKE = {"type", "const", "enum"}


@lru_cache(maxsize=1)
def agents_schema() -> dict[str, Any]:
    """The schema published at schemas/agents.schema.json."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    return Draft7Validator(agents_schema())


@lru_cache(maxsize=1)
def meta_validator() -> Draft7Validator:
    """Validates a JSON Schema against the draft-07 meta-schema."""
    return Draft7Validator(Draft7Validator.META_SCHEMA)


def check_document(data: Any, reporter: Reporter) -> set[PathKey]:
    """Report every way `data` breaks the agents schema.

    Returns the paths whose values are unusable and every prefix of them; an unknown
    key makes nothing unusable (it is reported and ignored).
    """
    broken: list[PathKey] = []
    for error in _validator().iter_errors(data):
        report_error(error, reporter, (), broken=broken)
    return {path[:end] for path in broken for end in range(1, len(path) + 1)}


def report_error(error: ValidationError, reporter: Reporter, base: PathKey, prefix: str = "", broken: list[PathKey] | None = None) -> None:
    """Rewrite one jsonschema error into a located problem.

    `base` is where the error's instance root sits in the document; `broken`, when
    given, collects the paths of unusable values.
    """
    path = base + tuple(error.absolute_path)
    if broken is not None and error.validator != "additionalProperties":
        broken.append(path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if "propertyNames" in error.absolute_schema_path:
        name_rule = schema.get("errorMessage") or f"must match {schema.get('pattern')}"
        reporter.error(path + (instance,), f"{prefix}'{instance}' is not a valid name: {name_rule}", key=True)
    elif kind == "additionalProperties":
        known = list(schema.get("properties", {}))
        for name in instance:
            if name not in known:
                reporter.error(path + (name,), f"{prefix}unknown key '{name}'", did_you_mean(name, known), key=True)
    elif kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else str(error.validator_value)
        reporter.error(path, f"{prefix}missing required key '{missing}'", key=bool(path))
    elif kind in ("anyOf", "oneOf"):
        _report_alternatives(error, reporter, base, prefix, broken)
    elif kind == "uniqueItems":
        _report_repeat(instance, reporter, path, prefix)
    else:
        message, hint = _plain_message(kind, error.validator_value, instance, schema)
        reporter.error(path, prefix + message, hint)


def _report_alternatives(error: ValidationError, reporter: Reporter, base: PathKey, prefix: str, broken: list[PathKey] | None) -> None:
    """anyOf/oneOf: for a mapping or list, report the branch it was meant for; else say what fits."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    path = base + tuple(error.absolute_path)
    branches = schema.get(error.validator, [])
    if isinstance(instance, (dict, list)):
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or ():
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [index for index in range(len(branches)) if not any(_is_type_error(sub) for sub in by_branch.get(index, []))]
        if len(fitting) == 1 and by_branch.get(fitting[0]):
            for sub in by_branch[fitting[0]]:
                report_error(sub, reporter, base, prefix, broken)
            return
    hint = did_you_mean(instance, _enum_strings(branches))
    if "errorMessage" in schema:
        reporter.error(path, f"{prefix}{describe(instance)} is not valid: {schema['errorMessage']}", hint)
        return
    expected = _either([choice for branch in branches for choice in _expected(branch)])
    reporter.error(path, f"{prefix}expected {expected}, got {describe(instance)}", hint)


def _is_type_error(error: ValidationError) -> bool:
    return error.validator in _TYPE_LIKE and not error.relative_path


def _enum_strings(branches: Iterable[Any]) -> list[str]:
    return [value for branch in branches if isinstance(branch, dict) for value in branch.get("enum", ()) if isinstance(value, str)]


def _expected(schema: Any) -> list[str]:
    """What a subschema accepts, as words, one entry per alternative."""
    if not isinstance(schema, dict):
        return ["a value"]
    if "enum" in schema:
        return [_literal(value) for value in schema["enum"]]
    if "const" in schema:
        return [_literal(schema["const"])]
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return [_TYPE_WORDS.get(kind, kind) for kind in kinds] or ["a value"]


def _either(choices: list[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]


def _literal(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _report_repeat(items: list[Any], reporter: Reporter, path: PathKey, prefix: str) -> None:
    seen: list[Any] = []
    for index, item in enumerate(items):
        if item in seen:
            reporter.error(path + (index,), f"{prefix}{describe(item)} is listed twice")
            return
        seen.append(item)


def _plain_message(kind: str, rule: Any, instance: Any, schema: dict[str, Any]) -> tuple[str, str | None]:
    """Message and hint for a single-keyword error."""
    got = describe(instance)
    if kind == "type":
        kinds = [rule] if isinstance(rule, str) else list(rule)
        return f"expected {_either([_TYPE_WORDS.get(k, k) for k in kinds])}, got {got}", None
    if kind == "enum":
        choices = ", ".join(_literal(value) for value in rule)
        return f"{got} is not one of: {choices}", did_you_mean(instance, [v for v in rule if isinstance(v, str)])
    if kind == "const":
        return f"must be {_literal(rule)}, got {got}", None
    if kind == "pattern":
        if "errorMessage" in schema:
            return f"{got} is not valid: {schema['errorMessage']}", None
        return f"{got} does not match {rule}", None
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "greater than", "exclusiveMaximum": "less than"}
        return f"must be {words[kind]} {rule}, got {got}", None
    if kind in ("minLength", "minItems", "minProperties"):
        if rule == 1:
            return "must not be empty", None
        unit = {"minLength": "characters", "minItems": "items", "minProperties": "entries"}[kind]
        return f"must have at least {rule} {unit}", None
    if kind in ("maxLength", "maxItems", "maxProperties"):
        unit = {"maxLength": "characters", "maxItems": "items", "maxProperties": "entries"}[kind]
        return f"must have at most {rule} {unit}", None
    return f"{got} is not valid ({kind}: {_literal(rule)})", None
