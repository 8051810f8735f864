"""The `analysis:` section: what it builds, and one located message for each mistake."""

from __future__ import annotations

from pathlib import Path

from runner.config import load
from runner.config.analysis import DEFAULT_ANALYSIS_MODEL, DEFAULT_SUMMARY, Analysis, StructuredData, SuccessCriteria, Webhook

MINIMAL = """\
version: 1
start: greeter
agents:
  greeter:
    description: Greets callers.
    instructions: Say hello.
"""


def _lines(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "agents.yaml"
    path.write_text(text, encoding="utf-8")
    return [problem.format()[len(str(path)) + 1 :] for problem in load(str(path), environ=environ or {}).problems]


def test_a_full_section_builds_every_part(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(
        MINIMAL
        + """\
analysis:
  model: gpt-4.1
  summary: Say why they called.
  structured_data:
    instructions: The caller's details.
    schema: {type: object, properties: {phone: {type: string}}, required: [phone]}
  success: {type: category, categories: [resolved, escalated], instructions: Was it solved?}
  webhook: {url: "${HOOK_URL}/calls", secret_env: HOOK_SECRET, attempts: 2, timeout: 3}
  timeout: 20
""",
        encoding="utf-8",
    )
    result = load(str(path), environ={"HOOK_URL": "https://hooks.example.com", "HOOK_SECRET": "s3cret"})
    assert result.problems == []
    assert result.config is not None
    assert result.config.analysis == Analysis(
        model="gpt-4.1",
        summary="Say why they called.",
        structured_data=StructuredData({"type": "object", "properties": {"phone": {"type": "string"}}, "required": ["phone"]}, "The caller's details."),
        success=SuccessCriteria("category", "Was it solved?", ("resolved", "escalated")),
        webhook=Webhook("${HOOK_URL}/calls", "HOOK_SECRET", 3.0, 2),
        timeout=20.0,
    )


def test_an_empty_section_gets_the_defaults_and_no_section_none(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(MINIMAL + "analysis: {}\n", encoding="utf-8")
    assert load(str(path)).config.analysis == Analysis(DEFAULT_ANALYSIS_MODEL, DEFAULT_SUMMARY, None, None, None, 60.0)
    path.write_text(MINIMAL, encoding="utf-8")
    assert load(str(path)).config.analysis is None


def test_mistakes_are_located(tmp_path: Path) -> None:
    assert _lines(tmp_path, MINIMAL + "analysis:\n  structured_data: {schema: {type: array}}\n") == [
        "8:36: analysis.structured_data.schema.type: the structured data schema must have type: object"
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  structured_data: {schema: {type: objekt}}\n") == [
        "8:36: analysis.structured_data.schema.type: 'objekt' is not a JSON Schema type (did you mean 'object'?)"
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  success: {type: category}\n") == [
        "8:19: analysis.success.type: a category verdict needs categories to choose from"
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  success: {type: boolean, categories: [a, b]}\n") == [
        "8:28: analysis.success.categories: 'categories' applies to type: category only, but type is boolean"
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  success: {type: score, min: 5, max: 5}\n") == [
        "8:39: analysis.success.max: the score range is empty: min 5 is not below max 5"
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  sumary: x\n") == ["8:3: analysis.sumary: unknown key 'sumary' (did you mean 'summary'?)"]


def test_the_webhook_url_is_checked_and_unset_variables_warned(tmp_path: Path) -> None:
    assert _lines(tmp_path, MINIMAL + "analysis:\n  webhook: {url: 'ftp://example.com'}\n") == [
        "8:18: analysis.webhook.url: invalid URL 'ftp://example.com': it must start with http:// or https://"
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  webhook: {url: '${HOOK}', secret_env: HOOK_SECRET}\n") == [
        "8:18: analysis.webhook.url: warning: environment variable 'HOOK' is not set (it must be set when the runner runs)",
        "8:41: analysis.webhook.secret_env: warning: environment variable 'HOOK_SECRET' is not set (it must be set when the runner runs)",
    ]
    assert _lines(tmp_path, MINIMAL + "analysis:\n  webhook: {url: 'http://x', secret_env: 1BAD}\n") == [
        "8:42: analysis.webhook.secret_env: '1BAD' is not valid: an environment variable name: letters, digits and '_', not starting with a digit"
    ]
