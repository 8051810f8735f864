"""The simulator's GPT-Live sessions API: `POST /v1/live/sessions` for a WebRTC call.

The body is JSON, `{session, transport: {type: "webrtc", sdp}}` (`LiveCreateParams`): the
session is checked as `session.start`'s would be (`live_events.py`), without
`audio.format`, which WebRTC negotiates on the media transport. The answer is
`{session: {id}, transport: {type: "webrtc", sdp}}` (`LiveCreateResponse`); the session
has started, and its sidebands attach at `/v1/live/sessions/{id}/attach`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .live_events import live_refusal

if TYPE_CHECKING:
    from .server import Simulator

Answer = tuple[int, bytes, dict[str, str]]  # status, body, extra headers (content-type included)
SESSIONS_PATH = "/v1/live/sessions"


def handles(path: str) -> bool:
    return path == SESSIONS_PATH


async def answer(sim: Simulator, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    from .live_call import new_live_call
    from .webrtc import BadOffer, check_offer

    if method != "POST":
        return _error(404, f"Invalid URL ({method} {path})")
    try:
        params = json.loads(body)
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
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
    session = params["session"]
    if "format" in (session.get("audio") or {}):
        return _error(400, "Unknown parameter: 'session.audio.format' (WebRTC negotiates the audio format on the media transport).",
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
