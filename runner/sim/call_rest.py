"""The simulator's calls API: `/v1/realtime/calls`, its verbs, and `/v1/realtime/client_secrets`.

Bodies are checked against the `openai` SDK's parameter types (a session as in
`session.update`, `target_uri` for refer, `status_code` for reject) and refused in the
API's error shape; an unknown or ended call is 404. `accept`, `reject` and `refer` act
on incoming SIP calls (runner/sim/sip_calls.py) and are refused for WebRTC calls with 400.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from . import session_config
from .client_events import refusal
from .session_config import DEFAULT_MODEL
from .sip_calls import SimSipCall

if TYPE_CHECKING:
    from .server import Simulator

Answer = tuple[int, bytes, dict[str, str]]  # status, body, extra headers (content-type included)

_CALL_VERB = re.compile(r"^/v1/realtime/calls/([^/]+)/(accept|hangup|refer|reject)$")
SECRET_SECONDS = (10, 7200)
DEFAULT_SECRET_SECONDS = 600


def handles(path: str) -> bool:
    return path in ("/v1/realtime/calls", "/v1/realtime/client_secrets") or _CALL_VERB.match(path) is not None


async def answer(sim: Simulator, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    if method != "POST":
        return _error(404, f"Invalid URL ({method} {path})")
    if path == "/v1/realtime/calls":
        return await _create_call(sim, headers.get("content-type", ""), body)
    if path == "/v1/realtime/client_secrets":
        return _client_secret(body)
    match = _CALL_VERB.match(path)
    assert match is not None
    return await _call_verb(sim, match.group(1), match.group(2), body)


async def _create_call(sim: Simulator, content_type: str, body: bytes) -> Answer:
    from .webrtc import BadOffer, check_offer

    if content_type.startswith("application/sdp"):
        sdp, session = body.decode("utf-8", "replace"), {}
    elif content_type.startswith("multipart/form-data"):
        parts = _form_parts(content_type, body)
        if "sdp" not in parts:
            return _error(400, "Missing required parameter: 'sdp'.", param="sdp", code="missing_required_parameter")
        sdp = parts["sdp"].decode("utf-8", "replace")
        try:
            session = json.loads(parts["session"]) if "session" in parts else {}
        except ValueError:
            return _error(400, "Invalid 'session': expected a JSON object.", param="session")
    else:
        return _error(400, f"Unsupported content type {content_type or 'none'!r}: send the SDP offer as application/sdp or as multipart/form-data with an 'sdp' part.")
    problem = _session_problem(session)
    if problem is not None:
        return problem
    try:
        check_offer(sdp)
    except BadOffer as bad:
        return _error(400, f"Invalid 'sdp': {bad}", param="sdp")
    call = sim.calls.new(session.get("model") or DEFAULT_MODEL)
    call.session.session = session_config.merged(call.session.session, session)
    call.session._configure_vad()
    try:
        answer_sdp = await call.answer(sdp)
    except Exception as failure:  # aiortc refuses what it cannot negotiate (no common codec, say)
        await call.end("the offer could not be negotiated")
        return _error(400, f"Invalid 'sdp': the offer could not be negotiated: {failure}", param="sdp")
    return 201, answer_sdp.encode(), {"content-type": "application/sdp", "location": f"/v1/realtime/calls/{call.id}"}


def _json_object(body: bytes) -> dict[str, Any] | Answer:
    """The request's JSON object (an empty body is `{}`), or the 400 the service gives instead."""
    try:
        params = json.loads(body) if body.strip() else {}
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    if not isinstance(params, dict):
        return _error(400, "The request body must be a JSON object.")
    return params


async def _call_verb(sim: Simulator, call_id: str, verb: str, body: bytes) -> Answer:
    params = _json_object(body)
    if not isinstance(params, dict):
        return params
    problem = _verb_problem(verb, params)
    if problem is not None:
        return problem
    call = sim.calls.get(call_id)
    if call is None:
        return _error(404, f"Call with id '{call_id}' not found.", code="call_not_found", error_type="invalid_request_error")
    if verb == "hangup":
        await call.end("hung up through the calls API")
        return 200, b"", {"content-type": "application/json"}
    if not isinstance(call, SimSipCall):
        return _error(400, f"Call '{call_id}' is a WebRTC call: {verb} applies only to incoming SIP calls.", code="invalid_call_state")
    return await _sip_verb(call, verb, params)


