"""Webhooks signed the way the service signs them (Standard Webhooks), for `realtime.call.incoming`.

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`); a `whsec_` secret is the
base64 of the key, any other secret is the key's own bytes, as in the SDK's verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Sequence

import httpx

DELIVERY_TIMEOUT = 30.0  # the service gives an endpoint a while to answer; a test server may be slow under load


def new_secret() -> str:
    """A fresh `whsec_` secret, like the one the platform shows for a webhook endpoint."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """`v1,<base64>`: the HMAC-SHA256 of `id.timestamp.body` under the secret's key."""
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def signed_headers(secrets_: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers; several secrets give several space-separated signatures (a rotation)."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(secret, webhook_id, timestamp, body) for secret in secrets_),
        "content-type": "application/json",
    }


def incoming_call_event(call_id: str, sip_headers: Sequence[tuple[str, str]], *, event_id: str | None = None) -> dict[str, Any]:
    """A `realtime.call.incoming` event, shaped as `RealtimeCallIncomingWebhookEvent`."""
    return {
        "id": event_id or f"evt_sim{secrets.token_hex(8)}",
        "object": "event",
        "type": "realtime.call.incoming",
        "created_at": int(time.time()),
        "data": {"call_id": call_id, "sip_headers": [{"name": name, "value": value} for name, value in sip_headers], "sip_media_security": "srtp"},
    }


class WebhookSender:
    """Delivers events to one webhook URL, signed with `secret` (`whsec_...`).

    `send` returns the endpoint's response; `timestamp` and `webhook_id` may be given to
    replay a delivery or to send a stale one, `secret` to sign with the wrong key.
    """

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self.deliveries: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, status

    async def send(self, event: dict[str, Any], *, webhook_id: str | None = None, timestamp: int | None = None, secret: str | None = None) -> httpx.Response:
        body = json.dumps(event).encode()
        delivery_id = webhook_id or f"wh_sim{secrets.token_hex(8)}"
        headers = signed_headers([secret or self.secret], delivery_id, int(time.time()) if timestamp is None else timestamp, body)
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
            response = await client.post(self.url, content=body, headers=headers)
        self.deliveries.append((headers, body, response.status_code))
        return response
