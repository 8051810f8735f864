"""Post-call analysis: a finished session folder in, analysis.json (and a webhook POST) out.

It runs after the conversation has closed, over the transcript.jsonl it left, so the
call's own artifacts are complete before it starts and nothing here can touch them
except one `analysis` summary added to report.json. One Responses API request asks
for everything at once (summary, structured data, success verdict) as strict JSON
when the project's schema allows it; the answer is checked against the schema. Any
failure (no transcript, the API down, a malformed answer, a webhook that never
answers) is recorded in analysis.json: the session is never lost and nothing raises.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .atomic import WriteError, write_bytes
from .config.analysis import Analysis

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from .host.conversation import Conversation

ANALYSIS_FILE = "analysis.json"
SCHEMA_NAME = "call_analysis"
INSTRUCTIONS = (
    "You analyse a finished customer-service call. The transcript follows, one line per turn: "
    "'user:' is the caller, any other name is the agent speaking; lines in parentheses are tool calls and transfers. "
    "Answer with JSON only, in the given schema."
)

logger = logging.getLogger(__name__)


class AnalysisFailed(Exception):
    """The analysis could not be made; the message is the line recorded in analysis.json."""


def transcript_text(folder: Path) -> str:
    """transcript.jsonl as the lines the model reads; AnalysisFailed when there is nothing to read."""
    path = folder / "transcript.jsonl"
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AnalysisFailed(f"cannot read {path}: {error.strerror or error}") from None
    lines = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("%s:%d: not JSON, left out of the analysis (a write cut short?)", path, number)
            continue
        text = _line(entry) if isinstance(entry, dict) else None
        if text is not None:
            lines.append(text)
    if not any(line.startswith("user: ") for line in lines):
        raise AnalysisFailed(f"nothing to analyse: {path} has no caller turn")
    return "\n".join(lines)


def _line(entry: dict[str, Any]) -> str | None:
    kind = entry.get("kind")
    if kind == "user":
        return f"user: {entry.get('text', '')}"
    if kind == "assistant":
        return f"{entry.get('agent', 'agent')}: {entry.get('text', '')}"
    if kind == "interrupted":
        return f"{entry.get('agent', 'agent')}: {entry.get('text', '')} [cut off by the caller]"
    if kind == "tool_result":
        outcome = f"failed: {entry['error']}" if entry.get("error") else entry.get("output") or ""
        return f"(tool {entry.get('name')} → {outcome})"
    if kind == "handoff":
        done = "handoff" if entry.get("success", True) else "refused handoff"
        reason = f": {entry['reason']}" if entry.get("reason") else ""
        return f"({done} {entry.get('from')} → {entry.get('to')}{reason})"
    return None


def answer_schema(analysis: Analysis) -> dict[str, Any]:
    """The JSON Schema of the whole answer: summary, then structured_data and success when configured."""
    properties: dict[str, Any] = {"summary": {"type": "string", "description": analysis.summary}}
    if analysis.structured_data is not None:
        data = dict(analysis.structured_data.schema)
        if analysis.structured_data.instructions:
            data.setdefault("description", analysis.structured_data.instructions)
        properties["structured_data"] = data
    success = analysis.success
    if success is not None:
        verdict: dict[str, Any] = {
            "boolean": {"type": "boolean"},
            "score": {"type": "integer", "minimum": success.minimum, "maximum": success.maximum},
            "category": {"type": "string", "enum": list(success.categories)},
        }[success.kind]
        if success.instructions:
            verdict["description"] = success.instructions
        properties["success"] = verdict
        properties["success_rationale"] = {"type": "string", "description": "One sentence: why that verdict."}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def strict_compatible(schema: Any) -> bool:
    """Whether the API's strict mode accepts the schema: every object closed, every property required."""
    if isinstance(schema, list):
        return all(strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, dict):
        if schema.get("additionalProperties") is not False or sorted(schema.get("required", [])) != sorted(properties or {}):
            return False
    children = [*(properties or {}).values(), schema.get("items"), *schema.get("anyOf", ()), *(schema.get("$defs") or {}).values()]
    return all(strict_compatible(child) for child in children)


def request(analysis: Analysis, transcript: str) -> dict[str, Any]:
    """The keyword arguments of `client.responses.create` for this transcript."""
    schema = answer_schema(analysis)
    notes = [INSTRUCTIONS, f"Summary: {analysis.summary}"]
    if analysis.structured_data is not None and analysis.structured_data.instructions:
        notes.append(f"structured_data: {analysis.structured_data.instructions}")
    if analysis.success is not None and analysis.success.instructions:
        notes.append(f"success: {analysis.success.instructions}")
    return {
        "model": analysis.model,
        "instructions": "\n\n".join(notes),
        "input": [{"role": "user", "content": [{"type": "input_text", "text": transcript}]}],
        "text": {"format": {"type": "json_schema", "name": SCHEMA_NAME, "schema": schema, "strict": strict_compatible(schema)}},
        "store": False,
    }