async def _sip_verb(call: SimSipCall, verb: str, params: dict[str, Any]) -> Answer:
    """accept (ringing calls only), reject (ringing), refer (answered); each answers 200 with no body."""
    if verb == "accept":
        refused = call.accept(params)
        if refused is not None:
            return _error(400, refused, code="invalid_call_state" if "not ringing" in refused else "invalid_value")
    elif verb == "reject":
        if call.state != "ringing":
            return _error(400, f"Call '{call.id}' was already answered: hang it up instead of rejecting it.", code="invalid_call_state")
        await call.reject(params.get("status_code", 603))
    else:
        if call.state != "accepted":
            return _error(400, f"Call '{call.id}' is not answered: only an answered call can be transferred.", code="invalid_call_state")
        await call.refer(params["target_uri"])
    return 200, b"", {"content-type": "application/json"}


def _verb_problem(verb: str, params: dict[str, Any]) -> Answer | None:
    if verb == "accept":
        return _session_problem(params)
    allowed = {"refer": {"target_uri"}, "reject": {"status_code"}, "hangup": set()}[verb]
    unknown = sorted(set(params) - allowed)
    if unknown:
        return _error(400, f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter")
    if verb == "refer":
        target = params.get("target_uri")
        if target is None:
            return _error(400, "Missing required parameter: 'target_uri'.", param="target_uri", code="missing_required_parameter")
        if not isinstance(target, str) or not target.startswith(("tel:", "sip:")):
            return _error(400, "Invalid 'target_uri': expected a 'tel:' or 'sip:' URI.", param="target_uri")
    if verb == "reject" and "status_code" in params:
        status = params["status_code"]
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 699:
            return _error(400, "Invalid 'status_code': expected a SIP status code from 400 to 699.", param="status_code")
    return None


def _client_secret(body: bytes) -> Answer:
    params = _json_object(body)
    if not isinstance(params, dict):
        return params
    unknown = sorted(set(params) - {"expires_after", "session"})
    if unknown:
        return _error(400, f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter")
    expires = params.get("expires_after") or {}
    seconds = expires.get("seconds", DEFAULT_SECRET_SECONDS) if isinstance(expires, dict) else None
    if not isinstance(expires, dict) or expires.get("anchor", "created_at") != "created_at" or set(expires) - {"anchor", "seconds"}:
        return _error(400, "Invalid 'expires_after': expected {'anchor': 'created_at', 'seconds': N}.", param="expires_after")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not SECRET_SECONDS[0] <= seconds <= SECRET_SECONDS[1]:
        return _error(400, f"Invalid 'expires_after.seconds': expected an integer from {SECRET_SECONDS[0]} to {SECRET_SECONDS[1]}.", param="expires_after.seconds")
    session = params.get("session") or {"type": "realtime"}
    problem = _session_problem(session)
    if problem is not None:
        return problem
    effective = session_config.merged(session_config.default_session(session.get("model") or DEFAULT_MODEL), session)
    created = int(time.time())
    answer = {"value": f"ek_sim{secrets.token_hex(12)}", "expires_at": created + seconds,
              "session": {"id": f"sess_sim{secrets.token_hex(6)}", "object": "realtime.session", "expires_at": created + seconds, **effective}}
    return 200, json.dumps(answer).encode(), {"content-type": "application/json"}


def _session_problem(session: Any) -> Answer | None:
    """A session the API would refuse (the keys and types of `session.update`'s session)."""
    if not isinstance(session, dict):
        return _error(400, "Invalid 'session': expected an object.", param="session")
    refused = refusal({"type": "session.update", "session": session})
    if refused is None:
        return None
    return _error(400, refused.message, param=refused.param, code=refused.code)


def _form_parts(content_type: str, body: bytes) -> dict[str, bytes]:
    """The named parts of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part.get_payload(decode=True) or b""
    return parts


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None, error_type: str = "invalid_request_error") -> Answer:
    body = json.dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}}).encode()
    return status, body, {"content-type": "application/json"}
