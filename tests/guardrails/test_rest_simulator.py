"""RestSimulator's answers: the exact OpenAI shapes, authentication, request validation, shutdown."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from openai.types import ModerationCreateResponse
from openai.types.responses import Response

from runner.sim.rest import Fault, RestSimulator
from tests.waits import wait_until

KEY = {"Authorization": "Bearer sk-test"}
VERDICT_FORMAT = {
    "type": "json_schema",
    "name": "guardrail_verdict",
    "schema": {
        "type": "object",
        "properties": {"category": {"type": "string", "enum": ["OFFENSIVE", "OFF_BRAND", "NONE"]}, "rationale": {"type": "string"}},
        "required": ["category", "rationale"],
        "additionalProperties": False,
    },
    "strict": True,
}


def post(path: str, body: Any, headers: dict[str, str] | None = None, **rest_options: Any) -> httpx.Response:
    async def main() -> httpx.Response:
        async with RestSimulator(**rest_options) as rest, httpx.AsyncClient() as http:
            return await http.post(rest.base_url + path, json=body, headers=KEY if headers is None else headers)

    return asyncio.run(main())


def test_moderation_answer_validates_as_the_sdk_model():
    answer = post("/moderations", {"model": "omni-moderation-latest", "input": ["You idiot", "Thanks!"]})
    assert answer.status_code == 200
    parsed = ModerationCreateResponse.model_validate(answer.json())  # strict: every required field present and typed
    insult, thanks = parsed.results
    assert (insult.flagged, insult.categories.harassment, insult.category_scores.harassment) == (True, True, 0.82)
    assert (thanks.flagged, thanks.categories.harassment, thanks.category_scores.harassment) == (False, False, 0.0004)
    assert parsed.model == "omni-moderation-latest"
    assert answer.headers["content-type"] == "application/json"


def test_response_answer_validates_as_the_sdk_model_with_json_output_text():
    answer = post("/responses", {"model": "gpt-4.1-mini", "input": "Try Globex instead.", "text": {"format": VERDICT_FORMAT}})
    assert answer.status_code == 200
    parsed = Response.model_validate(answer.json())
    assert (parsed.object, parsed.status, parsed.model) == ("response", "completed", "gpt-4.1-mini")
    assert json.loads(parsed.output_text) == {"category": "OFF_BRAND", "rationale": "The text is about 'Globex', which is off brand."}


def test_response_input_may_be_a_list_of_messages():
    messages = [{"role": "user", "content": [{"type": "input_text", "text": "You are an idiot."}]}]
    answer = post("/responses", {"model": "gpt-4.1-mini", "input": messages, "text": {"format": VERDICT_FORMAT}})
    assert json.loads(Response.model_validate(answer.json()).output_text)["category"] == "OFFENSIVE"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}])
def test_a_request_without_a_bearer_key_is_refused(headers):
    answer = post("/moderations", {"input": "hello"}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["message"].startswith("You didn't provide an API key.")


def test_an_unknown_path_is_not_found():
    answer = post("/chat/completions", {"model": "gpt-4.1-mini"})
    assert (answer.status_code, answer.json()["error"]["message"]) == (404, "Invalid URL (POST /v1/chat/completions)")


@pytest.mark.parametrize(
    ("schema_change", "message"),
    [
        (
            {"additionalProperties": True},
            "Invalid schema for response_format 'guardrail_verdict': In context=(), "
            "'additionalProperties' is required to be supplied and to be false.",
        ),
        (
            {"required": ["category"]},
            "Invalid schema for response_format 'guardrail_verdict': In context=(), "
            "'required' is required to be supplied and to be an array including every key in properties.",
        ),
    ],
)
def test_a_strict_schema_is_checked_like_the_api_does(schema_change, message):
    text_format = {**VERDICT_FORMAT, "schema": {**VERDICT_FORMAT["schema"], **schema_change}}
    answer = post("/responses", {"model": "gpt-4.1-mini", "input": "hi", "text": {"format": text_format}})
    assert (answer.status_code, answer.json()["error"]["message"]) == (400, message)


def test_a_response_request_needs_a_model_and_a_verdict_format():
    assert post("/responses", {"input": "hi"}).json()["error"]["message"] == "Missing required parameter: 'model'."
    assert post("/responses", {"model": "gpt-4.1-mini", "input": "hi"}).json()["error"]["message"] == (
        "This simulator only answers structured requests: set text.format to a json_schema."
    )


def test_a_body_that_is_not_json_is_a_bad_request():
    async def main() -> httpx.Response:
        async with RestSimulator() as rest, httpx.AsyncClient() as http:
            return await http.post(rest.base_url + "/moderations", content=b"{oops", headers=KEY)

    answer = asyncio.run(main())
    assert (answer.status_code, answer.json()["error"]["message"]) == (400, "We could not parse the JSON body of your request.")


def test_requests_are_recorded_and_connections_kept_alive():
    async def main() -> tuple[RestSimulator, int]:
        async with RestSimulator() as rest, httpx.AsyncClient() as http:
            for text in ("one", "two", "three"):
                await http.post(rest.base_url + "/moderations", json={"input": text}, headers=KEY)
            return rest, rest.connections_opened

    rest, connections = asyncio.run(main())
    assert [request.body for request in rest.requests] == [{"input": "one"}, {"input": "two"}, {"input": "three"}]
    assert connections == 1


def test_close_ends_a_request_still_waiting_on_its_delay():
    async def main() -> BaseException | httpx.Response:
        rest = RestSimulator()
        await rest.start()
        rest.set_fault("moderations", Fault(delay=60))
        async with httpx.AsyncClient() as http:
            pending = asyncio.create_task(http.post(rest.base_url + "/moderations", json={"input": "x"}, headers=KEY))
            await asyncio.to_thread(wait_until, lambda: rest.requests, 10, "the request at the REST simulator")
            await rest.close()
            return (await asyncio.gather(pending, return_exceptions=True))[0]

    outcome = asyncio.run(main())
    assert isinstance(outcome, httpx.RemoteProtocolError)


def test_base_url_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="^RestSimulator is not started$"):
        RestSimulator().base_url
