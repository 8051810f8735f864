"""Deliver a finished analysis to a webhook: signed, retried with backoff, every attempt recorded.

The body is signed with HMAC-SHA256 under a shared secret, sent as
`X-Runner-Signature: sha256=<hex>` (the receiver recomputes it over the raw body it got).
Connection errors, timeouts, 429 and 5xx are retried, waiting `backoff` seconds and
doubling; any other answer is final. Nothing raises: the outcome is data for analysis.json.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any, Mapping

from .config import interpolate_env
from .config.analysis import Webhook

SIGNATURE_HEADER = "X-Runner-Signature"
SESSION_HEADER = "X-Runner-Session"
BACKOFF = 0.5  # seconds before the second attempt; doubled before each later one
_RETRIED_STATUS = frozenset({408, 425, 429})


def signature(body: bytes, secret: str) -> str:
    """The header value a receiver checks: `sha256=` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(
    webhook: Webhook, body: bytes, *, session_id: str, environ: Mapping[str, str], shown_url: Any = None, backoff: float = BACKOFF
) -> dict[str, Any]:
    """POST `body` to the webhook; returns `{url, signed, delivered, attempts: [{status, error}], error}`.

    `shown_url(url)` gives the URL as it may be recorded (secrets from `${ENV}` masked).
    """
    import httpx

    url, missing = interpolate_env(webhook.url, environ)
    record: dict[str, Any] = {"url": shown_url(url) if shown_url else url, "signed": False, "delivered": False, "attempts": [], "error": None}
    if missing:
        record["error"] = f"not sent: environment variable {missing[0]} is not set"
        return record
    headers = {"Content-Type": "application/json", SESSION_HEADER: session_id}
    if webhook.secret_env is not None:
        secret = environ.get(webhook.secret_env)
        if not secret:
            record["error"] = f"not sent: environment variable {webhook.secret_env} (the signing secret) is not set, and the body is never sent unsigned"
            return record
        headers[SIGNATURE_HEADER] = signature(body, secret)
        record["signed"] = True
    async with httpx.AsyncClient(timeout=webhook.timeout, follow_redirects=False) as client:
        for attempt in range(webhook.attempts):
            if attempt:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
            status, error = await _attempt(client, url, body, headers, webhook.timeout)
            record["attempts"].append({"status": status, "error": error})
            if status is not None and 200 <= status < 300:
                record["delivered"] = True
                return record
            if status is not None and status < 500 and status not in _RETRIED_STATUS:
                break
    last = record["attempts"][-1]
    tried = f"{len(record['attempts'])} attempt" + ("s" if len(record["attempts"]) > 1 else "")
    record["error"] = f"not delivered after {tried}: " + (last["error"] or f"HTTP {last['status']}")
    return record


async def _attempt(client: Any, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    import httpx

    try:
        answer = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return None, f"no answer within {timeout:g} s"
    except httpx.HTTPError as error:
        return None, f"cannot reach the webhook: {error or type(error).__name__}"
    if 200 <= answer.status_code < 300:
        return answer.status_code, None
    return answer.status_code, f"HTTP {answer.status_code}"
