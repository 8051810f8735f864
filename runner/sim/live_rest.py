"""The simulator's GPT-Live sessions API: `POST /v1/live/sessions` for a WebRTC call, and the
verbs of an incoming SIP call (`/v1/live/sessions/{id}/accept|reject|refer|hangup`).

The body is JSON, `{session, transport: {type: "webrtc", sdp}}` (`LiveCreateParams`): the
session is checked as `session.start`'s would be (`live_events.py`), without
`audio.format`, which WebRTC negotiates on the media transport. The answer is
`{session: {id}, transport: {type: "webrtc", sdp}}` (`LiveCreateResponse`); the session
has started, and its sidebands attach at `/v1/live/sessions/{id}/attach`. `accept` takes
`{session: {type: "live", ...}}` (`SessionAcceptParams`) for a ringing call
(runner/sim/live_sip.py); an unknown or ended session is 404.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .live_events import live_refusal

if TYPE_CHECKING:
    from .server import Simulator

Answer = tuple[int, bytes, dict[str, str]]  # status, body, extra headers (content-type included)
SESSIONS_PATH = "/v1/live/sessions"
_SESSION_VERB = re.compile(r"^/v1/live/sessions/([^/]+)/(accept|hangup|refer|reject)$")


def handles(path: str) -> bool:
    return path == SESSIONS_PATH or _SESSION_VERB.match(path) is not None


async def answer(sim: Simulator, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    if method != "POST":
        return _error(404, f"Invalid URL ({method} {path})")
    try:
        params = json.loads(body) if body.strip() else {}
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    verb = _SESSION_VERB.match(path)
    if verb is not None:
        return await _session_verb(sim, verb.group(1), verb.group(2), params)
    return await _create(sim, params)


async def _session_verb(sim: Simulator, session_id: str, verb: str, params: Any) -> Answer:
    from .live_sip import LiveSimSipCall

    call = sim.calls.get(session_id)
    if call is None:
        return _error(404, f"Live session with id '{session_id}' not found.", code="session_not_found")
    if not isinstance(params, dict):
        return _error(400, "The request body must be a JSON object.")
    allowed = {"accept": {"session"}, "refer": {"target_uri"}, "reject": {"status_code"}, "hangup": set()}[verb]
    unknown = sorted(set(params) - allowed)
    if unknown:
        return _error(400, f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter")
    if verb == "hangup":
        await call.end("hung up through the sessions API")
        return 200, b"", {"content-type": "application/json"}
    if not isinstance(call, LiveSimSipCall):
        return _error(400, f"Session '{session_id}' is not an incoming SIP call: {verb} applies only to those.", code="invalid_session_state")
    if verb == "accept":
        problem = _accept_problem(params.get("session"))
        if problem is not None:
            return problem
        refused = call.accept(params["session"])
        if refused is not None:
            return _error(400, refused, code="invalid_session_state")
    elif verb == "reject":
        status = params.get("status_code", 603)
        if not isinstance(status, int) or isinstance(status, bool) or not 300 <= status <= 699:
            return _error(400, "Invalid 'status_code': expected a SIP status code from 300 to 699.", param="status_code")
        if call.state != "ringing":
            return _error(400, f"Session '{session_id}' was already answered: hang it up instead of rejecting it.", code="invalid_session_state")
        await call.reject(status)
    else:
        target = params.get("target_uri")
        if not isinstance(target, str) or not target.startswith(("tel:", "sip:")):
            return _error(400, "Invalid 'target_uri': expected a 'tel:' or 'sip:' URI.", param="target_uri")
        if call.state != "accepted":
            return _error(400, f"Session '{session_id}' is not answered: only an answered call can be transferred.", code="invalid_session_state")
        await call.refer(target)
    return 200, b"", {"content-type": "application/json"}


def _accept_problem(session: Any) -> Answer | None:
    """What accept refuses: a session that is not `type: live`, or one a media transport cannot take."""
    if not isinstance(session, dict):
        return _error(400, "Missing required parameter: 'session'.", param="session", code="missing_required_parameter")
    if session.get("type") != "live":
        return _error(400, "Invalid 'session.type': expected 'live'.", param="session.type")
    if "client" in session:  # a browser's data-channel permissions: WebRTC only
        return _error(400, "Unknown parameter: 'session.client'.", param="session.client", code="unknown_parameter")
    return _session_problem({key: value for key, value in session.items() if key != "type"})


async def _create(sim: Simulator, params: Any) -> Answer:
    from .live_call import new_live_call
    from .webrtc import BadOffer, check_offer

    problem = _params_problem(params)
    if problem is not None:
        return problem
    sdp = params["transport"]["sdp"]
    try:
        check_offer(sdp)
    except BadOffer as bad:
        return _error(400, f"Invalid 'transport.sdp': {bad}", param="transport.sdp")
    call = new_live_call(sim, params["session"])
    try:
        answer_sdp = await call.answer(sdp)
    except Exception as failure:  # aiortc refuses what it cannot negotiate (no common codec, say)
        await call.end("the offer could not be negotiated")
        return _error(400, f"Invalid 'transport.sdp': the offer could not be negotiated: {failure}", param="transport.sdp")
    created = {"session": {"id": call.id}, "transport": {"type": "webrtc", "sdp": answer_sdp}}
    return 200, json.dumps(created).encode(), {"content-type": "application/json"}


def _params_problem(params: Any) -> Answer | None:
    """What the service would refuse in the body: its keys, the transport, the session."""
    if not isinstance(params, dict):
        return _error(400, "The request body must be a JSON object.")
    unknown = sorted(set(params) - {"session", "transport"})
    if unknown:
        return _error(400, f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter")
    for name in ("session", "transport"):
        if not isinstance(params.get(name), dict):
            return _error(400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    transport = params["transport"]
    if transport.get("type") != "webrtc" or not isinstance(transport.get("sdp"), str) or set(transport) - {"type", "sdp"}:
        return _error(400, "Invalid 'transport': expected {'type': 'webrtc', 'sdp': <the SDP offer>}.", param="transport")
    return _session_problem(params["session"])


def _session_problem(session: dict[str, Any]) -> Answer | None:
    """A session a media transport (WebRTC, SIP) would refuse: `session.start`'s checks, and no audio format."""
    if "format" in (session.get("audio") or {}):
        return _error(400, "Unknown parameter: 'session.audio.format' (the media transport negotiates the audio format).",
                      param="session.audio.format", code="unknown_parameter")
    refused = live_refusal({"type": "session.start", "session": session})
    if refused is not None:
        param = f"session.{refused.param.removeprefix('session.')}" if refused.param else None
        return _error(400, refused.message, param=param, code=refused.code)
    if not str(session.get("model", "")).startswith("gpt-live-"):
        return _error(400, f"The model '{session.get('model')}' is not a GPT-Live model.", param="session.model", code="invalid_model")
    return None


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> Answer:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}).encode()
    return status, body, {"content-type": "application/json"}
