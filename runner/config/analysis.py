"""The `analysis:` section: what to work out from a finished conversation, and where to send it.

Built from schema-checked values like the rest of the config; the checks here are the
ones a JSON Schema cannot say: the structured-data schema must itself be a valid JSON
Schema for an object, a score's range must not be empty, categories belong to
`type: category` only, and the webhook URL must be http(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

from .report import Reporter
from .source import PathKey

DEFAULT_ANALYSIS_MODEL = "gpt-4.1-mini"
DEFAULT_SUMMARY = "Summarise the call in two or three sentences: why the caller called, what was done, and how it ended."


@dataclass(frozen=True, slots=True)
class StructuredData:
    schema: Mapping[str, Any]  # a JSON Schema with type: object
    instructions: str = ""


@dataclass(frozen=True, slots=True)
class SuccessCriteria:
    kind: Literal["boolean", "score", "category"]
    instructions: str = ""
    categories: tuple[str, ...] = ()
    minimum: int = 1
    maximum: int = 10


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str  # may contain ${ENV}
    secret_env: str | None = None  # the variable holding the signing secret
    timeout: float = 10.0
    attempts: int = 4


@dataclass(frozen=True, slots=True)
class Analysis:
    model: str = DEFAULT_ANALYSIS_MODEL
    summary: str = DEFAULT_SUMMARY
    structured_data: StructuredData | None = None
    success: SuccessCriteria | None = None
    webhook: Webhook | None = None
    timeout: float = 60.0


def build_analysis(data: dict[str, Any], reporter: Reporter, ok: Callable[[PathKey], bool]) -> Analysis | None:
    """The `analysis` section, or None when absent or unusable (after reporting why)."""
    raw = data.get("analysis")
    if not isinstance(raw, dict) or not ok(("analysis",)):
        return None
    usable = True
    structured = None
    if "structured_data" in raw:
        structured = StructuredData(raw["structured_data"]["schema"], raw["structured_data"].get("instructions", ""))
        usable &= _check_object_schema(structured.schema, reporter, ("analysis", "structured_data", "schema"))
    success = None
    if "success" in raw:
        success = _success(raw["success"], reporter)
        usable &= success is not None
    webhook = None
    if "webhook" in raw:
        spec = raw["webhook"]
        webhook = Webhook(spec["url"], spec.get("secret_env"), float(spec.get("timeout", 10)), spec.get("attempts", 4))
    if not usable:
        return None
    return Analysis(
        model=raw.get("model", DEFAULT_ANALYSIS_MODEL),
        summary=raw.get("summary", DEFAULT_SUMMARY),
        structured_data=structured,
        success=success,
        webhook=webhook,
        timeout=float(raw.get("timeout", 60)),
    )


def check_webhook(analysis: Analysis, environ: Mapping[str, str], reporter: Reporter) -> None:
    """The URL is http(s) once `${ENV}` is expanded; unset variables are warnings, as for bindings."""
    from .binding_checks import _check_url, _warn_missing, interpolate_env

    webhook = analysis.webhook
    if webhook is None:
        return
    path: PathKey = ("analysis", "webhook")
    url, missing = interpolate_env(webhook.url, environ)
    _warn_missing(missing, path + ("url",), reporter)
    if not missing:
        _check_url(url, path + ("url",), reporter)
    if webhook.secret_env is not None and not environ.get(webhook.secret_env):
        _warn_missing([webhook.secret_env], path + ("secret_env",), reporter)


def _success(raw: dict[str, Any], reporter: Reporter) -> SuccessCriteria | None:
    path: PathKey = ("analysis", "success")
    kind = raw["type"]
    usable = True
    if kind == "category" and "categories" not in raw:
        reporter.error(path + ("type",), "a category verdict needs categories to choose from")
        usable = False
    for key in ("categories",) if kind != "category" else ():
        if key in raw:
            reporter.error(path + (key,), f"'{key}' applies to type: category only, but type is {kind}", key=True)
            usable = False
    for key in ("min", "max") if kind != "score" else ():
        if key in raw:
            reporter.error(path + (key,), f"'{key}' applies to type: score only, but type is {kind}", key=True)
            usable = False
    minimum, maximum = raw.get("min", 1), raw.get("max", 10)
    if kind == "score" and minimum >= maximum:
        reporter.error(path + ("max" if "max" in raw else "min",), f"the score range is empty: min {minimum} is not below max {maximum}")
        usable = False
    if not usable:
        return None
    return SuccessCriteria(kind, raw.get("instructions", ""), tuple(raw.get("categories", ())), minimum, maximum)


def _check_object_schema(schema: Mapping[str, Any], reporter: Reporter, path: PathKey) -> bool:
    from .checks import _report_schema_error
    from .schema import meta_validator

    errors = list(meta_validator().iter_errors(schema))
    for error in errors:
        _report_schema_error(error, reporter, path)
    if errors:
        return False
    if schema.get("type") != "object":
        where = path + ("type",) if "type" in schema else path
        reporter.error(where, "the structured data schema must have type: object", key="type" not in schema)
        return False
    return True
