"""Simulated incoming SIP calls on GPT-Live: `live.transport.incoming`, then `accept` with a Live session.

`ring_live(sim, webhook, to=..., caller=...)` makes a ringing call whose pending session id
is `live_...` and delivers its signed `live.transport.incoming` webhook. The sessions API's
`accept` (`{session: {type: "live", model, ...}}`, no `audio.format`: the carrier
negotiates it), `reject`, `refer` and `hangup` then act on it (runner/sim/live_rest.py).
The accepted call is a GPT-Live call session (`live_call.py`) reached by sideband; the
carrier plays the agent's audio (`PhoneLine`) and the caller speaks from a WAV
(`caller_says`), as on the Realtime SIP simulator, whose call this reuses.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from typing import TYPE_CHECKING, Any, Sequence

from websockets.exceptions import ConnectionClosed

from .live_call import LiveSimCall
from .sip_calls import SimSipCall, incoming_leg

if TYPE_CHECKING:
    from .server import Simulator
    from .webhooks import WebhookSender


class LiveSimSipCall(LiveSimCall, SimSipCall):
    """A ringing SIP call answered on GPT-Live: the SIP call's states and line, a Live session."""

    def __init__(self, sim: Simulator, call_id: str, model: str, *, sip_headers: list[tuple[str, str]], pace: float) -> None:
        super().__init__(sim, call_id, model, sip_headers=sip_headers, pace=pace)
        self.pace = pace  # the line's, and so the replies'

    def accept(self, session: dict[str, Any]) -> str | None:
        """Start the call with the accepted Live session; a problem is returned as the refusal's message."""
        if self.state != "ringing":
            return f"Session '{self.id}' is not ringing (it is {self.state}): only a ringing call can be accepted."
        self.accepts += 1
        self.accepted_session = session
        self.state = "accepted"
        self.session.begin({key: value for key, value in session.items() if key != "type"})
        self.spawn(self._dispatch_inbox())
        self.spawn(self.track.run())
        return None

    async def press(self, key: str) -> None:
        """A keypad press: `transport.dtmf.received`, delivered only to the sidebands."""
        text = json.dumps({"type": "transport.dtmf.received", "event": key, "event_id": self.session.new_id("event")})
        for socket in list(self.session.listeners.sidebands):
            with contextlib.suppress(ConnectionClosed):
                await socket.send(text)


def incoming_live_event(session_id: str, sip_headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A `live.transport.incoming` event, shaped as `LiveTransportIncomingWebhookEvent`."""
    return {
        "id": f"evt_sim{secrets.token_hex(8)}",
        "object": "event",
        "type": "live.transport.incoming",
        "created_at": int(time.time()),
        "data": {"type": "sip", "session_id": session_id, "sip_headers": [{"name": name, "value": value} for name, value in sip_headers],
                 "sip_media_security": "srtp"},
    }


async def ring_live(sim: Simulator, webhook: WebhookSender, *, to: str = "+15550100", caller: str = "+15550199", pace: float = 1.0) -> LiveSimSipCall:
    """An incoming call to the number `to` from `caller`, offered to GPT-Live; its webhook is delivered."""
    session_id, headers = incoming_leg("live_sip", to=to, caller=caller)
    call = LiveSimSipCall(sim, session_id, "", sip_headers=headers, pace=pace)
    sim.calls.active[session_id] = call
    await webhook.send(incoming_live_event(session_id, headers))
    return call
