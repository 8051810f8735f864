"""A browser process for the vanishing test: dials BASE_URL, speaks, prints each event type.

The test SIGKILLs it mid-reply, so nothing says goodbye on the wire: no DTLS close, no
hangup, the media just stops.
"""

from __future__ import annotations

import asyncio
import sys

import httpx

from tests.webrtc_peer import BrowserPeer


async def main(base_url: str, customer: str) -> None:
    peer = BrowserPeer()
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
        answer = await http.post("/calls", content=await peer.offer(), headers={"Content-Type": "application/sdp"}, params={"customer": customer})
        answer.raise_for_status()
        await peer.accept(answer.text)
    print("call", answer.headers["location"].rsplit("/", 1)[-1], flush=True)
    await peer.wait_for("session.created")
    peer.microphone.say("who am i")
    seen = 0
    while True:
        await asyncio.sleep(0.02)
        for event in peer.events[seen:]:
            print(event["type"], flush=True)
        seen = len(peer.events)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
