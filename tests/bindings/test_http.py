"""HTTP bindings against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from runner.bindings import ToolContext, ToolExecutor, ToolResult
from runner.config.model import Config, HttpBinding, Limits, Tool

ANY_OBJECT: dict[str, Any] = {"type": "object"}


@pytest.fixture
def call_http(tmp_path: Path, make_config: Callable[..., Config], context: ToolContext) -> Callable[..., ToolResult]:
    """`call_http(binding, arguments, environ={}, timeout=None)`: run one http tool through the executor."""

    def call(binding: HttpBinding, arguments: dict[str, Any], *, environ: Mapping[str, str] | None = None,
             timeout: float | None = None, limits: Limits | None = None) -> ToolResult:
        tool = Tool("remote", "a remote call", ANY_OBJECT, binding, timeout=timeout)
        executor = ToolExecutor(make_config(tmp_path, {"remote": tool}, limits=limits), environ=environ or {})

        async def go() -> ToolResult:
            try:
                return await executor.run("remote", json.dumps(arguments), call_id="call_1", agent="support", context=context)
            finally:
                await executor.aclose()

        return asyncio.run(go())

    return call


def test_get_renders_the_url_template_with_encoded_values(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(method="GET", url=http_server.base_url + "/users/{{ user }}?q={{ query }}&n={{ limit }}&vip={{ vip }}")
    result = call_http(binding, {"user": "a/b", "query": "wifi & router", "limit": 3, "vip": True})
    assert json.loads(result.output) == {"method": "GET", "path": "/users/a%2Fb?q=wifi%20%26%20router&n=3&vip=true", "body": None}
    assert result.error is None


def test_localhost_is_allowed(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    url = http_server.base_url.replace("127.0.0.1", "localhost") + "/text"
    assert call_http(HttpBinding(method="GET", url=url), {}).output == "plain words"


def test_post_renders_the_json_body_keeping_single_references_typed(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(
        method="POST",
        url=http_server.base_url + "/tickets",
        body={
            "subject": "[{{ priority }}] {{ subject }}",
            "priority": "{{ priority }}",
            "count": "{{ count }}",
            "tags": ["{{ tags }}", "fixed", "{{ missing }}"],
            "meta": {"urgent": "{{ urgent }}", "note": "{{ note }}"},
        },
    )
    result = call_http(binding, {"subject": "No wifi", "priority": "high", "count": 2, "tags": ["a", "b"], "urgent": False})
    assert json.loads(result.output)["body"] == {
        "subject": "[high] No wifi",
        "priority": "high",
        "count": 2,
        "tags": [["a", "b"], "fixed", None],
        "meta": {"urgent": False},
    }
    assert http_server.requests[-1]["headers"]["Content-Type"] == "application/json"


def test_headers_get_environment_variables_at_call_time(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(method="GET", url=http_server.base_url + "/me", headers={"Authorization": "Bearer ${API_TOKEN}"})
    call_http(binding, {}, environ={"API_TOKEN": "s3cret"})
    assert http_server.requests[-1]["headers"]["Authorization"] == "Bearer s3cret"


def test_a_missing_environment_variable_is_an_error_and_nothing_is_sent(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(method="GET", url=http_server.base_url + "/me", headers={"Authorization": "Bearer ${API_TOKEN}"})
    result = call_http(binding, {}, environ={})
    assert json.loads(result.output) == {
        "error": "missing_environment_variable",
        "message": "header 'Authorization' needs ${API_TOKEN}, which is not set",
    }
    assert result.error == "missing_environment_variable: header 'Authorization' needs ${API_TOKEN}, which is not set"
    assert http_server.requests == []


def test_a_non_2xx_status_is_an_error_with_a_short_body_excerpt(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/missing/{{ user }}"), {"user": "u1"})
    output = json.loads(result.output)
    assert output["error"] == "http_status" and output["status"] == 404
    assert output["message"] == f"GET {http_server.base_url}/missing/u1 returned 404 Not Found"
    assert output["body"] == ("no such user\n" + "z" * 1000)[:300]
    assert result.error == f"http_status: GET {http_server.base_url}/missing/u1 returned 404 Not Found"


def test_error_messages_never_show_environment_values(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(method="GET", url=http_server.base_url + "/missing?key=${API_KEY}")
    result = call_http(binding, {}, environ={"API_KEY": "s3cret"})
    assert http_server.requests[-1]["path"] == "/missing?key=s3cret"
    assert "s3cret" not in result.output and "s3cret" not in (result.error or "")
    assert json.loads(result.output)["message"] == f"GET {http_server.base_url}/missing?key=${{API_KEY}} returned 404 Not Found"


def test_redirects_are_not_followed(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/moved"), {})
    assert json.loads(result.output)["status"] == 302
    assert [r["path"] for r in http_server.requests] == ["/moved"]


def test_a_text_response_is_returned_as_text(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    assert call_http(HttpBinding(method="GET", url=http_server.base_url + "/text"), {}).output == "plain words"


def test_the_binding_timeout_gives_a_timeout_result(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/slow", timeout=0.1), {})
    assert json.loads(result.output) == {"error": "timeout", "message": f"GET {http_server.base_url}/slow did not answer within 0.1 s"}


def test_the_tool_timeout_applies_when_the_binding_has_none(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/slow"), {}, timeout=0.1)
    assert json.loads(result.output)["error"] == "timeout"


def test_a_large_response_is_capped(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/missing"), {}, limits=Limits(tool_output_max_chars=120))
    assert len(result.output) <= 120 and json.loads(result.output)["truncated"] is True
    assert result.error == f"http_status: GET {http_server.base_url}/missing returned 404 Not Found"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "refused to call 169.254.169.254: it is a link-local or cloud metadata address"),
        ("http://169.254.10.20:8080/", "refused to call 169.254.10.20: it is a link-local or cloud metadata address"),
        ("http://[fe80::1]/", "refused to call fe80::1: it is a link-local or cloud metadata address"),
        ("http://[fd00:ec2::254]/", "refused to call fd00:ec2::254: it is a link-local or cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "refused to call ::ffff:169.254.169.254: it is a link-local or cloud metadata address"),
        ("http://100.100.100.200/latest/meta-data/", "refused to call 100.100.100.200: it is a link-local or cloud metadata address"),
        ("http://168.63.129.16/", "refused to call 168.63.129.16: it is a link-local or cloud metadata address"),
        ("http://192.0.0.192/", "refused to call 192.0.0.192: it is a link-local or cloud metadata address"),
        ("http://[::169.254.169.254]/", "refused to call ::169.254.169.254: it is a link-local or cloud metadata address"),
        ("http://[64:ff9b::a9fe:a9fe]/", "refused to call 64:ff9b::a9fe:a9fe: it is a link-local or cloud metadata address"),
        ("http://[2002:a9fe:a9fe::1]/", "refused to call 2002:a9fe:a9fe::1: it is a link-local or cloud metadata address"),
        ("http://[64:ff9b::6464:64c8]/", "refused to call 64:ff9b::6464:64c8: it is a link-local or cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "refused to call metadata.google.internal: it is a cloud metadata host"),
    ],
)
def test_link_local_and_metadata_addresses_are_refused(url: str, message: str, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=url), {})
    advice = " (set allow_private: true on the binding to allow it)"
    assert json.loads(result.output) == {"error": "address_refused", "message": message + advice}
    assert result.error == "address_refused: " + message + advice


def test_allow_private_lets_the_request_through_to_the_network(call_http: Callable[..., ToolResult]) -> None:
    url = "http://169.254.0.1:9/"  # link-local discard port: refused above, attempted here
    assert json.loads(call_http(HttpBinding(method="GET", url=url, timeout=0.2), {}).output)["error"] == "address_refused"
    output = json.loads(call_http(HttpBinding(method="GET", url=url, timeout=0.2, allow_private=True), {}).output)
    assert output["error"] != "address_refused"
    assert output["message"].startswith("GET http://169.254.0.1:9/ ")


def test_an_undefined_template_variable_is_an_error_naming_it(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/users/{{ user_id }}"), {})
    assert json.loads(result.output) == {"error": "template_error", "message": "rendering the request failed: 'user_id' is undefined"}
    assert http_server.requests == []


def test_templates_are_sandboxed(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(method="POST", url=http_server.base_url + "/x", body={"leak": "{{ name.__class__.__mro__ }}"})
    result = call_http(binding, {"name": "x"})
    assert json.loads(result.output)["error"] == "template_error"
    assert http_server.requests == []


@pytest.mark.parametrize("value", ["..", "."])
def test_a_dot_segment_from_an_argument_is_refused_and_nothing_is_sent(value: str, http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    binding = HttpBinding(method="POST", url=http_server.base_url + "/v1/users/{{ id }}/delete")
    result = call_http(binding, {"id": value})
    shown = f"{http_server.base_url}/v1/users/{value}/delete"
    message = f"{shown} has a {value!r} path segment: an argument may not change which path is called"
    assert json.loads(result.output) == {"error": "invalid_url", "message": message}
    assert http_server.requests == []


def test_dots_inside_a_segment_are_sent_as_they_are(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/v1/files/{{ name }}?v={{ v }}"), {"name": "...", "v": ".."})
    assert json.loads(result.output)["path"] == "/v1/files/...?v=.."


def test_reading_an_endless_response_stops_at_the_cap(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/endless"), {}, timeout=60)
    message = f"GET {http_server.base_url}/endless sent more than 1,000,000 bytes; the rest was not read"
    assert json.loads(result.output) == {"error": "response_too_large", "message": message, "limit_bytes": 1_000_000}
    assert result.error == f"response_too_large: {message}"


def test_the_read_cap_grows_with_a_larger_output_limit(http_server: Any, call_http: Callable[..., ToolResult]) -> None:
    result = call_http(HttpBinding(method="GET", url=http_server.base_url + "/endless"), {}, timeout=60, limits=Limits(tool_output_max_chars=500_000))
    assert json.loads(result.output)["limit_bytes"] == 2_000_000
