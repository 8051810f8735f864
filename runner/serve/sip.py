"""Phone calls through the Realtime SIP endpoint: a signed webhook, an accept, a sideband conversation.

- `POST /openai/webhook`: the project's webhook. The body is verified with the SDK
  (`client.webhooks.unwrap` over the raw bytes) against `OPENAI_WEBHOOK_SECRET` (several
  secrets separated by commas while one is rotated); a bad or stale signature is 400 and
  nothing else happens. `realtime.call.incoming` is answered: the call id is claimed in
  the claim store (one handler per call across every worker, whatever the retries), the
  start agent is chosen by the called number (the config's `sip.numbers`, else `start`),
  and the call is accepted with that agent's session compiled for SIP (no audio formats:
  the carrier negotiates G.711). The sideband conversation by call id then runs the
  tools, handoffs and guardrails, greeting first. At capacity the call is rejected (486
  Busy Here); a 404 on accept means the caller already left.

On a GPT-Live target the webhook is `live.transport.incoming` (the pending session's
`live_...` id in place of the call id, claimed and verified the same way), the answer is
`live.sessions.accept` with the start agent's Live session (`type: live`, no audio format),
and reject, transfer and hangup are the Live sessions' verbs. The call's other webhook,
`realtime.call.incoming`, is left to a Realtime project (the first accept decides).

The carrier plays the audio, so the end of the session (a goodbye, a limit, an
`end_session` guardrail) waits until the last line was heard, then hangs up; a handoff to
an agent bound to a phone number (`transfer_to`) says its short line and then transfers
the call there (`calls.refer`). The sideband closing means the caller hung up.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .calls import ActiveCall, CallFeed
from .server import Server, error

if TYPE_CHECKING:
    from .store import ClaimStore

logger = logging.getLogger(__name__)

SECRET_VARIABLE = "OPENAI_WEBHOOK_SECRET"
MAX_WEBHOOK_BYTES = 256 * 1024  # a call's webhook is a few SIP headers
BUSY_HERE = 486
SERVER_ERROR = 500
SERVICE_UNAVAILABLE = 503  # draining: this worker takes no new calls
_SIP_USER = re.compile(r"<?(?:sips?|tel):([^@;>]+)")


def routes(server: Server) -> list[BaseRoute]:
    phone = SipCalls(server)
    server.on_close.append(phone.aclose)

    async def webhook(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_WEBHOOK_BYTES:
                return error(413, f"the webhook body is larger than {MAX_WEBHOOK_BYTES // 1024} kB")
        return await phone.webhook(bytes(body), dict(request.headers))

    return [Route("/openai/webhook", webhook, methods=["POST"])]


class SipCalls:
    """Incoming SIP calls on one app: verify, claim, accept or reject, then serve the sideband."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._store: ClaimStore | None = None

    @property
    def secrets(self) -> list[str]:
        raw = self.server.project.environ.get(SECRET_VARIABLE, "")
        return [secret.strip() for secret in raw.split(",") if secret.strip()]

    def store(self) -> ClaimStore:
        if self._store is None:
            from .store import open_claim_store

            self._store = open_claim_store(self.server.project.environ, self.server.project.config.state_dir)
        return self._store

    async def webhook(self, body: bytes, headers: Mapping[str, str]) -> Response:
        secrets = self.secrets
        if not secrets:
            logger.error("a webhook arrived but %s is not set: set it to the webhook's signing secret", SECRET_VARIABLE)
            return error(500, f"{SECRET_VARIABLE} is not set on the server: it cannot verify webhooks")
        event = self._verified(body, headers, secrets)
        if isinstance(event, Response):
            return event
        if event.type != ("live.transport.incoming" if self.live else "realtime.call.incoming"):
            return JSONResponse({"ignored": event.type})
        call_id = event.data.session_id if self.live else event.data.call_id
        return await self.incoming(call_id, [(header.name, header.value) for header in event.data.sip_headers])

    @property
    def live(self) -> bool:
        return self.server.project.config.target == "live"

    def _calls_api(self) -> Any:
        """Where accept, reject, refer and hangup go: the Realtime calls, or the Live sessions."""
        client = self.server.running_calls.client
        return client.live.sessions if self.live else client.realtime.calls

    def _accepted_session(self, compiled: Any, values: Mapping[str, Any], start: str) -> dict[str, Any]:
        """The start agent's session as accept takes it (on GPT-Live: compiled for SIP, `type: live`)."""
        if not self.live:
            return dict(compiled[start].session)
        from runner.compile_live import compile_live

        project = self.server.project
        program = compile_live(project.config, values=values, guardrails_enabled=project.guardrails_enabled, environ=project.environ, transport="sip")
        return {"session": {"type": "live", **program.agents[start].start_session}}

    def _verified(self, body: bytes, headers: Mapping[str, str], secrets: list[str]) -> Any:
        """The SDK's parsed event when one of the secrets signed it, else the 400 that says why not."""
        import openai

        problem = "no signature"
        for secret in secrets:
            try:
                return self.server.running_calls.client.webhooks.unwrap(body, headers, secret=secret)
            except openai.InvalidWebhookSignatureError as refused:
                problem = str(refused)
            except ValueError as refused:  # a header is missing, or the body is not JSON
                problem = str(refused)
                break
        logger.warning("webhook refused: %s", problem)
        return error(400, f"invalid webhook: {problem}")

    async def incoming(self, call_id: str, sip_headers: list[tuple[str, str]]) -> Response:
        """Answer one incoming call, once: a duplicate delivery (here or on another worker) is acknowledged only."""
        import openai

        from runner.host.errors import SetupError

        from .store import ClaimStoreError

        try:
            claimed = await self.store().claim(call_id)
        except ClaimStoreError as failure:
            logger.error("call %s: %s", call_id, failure)
            return error(500, str(failure))
        if not claimed:
            logger.info("call %s: duplicate webhook, already handled", call_id)
            return JSONResponse({"call_id": call_id, "duplicate": True})
        service, host = self.server.running_calls, self.server.running_host
        if self.server.draining:
            logger.warning("call %s: draining: rejected with %d", call_id, SERVICE_UNAVAILABLE)
            return await self._reject(call_id, SERVICE_UNAVAILABLE)
        if max(host.open_count, len(service.calls)) >= host.max_conversations:
            logger.warning("call %s: at capacity (%d calls): rejected with %d", call_id, host.max_conversations, BUSY_HERE)
            return await self._reject(call_id, BUSY_HERE)
        called = _user_of(_header(sip_headers, "To"))
        caller = _user_of(_header(sip_headers, "From"))
        start = self.server.project.config.sip_numbers.get(called or "") if called else None
        variables = _declared(self.server.project.config, {"caller_number": caller, "called_number": called})
        try:
            compiled, values, start = host.project.agents(text=False, variables=variables, start=start, channel="sip")
        except SetupError as failure:  # variables the call cannot supply
            logger.error("call %s: cannot compile the start agent: %s", call_id, failure)
            return await self._reject(call_id, SERVER_ERROR)
        try:
            await self._calls_api().accept(call_id, **self._accepted_session(compiled, values, start))
        except openai.NotFoundError:
            logger.info("call %s: the caller left before the call was accepted", call_id)
            return JSONResponse({"call_id": call_id, "gone": True})
        except openai.APIError as failure:
            await self.store().release(call_id)  # the retry of this webhook may do better
            logger.error("call %s: accept failed: %s", call_id, failure)
            return error(502, f"accepting call {call_id} failed: {failure}")
        call = ActiveCall(call_id, CallFeed(call_id, service.redactor))
        service.calls[call_id] = call
        call.task = asyncio.get_running_loop().create_task(self._serve(call, variables, start), name=f"sip call {call_id}")
        try:
            await asyncio.shield(call.ready)
        except Exception as failure:
            return error(502, f"call {call_id} was accepted but its sideband did not open: {failure}")
        return JSONResponse({"call_id": call_id, "accepted": True, "agent": start})

    async def _reject(self, call_id: str, status: int) -> Response:
        import openai

        try:
            await self._calls_api().reject(call_id, status_code=status)
        except openai.NotFoundError:
            logger.info("call %s: the caller left before the call was rejected", call_id)
        except openai.APIError as failure:
            logger.error("call %s: reject failed: %s", call_id, failure)
        return JSONResponse({"call_id": call_id, "rejected": status})

    async def _serve(self, call: ActiveCall, variables: Mapping[str, str], start: str) -> None:
        """The call's conversation from sideband open to close; then a transfer, or a hangup."""
        from runner.core.records import CallTransferRequested

        service = self.server.running_calls
        transfer: list[str] = []
        settled = False  # referred or hung up already

        def on_record(record: Any, t: float) -> None:
            call.feed.record(record, t)
            if isinstance(record, CallTransferRequested):
                transfer.append(record.target_uri)

        try:
            async with service.host.open(call_id=call.call_id, variables=variables, start=start, channel="sip",
                                         session_dir=service.session_dir, on_record=on_record, on_event=call.feed.event,
                                         records=False) as conversation:
                call.conversation = conversation
                call.ready.set_result(None)
                await conversation.driver.wait_ended()
                # The core ends a session that ends itself once its last line was heard (the
                # service reports the playing); transfer or hang up while the sideband holds the call.
                settled = await self._settle(call.call_id, transfer)
        except Exception as failure:
            if not call.ready.done():
                call.ready.set_exception(failure)
            logger.error("call %s: %s", call.call_id, failure)
        finally:
            if not call.ready.done():
                call.ready.cancel()
            if not settled:
                await self._settle(call.call_id, transfer)
            service.retire(call, call.conversation.outcome if call.conversation is not None else None)

    async def _settle(self, call_id: str, transfer: list[str]) -> bool:
        """Transfer the call when the session asked for it (and the transfer works), else hang up."""
        if not (transfer and await self._refer(call_id, transfer[0])):
            await self._hang_up(call_id)
        return True

    async def _refer(self, call_id: str, target_uri: str) -> bool:
        import openai

        try:
            await self._calls_api().refer(call_id, target_uri=target_uri)
        except openai.APIError as failure:
            logger.error("call %s: transfer to %s failed (is Call Transfer enabled on the SIP trunk?): %s", call_id, target_uri, failure)
            return False
        logger.info("call %s: transferred to %s", call_id, target_uri)
        return True

    async def _hang_up(self, call_id: str) -> None:
        import openai

        try:
            await self._calls_api().hangup(call_id)
        except openai.NotFoundError:  # the caller hung up first
            logger.debug("call %s was already over when it was hung up", call_id)
        except openai.APIError as failure:
            logger.warning("call %s: hangup failed: %s", call_id, failure)

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.aclose()
            self._store = None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def _user_of(uri: str | None) -> str | None:
    """`+15551230000` from `<sip:+15551230000@host>;tag=...` (SIP headers are untrusted: only this part is used)."""
    match = _SIP_USER.search(uri or "")
    return match.group(1)[:64] if match else None


def _declared(config: Any, offered: Mapping[str, str | None]) -> dict[str, str]:
    """The call's numbers as template variables, for the projects that declare them."""
    return {name: value for name, value in offered.items() if value is not None and name in config.variables}
