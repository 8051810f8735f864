"""`runner serve --offline --simulator-url ...` with the collector's pauses timed, for bench_webrtc.py.

`runner serve --offline` starts the simulator inside the server's process, so the
simulated service's media (two Opus streams per call, aiortc's pure-Python RTP and SCTP)
shares the event loop and the GIL with the sideband conversations being timed. With
`--simulator-url` the same command reaches a simulator in another process as it would
OpenAI, so what is timed is the server's own work, its settings, store and observers
included. This runs that command in this process with a `gc.callbacks` timer, and prints
the collector's pauses on stderr as the server stops (its last line).

    python bench/serve_upstream.py AGENTS SESSIONS WS_BASE_URL REST_BASE_URL
    # prints "runner: serving ... on http://127.0.0.1:PORT/ ..." on stderr once listening
"""

from __future__ import annotations

import gc
import sys
import time


class CollectorPauses:
    """The collector's pauses once the server has frozen its loaded heap (serving, not loading), timed by `gc.callbacks`."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        self._serving = False

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if not self._serving:  # get_freeze_count walks the frozen heap: asked only until it is not empty
            self._serving = gc.get_freeze_count() > 0
            if not self._serving:
                return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> str:
        return "; ".join(f"gen {generation} {len(spans)}x, worst {max(spans, default=0):.1f} ms, total {sum(spans):.0f} ms"
                         for generation, spans in self.pauses.items())


def main(agents: str, sessions: str, ws_base_url: str, rest_base_url: str) -> int:
    from runner.cli import main as runner_main

    pauses = CollectorPauses()
    gc.callbacks.append(pauses)
    arguments = ["serve", agents, "--offline", "--simulator-url", ws_base_url, "--simulator-rest-url", rest_base_url,
                 "--port", "0", "--session-dir", sessions, "--rate-limit", "0"]  # one address dials every call
    try:
        runner_main.main(arguments, prog_name="runner", standalone_mode=False)
    finally:
        print(f"runner: the collector paused the server: {pauses.summary()}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.strip().splitlines()[-2].strip())
    sys.exit(main(*sys.argv[1:]))
