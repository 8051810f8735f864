"""The checks that ask an OpenAI endpoint: moderation and the brand classifier.

Both read the answer defensively: the SDK builds its models without validating
them, so a malformed body would otherwise surface later as an AttributeError
far from the request that caused it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from runner.config.model import Guardrail
from runner.guardrails.verdict import Verdict

if TYPE_CHECKING:
    from openai import AsyncOpenAI

PASS_CATEGORY = "NONE"
VERDICT_SCHEMA_NAME = "guardrail_verdict"

_PREAMBLES = {
    "assistant": (
        "You review one thing a customer-service voice agent has just said to a caller, "
        "against the brand rules below."
    ),
    "user": (
        "You review one thing a caller has just said to a customer-service voice agent, "
        "against the brand rules below."
    ),
}
_ANSWER_RULE = (
    f"Answer with the category that fits it best ({PASS_CATEGORY} when it is within the rules) "
    "and a one-sentence rationale."
)


class MalformedAnswer(Exception):
    """The endpoint answered 200, but not in the shape that was asked for."""


def classifier_instructions(policy: Guardrail, role: Literal["assistant", "user"]) -> str:
    """The fixed preamble for the speaker's role, then the policy's brand description."""
    return f"{_PREAMBLES[role]} {_ANSWER_RULE}\n\nBrand rules:\n{policy.instructions.strip()}"


def classifier_categories(policy: Guardrail) -> list[str]:
    """The policy's categories, always with the passing one so the model can say 'fine'."""
    categories = list(policy.categories)
    if PASS_CATEGORY not in categories:
        categories.append(PASS_CATEGORY)
    return categories


def classifier_text_format(policy: Guardrail) -> dict[str, Any]:
    """The Responses API `text` parameter: strict JSON with a category and a rationale."""
    schema = {
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": classifier_categories(policy)},
            "rationale": {"type": "string"},
        },
        "required": ["category", "rationale"],
        "additionalProperties": False,
    }
    return {"format": {"type": "json_schema", "name": VERDICT_SCHEMA_NAME, "schema": schema, "strict": True}}


async def moderate(client: AsyncOpenAI, policy: Guardrail, text: str) -> Verdict:
    """Trip on the highest-scoring category at or over its threshold (or flagged, without thresholds)."""
    response = await client.moderations.create(model=policy.moderation_model, input=text)
    scores, flagged = _moderation_result(_as_dict(response))
    if policy.thresholds:
        missing = [category for category in policy.thresholds if category not in scores]
        if missing:
            raise MalformedAnswer(f"no score for category '{missing[0]}'")
        offending = {category: scores[category] for category, limit in policy.thresholds.items() if scores[category] >= limit}
    else:
        offending = {category: scores.get(category, 0.0) for category in flagged}
    if not offending:
        return Verdict.passed()
    category = max(offending, key=lambda name: offending[name])
    if policy.thresholds:
        rationale = f"{category} scored {offending[category]:.2f} (threshold {policy.thresholds[category]:.2f})"
    else:
        rationale = f"{category} scored {offending[category]:.2f} (flagged by the moderation endpoint)"
    return Verdict(tripped=True, category=category, rationale=rationale)


def _as_dict(response: object) -> dict[str, Any]:
    """The answer as plain JSON data; the SDK hands back a bare value when the body is not an object."""
    to_dict = getattr(response, "to_dict", None)
    if to_dict is None:
        raise MalformedAnswer(f"the body is a JSON {type(response).__name__}, not an object")
    return to_dict(warnings=False)


def _moderation_result(body: dict[str, Any]) -> tuple[dict[str, float], list[str]]:
    results = body.get("results")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise MalformedAnswer("'results' is not a non-empty list of objects")
    scores = results[0].get("category_scores")
    categories = results[0].get("categories")
    if not isinstance(scores, dict) or not all(isinstance(value, (int, float)) for value in scores.values()):
        raise MalformedAnswer("'results[0].category_scores' is not an object of numbers")
    if not isinstance(categories, dict):
        raise MalformedAnswer("'results[0].categories' is not an object")
    return {name: float(value) for name, value in scores.items()}, [name for name, value in categories.items() if value is True]


async def classify(client: AsyncOpenAI, policy: Guardrail, text: str, role: Literal["assistant", "user"]) -> Verdict:
    """Ask a small model for a category; anything but NONE trips."""
    response = await client.responses.create(
        model=policy.classifier_model,
        instructions=classifier_instructions(policy, role),
        input=text,
        text=classifier_text_format(policy),  # type: ignore[arg-type]  # a plain dict of the documented shape
        store=False,
    )
    category, rationale = _classifier_answer(_output_text(_as_dict(response)), classifier_categories(policy))
    if category == PASS_CATEGORY:
        return Verdict.passed()
    return Verdict(tripped=True, category=category, rationale=rationale)


def _output_text(body: dict[str, Any]) -> str:
    """The concatenated `output_text` parts of the answer's messages (what `Response.output_text` does)."""
    status = body.get("status")
    if status != "completed":
        raise MalformedAnswer(f"response status is {status!r}, not 'completed'")
    output = body.get("output")
    if not isinstance(output, list):
        raise MalformedAnswer("'output' is not a list")
    texts = [
        part["text"]
        for item in output
        if isinstance(item, dict) and item.get("type") == "message" and isinstance(item.get("content"), list)
        for part in item["content"]
        if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str)
    ]
    if not texts:
        raise MalformedAnswer("no output_text in the answer")
    return "".join(texts)


def _classifier_answer(output_text: str, categories: list[str]) -> tuple[str, str]:
    try:
        answer = json.loads(output_text)
    except json.JSONDecodeError:
        raise MalformedAnswer(f"output_text is not JSON: {output_text[:80]!r}") from None
    if not isinstance(answer, dict):
        raise MalformedAnswer(f"output_text is not a JSON object: {output_text[:80]!r}")
    category, rationale = answer.get("category"), answer.get("rationale")
    if category not in categories:
        raise MalformedAnswer(f"category {category!r} is not one of {', '.join(categories)}")
    if not isinstance(rationale, str):
        raise MalformedAnswer("'rationale' is not a string")
    return category, rationale