async def analyse(client: AsyncOpenAI, analysis: Analysis, transcript: str) -> dict[str, Any]:
    """Ask the Responses API; the checked answer and usage, or AnalysisFailed saying why not."""
    import openai
    from jsonschema import Draft7Validator

    from .guardrails.remote import MalformedAnswer, _as_dict, _output_text

    arguments = request(analysis, transcript)
    try:
        response = await asyncio.wait_for(client.responses.create(**arguments), analysis.timeout)
        body = _as_dict(response)
        output_text = _output_text(body)
    except asyncio.TimeoutError:
        raise AnalysisFailed(f"the Responses API gave no answer within {analysis.timeout:g} s") from None
    except openai.APIStatusError as error:
        raise AnalysisFailed(f"the Responses API answered HTTP {error.status_code}: {_api_message(error)}") from None
    except openai.APIConnectionError as error:
        raise AnalysisFailed(f"cannot reach the Responses API: {error}") from None
    except MalformedAnswer as error:
        raise AnalysisFailed(f"the Responses API's answer is malformed: {error}") from None
    try:
        answer = json.loads(output_text)
    except json.JSONDecodeError:
        raise AnalysisFailed(f"the answer is not JSON: {output_text[:80]!r}") from None
    problem = next(iter(sorted(Draft7Validator(arguments["text"]["format"]["schema"]).iter_errors(answer), key=lambda e: list(e.absolute_path))), None)
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "(the whole answer)"
        raise AnalysisFailed(f"the answer does not fit the schema at {where}: {problem.message}")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return {"answer": answer, "response_id": body.get("id"), "usage": {key: usage.get(key) for key in ("input_tokens", "output_tokens", "total_tokens")}}


def _api_message(error: Any) -> str:
    body = error.body if isinstance(getattr(error, "body", None), dict) else {}
    inner = body.get("error", body)
    return str(inner.get("message") if isinstance(inner, dict) and inner.get("message") else error.message)


async def run(
    folder: Path, analysis: Analysis, client: AsyncOpenAI | None, *, environ: Mapping[str, str], redact: Any = None,
    webhook: bool = True, backoff: float | None = None, client_problem: str | None = None,
) -> dict[str, Any]:
    """Analyse the session in `folder`: write analysis.json, post the webhook, note it in report.json.

    Returns the analysis document. `client` None (with `client_problem` saying why) records a failure.
    `redact(text)` masks secrets in what is written.
    """
    from .analysis_webhook import BACKOFF, deliver

    redact = redact or (lambda text: text)
    report = _read_report(folder)
    document: dict[str, Any] = {
        "session_id": report.get("session_id") if report else None,
        "status": "running",
        "error": None,
        "model": analysis.model,
        "started": _now(),
        "finished": None,
        "summary": None,
        "structured_data": None,
        "success": None,
        "response_id": None,
        "usage": None,
        "webhook": None,
    }
    try:
        if client is None:
            raise AnalysisFailed(client_problem or "no Responses API client")
        result = await analyse(client, analysis, transcript_text(folder))
        answer = result["answer"]
        document.update(status="completed", summary=answer["summary"], structured_data=answer.get("structured_data"), response_id=result["response_id"], usage=result["usage"])
        if analysis.success is not None:
            document["success"] = {"type": analysis.success.kind, "value": answer["success"], "rationale": answer["success_rationale"]}
    except AnalysisFailed as failure:
        document.update(status="failed", error=str(failure))
    except asyncio.CancelledError:
        document.update(status="failed", error="cancelled before the analysis finished (the host closed)", finished=_now())
        _write(folder, document, report, redact)
        raise
    document["finished"] = _now()
    _write(folder, document, report, redact)
    if webhook and analysis.webhook is not None:
        body = json.dumps({key: value for key, value in document.items() if key != "webhook"}, ensure_ascii=False).encode()
        try:
            document["webhook"] = await deliver(
                analysis.webhook, redact(body.decode()).encode(), session_id=str(document["session_id"]), environ=environ,
                shown_url=redact, backoff=BACKOFF if backoff is None else backoff,
            )
        except asyncio.CancelledError:
            url = redact(analysis.webhook.url)
            document["webhook"] = {"url": url, "signed": None, "delivered": False, "attempts": [], "error": "cancelled before delivery finished (the host closed)"}
            raise
        finally:
            _write(folder, document, report, redact)
    return document


async def after_call(conversation: Conversation) -> dict[str, Any] | None:
    """Run the project's analysis on a closed conversation (the host holds this task)."""
    from .host.artifacts import Redactor
    from .host.errors import SetupError

    analysis = conversation.config.analysis
    if analysis is None:
        return None
    environ = conversation.host.project.environ
    client, problem = None, None
    try:
        client = conversation.host.transport.rest_client()
    except SetupError as error:
        problem = str(error)
    redactor = Redactor.for_config(conversation.config, environ)
    return await run(conversation.folder, analysis, client, environ=environ, redact=redactor.text, client_problem=problem)


def _read_report(folder: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) else None


def _write(folder: Path, document: dict[str, Any], report: dict[str, Any] | None, redact: Any) -> None:
    """analysis.json, then the summary in report.json (each replaced whole; a failure is logged, never raised)."""
    try:
        write_bytes(folder / ANALYSIS_FILE, (redact(json.dumps(document, indent=2, ensure_ascii=False)) + "\n").encode())
        if report is not None:
            report["analysis"] = summary(document)
            write_bytes(folder / "report.json", (redact(json.dumps(report, indent=2, ensure_ascii=False, default=str)) + "\n").encode())
    except WriteError as error:
        logger.error("post-call analysis of %s: %s", folder, error)


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """What report.json says about the analysis: the status, the verdict, the webhook's fate."""
    hook = document.get("webhook")
    return {
        "file": ANALYSIS_FILE,
        "status": document["status"],
        "error": document["error"],
        "success": (document.get("success") or {}).get("value"),
        "webhook": None if hook is None else ("delivered" if hook["delivered"] else "failed"),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
