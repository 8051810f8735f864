"""A fake OpenAI REST server for the guardrail and post-call analysis endpoints, on 127.0.0.1.

It answers `POST /v1/moderations` and `POST /v1/responses` in the exact JSON
shapes of the OpenAI API, so the real `openai` client parses them, and decides
deterministically from keywords so tests can say what must trip; a json_schema
without a `category` is filled from the input (`extraction.py`).  Faults (a
delay, an HTTP error, a malformed body) can be set per endpoint.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Iterable, Literal

from . import call_rest, live_rest
from .extraction import filled

from runner.config.model import MODERATION_CATEGORIES  # the API's category names, one list for all

Endpoint = Literal["moderations", "responses"]
_ROUTES: dict[str, Endpoint] = {"/v1/moderations": "moderations", "/v1/responses": "responses"}

DEFAULT_OFF_BRAND_TERMS = (
    "Globex", "Initech", "Umbrella Corp", "Hooli",
    "politics", "election", "president", "religion",
    "diagnosis", "prescription", "lawsuit", "lawyer",
)  # fmt: skip
_BASELINE_SCORE = 0.0004

_VIOLENT = re.compile(r"\b(kill|murder|shoot|stab|bomb|punch|strangle|hurt you|beat you)\w*", re.IGNORECASE)
_INSULTING = re.compile(r"\b(idiot|stupid|moron|dumb|pathetic|loser|shut up|useless)\w*", re.IGNORECASE)
_SELF_HARM = re.compile(r"\b(hurt myself|kill myself|suicide|end my life)\b", re.IGNORECASE)
# keyword -> (moderation category, score); the first keyword set that matches sets its category's score
_MODERATION_RULES = ((_VIOLENT, "violence", 0.91), (_INSULTING, "harassment", 0.82), (_SELF_HARM, "self-harm", 0.88))
_FLAG_AT = 0.5


@dataclass(slots=True)
class Fault:
    """What one endpoint does wrong, for testing how checks fail."""

    delay: float = 0.0  # seconds to wait before answering
    status: int | None = None  # answer with this HTTP error status and an OpenAI error body
    body: bytes | None = None  # answer 200 with these raw bytes instead of the real answer
    output_text: str | None = None  # responses only: a well-formed Response carrying this output_text


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body, None when there was none


class _BadRequest(Exception):
    """A request we answer with 400 and an OpenAI-style error message."""


class RestSimulator:
    """`async with RestSimulator() as rest:` then point `AsyncOpenAI(base_url=rest.base_url)` at it."""

    def __init__(self, *, off_brand_terms: Iterable[str] = DEFAULT_OFF_BRAND_TERMS, host: str = "127.0.0.1", port: int = 0) -> None:
        terms = [r"\s+".join(re.escape(part) for part in term.split()) for term in off_brand_terms]
        self._off_brand = re.compile(r"(?<!\w)(?:" + "|".join(terms) + r")(?!\w)", re.IGNORECASE) if terms else None
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._ids = 0
        self._in_flight = 0
        self.faults: dict[Endpoint, Fault] = {}
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0  # most requests handled at once: shows whether clients serialise
        self.connections_opened = 0  # fewer than requests when clients keep connections alive
        self.calls_api: Any = None  # the Simulator whose calls `/v1/realtime/calls...` serves, once it sets itself

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("RestSimulator is not started")
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{self._host}:{port}/v1"

    def set_fault(self, endpoint: Endpoint, fault: Fault | None) -> None:
        """Make `endpoint` misbehave (or behave again, with None)."""
        if fault is None:
            self.faults.pop(endpoint, None)
        else:
            self.faults[endpoint] = fault

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_connection, self._host, self._port)

    async def close(self) -> None:
        """Stop listening and drop open connections (a client may still be waiting on a delay)."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> RestSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.connections_opened += 1
        try:
            while await self._serve_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away or sent garbage: nothing left to answer
        except asyncio.CancelledError:
            pass  # close() is shutting the server down; end this connection's task quietly
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection should close."""
        request_line = await reader.readline()
        if not request_line:
            return False
        parts = request_line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or not headers.get("content-length", "0").isdigit():
            await self._write(writer, 400, _error("malformed HTTP request", "invalid_request_error"))
            return False
        if "chunked" in headers.get("transfer-encoding", ""):
            await self._write(writer, 411, _error("send the body with a Content-Length", "invalid_request_error"))
            return False
        raw_body = await reader.readexactly(int(headers.get("content-length", "0")))
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        extra: dict[str, str] = {}
        try:
            path = parts[1].split("?", 1)[0]
            if self.calls_api is not None and (call_rest.handles(path) or live_rest.handles(path)):
                status, body, extra = await self._answer_calls(parts[0], path, headers, raw_body)
            else:
                status, body = await self._answer(parts[0], parts[1], headers, raw_body)
        finally:
            self._in_flight -= 1
        await self._write(writer, status, body, extra)
        return headers.get("connection", "").lower() != "close"

    async def _answer_calls(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, bytes, dict[str, str]]:
        """The realtime calls API (runner/sim/call_rest.py), served for the simulator that owns it."""
        self.requests.append(RecordedRequest(method, path, headers, None))
        if not _authorized(headers):
            return 401, _error(_NO_KEY, "invalid_request_error"), {}
        if live_rest.handles(path):
            return await live_rest.answer(self.calls_api, method, path, headers, raw_body)
        return await call_rest.answer(self.calls_api, method, path, headers, raw_body)

    async def _answer(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, bytes]:
        path = target.split("?", 1)[0]
        try:
            body = json.loads(raw_body) if raw_body else None
        except json.JSONDecodeError:
            self.requests.append(RecordedRequest(method, path, headers, None))
            return 400, _error("We could not parse the JSON body of your request.", "invalid_request_error")
        self.requests.append(RecordedRequest(method, path, headers, body))
        endpoint = _ROUTES.get(path)
        if endpoint is None or method != "POST":
            return 404, _error(f"Invalid URL ({method} {path})", "invalid_request_error")
        if not _authorized(headers):
            return 401, _error(_NO_KEY, "invalid_request_error")
        fault = self.faults.get(endpoint, Fault())
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is not None:
            return fault.status, _error(f"Simulated failure (HTTP {fault.status}).", "server_error" if fault.status >= 500 else "invalid_request_error")
        if fault.body is not None:
            return 200, fault.body
        if not isinstance(body, dict):
            return 400, _error("The request body must be a JSON object.", "invalid_request_error")
        try:
            answer = self._moderation(body) if endpoint == "moderations" else self._response(body, fault.output_text)
        except _BadRequest as problem:
            return 400, _error(str(problem), "invalid_request_error")
        return 200, json.dumps(answer).encode()

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_sim{self._ids:06d}"

    def _moderation(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(item, str) for item in inputs):
            raise _BadRequest("Invalid value for 'input': expected a string or an array of strings.")
        return {
            "id": self._next_id("modr"),
            "model": body.get("model", "omni-moderation-latest"),
            "results": [_moderation_result(text) for text in inputs],
        }

    def _response(self, body: dict[str, Any], output_text: str | None) -> dict[str, Any]:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("Missing required parameter: 'model'.")
        text_format = (body.get("text") or {}).get("format")
        schema = _json_schema(text_format)
        if "category" in schema["properties"]:  # a guardrail classifier
            categories = _verdict_categories(text_format["name"], schema)
            if output_text is None:
                category, rationale = self._classify(_input_text(body.get("input")), categories)
                output_text = json.dumps({"category": category, "rationale": rationale})
        elif output_text is None:  # a post-call analysis, or any other extraction
            output_text = json.dumps(filled(schema, _input_text(body.get("input"))))
        input_tokens = len(str(body.get("instructions", "")).split()) + len(_input_text(body.get("input")).split())
        output_tokens = len(output_text.split())
        return {
            "id": self._next_id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": model,
            "output": [
                {
                    "id": self._next_id("msg"),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": output_text, "annotations": [], "logprobs": []}],
                }
            ],
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": text_format, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    def _classify(self, text: str, categories: list[str]) -> tuple[str, str]:
        """The first allowed category whose keywords occur (violence, then offence, then off-brand)."""
        found = [
            ("VIOLENCE", _VIOLENT.search(text), "The text refers to violence ({!r})."),
            ("OFFENSIVE", _INSULTING.search(text), "The text insults someone ({!r})."),
            ("OFF_BRAND", self._off_brand.search(text) if self._off_brand else None, "The text is about {!r}, which is off brand."),
        ]
        for category, match, rationale in found:
            if match is not None and category in categories:
                return category, rationale.format(match.group())
        if "NONE" in categories:
            return "NONE", "The text stays within the brand rules."
        return categories[0], "Nothing stood out; the schema offers no NONE category."

    async def _write(self, writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        fields = {"content-type": "application/json", **(extra or {}), "content-length": str(len(body)), "x-request-id": self._next_id("req")}
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n"
        writer.write(head.encode("latin-1") + body)
        await writer.drain()


_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


def _authorized(headers: dict[str, str]) -> bool:
    return headers.get("authorization", "").startswith("Bearer ") and bool(headers["authorization"][7:].strip())


def _error(message: str, error_type: str) -> bytes:
    """An OpenAI error body."""
    return json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": None}}).encode()


def _moderation_result(text: str) -> dict[str, Any]:
    scores = dict.fromkeys(MODERATION_CATEGORIES, _BASELINE_SCORE)
    for pattern, category, score in _MODERATION_RULES:
        if pattern.search(text):
            scores[category] = score
    return {
        "flagged": any(score >= _FLAG_AT for score in scores.values()),
        "categories": {name: score >= _FLAG_AT for name, score in scores.items()},
        "category_scores": scores,
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }


def _input_text(value: Any) -> str:
    """The text of a Responses `input`: a string, or messages with string or `input_text` content."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _BadRequest("Invalid value for 'input': expected a string or an array of input items.")
    texts: list[str] = []
    for item in value:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)]
    return "\n".join(texts)


