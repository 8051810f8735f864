"""N concurrent text conversations in one process, runner beside openai-agents, over the simulator.

For each N and each peer, a fresh simulator (bench/sim_process.py) runs in its own process
and one client process runs N conversations of the triage ⇄ billing demo at one user turn
per second (each turn a no-op tool call; every odd turn also a handoff), their starts
spread over the first second.  The client process first runs one short warm-up
conversation, so imports and first-use caches are paid before the baseline is taken
(runner's host, like a server's, stays open from the warm-up to the end).  Then, for every
peer alike, `gc.freeze()`, as a server does once it has loaded: the hundreds of thousands of
objects the imports made (openai's types alone) leave the collector's full passes, which
otherwise stop the loop for 50-170 ms a few times a run at N = 200.

- tool dispatch / handoff p50 and p99: server-side, as in bench_session.py; "disp p99
  steady" counts only the calls made once every conversation is open: the first second,
  N conversations dialling at once, is a flash crowd the steady figure leaves out.
- event-loop lag p99: a task that sleeps 50 ms at a time, measuring how late it wakes (at
  10 ms the monitor alone cost about 1.1 CPU-s a minute here, most of a one-conversation figure).
- RSS per added conversation: (peak VmRSS while the N run − VmRSS after warm-up) / N.
- CPU s per conversation-minute: the client process's CPU time (user + system) over the
  N conversations, less what the measuring costs (the lag monitor alone, timed for
  IDLE_SECONDS in the same process just before, about 1.1 CPU-s a minute: at N = 1 it was
  most of every peer's figure), divided by N × their length in minutes.  The raw figure
  is in the JSON as `cpu_raw_s`.

    .venv/bin/python bench/bench_concurrency.py [--n 1,10,50,100,200] [--turns 20]
        [--peers bare,runner,openai-agents,pipecat] [--pace 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peers import PEERS, close_peer
from sim_process import SimulatorProcess, percentile, user_text

LAG_TICK = 0.050
IDLE_SECONDS = 2.0
WARM_UP_TURNS = 2


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_seconds() -> float:
    return time.process_time()


class Monitor:
    """Samples event-loop lateness every LAG_TICK and the peak RSS every tenth tick."""

    def __init__(self) -> None:
        self.lags: list[tuple[float, float]] = []  # (when, how late)
        self.peak_rss_kb = rss_kb()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        ticks = 0
        while True:
            expected = loop.time() + LAG_TICK
            await asyncio.sleep(LAG_TICK)
            now = loop.time()
            self.lags.append((now, max(0.0, now - expected)))
            ticks += 1
            if ticks % 10 == 0:
                self.peak_rss_kb = max(self.peak_rss_kb, rss_kb())

    def __enter__(self) -> Monitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak_rss_kb = max(self.peak_rss_kb, rss_kb())


async def run_clients(peer_name: str, ws_url: str, count: int, turns: int, pace: float) -> dict[str, Any]:
    """The client process: warm up, then `count` paced conversations at once; the measurements as a dict."""
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as temporary:
        peer = PEERS[peer_name](Path(temporary))
        async with peer(ws_url) as talk:
            for turn in range(WARM_UP_TURNS):
                await talk(user_text(turn))
        gc.collect()
        gc.freeze()  # what a server does once loaded: the modules' objects leave the collector's full passes
        loop = asyncio.get_running_loop()
        with Monitor():
            idle_cpu, idle_since = cpu_seconds(), loop.time()
            await asyncio.sleep(IDLE_SECONDS)
            measuring_rate = (cpu_seconds() - idle_cpu) / (loop.time() - idle_since)
        base_rss, base_cpu = rss_kb(), cpu_seconds()
        begin = loop.time() + 0.1
        opened: list[float] = []

        async def conversation(index: int) -> None:
            start = begin + pace * index / count
            await asyncio.sleep(max(0.0, start - loop.time()))
            async with peer(ws_url) as talk:
                opened.append(loop.time())
                for turn in range(turns):
                    await asyncio.sleep(max(0.0, start + turn * pace - loop.time()))
                    await talk(user_text(turn))

        with Monitor() as monitor:
            measured_since = loop.time()
            outcomes = await asyncio.gather(*(conversation(index) for index in range(count)), return_exceptions=True)
        cpu = cpu_seconds() - base_cpu
        measuring = measuring_rate * (loop.time() - measured_since)
        await close_peer(peer)
    failures = [f"{type(outcome).__name__}: {outcome}" for outcome in outcomes if isinstance(outcome, BaseException)]
    all_open = max(opened, default=float("inf"))
    return {
        "completed": count - len(failures),
        "failures": failures[:3],
        "cpu_s": cpu - measuring,
        "cpu_raw_s": cpu,
        "rss_added_kb": monitor.peak_rss_kb - base_rss,
        "lag_p99": percentile([lag for _, lag in monitor.lags], 0.99),
        "lag_p99_open": percentile([lag for when, lag in monitor.lags if when > all_open], 0.99),
        "open_s": all_open - begin,
        "all_open_at": all_open,  # time.monotonic(), the clock the simulator's perf_counter stamps are on
    }


def measure(peer: str, count: int, turns: int, pace: float) -> dict[str, Any]:
    """One (peer, N) cell: a fresh simulator and a fresh client process."""
    server = SimulatorProcess(skip=1)
    try:
        command = [sys.executable, __file__, "--client", peer, "--url", server.ws_url, "--n", str(count), "--turns", str(turns), "--pace", str(pace)]
        client = subprocess.run(command, capture_output=True, text=True, timeout=turns * pace + 300)
        if client.returncode != 0:
            raise RuntimeError(f"{peer} client process failed: {client.stderr.strip().splitlines()[-1:]}")
        result: dict[str, Any] = json.loads(client.stdout.strip().splitlines()[-1])
        result["spans"] = server.result(timeout=60)
        return result
    finally:
        server.kill()


def cells(result: dict[str, Any] | None, count: int, turns: int, pace: float) -> dict[str, float]:
    """One table row: the spans in ms, memory in MB per conversation, CPU per conversation-minute."""
    if result is None:
        return {}
    minutes = count * turns * pace / 60
    spans = result["spans"]
    return {
        "done": result["completed"],
        "dispatch p50": percentile(spans["tool dispatch"], 0.5) * 1000,
        "dispatch p99": percentile(spans["tool dispatch"], 0.99) * 1000,
        "disp p99 steady": percentile([span for span, at in zip(spans["tool dispatch"], spans["tool dispatch at"]) if at > result["all_open_at"]], 0.99) * 1000,
        "handoff p50": percentile(spans["handoff"], 0.5) * 1000,
        "handoff p99": percentile(spans["handoff"], 0.99) * 1000,
        "lag p99": result["lag_p99"] * 1000,
        "lag p99 steady": result["lag_p99_open"] * 1000,
        "all open s": result["open_s"],
        "MB/conv": result["rss_added_kb"] / 1024 / count,
        "CPU s/conv-min": result["cpu_s"] / minutes,
    }


COLUMNS = ("done", "dispatch p50", "dispatch p99", "disp p99 steady", "handoff p50", "handoff p99", "lag p99", "lag p99 steady", "all open s", "MB/conv", "CPU s/conv-min")


def render(table: dict[int, dict[str, dict[str, float]]], peers: list[str], turns: int, pace: float) -> None:
    print(f"{turns}-turn triage ⇄ billing conversations at one turn per {pace:g} s, N at once in one process; simulator in its own process")
    print("  ms for spans and lag (dispatch, handoff: server-side, trigger → answer received); MB of RSS per added conversation")
    print("  lag p99 steady: only once every conversation is open; all open s: seconds from the first start to the last conversation open")
    print("  bare: a raw websocket client with no logic, the simulator's own share at that N (its spans grow when the simulator saturates)")
    print(f"  {'N':>4} {'peer':14}" + "".join(f" {column:>15}" for column in COLUMNS))
    for count, by_peer in table.items():
        for peer in peers:
            row = by_peer.get(peer)
            if not row:
                print(f"  {count:>4} {peer:14} (failed)")
                continue
            print(f"  {count:>4} {peer:14}" + "".join(f" {row[column]:>15.3f}" if column != "done" else f" {int(row[column]):>11}/{count:<3}" for column in COLUMNS))
        if by_peer.get("runner"):
            for peer in peers:
                if peer in ("runner", "bare") or not by_peer.get(peer):
                    continue
                ratios = [by_peer[peer][column] / by_peer["runner"][column] if by_peer["runner"][column] else float("nan") for column in COLUMNS[1:]]
                print(f"  {count:>4} {peer + '/runner':14} {'':>15}" + "".join(f" {ratio:>14.1f}x" if column != "all open s" else f" {'':>15}" for column, ratio in zip(COLUMNS[1:], ratios)))
    print("  ratio: the peer's figure over runner's (above 1: runner is cheaper or faster).")
    print("  targets (reported, not asserted):")
    if table.get(200, {}).get("runner"):
        row = table[200]["runner"]
        print(f"    N=200 runner: every conversation completes: {'met' if row['done'] == 200 else 'missed'}; dispatch p99 < 10 ms: {'met' if row['dispatch p99'] < 10 else 'missed'}"
              f" (steady: {'met' if row['disp p99 steady'] < 10 else 'missed'}); <= 3 MB per added conversation: {'met' if row['MB/conv'] <= 3 else 'missed'}")
    for count, by_peer in table.items():
        if by_peer.get("runner") and by_peer.get("openai-agents"):
            ratio = by_peer["openai-agents"]["CPU s/conv-min"] / by_peer["runner"]["CPU s/conv-min"]
            print(f"    N={count}: CPU per conversation-minute at least 2x below openai-agents': {'met' if ratio >= 2 else 'missed'} ({ratio:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="1,10,50,100,200", help="comma-separated conversation counts")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between a conversation's user turns")
    parser.add_argument("--peers", default="bare,runner,openai-agents", help=f"comma-separated, of: {', '.join(PEERS)}")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(run_clients(args.client, args.url, int(args.n), args.turns, args.pace))), flush=True)
        return
    counts = [int(part) for part in args.n.split(",")]
    peers = [part.strip() for part in args.peers.split(",")]
    unknown = [peer for peer in peers if peer not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    table: dict[int, dict[str, dict[str, float]]] = {}
    for count in counts:
        table[count] = {}
        for peer in peers:
            try:
                result = measure(peer, count, args.turns, args.pace)
            except Exception as error:  # report what could not be measured, keep the rest
                print(f"  N={count} {peer}: not measured: {type(error).__name__}: {error}", file=sys.stderr)
                continue
            if result["failures"]:
                print(f"  N={count} {peer}: {count - result['completed']} conversation(s) failed, e.g. {result['failures'][0]}", file=sys.stderr)
            table[count][peer] = cells(result, count, args.turns, args.pace)
    render(table, peers, args.turns, args.pace)


if __name__ == "__main__":
    main()
