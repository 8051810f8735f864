"""A conversation on GPT-Live: its core and its connection, for `Conversation` to drive.

The connection (`transport.LiveConnection`) dials `/v1/live/sessions` through the SDK's
`client.live.connect()` (no query string: the model goes in `session.start`) and moves raw
JSON as the Realtime transport does: the core's events are checked when they are compiled,
not re-transformed here.
"""

from __future__ import annotations

from typing import Any, Mapping

from .errors import SetupError
from .transport import LiveConnection


def open_live(
    project: Any, transport: Any, *, values: Mapping[str, Any], start: str, text: bool, session_id: str, call_id: str | None = None,
    phone: bool = False,
) -> tuple[Any, LiveConnection]:
    """The Live core and connection of one conversation (the project's target is live).

    With `call_id` (the `live_...` session of a WebRTC or SIP call) the connection is its
    sideband: the call's creation or accept started the session (so the compiled
    `session.start` is never sent), and the service plays the audio itself. `phone`: the channel
    can transfer the call (SIP): a handoff to an agent with `transfer_to` says its line, then transfers it.
    """
    from ..compile import CompileError
    from ..compile_live import compile_live
    from ..core.live import GptLiveSession

    config = project.config
    try:
        program = compile_live(config, values=values, guardrails_enabled=project.guardrails_enabled, environ=project.environ,
                               transport="websocket" if call_id is None else "webrtc")
    except CompileError as error:
        raise SetupError("; ".join(error.messages)) from None
    core = GptLiveSession(program.agents, start, guardrails=project.policies, limits=config.limits, session_id=session_id,
                          audio=not text and call_id is None, attached=call_id is not None, phone=phone and call_id is not None)
    return core, LiveConnection(transport.rest_client(), session_id=call_id)