def _json_schema(text_format: Any) -> dict[str, Any]:
    """The schema of a json_schema format, checked the way the API checks strict schemas."""
    if not isinstance(text_format, dict) or text_format.get("type") != "json_schema":
        raise _BadRequest("This simulator only answers structured requests: set text.format to a json_schema.")
    name, schema = text_format.get("name"), text_format.get("schema")
    if not isinstance(name, str) or not isinstance(schema, dict):
        raise _BadRequest("Missing required parameter: 'text.format.name' or 'text.format.schema'.")
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict):
        raise _BadRequest(f"Invalid schema for response_format '{name}': schema must be a JSON Schema of 'type: \"object\"'.")
    if text_format.get("strict"):
        if schema.get("additionalProperties") is not False:
            raise _BadRequest(
                f"Invalid schema for response_format '{name}': In context=(), 'additionalProperties' is required to be supplied and to be false."
            )
        if sorted(schema.get("required", [])) != sorted(properties):
            raise _BadRequest(
                f"Invalid schema for response_format '{name}': In context=(), 'required' is required to be supplied "
                "and to be an array including every key in properties."
            )
    return schema


def _verdict_categories(name: str, schema: dict[str, Any]) -> list[str]:
    """The category enum of a classification schema."""
    properties = schema["properties"]
    enum = (properties.get("category") or {}).get("enum")
    if not isinstance(enum, list) or not enum or not all(isinstance(item, str) for item in enum):
        raise _BadRequest(f"Invalid schema for response_format '{name}': 'category' needs an enum of strings.")
    if (properties.get("rationale") or {}).get("type") != "string":
        raise _BadRequest(f"Invalid schema for response_format '{name}': 'rationale' must be a string.")
    return enum
