"""HTTP tool bindings: a templated request per call, with an address guard.

Every failure comes back as an `{"error": ...}` object (never an exception), so the
executor treats it like any tool-reported error: the model sees it, reports count it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

import httpx
from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from runner.config.binding_checks import interpolate_env
from runner.config.model import HttpBinding

BODY_EXCERPT_CHARS = 300  # how much of a failed response's body the model is shown
RESPONSE_MAX_BYTES = 1_000_000  # a body is read no further than this (the model sees far less anyway)
_SINGLE_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_DOT_SEGMENTS = frozenset({".", ".."})
_OMITTED = object()  # a body value whose argument the model left out


def _text_value(value: Any) -> str:
    """How an argument looks inside a rendered string: JSON spelling for non-strings."""
    if isinstance(value, (str, Undefined)):
        return str(value)  # str() of a StrictUndefined raises the error naming the variable
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _url_value(value: Any) -> str:
    return quote(_text_value(value), safe="")


_TEXT_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, finalize=_text_value, autoescape=False)
_URL_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, finalize=_url_value, autoescape=False)


def _failure(code: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **fields}


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4, Teredo client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).partition("%")[0])
        embedded = _embedded_ipv4(address)
        if embedded is not None and _is_forbidden(embedded):
            return True
    return address in _METADATA_ADDRESSES or address.is_link_local


def _dot_segment(url: str) -> str | None:
    """A `.` or `..` segment in the path of `url` as rendered, which httpx would resolve away."""
    return next((segment for segment in urlsplit(url).path.split("/") if segment in _DOT_SEGMENTS), None)


async def _address_refusal(host: str, port: int) -> str | None:
    """Why `host` must not be called, or None. Checks every address it resolves to."""
    advice = "(set allow_private: true on the binding to allow it)"
    if host.lower().rstrip(".") in _METADATA_HOSTS:
        return f"refused to call {host}: it is a cloud metadata host {advice}"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if _is_forbidden(literal):
            return f"refused to call {host}: it is a link-local or cloud metadata address {advice}"
        return None
    loop = asyncio.get_running_loop()
    try:
        resolved = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return None  # nothing to refuse: the request itself fails and says why
    for address in sorted({ipaddress.ip_address(info[4][0]) for info in resolved}, key=str):
        if _is_forbidden(address):
            return f"refused to call {host}: it resolves to {address}, a link-local or cloud metadata address {advice}"
    return None


class HttpCaller:
    """Sends the requests of `http:` tool bindings through one shared `httpx.AsyncClient`.

    Redirects are not followed: a redirect could lead past the address guard, and a
    3xx comes back as an error result instead. The guard checks the addresses the host
    resolves to just before the request; httpx resolves again to connect, so a DNS
    server that answers differently the second time is not stopped.

    A rendered url with a `.` or `..` path segment is refused: an argument such as `..`
    in `/users/{{ id }}/delete` would otherwise call `/delete`. A response body is read
    up to `max_response_bytes`; a longer one is a `response_too_large` result.
    """

    def __init__(self, *, environ: Mapping[str, str], max_response_bytes: int = RESPONSE_MAX_BYTES) -> None:
        self._environ = environ
        self._max_response_bytes = max_response_bytes
        self._client = httpx.AsyncClient(follow_redirects=False)
        self._templates: dict[tuple[str, bool], Template] = {}

    async def call(self, binding: HttpBinding, arguments: Mapping[str, Any], timeout: float) -> Any:
        """Send the request for one call; the parsed response, or an `{"error": ...}` object."""
        url_source, missing = interpolate_env(binding.url, self._environ)
        if missing:
            return _failure("missing_environment_variable", f"the url needs ${{{missing[0]}}}, which is not set")
        headers = {}
        for header, template in binding.headers.items():
            headers[header], missing = interpolate_env(template, self._environ)
            if missing:
                return _failure("missing_environment_variable", f"header {header!r} needs ${{{missing[0]}}}, which is not set")
        try:
            rendered_url = self._template(url_source, for_url=True).render(arguments)
            url = httpx.URL(rendered_url)
            body = _OMITTED if binding.body is None else self._render_body(binding.body, arguments)
        except TemplateError as exc:
            return _failure("template_error", f"rendering the request failed: {exc.message or type(exc).__name__}")
        except httpx.InvalidURL as exc:
            return _failure("invalid_url", f"the rendered url is not valid: {exc}")
        shown = self._display_url(binding, arguments)
        if url.scheme not in ("http", "https") or not url.host:
            return _failure("invalid_url", f"{shown} is not an http(s) url with a host")
        dot_segment = _dot_segment(rendered_url)
        if dot_segment is not None:
            return _failure("invalid_url", f"{shown} has a {dot_segment!r} path segment: an argument may not change which path is called")
        if not binding.allow_private:
            refusal = await _address_refusal(url.host, url.port or (443 if url.scheme == "https" else 80))
            if refusal is not None:
                return _failure("address_refused", refusal)
        request = {"headers": headers, "timeout": timeout}
        if body is not _OMITTED:
            request["json"] = body
        try:
            async with self._client.stream(binding.method, url, **request) as response:
                body, complete = await _read_capped(response, self._max_response_bytes)
        except httpx.TimeoutException:
            return _failure("timeout", f"{binding.method} {shown} did not answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return _failure("http_request_failed", f"{binding.method} {shown} failed: {type(exc).__name__}: {exc}")
        if not response.is_success:
            excerpt = body[: BODY_EXCERPT_CHARS * 4].decode(response.encoding or "utf-8", errors="replace")[:BODY_EXCERPT_CHARS]
            message = f"{binding.method} {shown} returned {response.status_code} {response.reason_phrase}".rstrip()
            return _failure("http_status", message, status=response.status_code, body=excerpt)
        if not complete:
            limit = self._max_response_bytes
            message = f"{binding.method} {shown} sent more than {limit:,} bytes; the rest was not read"
            return _failure("response_too_large", message, limit_bytes=limit)
        return _parse_body(response, body)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _template(self, source: str, *, for_url: bool) -> Template:
        key = (source, for_url)
        template = self._templates.get(key)
        if template is None:
            template = (_URL_TEMPLATES if for_url else _TEXT_TEMPLATES).from_string(source)
            self._templates[key] = template
        return template

    def _render_body(self, value: Any, arguments: Mapping[str, Any]) -> Any:
        """Render string templates; `"{{ name }}"` alone keeps the argument's JSON type.

        An optional argument the model left out is left out of the body too (null in a list).
        """
        if isinstance(value, str):
            single = _SINGLE_REFERENCE.fullmatch(value)
            if single:
                return arguments.get(single[1], _OMITTED)
            return self._template(value, for_url=False).render(arguments)
        if isinstance(value, Mapping):
            rendered = ((key, self._render_body(item, arguments)) for key, item in value.items())
            return {key: item for key, item in rendered if item is not _OMITTED}
        if isinstance(value, (list, tuple)):
            return [None if item is _OMITTED else item for item in (self._render_body(v, arguments) for v in value)]
        return value

    def _display_url(self, binding: HttpBinding, arguments: Mapping[str, Any]) -> str:
        """The url for messages: `${NAME}` kept as written, so no secret reaches the model or logs."""
        try:
            return self._template(binding.url, for_url=True).render(arguments)
        except TemplateError:
            return binding.url


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the (decoded) body, and whether that is all of it."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), False
    return bytes(body), True


def _parse_body(response: httpx.Response, body: bytes) -> Any:
    text = body.decode(response.encoding or "utf-8", errors="replace")
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            return text
    return text
