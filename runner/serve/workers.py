"""`runner serve --workers N`: N worker processes on one listening socket, and the parent that minds them.

Conversations are I/O-bound JSON relays, so one asyncio process per core is the unit;
the workers share nothing but the socket (the kernel hands each connection to one of
them) and the store (runner/serve/store.py). A call lives in the worker that took it.

The parent opens the socket, forks the workers (before any event loop, thread or
project exists, so a fork copies nothing live), and then only waits:

- SIGTERM or SIGINT is passed on to every worker, which drains (or stops) as a single
  process does; once all have exited the parent exits 0 (1 if a worker failed);
- a worker that dies on its own is started again, unless workers keep dying within
  `CRASH_SECONDS` of their start (`CRASH_LIMIT` in a row): then the rest are stopped and
  the parent exits 1, since a restart loop helps no one.

`RunningSimulator` is the upstream of workers that share one `python -m runner.sim`;
`OwnSimulator` starts that process for `runner serve --offline`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable

from runner.host.transports import OFFLINE_API_KEY, BaseTransport

CRASH_SECONDS = 5.0
CRASH_LIMIT = 3
SIMULATOR_NICENESS = 5  # how much lower than the server's the offline simulator's CPU priority is (see OwnSimulator)
logger = logging.getLogger(__name__)


def cpu_count() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def supervise(count: int, run_worker: Callable[[int], int], *, on_start: Callable[[int, int], None] | None = None) -> int:
    """Fork `count` workers running `run_worker(index)` (its return is the worker's exit code); the parent's exit code."""
    workers: dict[int, tuple[int, float]] = {}  # pid -> (index, started)
    signals: list[int] = []

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            for number in (signal.SIGTERM, signal.SIGINT):
                signal.signal(number, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(index)
            finally:
                os._exit(code)
        workers[pid] = (index, time.monotonic())
        if on_start is not None:
            on_start(index, pid)

    def forward(number: int, frame: Any) -> None:
        signals.append(number)
        for pid in workers:
            _kill(pid, number)

    previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT)}
    failed = False
    crashes = 0
    try:
        for index in range(count):
            start(index)
        while workers:
            pid, status = os.wait()  # a signal runs `forward`, then the wait goes on (PEP 475)
            if pid not in workers:
                continue
            index, started = workers.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if signals:
                failed = failed or code not in (0, -signal.SIGTERM, -signal.SIGINT)
                continue
            crashes = crashes + 1 if time.monotonic() - started < CRASH_SECONDS else 1
            logger.error("worker %d (pid %d) exited with %d", index + 1, pid, code)
            if crashes >= CRASH_LIMIT:
                logger.error("workers keep failing as they start: stopping the rest")
                failed = True
                forward(signal.SIGTERM, None)
                continue
            start(index)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 1 if failed else 0


def _kill(pid: int, number: int) -> None:
    """Signal a worker; one that has just exited is left to the wait that reaps it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


class RunningSimulator(BaseTransport):
    """A simulator already running elsewhere (`python -m runner.sim`), which every worker reaches as it would OpenAI."""

    def __init__(self, realtime_url: str, rest_url: str) -> None:
        self.realtime_url = realtime_url
        self.rest_url = rest_url
        self._client: Any = None

    async def start(self) -> None:
        self.rest_client()  # built now, not on the first call: it loads the CA bundle, ~30 ms on the event loop

    def connection(self, *, model: str, call_id: str | None = None) -> Any:
        from runner.host.transport import Transport

        return Transport(self.rest_client(), model=model, call_id=call_id)

    def rest_client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=OFFLINE_API_KEY, base_url=self.rest_url, websocket_base_url=self.realtime_url, max_retries=0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class OwnSimulator:
    """`python -m runner.sim` as a child of `runner serve --offline`, so the simulated service's
    media (pure-Python Opus, RTP and SCTP for every WebRTC call) runs on its own core instead of
    in the server's event loop, as the real service does.

    It stops when its standard input closes, so it also goes when the server is killed; it is
    in its own session, so a Ctrl-C at the terminal reaches only the server, which drains its
    calls through it first.

    It runs `SIMULATOR_NICENESS` below the server's priority: it stands in for a service on
    other machines, so when the two want the same core the server's calls go first, as
    they would in production (at the same priority, the sideband's tool dispatch p99 over
    20 browser calls was 25-30 ms in some runs, waiting for a core the simulator held).
    """

    def __init__(self, rules: str) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "runner.sim", "--rules", rules, "--until-stdin-closes"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                         preexec_fn=lambda: os.nice(SIMULATOR_NICENESS))
        assert self._process.stdout is not None
        lines = [self._process.stdout.readline(), self._process.stdout.readline()]
        if not all(line.startswith(("realtime:", "rest:")) for line in lines):
            self._process.wait()
            assert self._process.stderr is not None
            raise OSError(f"the offline simulator did not start: {self._process.stderr.read().strip() or 'it exited with ' + str(self._process.returncode)}")
        self.realtime_url, self.rest_url = (line.split()[1] for line in lines)

    def stop(self) -> None:
        """Close its stdin and wait for it (bounded), then kill it if it is still there."""
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=CRASH_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
