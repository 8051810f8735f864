"""`runner serve`'s app on a simulator that runs in another process, for bench_webrtc.py.

`runner serve --offline` starts the simulator inside the server's process, so the
simulated service's media (two Opus streams per call, aiortc's pure-Python RTP and SCTP)
shares the event loop and the GIL with the sideband conversations being timed.  This
serves the same app (`runner.serve.create_app`, one host, the sidebands by `call_id`)
with the simulator's REST and WebSocket addresses as its upstream instead, so what is
timed is the server's own work.

    python bench/serve_upstream.py AGENTS SESSIONS WS_BASE_URL REST_BASE_URL
    # prints "runner: serving ... on http://127.0.0.1:PORT/ ..." on stderr once listening
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from runner.host.transports import BaseTransport

API_KEY = "sk-sim"


class SimulatorElsewhere(BaseTransport):
    """The OpenAI transport, pointed at a simulator's two addresses (REST and WebSocket are on different ports)."""

    def __init__(self, ws_base_url: str, rest_base_url: str) -> None:
        self.ws_base_url, self.rest_base_url = ws_base_url, rest_base_url
        self._client: Any = None

    def connection(self, *, model: str, call_id: str | None = None) -> Any:
        from runner.host.transport import Transport

        return Transport(self.rest_client(), model=model, call_id=call_id)

    def rest_client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=API_KEY, base_url=self.rest_base_url, websocket_base_url=self.ws_base_url, max_retries=0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class CollectorPauses:
    """Every pause of Python's collector, timed by `gc.callbacks`, so a dispatch tail can be told apart from them."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> str:
        return "; ".join(f"gen {generation} {len(spans)}x, worst {max(spans, default=0):.1f} ms, total {sum(spans):.0f} ms"
                         for generation, spans in self.pauses.items())


def main(agents: str, sessions: str, ws_base_url: str, rest_base_url: str) -> None:
    import uvicorn

    from runner.config import load
    from runner.host.project import Project
    from runner.serve import create_app
    from runner.serve.heap import settle

    config = load(agents).config
    if config is None:
        raise SystemExit(f"{agents} does not load")
    project = Project(config, environ=os.environ)
    app = create_app(project, SimulatorElsewhere(ws_base_url, rest_base_url), session_dir=Path(sessions), max_calls=1000)
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"runner: serving {agents} on http://127.0.0.1:{listener.getsockname()[1]}/ (a simulator in its own process)", file=sys.stderr, flush=True)
    pauses = CollectorPauses()

    async def report_pauses() -> None:  # at the lifespan's end: uvicorn re-raises SIGTERM once stopped, so nothing runs after `run`
        print(f"runner: the collector paused the server: {pauses.summary()}", file=sys.stderr, flush=True)

    app.state.server.on_close.append(report_pauses)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.config.load()
    settle()  # as `runner serve` does once loaded
    gc.callbacks.append(pauses)
    server.run(sockets=[listener])


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.strip().splitlines()[-2].strip())
    main(*sys.argv[1:])
