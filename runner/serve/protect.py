"""Protection around every route: a body cap, CORS for the allow-list only, a bearer token, a rate limit.

- Bodies larger than `max_body_bytes` are refused with 413 (by Content-Length, or while
  the body streams in).
- CORS headers only for origins on the allow-list (none: no CORS at all).
- With an admin token (RUNNER_ADMIN_TOKEN), the web client's routes (`/calls...`,
  `/token`) and `/admin/...` need `Authorization: Bearer <token>`; without one, `/admin/...`
  answers loopback clients only. Health, readiness and metrics stay open for probes.
- New calls (`POST /calls`, `POST /token`) are limited per client address to
  `rate_limit_rpm` a minute (429 with Retry-After), and refused with 503 while draining.

The rate limiter is an interface (`RateLimiter.allow`); the default counts in the store
every worker shares (runner/serve/shared.py), fixed one-minute windows per address.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from typing import Any, Awaitable, Callable, Protocol

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from .server import Server
from .shared import shared_of
from .store import ClaimStoreError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CALL_CREATION = {("POST", "/calls"), ("POST", "/token")}
DRAINING_MESSAGE = "the server is shutting down and takes no new calls; try again (another instance will answer)"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class RateLimiter(Protocol):
    async def allow(self, key: str, now: float) -> float | None:
        """None when `key` may go ahead (and counts it), else the seconds until it may; `now` is Unix time."""
        ...


def middleware(server: Server, limiter: RateLimiter | None = None) -> list[Middleware]:
    """The app's middleware, outermost first: CORS (so refusals are readable by an allowed page), then protection."""
    options = server.options
    stack = []
    if options.cors_origins:
        stack.append(Middleware(CORSMiddleware, allow_origins=list(options.cors_origins), allow_methods=["GET", "POST"],
                                allow_headers=["Authorization", "Content-Type"], expose_headers=["Location"], max_age=600))
    if limiter is None:
        limiter = shared_of(server).limiter
    stack.append(Middleware(Protection, server=server, limiter=limiter))
    return stack


class Protection:
    """A pure ASGI middleware (WebSockets pass through untouched: each channel checks its own)."""

    def __init__(self, app: ASGIApp, server: Server, limiter: RateLimiter | None) -> None:
        self.app = app
        self.server = server
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self.refusal(scope)
        if refusal is not None:
            if refusal[0] != 413:  # read what the client is still sending, so the refusal is not cut off by a reset
                await _discard_body(receive, self.server.options.max_body_bytes)
            await _respond(send, *refusal)
            return
        await self._capped(scope, receive, send)

    async def refusal(self, scope: Scope) -> tuple[int, str, dict[str, str]] | None:
        """(status, message, headers) when the request must not reach the app."""
        options = self.server.options
        path, method = scope["path"], scope["method"]
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > options.max_body_bytes:
            return 413, f"the request body is larger than {options.max_body_bytes} bytes", {}
        admin = path == "/admin" or path.startswith("/admin/")
        web_client = path in ("/calls", "/token") or path.startswith("/calls/")
        client = (scope.get("client") or ("", 0))[0]
        if (admin or web_client) and options.admin_token is not None and method != "OPTIONS":
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), options.admin_token.encode()):
                return 401, "this route needs Authorization: Bearer <token> (the server's RUNNER_ADMIN_TOKEN)", {"WWW-Authenticate": "Bearer"}
        elif admin and options.admin_token is None and client not in LOOPBACK:
            return 403, "the admin routes answer loopback clients only unless RUNNER_ADMIN_TOKEN is set", {}
        if (method, path) in CALL_CREATION:
            if self.server.draining:
                return 503, DRAINING_MESSAGE, {"Retry-After": "5", "Connection": "close"}
            if self.limiter is not None:
                try:
                    wait = await self.limiter.allow(client, time.time())
                except ClaimStoreError as failure:
                    return 503, f"new calls are refused: the rate limit cannot be counted: {failure}", {"Retry-After": "5"}
                if wait is not None:
                    retry = max(1, math.ceil(wait))
                    return 429, f"too many new calls from {client}: at most {options.rate_limit_rpm} a minute; retry in {retry} s", {"Retry-After": str(retry)}
        return None

    async def _capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, refusing a body that grows past the cap while it streams in."""
        limit = self.server.options.max_body_bytes
        received = 0
        refused = False
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _respond(send, 413, f"the request body is larger than {limit} bytes", {})
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except ClientDisconnect:
            if not refused:
                raise  # a client that really left


async def _discard_body(receive: Receive, limit: int) -> None:
    """Read a refused request's body (at most `limit` bytes) and drop it."""
    received = 0
    while received <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _respond(send: Send, status: int, message: str, headers: dict[str, str]) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(key.lower().encode(), value.encode()) for key, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
